"""Compare every trained model on the same held-out data: ``python compare.py data=<name> [overrides]``.

Configuration lives in ``conf/compare.yaml``; see the README's "Comparing models" section.
"""

from zoo.signals import quiet_while_starting

quiet_while_starting()  # a Ctrl-C during the imports below is one line, not a traceback

import hydra
from omegaconf import DictConfig


@hydra.main(version_base="1.3", config_path="conf", config_name="compare")
def main(cfg: DictConfig) -> None:
    from zoo.compare import main as run

    run(cfg)


if __name__ == "__main__":
    main()
