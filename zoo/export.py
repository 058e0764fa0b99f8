"""``python -m zoo.export run=<run folder> out=<new folder>``: a trained model as a portable folder.

The folder is the Hugging Face Hub layout, and nothing else: ``model.safetensors`` (the weights
that sample, EMA where the run kept it; safetensors, so loading runs no code), ``config.json``
(family, options, the data it was trained for, genzoo's version, how far it trained), a model
card ``README.md`` with the Hub's front matter, and the run's newest grids it shows. No optimizer
state and no path of the training machine. ``zoo.load(<folder>)`` loads it; so does the studio.
The folder is written under a temporary name and renamed when complete, so a crash leaves nothing
that looks like an export.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from pathlib import Path
from typing import Any

from zoo import artefact
from zoo.commands import CONF, compose, parse_config, run_command
from zoo.errors import ZooError
from zoo.models.base import GenerativeModel
from zoo.options import Options
from zoo.runs import DATA_LOCATION_KEYS, read_eval
from zoo.trained import TrainedRun, load_trained

# the training data's licence, for the card's front matter (a folder of one's own images: "other")
LICENSES = {
    "quickdraw": "cc-by-4.0",
    "quickdraw_mini": "cc-by-4.0",
    "mnist": "mit",
    "fashion_mnist": "mit",
    "cifar10": "unknown",
    "flowers102": "unknown",
    "folder": "other",
}
# options that say where a run ran, not what it trained: left out of the card's command
NOT_TRAINING = {"runs_dir", "trainer.resume", "trainer.progress", "trainer.device"} | {
    f"data.{key}" for key in DATA_LOCATION_KEYS
}


class ExportOptions(Options):
    """``conf/export.yaml``."""

    run: str
    out: str
    checkpoint: str | None = None
    data_root: str | None = None


def export(options: ExportOptions) -> dict[str, Path]:
    out = Path(options.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ZooError(f"out={out} already holds files; export into a new (or empty) folder")
    trained = load_trained(options.run, options.checkpoint, options.data_root)
    if trained.exported:
        raise ZooError(f"{options.run} is already an export; copy the folder to share it again")
    family = trained.config["model"]["name"]
    about = artefact.describe(trained.config, trained.model.info, family)
    training = training_record(trained)
    config = {"library": artefact.LIBRARY, **about, "training": training}
    grids = newest_grids(trained.run_dir)
    card = model_card(trained, config, grids, compare_row(trained.run_dir))
    return write_export(trained.model, config, card, grids, out)


def training_record(trained: TrainedRun) -> dict[str, Any]:
    """How far the run trained (steps, images, minutes, hardware, its schedule) and its held-out figures."""
    record = trained.record
    figures = {k: v for k, v in read_eval(trained.run_dir).items() if k != "step"}
    return {
        "step": trained.step,
        "images_seen": record.get("images_seen"),
        "minutes": round(float(record.get("elapsed_s") or 0.0) / 60, 1),
        "hardware": record.get("hardware"),
        "finished": bool(record.get("finished")),
        "ema": trained.uses_ema,
        "schedule": record.get("schedule") or {},
        "eval": figures,
        "command": training_command(trained.config),
    }


def training_command(config: dict[str, Any]) -> str:
    """``python train.py model=... data=...`` with every option that differs from the YAML defaults."""
    family, data = config["model"]["name"], config["data"].get("name", "")
    preset = data if (CONF / "data" / f"{data}.yaml").is_file() else None
    base = [f"model={family}", f"data={preset or config['data'].get('source')}"]
    try:
        defaults = compose("config", base)
    except Exception:  # a configuration genzoo no longer has: the command without its overrides
        return " ".join(["python train.py", *base])
    from omegaconf import OmegaConf

    default = _leaves(OmegaConf.to_container(defaults, resolve=True))  # type: ignore[arg-type]
    overrides = [
        f"{key}={json.dumps(value).replace(' ', '') if not isinstance(value, str) else value}"
        for key, value in _leaves({k: config.get(k) for k in ("seed", "model", "data", "trainer", "eval")}).items()
        if key not in NOT_TRAINING and default.get(key) != value and key not in ("model.name", "data.source")
    ]
    return " ".join(["python train.py", *base, *overrides])


def _leaves(tree: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(tree, dict):
        return {prefix.rstrip("."): tree}
    found: dict[str, Any] = {}
    for key, value in tree.items():
        found |= _leaves(value, f"{prefix}{key}.")
    return found


def newest_grids(run_dir: Path) -> dict[str, Path]:
    """The newest ``step_<N>.png`` of each grid folder of the run (samples, recons, colourise, ...)."""
    grids = {}
    for folder in sorted(p for p in run_dir.iterdir() if p.is_dir()):
        steps = sorted(folder.glob("step_*.png"), key=lambda p: int(p.stem.removeprefix("step_") or 0))
        if steps:
            grids[folder.name] = steps[-1]
    return grids


def compare_row(run_dir: Path) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The row of the newest ``compare.py`` report under the run's runs folder that scored this run,
    with that report's meta (its data key), if any."""
    reports = run_dir.parent.parent / "compare"
    here = run_dir.resolve()
    for metrics in sorted(reports.glob("*/metrics.json"), reverse=True) if reports.is_dir() else []:
        try:
            report = json.loads(metrics.read_text())
        except (OSError, ValueError):
            continue
        for row in report.get("rows", []):
            run = row.get("run")
            if isinstance(run, str) and run and here in (Path(run).resolve(), (reports.parent.parent / run).resolve()):
                return row, {**report.get("meta", {}), "report": metrics.parent.name}
    return None


