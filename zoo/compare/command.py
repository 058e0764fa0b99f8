"""``python compare.py``: pick the runs, build the reference, score every row, write the report."""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from zoo.commands import hydra_command, resolved
from zoo.compare.colourise import COLUMNS, check_colour, colourise_rows, write_colourise_report
from zoo.compare.discovery import pick_runs
from zoo.compare.na import NA
from zoo.compare.options import CompareOptions, check_compare_config
from zoo.compare.reference import build_reference, check_set_sizes, data_key, for_device
from zoo.compare.report import TABLE, inception_size, jsonable, markdown_table, reasons, write_grids, write_report
from zoo.compare.scoring import model_row, real_row, score_picked
from zoo.data import build_data
from zoo.errors import ZooError
from zoo.files import exclusive_dir
from zoo.memory import reuse_freed_memory
from zoo.runs import RunLock
from zoo.signals import interrupt_on_sigterm
from zoo.trainer import pick_device

log = logging.getLogger("zoo")


def output_folder(options: CompareOptions, hold: contextlib.ExitStack | None = None) -> tuple[Path, str]:
    """A folder this comparison alone writes: ``out=`` when it is new or empty, else a fresh
    ``<runs_dir>/compare/<time>[-n]/`` created exclusively (two comparisons in one second get two).
    ``out=`` is claimed with the run folders' lock (``flock``), held until ``hold`` closes: a second
    comparison started with the same ``out=`` before the first wrote anything is refused."""
    stamp = time.strftime("%Y-%m-%d_%H-%M-%S")
    if options.out is None:
        out = exclusive_dir(Path(options.runs_dir) / "compare", stamp, what="comparison folder")
        return out, out.name
    out = Path(options.out)
    busy = f"out={out} already holds files; pick a new folder (or leave out= unset for a fresh one)"
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ZooError(busy)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ZooError(f"cannot create out={out}: {e.strerror or e}") from None
    lock = RunLock.try_acquire(out)
    if lock is None:
        raise ZooError(f"out={out}: another comparison is writing into it; pick another folder")
    if hold is None:
        lock.release()
    else:
        hold.callback(lock.release)
    if any(out.iterdir()):  # another comparison claimed, wrote and let go in between
        raise ZooError(busy)
    return out, stamp


def compare(options: CompareOptions, data_options: dict[str, Any], tracker_factory) -> Path:
    with contextlib.ExitStack() as hold:  # holds out='s claim until the comparison is published
        return _compare(options, data_options, tracker_factory, hold)


def _compare(options: CompareOptions, data_options: dict[str, Any], tracker_factory, hold) -> Path:
    data_options = dict(data_options)
    source = data_options.pop("source")
    data_name = data_options["name"]
    device = pick_device(options.device)
    options = for_device(options, device)
    data = None
    if options.task == "colourise":  # grey data is refused before anything else is said about it
        data = build_data(source, **data_options)
        check_colour(data)
    picked = pick_runs(options, {"source": source, **data_options})
    usable = {name: p for name, p in picked.items() if p.run is not None}
    rows: list[dict[str, Any]] = [{"model": name, "run": NA(p.reason)} for name, p in picked.items() if p.run is None]
    if not usable:
        hints = [f"\n  {name}: {p.reason}" for name, p in picked.items() if p.missing == "other data"]
        hints += [f"\n  {p.reason}" for p in picked.values() if p.missing == "other task"]
        raise ZooError(
            f"no finished runs to compare on {data_name} under {options.runs_dir}/. "
            f"Train some first, e.g. python train.py model={'cinn' if options.task == 'colourise' else 'dcgan'} "
            f"data={data_name}" + "".join(hints)
        )
    data = data or build_data(source, **data_options)
    check_set_sizes(data, options)
    key = data_key(data, {"source": source, **data_options})
    if options.task == "colourise":
        return compare_colourisers(picked, data, key, options, device, tracker_factory, hold)

    out, stamp = output_folder(options, hold)
    with removed_if_left_empty(out):
        log.info("comparing %s on %s -> %s (data key %s)", ", ".join(usable), data.info.name, out, key)
        ref = build_reference(data, options, key, device)
        scored = [real_row(ref, options, data.info.num_classes)]
        images: dict[str, dict[str, torch.Tensor]] = {}
        for name, choice in usable.items():
            seeds = f", and {len(choice.seeds)} other seed(s)" if choice.seeds else ""
            log.info("scoring %s (%s%s)", name, choice.run, seeds)
            started = time.perf_counter()
            row, imgs = score_picked(name, choice, lambda n, run: model_row(n, run, data, ref, options, device))
            if imgs is None:
                rows.append(row)
                continue
            log.info("%s scored in %.0f s", name, time.perf_counter() - started)
            scored.append(row)
            images[name] = imgs
        rows = scored + rows
        grids = write_grids(out, images, data)
        write_report(out, rows, ref, options, data)  # last: a report on disk is a complete one
    table = markdown_table(rows, inception_size(ref))
    publish(out, stamp, rows, table, len(scored) > 1, TABLE, grids, data.info.name, tracker_factory)
    return out


