"""clinprompt-eval: score a checkpoint on a split and write results.json in a run directory of its own.

    clinprompt-eval ckpt_path=outputs/RUN/checkpoints/best.ckpt [split=dev] [the training run's overrides]

The data, model and strategy are composed from the same config groups as clinprompt-train (eval.yaml starts
from train.yaml), so give the overrides the checkpoint was trained with (its run's .hydra/overrides.yaml).
Runs land in outputs/eval/<time>_<id>/ (results.json, predictions/ for the test split, eval.log).
"""

from __future__ import annotations

import hydra
import lightning  # noqa: F401  before Hydra's job logging, which then removes Lightning's own console handler
from omegaconf import DictConfig

from clinprompt.config import CONFIG_PATH, register_resolvers


@hydra.main(version_base="1.3", config_path=CONFIG_PATH, config_name="eval")
def eval_app(cfg: DictConfig) -> float | None:
    from clinprompt.evaluation.console import print_results
    from clinprompt.training.noise import quiet_third_party
    from clinprompt.training.run import evaluate

    quiet_third_party(show=bool(cfg.get("third_party_noise", False)))
    results = evaluate(cfg)
    print_results(results, split=str(cfg.split))
    optimized = str(cfg.get("optimized_metric") or "")
    # a sweep over checkpoints gets back the metric the training runs optimised, on the split scored here
    value = results["metrics"].get(cfg.split)
    for part in optimized.split("/")[1:]:
        value = value.get(part) if isinstance(value, dict) else None
    return float(value) if isinstance(value, int | float) else None


def main() -> None:
    # the resolvers name run directories, so they are registered before Hydra composes (not on import)
    register_resolvers()
    eval_app()


if __name__ == "__main__":
    main()
