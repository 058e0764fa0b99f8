"""Train one generative model on one data set: ``python train.py model=<name> data=<name> [overrides]``.

Configuration lives in ``conf/`` (Hydra); see the README for examples.
"""

from zoo.signals import quiet_while_starting

quiet_while_starting()  # a Ctrl-C during the imports below is one line, not a traceback

import os
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

# jobs a launcher starts in new processes (hydra/launcher=local or slurm) import this same genzoo
ROOT = str(Path(__file__).resolve().parent)
if ROOT not in os.environ.get("PYTHONPATH", "").split(os.pathsep):
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH")) if p)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> None:
    from zoo.app import main as run

    run(cfg)


if __name__ == "__main__":
    main()
