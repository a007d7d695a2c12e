"""clinprompt entry point: `python train.py [overrides]`, `python train.py -m key=a,b ...` for sweeps."""

import hydra
from omegaconf import DictConfig

from clinprompt.config import register_resolvers

register_resolvers()


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    from clinprompt.training.run import train

    return train(cfg)


if __name__ == "__main__":
    main()
