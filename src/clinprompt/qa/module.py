"""The LightningModule for PubMedQA: an encoder classifier or a seq2seq generator under one strategy.

``strategy.method: base`` trains nothing: a seq2seq model answers zero-shot; an encoder classifier has
no zero-shot answer (its head is untrained), so its base is the training split's majority class.
Results: ``eval_results`` {dev, test, dev_curve}, ``per_document`` {test: {pmid: {gold, pred, correct}}}
for paired statistics, and ``write_predictions`` (the official {pmid: answer} JSON + the peft adapter).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import lightning as L
import torch
from hydra.utils import instantiate
from lightning.pytorch.trainer.states import TrainerFn
from omegaconf import DictConfig, OmegaConf
from torch.nn import functional as F

from clinprompt.backbone import load_backbone, load_tokenizer
from clinprompt.qa.data import balanced_class_weights, labels_of
from clinprompt.qa.datamodule import is_seq2seq
from clinprompt.qa.encoder import EncoderClassifier
from clinprompt.qa.metrics import classification_metrics, measure_latency
from clinprompt.qa.seq2seq import Seq2SeqQA, load_seq2seq


def _plain(cfg: Any) -> Any:
    return OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else cfg


class QAModule(L.LightningModule):
    def __init__(self, model: Mapping, strategy: Mapping, label_set: str = "yes_no", prompt_len: int = 16,
                 optimizer: Mapping | None = None, scheduler: Mapping | None = None, dropout: float = 0.1,
                 max_new_tokens: int = 4, latency: Mapping | None = None, class_weights: str | None = None):
        super().__init__()
        self.save_hyperparameters({"model": _plain(model), "strategy": _plain(strategy), "label_set": label_set,
                                   "prompt_len": prompt_len, "optimizer": _plain(optimizer),
                                   "scheduler": _plain(scheduler), "dropout": dropout,
                                   "max_new_tokens": max_new_tokens, "latency": _plain(latency or {}),
                                   "class_weights": class_weights})
        if class_weights not in (None, "balanced"):
            raise ValueError(f"module.lightning_module.class_weights={class_weights!r}: use null or 'balanced'")
        hp = self.hparams
        self.labels = labels_of(label_set)
        self.method = hp.strategy["method"]
        self.seq2seq = is_seq2seq(hp.model)
        self.net: EncoderClassifier | Seq2SeqQA | None = None
        if self.seq2seq:
            tok = load_tokenizer(hp.model)
            self.net = Seq2SeqQA(load_seq2seq(hp.model, tok), tok, self.labels, hp.strategy, prompt_len,
                                 hp.model, max_new_tokens)
        elif self.method != "base":  # the encoder base (majority class) needs no model
            self.net = EncoderClassifier(load_backbone(hp.model), len(self.labels), hp.strategy, prompt_len,
                                         hp.model, dropout)
        self.eval_results: dict[str, Any] = {"dev_curve": []}
        self.per_document: dict[str, dict] = {}
        self._preds: dict[str, list[tuple[int, str]]] = {"dev": [], "test": []}
        self._train_loss = [0.0, 0]
        self._class_weight: torch.Tensor | None = None  # set in setup() from the training split

    # ---- prediction ---------------------------------------------------------------------------------
    def predict_batch(self, batch: dict) -> list[str]:
        if self.net is None:
            return [self.trainer.datamodule.majority_label()] * len(batch["index"])
        if self.seq2seq:
            return self.net.predict(batch["input_ids"], batch["attention_mask"])
        logits = self.net(batch["input_ids"], batch["attention_mask"])
        return [self.labels[i] for i in logits.argmax(-1).tolist()]

    def setup(self, stage: str) -> None:
        dm = getattr(self.trainer, "datamodule", None) if self._trainer is not None else None
        if dm is not None and isinstance(self.net, EncoderClassifier):
            limit = self.net.max_input_tokens()
            if int(dm.dataset_cfg["max_length"]) > limit:
                raise ValueError(f"dataset.max_length={dm.dataset_cfg['max_length']} + the prompt exceeds the "
                                 f"model's positions: set dataset.max_length<={limit}")
            if self.hparams.class_weights == "balanced":  # the encoder's cross-entropy; generation is unweighted
                self._class_weight = torch.tensor(balanced_class_weights(dm.examples["train"], self.labels))

    # ---- training -----------------------------------------------------------------------------------
    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        if self.seq2seq:
            loss = self.net.loss(batch["input_ids"], batch["attention_mask"], batch["target_ids"])
        else:
            weight = self._class_weight.to(self.device) if self._class_weight is not None else None
            loss = F.cross_entropy(self.net(batch["input_ids"], batch["attention_mask"]), batch["label"], weight=weight)
        self.log("train/loss", loss, prog_bar=True, batch_size=len(batch["index"]))
        self._train_loss[0] += float(loss.detach()) * len(batch["index"])
        self._train_loss[1] += len(batch["index"])
        return loss

    def on_train_epoch_start(self) -> None:
        self._train_loss = [0.0, 0]
        if self.net is None:
            return
        # Lightning keeps each module's mode, and from_pretrained returns eval(): set the intended mode here
        self.net.train()
        if self.net.frozen_backbone:
            self.net.eval()  # a frozen backbone gets no dropout noise it cannot adapt to
            if isinstance(self.net, EncoderClassifier):
                self.net.head.train()
                if self.net.deep_prompt is not None:
                    self.net.deep_prompt.train()

    # ---- evaluation ---------------------------------------------------------------------------------
    def _eval_step(self, batch: dict, split: str) -> None:
        self._preds[split].extend(zip(batch["index"].tolist(), self.predict_batch(batch), strict=True))

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        self._eval_step(batch, "dev")

    def test_step(self, batch: dict, batch_idx: int) -> None:
        self._eval_step(batch, "test")

    def _split_metrics(self, split: str) -> tuple[dict[str, Any], list[tuple[str, str, str]]]:
        examples = self.trainer.datamodule.examples[split]
        rows = [(examples[i].pmid, examples[i].label, pred) for i, pred in sorted(self._preds[split])]
        self._preds[split] = []
        return classification_metrics([g for _, g, _ in rows], [p for _, _, p in rows], self.labels), rows

    def on_validation_epoch_end(self) -> None:
        if self.trainer.sanity_checking:
            self._preds["dev"] = []
            return
        res, _ = self._split_metrics("dev")
        self.log("dev/accuracy", res["accuracy"])
        self.log("dev/macro_f1", res["macro_f1"])
        self.eval_results["dev"] = res
        if self.trainer.state.fn == TrainerFn.FITTING:
            loss_sum, n = self._train_loss
            self.eval_results["dev_curve"].append({
                "epoch": int(self.current_epoch), "step": int(self.global_step), "accuracy": res["accuracy"],
                "macro_f1": res["macro_f1"],
                "train_loss": loss_sum / n if n else None})

    def on_test_epoch_end(self) -> None:
        res, rows = self._split_metrics("test")
        res["latency"] = self._latency()
        self.log("test/accuracy", res["accuracy"])
        self.log("test/macro_f1", res["macro_f1"])
        self.eval_results["test"] = res
        self.per_document["test"] = {pmid: {"gold": g, "pred": p, "correct": int(g == p)} for pmid, g, p in rows}

    def _latency(self) -> dict[str, float]:
        """Per-question latency at batch size 1 (warm-up excluded), on the first test questions."""
        if self.net is None:
            return {"mean_ms": 0.0, "p95_ms": 0.0, "n": 0}
        dm = self.trainer.datamodule
        cfg = self.hparams.latency
        feats = dm.features["test"][: int(cfg.get("n_examples", 32))]
        batches = [{k: v.to(self.device) for k, v in dm.collate([f]).items()} for f in feats]
        return measure_latency(self.net, self.predict_batch, batches, warmup=int(cfg.get("warmup", 3)))

    def write_predictions(self, out_dir: Path, split: str = "test") -> int:
        """``out_dir/test.json`` in the official format {pmid: answer}; a peft adapter goes to
        ``out_dir/../adapter`` (load it with ``PeftModel.from_pretrained``)."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        preds = {pmid: rec["pred"] for pmid, rec in self.per_document.get(split, {}).items()}
        (out_dir / f"{split}.json").write_text(json.dumps(preds, indent=1))
        if isinstance(self.net, Seq2SeqQA):
            self.net.save_adapter(out_dir.parent / "adapter")
        return len(preds)

    # ---- optimisation -------------------------------------------------------------------------------
    def configure_optimizers(self):
        lr = self.hparams.strategy.get("lr", {})
        wd = self.hparams.strategy.get("weight_decay", 0.01)
        groups = [{"name": "backbone", "params": self.net.backbone_parameters(), "lr": lr.get("backbone", 3e-5),
                   "weight_decay": wd},
                  {"name": "prompt", "params": self.net.prompt_parameters(), "lr": lr.get("prompt", 1e-2),
                   "weight_decay": 0.0},
                  {"name": "head", "params": self.net.head_parameters(), "lr": lr.get("head", 1e-3),
                   "weight_decay": wd}]
        groups = [g for g in groups if g["params"]]
        opt_cfg = self.hparams.optimizer or {"_target_": "torch.optim.AdamW", "_partial_": True}
        optimizer = instantiate(opt_cfg)(params=groups)
        sched_cfg = self.hparams.scheduler
        if not sched_cfg:
            return optimizer
        total = max(1, int(self.trainer.estimated_stepping_batches))
        cfg = {k: v for k, v in sched_cfg.items() if k != "warmup_ratio"}
        scheduler = instantiate(cfg)(optimizer=optimizer, num_warmup_steps=int(sched_cfg.get("warmup_ratio", 0.1)
                                                                               * total), num_training_steps=total)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    # ---- checkpoints hold only what trained when the backbone is frozen --------------------------------
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        if self.net is not None and self.net.frozen_backbone:
            trained = {n for n, p in self.named_parameters() if p.requires_grad}
            checkpoint["state_dict"] = {k: v for k, v in checkpoint["state_dict"].items() if k in trained}
            checkpoint["trained_only"] = True

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        if checkpoint.get("trained_only"):
            checkpoint["state_dict"] = {**self.state_dict(), **checkpoint["state_dict"]}