def model_card(trained: TrainedRun, config: dict[str, Any], grids: dict[str, Path], row) -> str:
    """The card: the Hub's YAML front matter, what the model is, how to load it, how it trained,
    its held-out figures and compare.py row, and its grids."""
    family, info, training = config["family"], trained.model.info, config["training"]
    source = config["data"].get("source", "folder")
    license_ = LICENSES.get(source, "other")
    tags = ["genzoo", family, info.name, "image-generation" if not trained.model.colourises else "image-colorization"]
    lines = [
        "---",
        f"library_name: {artefact.LIBRARY}",
        "tags:",
        *[f"- {t}" for t in tags],
        f"license: {license_}",
        "---",
        "",
        f"# {family} trained on {info.name}",
        "",
        f"A genzoo `{family}` model ({type(trained.model).__name__}, {_parameters(trained.model):,} parameters) for "
        f"{info.channels}-channel {info.image_size}x{info.image_size} images of `{info.name}`"
        + (f" ({info.num_classes} classes: {', '.join(info.class_names)})" if info.num_classes else "")
        + f". Its weights are {'the exponential moving average of the training weights' if trained.uses_ema else 'those of the last step'}.",
        "",
        "```python",
        "import zoo  # genzoo: pip install -r requirements.txt in its repository",
        'model = zoo.load("<this folder>")   # after huggingface_hub.snapshot_download(...) for a Hub copy',
        *(
            ["colourings = model.colourise(grey, 8)  # grey (B, 1, H, W) in [0, 1] -> (B, 8, 3, H, W)"]
            if trained.model.colourises
            else ["images = model.sample(16)          # (16, C, H, W) in [0, 1]"]
        ),
        "```",
        "",
        "## Training",
        "",
        f"`{training['command']}` (every option: `config.json`)",
        "",
        "| steps | images seen | minutes | hardware | finished |",
        "|---|---|---|---|---|",
        f"| {training['step']:,} | {training['images_seen'] or 0:,} | {training['minutes']} | {training['hardware'] or 'not recorded'} "
        f"| {'yes' if training['finished'] else 'no'} |",
        "",
        f"Licence of the training data: `{license_}`"
        + (" (a folder of the trainer's own images: its owner's terms)." if source == "folder" else "."),
    ]
    if training["schedule"]:
        lines += [
            "",
            "Progressive schedule reached: " + ", ".join(f"{k} {v:g}" for k, v in training["schedule"].items()),
        ]
    lines += _figures("Held-out evaluation (`eval.json`)", training["eval"])
    if row is not None:
        cells, meta = row
        title = f"`compare.py` row (report {meta['report']}, data key `{meta.get('data_key')}`)"
        lines += _figures(title, {k: v for k, v in cells.items() if k not in ("model", "run")})
    if grids:
        lines += ["", "## Grids"]
        for name in grids:
            lines += ["", f"`{name}` (step {grids[name].stem.removeprefix('step_')}):", "", f"![{name}]({name}.png)"]
    return "\n".join(lines) + "\n"


def _figures(title: str, figures: dict[str, Any]) -> list[str]:
    if not figures:
        return []
    rows = [f"| {k} | {v:.4g} |" if isinstance(v, float) else f"| {k} | {v} |" for k, v in figures.items()]
    return ["", f"## {title}", "", "| figure | value |", "|---|---|", *rows]


def _parameters(model: GenerativeModel) -> int:
    return sum(p.numel() for p in model.parameters())


def write_export(
    model: GenerativeModel, config: dict[str, Any], card: str, grids: dict[str, Path], out: Path
) -> dict[str, Path]:
    """The folder, written under a temporary name beside ``out`` and renamed to it when complete."""
    from safetensors.torch import save_file

    out = Path(out)
    tmp = out.with_name(f".{out.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
    weights = {k: v.detach().to("cpu").contiguous().clone() for k, v in model.state_dict().items()}
    try:
        tmp.mkdir(parents=True)
        save_file(weights, tmp / artefact.WEIGHTS, metadata={"format": "pt", "library": artefact.LIBRARY})
        (tmp / artefact.CONFIG).write_text(json.dumps(config, indent=2) + "\n")
        (tmp / artefact.CARD).write_text(card)
        for name, path in grids.items():
            shutil.copyfile(path, tmp / f"{name}.png")
        if out.is_dir():
            out.rmdir()  # empty, checked before
        os.replace(tmp, out)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ZooError(f"could not write the export {out}: {e.strerror or e}; nothing was left there") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return {"export": out, "weights": out / artefact.WEIGHTS, "card": out / artefact.CARD}


def main(argv: list[str] | None = None) -> int:
    return run_command(lambda args: export(parse_config("export", ExportOptions, args)), argv)


if __name__ == "__main__":
    raise SystemExit(main())
