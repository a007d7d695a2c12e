"""The LightningModule for MRC extraction under any of the four strategies."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import lightning as L
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from clinprompt.backbone import backbone_fingerprint, load_backbone, weights_hash
from clinprompt.data.brat import write_document
from clinprompt.data.events import as_event_document
from clinprompt.decoding import Predictor
from clinprompt.evaluation.events import EventScore
from clinprompt.evaluation.scoring import ExtractionScore, entity_recall_by_overlap_class, score_documents
from clinprompt.models.mrc_model import MRCModel
from clinprompt.schema import EVENT_TYPES, Schema

log = logging.getLogger(__name__)
SPLIT_OF_STAGE = {"validate": "dev", "fit": "dev", "test": "test", "predict": "test"}


def _plain(cfg: Any) -> Any:
    return OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else cfg


class MRCModule(L.LightningModule):
    def __init__(self, model: Mapping, strategy: Mapping, schema: Mapping | Schema, task: str = "concepts",
                 prompt_len: int = 0, optimizer: Mapping | None = None, scheduler: Mapping | None = None,
                 heads: Mapping | None = None, eval_batch_size: int = 32):
        super().__init__()
        schema_d = schema.__dict__ if isinstance(schema, Schema) else _plain(schema)
        self.save_hyperparameters({"model": _plain(model), "strategy": _plain(strategy), "schema": schema_d,
                                   "task": task, "prompt_len": prompt_len, "optimizer": _plain(optimizer),
                                   "scheduler": _plain(scheduler), "heads": _plain(heads or {}),
                                   "eval_batch_size": eval_batch_size})
        hp = self.hparams
        self.schema = Schema.from_dict(schema_d)
        self.query = hp.strategy["query"]
        backbone = load_backbone(hp.model, gradient_checkpointing=hp.model.get("gradient_checkpointing", False))
        heads = hp.heads
        self.net = MRCModel(backbone, self.schema, self.query, prompt_len if self.query == "soft" else 0,
                            hp.strategy.get("prompt"), heads.get("max_span_width", 16), heads.get("dropout", 0.1))
        self.loss_weights = tuple(heads.get("loss_weights", (1.0, 1.0, 1.0)))
        self.pos_weight = float(heads.get("pos_weight", 1.0))
        self.freeze_backbone = bool(hp.strategy.get("freeze_backbone", False))
        self.net.train()  # from_pretrained returns eval mode; Lightning keeps module modes as it finds them
        if self.freeze_backbone:
            self.net.backbone.requires_grad_(False)
        rels = self.schema.relation_types if task != "concepts" else ()
        self.scores = torch.nn.ModuleDict({s: ExtractionScore(self.schema.entity_types, rels) for s in ("dev", "test")})
        # event datasets (SDoH) are also scored as events, the way the n2c2 2022 challenge did
        self.event_scores = torch.nn.ModuleDict(
            {s: EventScore([t for t in EVENT_TYPES if t in self.schema.entity_types]) for s in ("dev", "test")}
        ) if self.schema.events and rels else None
        self.eval_results: dict[str, dict] = {}
        self.per_document: dict[str, dict] = {}
        self._predictions: dict[str, list] = {"dev": [], "test": []}
        self.fingerprint = {**backbone_fingerprint(backbone.config, hp.model.get("name", "")),
                            "weights": weights_hash(backbone)}

    # ---- training -------------------------------------------------------------------------------
    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        out = self.net(batch)
        losses = self.net.heads_for(batch["task"]).loss(out, batch, self.loss_weights, self.pos_weight)
        value_loss = self.net.value_loss(out, batch)
        if value_loss is not None:
            losses["loss"] = losses["loss"] + value_loss
            self.log("train/value_loss", value_loss, batch_size=batch["n_examples"])
        self.log("train/loss", losses["loss"], prog_bar=True, batch_size=batch["n_examples"])
        self.log(f"train/{batch['task']}_loss", losses["loss"], batch_size=batch["n_examples"])
        return losses["loss"]

    def on_train_epoch_start(self) -> None:
        if self.freeze_backbone:  # a frozen backbone gets no dropout noise it cannot adapt to
            self.net.backbone.eval()

    # ---- optional: relation training on predicted heads too (dataset flag train_with_predicted_heads) --------
    def on_fit_start(self) -> None:
        dm = getattr(self.trainer, "datamodule", None)
        if getattr(dm, "train_with_predicted_heads", False):
            self.trainer.reload_dataloaders_every_n_epochs = 1  # the next epoch sees this epoch's heads

    def on_train_epoch_end(self) -> None:
        dm = getattr(self.trainer, "datamodule", None)
        if not getattr(dm, "train_with_predicted_heads", False):
            return
        self.net.eval()
        predictor = Predictor.from_heads(self.net, dm.builder, dm.pad_id, self.hparams.eval_batch_size,
                                         self.hparams.heads)
        preds = predictor.predict(dm.train_docs, dm.tdocs, "concepts")
        self.net.train()
        heads = {p.concepts.doc_id: [e for e in p.concepts.entities.values() if e.type in self.schema.head_types]
                 for p in preds}
        self.log("train/predicted_head_examples", float(dm.use_predicted_heads(heads)))

    # ---- evaluation: each step predicts whole documents, so windows never split across processes -----
    def _eval_step(self, doc_indices: torch.Tensor, split: str) -> None:
        dm = self.trainer.datamodule
        docs = [dm.eval_docs[split][i] for i in doc_indices.tolist()]
        predictor = Predictor.from_heads(self.net, dm.builder, dm.pad_id, self.hparams.eval_batch_size,
                                         self.hparams.heads)
        preds = predictor.predict(docs, dm.tdocs, self.hparams.task)
        self.scores[split].update(docs, [p.concepts for p in preds], [p.full for p in preds])
        if self.event_scores is not None:
            self.event_scores[split].update(docs, [p.full for p in preds])
        for gold, p in zip(docs, preds, strict=True):
            self._predictions[split].append((gold, p))

    def validation_step(self, batch: torch.Tensor, batch_idx: int) -> None:
        self._eval_step(batch, "dev")

    def test_step(self, batch: torch.Tensor, batch_idx: int) -> None:
        self._eval_step(batch, "test")

    def _eval_end(self, split: str) -> None:
        res = self.scores[split].compute()
        self.scores[split].reset()
        if self.event_scores is not None:
            res["events"] = self.event_scores[split].compute()
            self.event_scores[split].reset()
            for k in ("precision", "recall", "f1"):
                self.log(f"{split}/events/micro/{k}", float(res["events"]["micro"][k]), sync_dist=False)
        for kind in ("concepts", "relations"):
            if kind not in res:
                continue
            for mode in ("strict", "lenient"):
                for k in ("precision", "recall", "f1"):
                    self.log(f"{split}/{kind}/{mode}/micro/{k}", float(res[kind][mode]["micro"][k]), sync_dist=False)
        # every rank predicted its own share of documents: per-document counts and predictions need all
        pairs = self._predictions[split] = _all_ranks(self._predictions[split])
        golds, concept_preds = [g for g, _ in pairs], [p.concepts for _, p in pairs]
        res["error_analysis"] = {m: entity_recall_by_overlap_class(golds, concept_preds, m)
                                 for m in ("strict", "lenient")}
        self.eval_results[split] = res
        if split == "test":
            rels = self.schema.relation_types if self.hparams.task != "concepts" else ()
            types = self.schema.entity_types
            self.per_document[split] = {
                g.doc_id: _doc_counts(score_documents([g], [p.concepts], types),
                                      score_documents([g], [p.full], types, rels) if rels else None)
                for g, p in pairs}
        else:
            self._predictions[split] = []

    def on_validation_epoch_end(self) -> None:
        self._eval_end("dev")

    def on_test_epoch_end(self) -> None:
        self._eval_end("test")

    def write_predictions(self, out_dir: Path, split: str = "test") -> int:
        """Predicted documents as brat .ann files (annotations only; the notes stay where they are)."""
        out = Path(out_dir) / split
        out.mkdir(parents=True, exist_ok=True)
        for _, p in self._predictions[split]:
            write_document(as_event_document(p.full) if self.schema.events else p.full, out, write_text=False)
        return len(self._predictions[split])

    # ---- optimisation: one optimizer, three learning rates ------------------------------------------
    def parameter_groups(self) -> list[dict]:
        lr = self.hparams.strategy.get("lr", {})
        wd = self.hparams.strategy.get("weight_decay", 0.01)
        prompt_lr = lr.get("prompt", 1e-2)
        scaled = self.fan_in_scaled_matrices()
        unscaled = [p for p in self.net.prompt_parameters() if all(p is not w for w, _ in scaled)]
        groups = [
            {"name": "backbone", "params": [p for p in self.net.backbone.parameters() if p.requires_grad],
             "lr": self.backbone_lr(), "weight_decay": wd},
            {"name": "prompt", "params": unscaled, "lr": prompt_lr, "weight_decay": 0.0},
            *({"name": f"prompt_mlp.{i}", "params": [w], "lr": prompt_lr / fan_in, "weight_decay": 0.0}
              for i, (w, fan_in) in enumerate(scaled)),
            {"name": "head", "params": self.net.head_parameters(), "lr": lr.get("head", 1e-3), "weight_decay": wd},
        ]
        return [g for g in groups if g["params"]]

    def fan_in_scaled_matrices(self) -> list[tuple[torch.nn.Parameter, int]]:
        """(weight, fan-in) of the prompt's reparameterization MLP when ``strategy.prompt.mlp_lr`` is ``fan_in``.
        Adam moves every weight by about the learning rate per step, and all of a row's weights move together,
        so an MLP output moves by about lr x fan-in per step: at the prompt rate (1e-2) through a 256-wide layer
        that is ~2.5 per step in key/value space, where the backbone's own keys/values have RMS ~1, and a frozen
        backbone's attention is swamped by the prefixes (measured: experiments/cpu_full_ade). lr / fan-in makes
        each output move ~lr per step, as a prefix trained directly would, whatever the model and MLP width."""
        prompt, cfg = self.net.prompt, self.hparams.strategy.get("prompt") or {}
        if prompt is None or prompt.mlp is None or cfg.get("mlp_lr") != "fan_in":
            return []
        return [(m.weight, m.in_features) for m in prompt.mlp if isinstance(m, torch.nn.Linear)]

    def backbone_lr(self) -> float:
        """``strategy.lr.backbone`` when set, else the model's own fine-tuning rate (``model.finetune_lr``)."""
        lr = self.hparams.strategy.get("lr", {}).get("backbone")
        return float(lr if lr is not None else self.hparams.model.get("finetune_lr", 5e-5))

    def configure_optimizers(self):
        opt_cfg = self.hparams.optimizer or {"_target_": "torch.optim.AdamW", "_partial_": True}
        optimizer = instantiate(opt_cfg)(params=self.parameter_groups())
        sched_cfg = self.hparams.scheduler
        if not sched_cfg:
            return optimizer
        total = max(1, int(self.trainer.estimated_stepping_batches))
        warmup = int(sched_cfg.get("warmup_ratio", 0.1) * total)
        cfg = {k: v for k, v in sched_cfg.items() if k != "warmup_ratio"}
        scheduler = instantiate(cfg)(optimizer=optimizer, num_warmup_steps=warmup, num_training_steps=total)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    # ---- checkpoints that fit the strategy ------------------------------------------------------------
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["backbone_fingerprint"] = self.fingerprint
        dm = getattr(self.trainer, "datamodule", None) if self._trainer is not None else None
        if dm is not None and hasattr(dm, "builder"):
            b = dm.builder  # what clinprompt-predict needs to rebuild the same examples
            checkpoint["mrc_builder"] = {"window_size": b.window_size, "stride": b.stride,
                                         "max_span_width": b.max_span_width,
                                         "context_sentences": b.context_sentences}
        if self.freeze_backbone:
            # the frozen backbone is re-loaded from its source: save only what trained
            checkpoint["state_dict"] = {k: v for k, v in checkpoint["state_dict"].items()
                                        if not k.startswith("net.backbone.")}
            checkpoint["prompt_only"] = True

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        saved = checkpoint.get("backbone_fingerprint")
        if saved is not None and saved != self.fingerprint:
            raise ValueError(f"checkpoint was trained on backbone {saved} but this model is {self.fingerprint}; "
                             "load it with the same model config")
        if checkpoint.get("prompt_only"):
            own = self.state_dict()
            checkpoint["state_dict"] = {**{k: v for k, v in own.items() if k.startswith("net.backbone.")},
                                        **checkpoint["state_dict"]}


def _all_ranks(items: list) -> list:
    """The concatenation of ``items`` over all processes (itself when not distributed)."""
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return items
    parts: list = [None] * torch.distributed.get_world_size()
    torch.distributed.all_gather_object(parts, items)
    return [x for part in parts for x in part]


def _doc_counts(concepts: dict, relations: dict | None) -> dict:
    def counts(res: dict) -> dict:
        return {m: [res[m]["micro"][k] for k in ("tp", "fp", "fn")] for m in ("strict", "lenient")}

    out = {"concepts": counts(concepts["concepts"])}
    if relations is not None:
        out["relations"] = counts(relations["relations"])
    return out
