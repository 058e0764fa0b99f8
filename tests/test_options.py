"""Every option is checked at start: a walk over every option in ``conf/`` (train: top level,
trainer, eval, logger, each data set, each model; compare: top level and metrics) and over the
morph command's arguments, feeding each one 0, a negative number, a wrong type and an absurdly
large value.

A value is either accepted by the option's schema (only the (option, probe) pairs listed in
``ACCEPTED`` below, each a legitimate value) or refused the way a user must see it: through the
command's real entry point, exit code 2, one line on stderr that names the option and what it
should be, no traceback, no folder created and nothing that was there before changed.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

import zoo.app
import zoo.colourise
import zoo.compare
import zoo.compare.command
import zoo.morph
from tests.helpers import ROOT
from zoo.build import check_train_config
from zoo.commands import parse_config
from zoo.compare import check_compare_config
from zoo.errors import ZooError
from zoo.morph import parse_options

MODELS = sorted(p.stem for p in (ROOT / "conf" / "model").glob("*.yaml"))
DATA = sorted(p.stem for p in (ROOT / "conf" / "data").glob("*.yaml"))


def probes(default: Any) -> dict[str, Any]:
    """0, a negative number, a wrong type for the option's default, an absurdly large value."""
    wrong = 12.5 if isinstance(default, str) else {"a": 1} if default is None else "abc"
    large = 1e12 if isinstance(default, float) else 10**12
    return {"zero": 0, "negative": -1, "wrong type": wrong, "large": large}


# (option, probe) pairs that are valid values: seeds may be 0, switches take 0 as false, weights
# and decays may be 0, budgets and cadences may be as large as one likes (the other budget or the
# data ends the run), and a few counts are clipped to what the data holds.
ACCEPTED = {
    ("seed", "zero"),
    ("trainer.max_steps", "large"),
    ("trainer.ema_decay", "zero"),
    ("trainer.log_every", "large"),
    ("trainer.sample_every", "large"),
    ("trainer.checkpoint_every", "large"),
    ("trainer.progress", "zero"),
    ("trainer.max_skipped_in_a_row", "large"),
    ("trainer.compile", "zero"),
    ("trainer.channels_last", "zero"),
    ("trainer.sync_batchnorm", "zero"),
    ("eval.n_test", "large"),  # min(n_test, test images)
    ("eval.seed", "zero"),
    ("data.split_seed", "zero"),
    ("data.download", "zero"),
    ("data.progress", "zero"),
    ("data.max_per_category", "large"),  # min(max, doodles in the file)
    ("model.conditional", "zero"),
    ("model.cond_context", "zero"),  # a bool: 0 is false
    ("model.warmup_steps", "zero"),
    ("model.warmup_steps", "large"),
    ("model.beta", "zero"),
    ("model.recon_weight", "zero"),
    ("model.fade_images", "zero"),
    ("model.fade_images", "large"),
    ("model.images_per_level", "large"),
    ("model.r1_gamma", "zero"),
    ("model.mixing_prob", "zero"),
    ("model.truncation_psi", "zero"),
    ("model.w_avg_decay", "zero"),
    ("model.eta", "zero"),  # DDIM's deterministic sampler
    # compare
    ("seed@compare", "zero"),
    ("progress@compare", "zero"),
    ("invert_gan@compare", "zero"),
    ("metrics.inception_download@compare", "zero"),  # a bool: 0 is false
    ("colour_temperature@compare", "zero"),  # a flow's mode: one colouring per grey image
}
# morph's a and b are test indices or file names, checked against the run's data once it is loaded
MORPH_ACCEPTED = {(key, probe) for key in ("a", "b") for probe in ("zero", "negative", "large")}
# zoo.colourise: the same for image and reference; temperature 0 is the flow's mode; seeds may be 0
COLOURISE_ACCEPTED = {(key, probe) for key in ("image", "reference") for probe in ("zero", "negative", "large")} | {
    ("temperature", "zero"),
    ("seed", "zero"),
}


