"""What every clinprompt LightningModule shares, whatever its task: hyper-parameters as plain values, the
strategy built once from them, parameter groups (three learning rates; no weight decay on biases, norms or
prompts), a linear warm-up schedule, train/eval modes of a frozen backbone, and checkpoints that hold only what
trained when the backbone is frozen. A task module (MRC extraction, PubMedQA) adds its model, steps and metrics."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import lightning as L
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch import nn

from clinprompt.strategy import Strategy, build_strategy

# one flag for "this checkpoint holds only the trained parameters" (the QA module once wrote "trained_only")
TRAINED_ONLY = "prompt_only"
LEGACY_TRAINED_ONLY = "trained_only"
DEFAULT_OPTIMIZER = {"_target_": "torch.optim.AdamW", "_partial_": True}


def plain(cfg: Any) -> Any:
    """A config as plain Python values (what hyper-parameters and checkpoints record)."""
    return OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else cfg


def decays(module: nn.Module, param_name: str) -> bool:
    """Weight decay pulls weights towards zero: right for weight matrices and embeddings, wrong for biases and
    normalization scales (a LayerNorm weight decayed to 0 switches its features off)."""
    return param_name != "bias" and "norm" not in type(module).__name__.lower()


class StrategyModule(L.LightningModule):
    """Subclasses set ``self.strategy`` (via :meth:`build_strategy`) and implement the parameter roles."""

    strategy: Strategy

    def save_plain_hyperparameters(self, **hparams: Any) -> None:
        """Hyper-parameters as plain values: a checkpoint re-creates the module from them (``load_from_checkpoint``)."""
        self.save_hyperparameters({k: plain(v) for k, v in hparams.items()})

    def build_strategy(self, strategy: Mapping[str, Any], prompt_len: int) -> Strategy:
        self.strategy = build_strategy(strategy, prompt_len)
        return self.strategy

    # ---- parameter roles: a task module names its parameters --------------------------------------------
    def backbone_parameters(self) -> list[nn.Parameter]:
        raise NotImplementedError

    def prompt_parameters(self) -> list[nn.Parameter]:
        raise NotImplementedError

    def head_parameters(self) -> list[nn.Parameter]:
        raise NotImplementedError

    def reparam_mlp(self) -> nn.Module | None:
        """The prompt's reparameterization MLP, if any (its weight matrices may learn at lr / fan-in)."""
        return None

    def frozen_modules(self) -> list[nn.Module]:
        """Modules kept in eval mode while training when the backbone is frozen."""
        return []

    # ---- optimisation ---------------------------------------------------------------------------------------
    def fan_in_scaled_matrices(self) -> list[tuple[nn.Parameter, int]]:
        """(weight, fan-in) of the prompt's reparameterization MLP when ``strategy.prompt.mlp_lr`` is ``fan_in``.
        Adam moves every weight by about the learning rate per step, and all of a row's weights move together,
        so an MLP output moves by about lr x fan-in per step: at the prompt rate (1e-2) through a 256-wide layer
        that is ~2.5 per step in key/value space, where the backbone's own keys/values have RMS ~1, and a frozen
        backbone's attention is swamped by the prefixes (measured: experiments/cpu_full_ade). lr / fan-in makes
        each output move ~lr per step, as a prefix trained directly would, whatever the model and MLP width."""
        mlp = self.reparam_mlp()
        if mlp is None or not self.strategy.fan_in_prompt_mlp:
            return []
        return [(m.weight, m.in_features) for m in mlp.modules() if isinstance(m, nn.Linear)]

    def _decay_split(self, params: list[nn.Parameter]) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
        wanted = {id(p) for p in params}
        decay: dict[int, nn.Parameter] = {}
        for module in self.modules():
            for name, p in module.named_parameters(recurse=False):
                if id(p) in wanted and decays(module, name):
                    decay[id(p)] = p
        return [p for p in params if id(p) in decay], [p for p in params if id(p) not in decay]

    def parameter_groups(self) -> list[dict]:
        """One optimizer, three learning rates (backbone, prompt, head), as the strategy says; backbone and head
        weights decay, their biases and norms do not, prompts never do; an empty group is left out."""
        spec = self.strategy.groups(self.hparams.get("model") or {})
        scaled = self.fan_in_scaled_matrices()
        unscaled = [p for p in self.prompt_parameters() if all(p is not w for w, _ in scaled)]
        backbone = [p for p in self.backbone_parameters() if p.requires_grad]

        def split(role: str, params: list[nn.Parameter]) -> list[dict]:
            decay, no_decay = self._decay_split(params)
            return [{"name": role, "params": decay, "lr": spec[role].lr, "weight_decay": spec[role].weight_decay},
                    {"name": f"{role}.no_decay", "params": no_decay, "lr": spec[role].lr, "weight_decay": 0.0}]

        groups = [
            *split("backbone", backbone),
            {"name": "prompt", "params": unscaled, "lr": spec["prompt"].lr, "weight_decay": 0.0},
            *({"name": f"prompt_mlp.{i}", "params": [w], "lr": spec["prompt"].lr / fan_in, "weight_decay": 0.0}
              for i, (w, fan_in) in enumerate(scaled)),
            *split("head", self.head_parameters()),
        ]
        return [g for g in groups if g["params"]]

    def configure_optimizers(self):
        optimizer = instantiate(self.hparams.get("optimizer") or DEFAULT_OPTIMIZER)(params=self.parameter_groups())
        sched_cfg = self.hparams.get("scheduler")
        if not sched_cfg:
            return optimizer
        total = max(1, int(self.trainer.estimated_stepping_batches))
        warmup = int(sched_cfg.get("warmup_ratio", 0.1) * total)
        cfg = {k: v for k, v in sched_cfg.items() if k != "warmup_ratio"}
        scheduler = instantiate(cfg)(optimizer=optimizer, num_warmup_steps=warmup, num_training_steps=total)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    # ---- train / eval modes -----------------------------------------------------------------------------------
    def on_train_epoch_start(self) -> None:
        # Lightning keeps each module's mode as it finds it, and from_pretrained returns eval(): set it here
        for child in self.children():
            child.train()
        if self.strategy.frozen_backbone:  # a frozen backbone gets no dropout noise it cannot adapt to
            for module in self.frozen_modules():
                module.eval()

    # ---- checkpoints: a frozen backbone is re-loaded from its source, so only what trained is saved -------------
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        if not self.strategy.saves_only_trained:
            return
        trained = {n for n, p in self.named_parameters() if p.requires_grad}
        checkpoint["state_dict"] = {k: v for k, v in checkpoint["state_dict"].items() if k in trained}
        checkpoint[TRAINED_ONLY] = True

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        if not (checkpoint.get(TRAINED_ONLY) or checkpoint.get(LEGACY_TRAINED_ONLY)):
            return
        # only what this strategy does not train comes from the freshly loaded backbone: a missing trained
        # parameter still fails the strict load
        trained = {n for n, p in self.named_parameters() if p.requires_grad}
        own = {k: v for k, v in self.state_dict().items() if k not in trained}
        checkpoint["state_dict"] = {**own, **checkpoint["state_dict"]}
