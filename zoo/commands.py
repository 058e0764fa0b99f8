"""What every genzoo command shares: its command line as Hydra overrides of ``conf/<name>.yaml``,
checked by a schema, and how it ends (one ``error:`` line and exit code 2 for what the user can fix).

``python train.py`` and ``python compare.py`` go through ``@hydra.main`` (for multirun and
launchers); ``zoo.app.cli`` and ``zoo.compare.command.cli`` run the same commands from a list of
arguments in the calling process, and ``zoo.morph``, ``zoo.colourise`` and ``zoo.studio`` are
built on ``parse_config`` and ``run_command``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from omegaconf import DictConfig, OmegaConf

from zoo.errors import ZooError
from zoo.options import Options, check

T = TypeVar("T", bound=Options)
CONF = Path(__file__).resolve().parents[1] / "conf"


def compose(name: str, argv: list[str]) -> DictConfig:
    """``conf/<name>.yaml`` with the command line's overrides; raises Hydra's own exceptions."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    with initialize_config_dir(str(CONF), version_base="1.3"):
        return hydra_compose(name, overrides=list(argv))


def resolved(cfg: DictConfig) -> dict[str, Any]:
    """The configuration with every ``${...}`` interpolation resolved, or one ``ZooError`` naming the
    option that cannot be (an unset environment variable in ``${oc.env:NAME}``, a missing key)."""
    from omegaconf.errors import OmegaConfBaseException

    try:
        return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]
    except OmegaConfBaseException as e:
        key = e.full_key or "an option"
        why = str(e).splitlines()[0].removeprefix("KeyError raised while resolving interpolation: ").strip('"')
        raise ZooError(
            f"{key} cannot be resolved: {why}; set what it refers to, or give it a value ({key}=<value>)"
        ) from None


def parse_config(name: str, schema: type[T], argv: list[str]) -> T:
    """The command line as Hydra overrides of ``conf/<name>.yaml``, each value then checked (type
    and range) by ``schema`` (shared by the commands that work on one trained run)."""
    from hydra.errors import HydraException

    try:
        cfg = compose(name, argv)
    except HydraException as e:  # an unknown key, a malformed override
        raise ZooError(f"{str(e).splitlines()[0]} (the options are {', '.join(schema.model_fields)})") from None
    return check(schema, resolved(cfg), "")


def run_command(make: Callable[[list[str]], dict[str, Path]], argv: list[str] | None) -> int:
    """A command on one trained run (``zoo.morph``, ``zoo.colourise``): what it wrote, one line per
    file, exit code 0; or one ``error:`` line and exit code 2."""
    try:
        written = make(sys.argv[1:] if argv is None else argv)
    except ZooError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for kind, path in written.items():
        print(f"{kind}: {path}")
    return 0


def hydra_command(name: str, argv: list[str], main: Callable[[DictConfig], None]) -> int:
    """``main`` (a ``@hydra.main`` body) on ``conf/<name>.yaml`` with ``argv``, in this process:
    its exit code, and Hydra's own message and exit code 1 for a command line Hydra refuses."""
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    try:
        cfg = compose(name, argv)
    except (HydraException, OmegaConfBaseException) as e:
        print(f"{e}\n\nSet the environment variable HYDRA_FULL_ERROR=1 for a complete stack trace.", file=sys.stderr)
        return 1
    try:
        main(cfg)
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    return 0