def leaves(node: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted option name -> value; lists are one option."""
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            out |= leaves(value, f"{prefix}{key}.")
        return out
    return {prefix.rstrip("."): node}


def with_value(config: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    conf = OmegaConf.create(config)
    OmegaConf.update(conf, dotted, value, force_add=True)
    return OmegaConf.to_container(conf)  # type: ignore[return-value]


@pytest.fixture(scope="module")
def configs(tmp_path_factory) -> dict[str, dict[str, Any]]:
    """The composed configuration of every model and data group, and compare's, with every
    required value filled in (data.path of the folder group)."""
    home = tmp_path_factory.mktemp("options")
    found = {}
    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        for model in MODELS:
            found[f"model={model}"] = compose("config", overrides=[f"model={model}", f"runs_dir={home / 'runs'}"])
        for data in DATA:
            found[f"data={data}"] = compose("config", overrides=[f"data={data}", f"runs_dir={home / 'runs'}"])
        found["compare"] = compose("compare", overrides=[f"runs_dir={home / 'runs'}"])
    resolved = {}
    for name, cfg in found.items():
        config = OmegaConf.to_container(cfg, resolve=True)
        if config["data"].get("path") == "???":
            config["data"]["path"] = str(home / "images")
        resolved[name] = config
    return resolved


def cases(configs) -> list[tuple[str, str, str, Any]]:
    """(group, option, probe, value) for every option once: top level, trainer, eval and logger
    from the default config, data.* from each data group, model.* from each model group."""
    found = []
    for group, config in configs.items():
        for option, default in leaves(config).items():
            if group == "compare":
                if option.startswith("data.") or option.startswith("logger."):
                    continue  # the same schemas as train.py's, walked there
            elif group.startswith("model="):
                if not option.startswith("model.") or option == "model.name":
                    continue
            elif group.startswith("data="):
                if not option.startswith("data.") and group != "data=quickdraw":
                    continue  # the other groups are walked once, with the default data
                if option in ("data.source", "data.name") and group != "data=quickdraw":
                    continue
                if option in ("model.name", "data.source"):
                    continue
            for probe, value in probes(default).items():
                found.append((group, option, probe, value))
    return found


def verdict(group: str, config: dict[str, Any]) -> str | None:
    """None when the schemas accept the configuration, else the refusal's message."""
    try:
        if group == "compare":
            check_compare_config(config)
        else:
            check_train_config(config)
    except ZooError as e:
        return str(e)
    return None


def digests(root: Path) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()}


def test_every_option_refuses_bad_values_at_start_with_one_line(configs, tmp_path, capsys):
    all_cases = cases(configs)
    assert len(all_cases) > 400, len(all_cases)  # every option of every group, four probes each
    keep = tmp_path / "runs" / "keep.txt"  # something that was there before
    keep.parent.mkdir()
    keep.write_text("a user's file")
    before = digests(tmp_path)
    accepted, refused, valid = set(), 0, 0
    for group, option, probe, value in all_cases:
        config = with_value(configs[group], option, value)
        if option != "runs_dir":
            config["runs_dir"] = str(tmp_path / "runs")
        message = verdict(group, config)
        key = (f"{option}@compare" if group == "compare" else option, probe)
        if message is None:
            accepted.add(key)
            valid += 1
            continue
        refused += 1
        assert option.split(".")[-1] in message or option in message, (option, probe, message)
        assert "\n" not in message
        # the real entry point: exit code 2, that one line, nothing written
        cfg = OmegaConf.create(config)
        with pytest.raises(SystemExit) as exit_:
            (zoo.compare.main if group == "compare" else zoo.app.main)(cfg)
        assert exit_.value.code == 2, (option, probe)
        err = capsys.readouterr().err.strip().splitlines()
        assert err == [f"error: {message}"], (option, probe, err)
        assert digests(tmp_path) == before, (option, probe)
        assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["keep.txt"], (option, probe)
    unexpected = accepted - ACCEPTED
    assert not unexpected, f"accepted values that should have been refused: {sorted(unexpected)}"
    assert accepted == ACCEPTED, f"listed as valid but refused: {sorted(ACCEPTED - accepted)}"
    print(f"{len(all_cases)} cases: {refused} refused with one line, {valid} legitimately accepted")


