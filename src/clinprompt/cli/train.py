"""clinprompt-train: the Hydra entry point (``python train.py`` in a checkout runs the same function).

    clinprompt-train [overrides]                  one run in outputs/<time>_<id>/
    clinprompt-train -m model=a,b prompt_len=16,32  a sweep in multirun/<time>/
    clinprompt-train ckpt_path=RUN/checkpoints/last.ckpt          resume training from a checkpoint
    clinprompt-train train=false ckpt_path=RUN/checkpoints/best.ckpt  test a checkpoint (clinprompt-eval: any split)

The configs ship in the package (``pkg://clinprompt.conf``); ``--config-dir DIR`` adds a directory of your own.
"""

from __future__ import annotations

import hydra
import lightning  # noqa: F401  before Hydra's job logging, which then removes Lightning's own console handler
from omegaconf import DictConfig

from clinprompt.config import CONFIG_PATH, register_resolvers


@hydra.main(version_base="1.3", config_path=CONFIG_PATH, config_name="train")
def train_app(cfg: DictConfig) -> float | None:
    from clinprompt.training.noise import quiet_third_party
    from clinprompt.training.run import train

    quiet_third_party(show=bool(cfg.get("third_party_noise", False)))
    return train(cfg)  # the optimised metric: what a sweeper (Optuna) maximises


def main() -> None:
    # the resolvers name run directories, so they are registered before Hydra composes (not on import)
    register_resolvers()
    train_app()


if __name__ == "__main__":
    main()
