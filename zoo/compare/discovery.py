"""Which run of each model a comparison scores: named ones, or the newest finished on the same data."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from zoo.compare.options import CompareOptions
from zoo.errors import ZooError
from zoo.registry import MODELS
from zoo.runs import data_diff, fingerprint, finished_runs, read_config, read_status

log = logging.getLogger("zoo")


@dataclass
class Picked:
    """A model's run for this comparison, or why there is none (``run`` None, ``reason`` set)."""

    run: Path | None = None
    reason: str = ""
    unfinished: str = ""  # "status running at step 40" for a run given in runs= that has not finished
    # why there is no run, for the hints of "nothing to compare": trained on other data, a model of
    # the other task (a colouriser in an image comparison or the reverse), or not trained at all
    missing: Literal["", "other data", "other task", "not trained"] = ""
    # finished runs of the same model and configuration with other seeds (the newest of each seed):
    # scored too, and the row gives the mean and spread over all the seeds
    seeds: tuple[Path, ...] = ()


def wrong_task(name: str, options: CompareOptions) -> str:
    if MODELS.get(name).colourises:
        return f"{name} is a colouriser: python compare.py task=colourise data={options.data.get('name')}"
    return f"{name} draws images rather than colouring them: python compare.py data={options.data.get('name')}"


def other_seeds(chosen: Path, candidates: list[Path]) -> tuple[Path, ...]:
    """The newest finished run of every other seed among ``candidates`` (newest first) whose
    configuration is ``chosen``'s but for the seed (model, data and batch size: ``zoo.runs.fingerprint``)."""

    def seedless(run: Path) -> tuple[str, Any] | None:
        try:
            config = read_config(run)
            return fingerprint({**config, "seed": None}), config.get("seed")
        except (ZooError, KeyError, TypeError):  # unreadable, or not a whole run configuration
            return None

    mine = seedless(chosen)
    if mine is None:
        return ()
    seen, found = {mine[1]}, []
    for run in candidates:
        theirs = seedless(run)
        if theirs is not None and theirs[0] == mine[0] and theirs[1] not in seen:
            seen.add(theirs[1])
            found.append(run)
    return tuple(found)


def pick_runs(options: CompareOptions, data_options: dict[str, Any]) -> dict[str, Picked]:
    """Model name -> its run on this data: the ones in ``runs=[...]``, else for each registered
    model of the comparison's task (colourisers for ``task=colourise``, the others for ``generate``)
    the newest finished run whose data options match (an older matching run beats a newer one on
    other data), with the newest runs of its other seeds. A trained colouriser in a ``generate`` comparison is listed with where it is scored."""
    data_name = data_options["name"]
    if options.runs:
        picked: dict[str, Picked] = {}
        for entry in options.runs:
            run_dir = Path(entry)
            config = read_config(run_dir)
            name = config["model"].get("name")
            if name in MODELS and MODELS.get(name).colourises != (options.task == "colourise"):
                picked[name] = Picked(reason=f"{run_dir}: {wrong_task(name, options)}", missing="other task")
                continue
            if name in picked:
                raise ZooError(
                    f"runs=[...] names two {name} runs ({picked[name].run} and {run_dir}); pass one per model"
                )
            diff = data_diff(config, data_options)
            if diff:
                picked[name] = Picked(
                    reason=f"{run_dir} was trained on other data: {'; '.join(diff)}", missing="other data"
                )
                continue
            status = read_status(run_dir) or {}
            unfinished = ""
            if status.get("status") != "finished":
                unfinished = f"status {status.get('status', 'unknown')} at step {status.get('step', '?')}"
            picked[name] = Picked(run_dir, unfinished=unfinished)
        return picked
    runs_dir = Path(options.runs_dir)
    found: dict[str, Picked] = {}
    for name in MODELS.names():
        if MODELS.get(name).colourises != (options.task == "colourise"):
            if options.task == "generate" and finished_runs(runs_dir, name, data_name):
                found[name] = Picked(reason=wrong_task(name, options), missing="other task")
            continue
        candidates = finished_runs(runs_dir, name, data_name)
        skipped: list[tuple[str, bool]] = []  # (why, whether it is other data)
        for run_dir in candidates:
            try:
                diff = data_diff(read_config(run_dir), data_options)
            except ZooError as e:
                log.warning("leaving out %s: %s", run_dir, e)
                skipped.append((f"{run_dir}: unreadable config.yaml", False))
                continue
            if not diff:
                found[name] = Picked(run_dir, seeds=other_seeds(run_dir, candidates))
                break
            skipped.append((f"{run_dir} was trained on other data: {'; '.join(diff)}", True))
        else:
            if skipped:
                more = f" (and {len(skipped) - 1} older)" if len(skipped) > 1 else ""
                (why, other_data) = skipped[0]
                found[name] = Picked(
                    reason=f"no finished run on this data; the newest, {why}{more}",
                    missing="other data" if other_data else "not trained",
                )
            else:
                found[name] = Picked(
                    reason=f"no finished run under {runs_dir}/{name}-{data_name}/ (python train.py model={name} data={data_name})",
                    missing="not trained",
                )
    return found