def test_morph_arguments_are_checked_the_same_way(capsys):
    cases_seen = 0
    for option in zoo.morph.MorphOptions.model_fields:
        for probe, value in probes("").items():
            cases_seen += 1
            argv = ["run=somewhere", f"{option}={value}"]
            try:
                parse_options(argv)
            except ZooError as e:
                assert option in str(e) and "\n" not in str(e)
                assert zoo.morph.main(argv) == 2
                assert capsys.readouterr().err.strip().splitlines() == [f"error: {e}"]
                continue
            assert (option, probe) in MORPH_ACCEPTED, (option, probe)
    assert cases_seen == 4 * len(zoo.morph.MorphOptions.model_fields)


def test_colourise_arguments_are_checked_the_same_way(capsys):
    fields = zoo.colourise.ColouriseOptions.model_fields
    cases_seen = 0
    for option in fields:
        for probe, value in probes("").items():
            cases_seen += 1
            argv = ["run=somewhere", "image=photo.png", f"{option}={value}"]
            try:
                parse_config("colourise", zoo.colourise.ColouriseOptions, argv)
            except ZooError as e:
                assert option in str(e) and "\n" not in str(e)
                assert zoo.colourise.main(argv) == 2
                assert capsys.readouterr().err.strip().splitlines() == [f"error: {e}"]
                continue
            assert (option, probe) in COLOURISE_ACCEPTED, (option, probe)
    assert cases_seen == 4 * len(fields) == 40


@pytest.mark.parametrize(
    ("option", "value", "words"),
    [
        ("trainer.grad_clip", -1, "trainer.grad_clip=-1 is not valid: it should be greater than 0 or null"),
        ("data.max_per_category", -5, "data.max_per_category=-5 is not valid: it should be greater than or equal to 1"),
        ("eval.batch_size", 0, "eval.batch_size=0 is not valid: it should be greater than or equal to 1"),
        ("trainer.ema_decay", 1.0, "trainer.ema_decay=1.0 is not valid: it should be less than 1"),
        ("trainer.precision", 16, "should be 'auto', '32', 'bf16' or 'fp16'"),
        ("data.name", "../../elsewhere", "data.name='../../elsewhere' is not valid"),
        ("model.depth", 3, "unknown option model.depth; the options of model are betas, latent_dim, lr, width"),
        ("runs_dir", "", "runs_dir='' is not valid"),  # it would write runs into the current folder
        ("model.betas", [0.5], "model.betas=[0.5] is not valid: it should have 2 items, not 1"),  # not "required"
    ],
)
def test_the_messages_name_the_option_and_its_valid_range(configs, option, value, words):
    with pytest.raises(ZooError) as refused:
        check_train_config(with_value(configs["data=quickdraw"], option, value))
    assert words in str(refused.value)


@pytest.mark.parametrize("command", ["train", "compare"])
def test_an_interpolation_that_cannot_be_resolved_is_one_line_naming_the_option(command, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("ZOO_UNSET_VARIABLE", raising=False)
    run = zoo.app.cli if command == "train" else zoo.compare.command.cli
    argv = [f"runs_dir={tmp_path / 'runs'}", "trainer.max_steps=${oc.env:ZOO_UNSET_VARIABLE}"]
    if command == "compare":
        argv[1] = "n_samples=${oc.env:ZOO_UNSET_VARIABLE}"
    assert run(argv) == 2
    option = argv[1].split("=")[0]
    assert capsys.readouterr().err.strip().splitlines() == [
        f"error: {option} cannot be resolved: Environment variable 'ZOO_UNSET_VARIABLE' not found; "
        f"set what it refers to, or give it a value ({option}=<value>)"
    ]
    assert list(tmp_path.iterdir()) == []


def test_a_category_listed_twice_is_refused(quickdraw_root):
    from zoo.data import build_data

    with pytest.raises(ZooError, match=r"data.categories names 'cat' more than once"):
        build_data("quickdraw", name="quickdraw", root=str(quickdraw_root), categories=["cat", "cat"], progress=False)


def test_the_two_precision_spellings_hydra_can_produce_are_the_same(configs):
    for value in (32, "32"):
        assert (
            check_train_config(with_value(configs["data=quickdraw"], "trainer.precision", value)).trainer.precision
            == "32"
        )
