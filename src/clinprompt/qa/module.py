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

import torch
from lightning.pytorch.trainer.states import TrainerFn
from torch import nn
from torch.nn import functional as F

from clinprompt.backbone import load_backbone, load_tokenizer
from clinprompt.models.base_module import StrategyModule, plain
from clinprompt.qa.data import balanced_class_weights, labels_of
from clinprompt.qa.datamodule import is_seq2seq
from clinprompt.qa.encoder import EncoderClassifier
from clinprompt.qa.metrics import classification_metrics, measure_latency
from clinprompt.qa.seq2seq import Seq2SeqQA, load_seq2seq
from clinprompt.strategy import QAStrategy, qa_strategy


class QAModule(StrategyModule):
    strategy: QAStrategy

    def __init__(self, model: Mapping, strategy: Mapping, label_set: str = "yes_no", prompt_len: int = 16,
                 optimizer: Mapping | None = None, scheduler: Mapping | None = None, dropout: float = 0.1,
                 max_new_tokens: int = 4, latency: Mapping | None = None, class_weights: str | None = None):
        super().__init__()
        self.save_plain_hyperparameters(model=model, strategy=qa_strategy(plain(strategy)).to_config(),
                                        label_set=label_set, prompt_len=prompt_len, optimizer=optimizer,
                                        scheduler=scheduler, dropout=dropout, max_new_tokens=max_new_tokens,
                                        latency=plain(latency or {}), class_weights=class_weights)
        if class_weights not in (None, "balanced"):
            raise ValueError(f"module.lightning_module.class_weights={class_weights!r}: use null or 'balanced'")
        hp = self.hparams
        self.labels = labels_of(label_set)
        s = self.build_strategy(hp.strategy, prompt_len)
        self.method = s.method
        self.seq2seq = is_seq2seq(hp.model)
        self.net: EncoderClassifier | Seq2SeqQA | None = None
        if self.seq2seq:
            tok = load_tokenizer(hp.model)
            self.net = Seq2SeqQA(load_seq2seq(hp.model, tok), tok, self.labels, s, prompt_len, hp.model,
                                 max_new_tokens)
        elif self.method != "base":  # the encoder base (majority class) needs no model
            self.net = EncoderClassifier(load_backbone(hp.model), len(self.labels), s, prompt_len, hp.model, dropout)
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
        super().on_train_epoch_start()

    # ---- parameter roles (StrategyModule builds the optimizer from them) ------------------------------------
    def backbone_parameters(self) -> list[nn.Parameter]:
        return self.net.backbone_parameters() if self.net is not None else []

    def prompt_parameters(self) -> list[nn.Parameter]:
        return self.net.prompt_parameters() if self.net is not None else []

    def head_parameters(self) -> list[nn.Parameter]:
        return self.net.head_parameters() if self.net is not None else []

    def reparam_mlp(self) -> nn.Module | None:
        prompt = getattr(self.net, "deep_prompt", None) or getattr(self.net, "prefix", None)
        return getattr(prompt, "mlp", None)

    def frozen_modules(self) -> list[nn.Module]:
        """A frozen encoder trains its head and deep prompt with dropout; the rest (backbone, the pooled-state
        dropout) and a frozen seq2seq model stay in eval mode."""
        if isinstance(self.net, EncoderClassifier):
            return [m for name, m in self.net.named_children() if name not in ("head", "deep_prompt")]
        return [self.net] if self.net is not None else []

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
