"""The LightningModule for MRC extraction under any of the four strategies (the shared plumbing, optimizer,
warm-up and frozen-backbone checkpoints are :class:`~clinprompt.models.base_module.StrategyModule`'s)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from clinprompt.backbone import backbone_fingerprint, load_backbone, weights_hash
from clinprompt.data.brat import write_document
from clinprompt.data.events import as_event_document
from clinprompt.data.mrc import EvalData
from clinprompt.decoding import Predictor
from clinprompt.evaluation.events import EventScore
from clinprompt.evaluation.scoring import ExtractionScore, entity_recall_by_overlap_class, score_documents
from clinprompt.models.base_module import StrategyModule, plain
from clinprompt.models.mrc_model import MRCModel
from clinprompt.models.span_heads import HeadOptions
from clinprompt.schema import EVENT_TYPES, Schema
from clinprompt.strategy import MRCStrategy, mrc_strategy

log = logging.getLogger(__name__)
SPLIT_OF_STAGE = {"validate": "dev", "fit": "dev", "test": "test", "predict": "test"}
EVAL_BATCH_SIZE = 64  # examples per forward pass when predicting (conf/module/mrc.yaml says the same: tested)


class MRCModule(StrategyModule):
    strategy: MRCStrategy

    def __init__(self, model: Mapping, strategy: Mapping, schema: Mapping | Schema, task: str = "concepts",
                 prompt_len: int = 0, optimizer: Mapping | None = None, scheduler: Mapping | None = None,
                 heads: Mapping | None = None, eval_batch_size: int = EVAL_BATCH_SIZE):
        super().__init__()
        schema_d = schema.__dict__ if isinstance(schema, Schema) else plain(schema)
        head_opts = HeadOptions.from_config(plain(heads))
        self.save_plain_hyperparameters(model=model, strategy=mrc_strategy(plain(strategy)).to_config(),
                                        schema=schema_d, task=task, prompt_len=prompt_len, optimizer=optimizer,
                                        scheduler=scheduler, heads=head_opts.to_config(),
                                        eval_batch_size=eval_batch_size)
        hp = self.hparams
        self.schema = Schema.from_dict(schema_d)
        s = self.build_strategy(hp.strategy, prompt_len)
        backbone = load_backbone(hp.model, gradient_checkpointing=hp.model.get("gradient_checkpointing", False))
        self.heads = head_opts
        self.net = MRCModel.for_strategy(backbone, self.schema, s, head_opts.max_span_width, head_opts.dropout)
        self.loss_weights, self.pos_weight = head_opts.loss_weights, head_opts.pos_weight
        self.net.train()  # from_pretrained returns eval mode; Lightning keeps module modes as it finds them
        if s.frozen_backbone:
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
        self.data: EvalData | None = None
        self.fingerprint = {**backbone_fingerprint(backbone.config, hp.model.get("name", "")),
                            "weights": weights_hash(backbone)}

    @property
    def freeze_backbone(self) -> bool:
        return self.strategy.frozen_backbone

    # ---- parameter roles (StrategyModule builds the optimizer from them) ------------------------------------
    def backbone_parameters(self) -> list[nn.Parameter]:
        return list(self.net.backbone.parameters())

    def prompt_parameters(self) -> list[nn.Parameter]:
        return self.net.prompt_parameters()

    def head_parameters(self) -> list[nn.Parameter]:
        return self.net.head_parameters()

    def reparam_mlp(self) -> nn.Module | None:
        return self.net.prompt.mlp if self.net.prompt is not None else None

    def frozen_modules(self) -> list[nn.Module]:
        return [self.net.backbone]

    # ---- the data evaluation needs, through one explicit interface ----------------------------------------
    def attach(self, data: EvalData) -> None:
        """Documents, tokenized documents and the example builder to predict with (``MRCDataModule.eval_data``)."""
        self.data = data

    def setup(self, stage: str) -> None:
        dm = getattr(self.trainer, "datamodule", None) if self._trainer is not None else None
        if callable(getattr(dm, "eval_data", None)):
            self.attach(dm.eval_data())

    def _predictor(self) -> Predictor:
        if self.data is None:
            raise RuntimeError("MRCModule has no evaluation data: attach(datamodule.eval_data()) first")
        return Predictor.from_heads(self.net, self.data.builder, self.data.pad_id, self.hparams.eval_batch_size,
                                    self.hparams.heads)

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

    # ---- optional: relation training on predicted heads too (datamodule train_with_predicted_heads) ---------
    def on_train_epoch_end(self) -> None:
        if self.data is None or self.data.use_predicted_heads is None:
            return
        self.net.eval()
        preds = self._predictor().predict(self.data.docs["train"], self.data.tdocs, "concepts")
        self.net.train()
        heads = {p.concepts.doc_id: [e for e in p.concepts.entities.values() if e.type in self.schema.head_types]
                 for p in preds}
        self.log("train/predicted_head_examples", float(self.data.use_predicted_heads(heads)))

    # ---- evaluation: each step predicts whole documents, so windows never split across processes -----
    def _eval_step(self, doc_indices: torch.Tensor, split: str) -> None:
        predictor = self._predictor()
        docs = [self.data.docs[split][i] for i in doc_indices.tolist()]
        preds = predictor.predict(docs, self.data.tdocs, self.hparams.task)
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

    # ---- checkpoints that fit the strategy (StrategyModule drops a frozen backbone) -----------------------------
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["backbone_fingerprint"] = self.fingerprint
        if self.data is not None:
            b = self.data.builder  # what clinprompt-predict needs to rebuild the same examples
            checkpoint["mrc_builder"] = {"window_size": b.window_size, "stride": b.stride,
                                         "max_span_width": b.max_span_width,
                                         "context_sentences": b.context_sentences}
        super().on_save_checkpoint(checkpoint)

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        saved = checkpoint.get("backbone_fingerprint")
        if saved is not None and saved != self.fingerprint:
            raise ValueError(f"checkpoint was trained on backbone {saved} but this model is {self.fingerprint}; "
                             "load it with the same model config")
        super().on_load_checkpoint(checkpoint)


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
