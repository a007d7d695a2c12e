"""clinprompt entry point: `python train.py [overrides]`, `python train.py -m key=a,b ...` for sweeps."""

import hydra
import lightning  # noqa: F401  before Hydra's job logging, which then removes Lightning's own console handler
from omegaconf import DictConfig

from clinprompt.config import register_resolvers

register_resolvers()


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    from clinprompt.training.noise import quiet_third_party
    from clinprompt.training.run import train

    quiet_third_party(show=bool(cfg.get("third_party_noise", False)))
    return train(cfg)


if __name__ == "__main__":
    main()