def compare_colourisers(picked, data, key: str, options: CompareOptions, device, tracker_factory, hold) -> Path:
    """``task=colourise``: the colourisation table (``zoo/compare/colourise.py``)."""
    out, stamp = output_folder(options, hold)
    with removed_if_left_empty(out):
        log.info("colourising with %s on %s -> %s (data key %s)", ", ".join(picked), data.info.name, out, key)
        rows, images, ref = colourise_rows(picked, data, key, options, device)
        grid, table = write_colourise_report(out, rows, images, ref, options, data)
    scored = any(isinstance(r.get("run"), str) and r["run"] for r in rows)
    publish(out, stamp, rows, table, scored, COLUMNS, {"colourise": grid}, data.info.name, tracker_factory)
    return out


@contextlib.contextmanager
def removed_if_left_empty(out: Path) -> Iterator[None]:
    """A comparison that fails before writing anything leaves no empty folder behind."""
    try:
        yield
    except BaseException:
        if not any(out.iterdir()):
            out.rmdir()
        raise


def publish(out, stamp, rows, table: str, scored: bool, columns, grids, data_name: str, tracker_factory) -> None:
    """The table and its reasons printed, the run's W&B record; exit 2 when no model was scored."""
    print(table)
    for line in reasons(rows):
        print(line)
    print(f"report: {out / 'report.md'}")
    if not scored:
        raise ZooError(
            f"no model could be scored on {data_name} (the report in {out} says why for each); "
            "fix or retrain those runs and compare again"
        )
    tracker = tracker_factory(out, data_name, stamp)
    try:
        keys = [k for _, k, _ in columns]
        tracker.log_table("comparison", keys, [[str(jsonable(r.get(k, ""))) for k in keys] for r in rows])
        tracker.log_images(grids, step=0)
    finally:
        tracker.finish()


def cli(argv: list[str]) -> int:
    """``python compare.py <argv>`` in this process: its exit code."""
    return hydra_command("compare", argv, main)


def main(cfg) -> None:

    from zoo.logs import setup_logging
    from zoo.tracking import Tracker

    setup_logging()
    interrupt_on_sigterm()
    reuse_freed_memory()  # the Inception and sampling passes run ~40% faster on a CPU
    try:
        config = resolved(cfg)
        options, logger = check_compare_config(config)
        if options.progress is None:
            options.progress = sys.stderr.isatty()

        def tracker(out: Path, data_name: str, stamp: str) -> Tracker:
            return Tracker(
                mode=logger.mode,
                project=logger.project,
                run_dir=out,
                name=f"compare-{data_name}-{stamp}",
                group=data_name,
                tags=["compare", data_name],
                config=config,
                online_timeout_s=logger.online_timeout_s,
            )

        compare(options, options.data, tracker)
    except ZooError as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        print("interrupted; a report.md in the comparison folder is complete, as it is written last", file=sys.stderr)
        raise SystemExit(130) from None
