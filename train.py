"""Train one generative model on one data set: ``python train.py model=<name> data=<name> [overrides]``.

Configuration lives in ``conf/`` (Hydra); see the README for examples.
"""

import hydra
from omegaconf import DictConfig


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> None:
    from zoo.app import main as run

    run(cfg)


if __name__ == "__main__":
    main()
