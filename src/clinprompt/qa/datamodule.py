"""PubMedQA as a LightningDataModule: each question tokenized once, for an encoder classifier (label index)
or a seq2seq model (the answer word + end-of-sequence as the target)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import lightning as L
import torch
from omegaconf import DictConfig, OmegaConf
from torch.utils.data import DataLoader

from clinprompt.backbone import load_tokenizer
from clinprompt.qa.data import QAExample, labels_of, load_pubmedqa, make_splits, render_input, split_stats

SEQ2SEQ_ARCHITECTURES = ("t5",)
SPLITS = ("train", "dev", "test")


def is_seq2seq(model: Mapping[str, Any]) -> bool:
    return model.get("architecture") in SEQ2SEQ_ARCHITECTURES


def end_token_id(tokenizer) -> int:
    """T5 tokenizers have </s>; a borrowed WordPiece tokenizer (tiny_t5) ends targets with [SEP]."""
    eos = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else tokenizer.sep_token_id
    if eos is None:
        raise ValueError("the tokenizer has neither an eos nor a sep token to end answers with")
    return int(eos)


def _plain(cfg: Any) -> Any:
    return OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg)


class QADataModule(L.LightningDataModule):
    def __init__(self, dataset: Mapping, model: Mapping, seed: int = 42, batch_size: int = 16,
                 eval_batch_size: int = 32):
        super().__init__()
        self.dataset_cfg, self.model_cfg = _plain(dataset), _plain(model)
        self.seed, self.batch_size, self.eval_batch_size = seed, batch_size, eval_batch_size
        self.labels = labels_of(self.dataset_cfg["label_set"])
        self.seq2seq = is_seq2seq(self.model_cfg)
        self.examples: dict[str, list[QAExample]] = {}
        self.features: dict[str, list[dict[str, Any]]] = {}
        self.stats: dict[str, Any] = {}
        self.tokenizer = None

    def setup(self, stage: str | None = None) -> None:
        if self.examples:
            return
        ds = self.dataset_cfg
        examples, test_key = load_pubmedqa(ds["root"])
        self.examples = make_splits(examples, test_key, ds["label_set"], ds["split"], self.seed,
                                    ds.get("dev_fraction", 0.1))
        self.tokenizer = load_tokenizer(self.model_cfg)
        self.pad_id = int(self.tokenizer.pad_token_id)
        template = ds["template"]["seq2seq" if self.seq2seq else "encoder"]
        targets = {lab: self.tokenizer(lab, add_special_tokens=False)["input_ids"] + [end_token_id(self.tokenizer)]
                   for lab in self.labels}
        max_len = int(ds["max_length"])
        for split in SPLITS:
            feats = []
            for i, ex in enumerate(self.examples[split]):
                text = render_input(self.tokenizer, template, ex, max_len, self.labels)
                ids = self.tokenizer(text, truncation=True, max_length=max_len)["input_ids"]
                feats.append({"index": i, "input_ids": ids, "label": self.labels.index(ex.label),
                              "target_ids": targets[ex.label]})
            self.features[split] = feats
        self.stats = {"splits": split_stats(self.examples), "label_set": ds["label_set"], "split": ds["split"],
                      "max_length": max_len, "mean_input_tokens": {
                          s: round(sum(len(f["input_ids"]) for f in fs) / max(1, len(fs)), 1)
                          for s, fs in self.features.items()}}

    def majority_label(self) -> str:
        """The most frequent training label (ties: the label set's order): the encoder path's base."""
        counts = [sum(e.label == lab for e in self.examples["train"]) for lab in self.labels]
        return self.labels[max(range(len(self.labels)), key=lambda i: (counts[i], -i))]

    def collate(self, feats: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        width = max(len(f["input_ids"]) for f in feats)
        ids = torch.full((len(feats), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(feats), width), dtype=torch.long)
        for r, f in enumerate(feats):
            ids[r, : len(f["input_ids"])] = torch.tensor(f["input_ids"])
            mask[r, : len(f["input_ids"])] = 1
        batch = {"input_ids": ids, "attention_mask": mask, "label": torch.tensor([f["label"] for f in feats]),
                 "index": torch.tensor([f["index"] for f in feats])}
        if self.seq2seq:
            t_width = max(len(f["target_ids"]) for f in feats)
            targets = torch.full((len(feats), t_width), -100, dtype=torch.long)  # -100: ignored by the loss
            for r, f in enumerate(feats):
                targets[r, : len(f["target_ids"])] = torch.tensor(f["target_ids"])
            batch["target_ids"] = targets
        return batch

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        gen = torch.Generator().manual_seed(self.seed)
        size = self.batch_size if shuffle else self.eval_batch_size
        return DataLoader(self.features[split], batch_size=size, shuffle=shuffle, collate_fn=self.collate,
                          generator=gen if shuffle else None)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("dev", False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", False)
