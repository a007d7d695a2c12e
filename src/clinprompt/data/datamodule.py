"""LightningDataModule for MRC extraction: load a corpus, sample shots/folds, tokenize once (cached),
build examples. Evaluation batches are document indices sharded by rank without padding, so every
document is scored exactly once however many processes run."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import lightning as L
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch.utils.data import DataLoader, Sampler

from clinprompt.backbone import load_config, load_tokenizer, position_limit
from clinprompt.data import setup_cache
from clinprompt.data.brat import describe_issues, issue_summary
from clinprompt.data.collate import collate
from clinprompt.data.document import Entity
from clinprompt.data.loader import ResumableDataLoader
from clinprompt.data.mrc import EvalData, ExampleBuilder, MRCExample, predicted_head_examples, swap_in
from clinprompt.data.sampling import few_shot, kfold, kfold_all
from clinprompt.data.windows import TokenizedDoc, tokenize_document
from clinprompt.schema import Schema
from clinprompt.strategy import mrc_strategy

log = logging.getLogger(__name__)
QUERY_OF_TASK = {"concepts": ("concepts",), "relations": ("relations",), "end_to_end": ("concepts", "relations")}


def _plain(cfg: Any) -> Any:
    return OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else cfg


class TaskBatchSampler(Sampler[list[int]]):
    """Shuffled batches that never mix concept and relation examples; sharded by rank.

    With ``lengths`` and ``group`` > 1, batches are length-grouped: each task's shuffled examples are cut
    into mega-batches of ``group`` batches, each sorted by length before it is cut into batches, so a batch
    pads to a length close to its own examples' (the batch order is shuffled as before). The order is a
    pure function of (seed, epoch, rank): a resumed run replays it exactly."""

    def __init__(self, tasks: list[str], batch_size: int, seed: int, rank: int = 0, world: int = 1,
                 lengths: list[int] | None = None, group: int = 1):
        self.tasks, self.batch_size, self.seed, self.rank, self.world = tasks, batch_size, seed, rank, world
        if lengths is not None and len(lengths) != len(tasks):
            raise ValueError(f"{len(lengths)} lengths for {len(tasks)} examples")
        self.lengths, self.group = lengths, max(1, int(group))
        self.epoch = 0

    def _batches(self) -> list[list[int]]:
        rng = random.Random(self.seed + self.epoch)
        batches = []
        mega = self.batch_size * self.group
        for task in sorted(set(self.tasks)):
            idx = [i for i, t in enumerate(self.tasks) if t == task]
            rng.shuffle(idx)
            if self.lengths is not None and self.group > 1:
                lengths = self.lengths
                idx = [i for m in range(0, len(idx), mega) for i in sorted(idx[m:m + mega], key=lengths.__getitem__)]
            batches += [idx[i:i + self.batch_size] for i in range(0, len(idx), self.batch_size)]
        rng.shuffle(batches)
        # equal batch counts on every rank (DDP steps in lockstep): drop the remainder
        n = len(batches) // self.world * self.world if self.world > 1 else len(batches)
        return batches[:n][self.rank::self.world]

    def set_epoch(self, epoch: int) -> None:
        """Set by PreemptionCheckpoint each epoch (Lightning only tells plain samplers): a run resumed
        in epoch e shuffles as epoch e did."""
        self.epoch = epoch

    def __iter__(self):
        batches = self._batches()
        self.epoch += 1
        return iter(batches)

    def __len__(self) -> int:
        return len(self._batches())


class ExampleDataset(torch.utils.data.Dataset):
    def __init__(self, examples: list[MRCExample]):
        self.examples = examples

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, i: int) -> MRCExample:
        return self.examples[i]


class MRCDataModule(L.LightningDataModule):
    def __init__(self, dataset: Mapping, model: Mapping, strategy: Mapping, task: str = "concepts",
                 prompt_len: int = 0, shots: int | None = None, seed: int = 0, fold: int | None = None,
                 batch_size: int = 16, eval_docs_per_step: int = 4, cache_dir: str | None = None,
                 train_with_predicted_heads: bool = False, length_group: int = 1):
        super().__init__()
        if task not in QUERY_OF_TASK:
            raise ValueError(f"task={task!r}: expected concepts, relations or end_to_end")
        self.dataset_cfg, self.model_cfg, self.strategy_cfg = dataset, _plain(model), _plain(strategy)
        self.strategy = mrc_strategy(self.strategy_cfg, prompt_len)
        self.task, self.prompt_len, self.shots, self.seed, self.fold = task, prompt_len, shots, seed, fold
        self.batch_size, self.eval_docs_per_step = batch_size, eval_docs_per_step
        self.length_group = length_group  # batches per length-sorted mega-batch (1: no length grouping)
        # the set-up and token caches hold note text (clinprompt.data.setup_cache); dataset.cache=false: none
        self.cache_dir = Path(cache_dir) if cache_dir and dataset.get("cache", True) else None
        self.train_with_predicted_heads = train_with_predicted_heads and task != "concepts"
        self.stats: dict[str, Any] = {}
        self._ready = False
        self._train_sampler: TaskBatchSampler | None = None

    # ---- set-up ---------------------------------------------------------------------------------
    def setup(self, stage: str | None = None) -> None:
        if self._ready:
            return
        t0 = time.perf_counter()
        if self._restore(t0):
            return
        ds = self.dataset_cfg
        corpus = instantiate(ds["loader"])
        train = corpus.splits["train"]
        dev, test = corpus.splits.get("dev", []), corpus.splits.get("test", [])
        if self.fold is not None:
            k, over = int(ds.get("folds", 5)), ds.get("cv_over", "train")
            if over == "all":  # CV over every document: the held-out fold is test, dev comes from the others
                train, dev, test = kfold_all(train + dev + test, k, int(self.fold), self.seed)
            elif over == "train":  # CV over the training documents: the held-out fold replaces dev
                train, dev = kfold(train, k, int(self.fold), self.seed)
            else:
                raise ValueError(f"dataset.cv_over={over!r}: expected 'train' or 'all'")
        train = few_shot(train, self.shots, self.seed, unit=ds.get("shot_unit", "document"))
        self.eval_docs = {"dev": dev, "test": test}
        self.train_docs = train
        rels = tuple(corpus.relation_types) if self.task != "concepts" else ()
        self.schema = Schema(ds["name"], tuple(corpus.entity_types), rels,
                             {r: tuple(corpus.relation_heads[r]) for r in rels},
                             dict(getattr(corpus, "value_labels", {})) if rels else {},
                             bool(getattr(corpus, "events", False)), dict(ds.get("questions") or {}))
        self._load_builder()
        all_docs = train + self.eval_docs["dev"] + self.eval_docs["test"]
        self.tdocs, cached = self._tokenized(all_docs)
        every = self._train_examples(train)
        ratio = float(ds.get("negatives", 1.0))
        self.train_examples = self._keep_negatives(every, ratio)
        span_less = sum(not e.spans for e in every)
        self.stats = {"train_docs": len(train), "dev_docs": len(dev), "test_docs": len(self.eval_docs["test"]),
                      "train_examples": len(self.train_examples), "train_examples_before_sampling": len(every),
                      # span-less (type, window) examples kept with probability dataset.negatives, seeded
                      "negatives_ratio": min(ratio, 1.0), "span_less_examples": span_less,
                      "span_less_kept": span_less - (len(every) - len(self.train_examples)),
                      "tokens_cached": cached,
                      "window_size": self.builder.window_size,
                      "reader_issues": issue_summary(getattr(corpus, "issues", [])),
                      "setup_s": round(time.perf_counter() - t0, 3)}
        log.info("data: %s", {k: v for k, v in self.stats.items() if k != "reader_issues"})
        _warn_issues(self.stats)
        self._ready = True
        self._store()

    def _load_builder(self) -> None:
        ds = self.dataset_cfg
        self.tokenizer = load_tokenizer(self.model_cfg)
        self.pad_id = self.tokenizer.pad_token_id or 0
        win = ds.get("window", {})
        self.builder = ExampleBuilder(
            self.tokenizer, self.schema, self.strategy.query, int(win.get("size", 256)),
            int(win.get("stride", 192)), int(ds.get("max_span_width", 16)),
            position_limit(load_config(self.model_cfg)), self.prompt_len,
            int(ds.get("context_sentences", 1)), bool(win.get("shrink", True)))

    # ---- whole set-up cache (clinprompt.data.setup_cache): a second run skips parsing, tokenizing, examples ----
    def _setup_path(self) -> Path:
        inputs = {"dataset": _plain(self.dataset_cfg), "model": self.model_cfg, "query": str(self.strategy.query),
                  "task": self.task, "prompt_len": self.prompt_len, "shots": self.shots, "seed": self.seed,
                  "fold": self.fold}
        return setup_cache.cache_path(self.cache_dir, setup_cache.setup_key(inputs, inputs["dataset"]["loader"]))

    def _restore(self, t0: float) -> bool:
        state = setup_cache.load(self._setup_path()) if self.cache_dir else None
        if state is None:
            return False
        for k, v in state.items():
            setattr(self, k, v)
        self._load_builder()
        self.stats = {**self.stats, "setup_cached": True, "setup_s": round(time.perf_counter() - t0, 3)}
        log.info("data (cached set-up): %s", {k: v for k, v in self.stats.items() if k != "reader_issues"})
        _warn_issues(self.stats)  # the cached stats carry the reader issues: a cached run reports them too
        self._ready = True
        return True

    def _store(self) -> None:
        # keyed after loading: a loader that writes its corpus on first use (synthetic) is found next run
        if self.cache_dir is not None:
            setup_cache.save(self._setup_path(), {k: getattr(self, k) for k in setup_cache.FIELDS})

    def _cache_key(self, docs) -> str:
        h = hashlib.sha256()
        h.update(json.dumps({"tok": self.tokenizer.name_or_path, "vocab": len(self.tokenizer),
                             "cls": type(self.tokenizer).__name__}, sort_keys=True).encode())
        for d in docs:
            h.update(d.doc_id.encode())
            h.update(hashlib.sha1(d.text.encode()).digest())
        return h.hexdigest()[:20]

    def _tokenized(self, docs) -> tuple[dict[str, TokenizedDoc], bool]:
        """Tokenize every document once; reuse across runs keyed by tokenizer + texts."""
        path = self.cache_dir / f"tokens-{self._cache_key(docs)}.pt" if self.cache_dir else None
        if path is not None and path.exists():
            return torch.load(path, weights_only=False), True
        tdocs = {d.doc_id: tokenize_document(d, self.tokenizer) for d in docs}
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")  # concurrent runs share the cache
            torch.save(tdocs, tmp)
            tmp.replace(path)
        return tdocs, False

    def _keep_negatives(self, examples: list[MRCExample], ratio: float) -> list[MRCExample]:
        """Every example with a gold span, and a seeded ``ratio`` of those without: most (type, window) pairs
        ask about a type the window does not contain, and on a CPU they dominate training time."""
        if ratio >= 1.0:
            return examples
        rng = random.Random(self.seed)
        return [e for e in examples if e.spans or rng.random() < ratio]

    def eval_data(self) -> EvalData:
        """What the LightningModule predicts with (documents, tokens, builder), and, with
        ``train_with_predicted_heads``, where it hands each epoch's predicted heads."""
        docs = {"train": self.train_docs, **self.eval_docs}
        feedback = self.use_predicted_heads if self.train_with_predicted_heads else None
        return EvalData(self.builder, self.pad_id, self.tdocs, docs, feedback)

    def use_predicted_heads(self, predicted: dict[str, list[Entity]]) -> int:
        """Relation examples for the concept stage's non-gold heads swapped in for span-less gold-head ones
        (see :func:`~clinprompt.data.mrc.swap_in`). The swap is one for one and happens in place, in the list the
        train loader's dataset holds and in its batch sampler's task/length lists, so the next epoch trains on
        them without the Trainer rebuilding its loaders (no ``reload_dataloaders_every_n_epochs``)."""
        if not hasattr(self, "_gold_train_examples"):
            self._gold_train_examples = list(self.train_examples)
        extra = [ex for d in self.train_docs
                 for ex in predicted_head_examples(self.builder, self.tdocs[d.doc_id], d, predicted.get(d.doc_id, []))]
        swapped, n = swap_in(self._gold_train_examples, extra, self.seed)
        self.train_examples[:] = swapped
        if self._train_sampler is not None:
            self._train_sampler.tasks[:] = [e.task for e in swapped]
            if self._train_sampler.lengths is not None:
                self._train_sampler.lengths[:] = [len(e.input_ids) for e in swapped]
        return n

    def _train_examples(self, docs) -> list[MRCExample]:
        out: list[MRCExample] = []
        for d in docs:
            td = self.tdocs[d.doc_id]
            if "concepts" in QUERY_OF_TASK[self.task]:
                out += self.builder.concept_examples(td, d)
            if "relations" in QUERY_OF_TASK[self.task]:
                heads = [e for e in d.entities.values() if e.type in self.schema.head_types]
                out += self.builder.relation_examples(td, d, heads)
        return out

    # ---- loaders ----------------------------------------------------------------------------------
    def _rank_world(self) -> tuple[int, int]:
        trainer = self.trainer
        return (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)

    def train_dataloader(self) -> DataLoader:
        rank, world = self._rank_world()
        ex = self.train_examples
        sampler = TaskBatchSampler([e.task for e in ex], self.batch_size, self.seed, rank, world,
                                   [len(e.input_ids) for e in ex], self.length_group)
        self._train_sampler = sampler  # use_predicted_heads updates its task/length lists in place
        # resumable: a run preempted mid-epoch restarts after the batches it already trained on
        return ResumableDataLoader(ExampleDataset(self.train_examples), batch_sampler=sampler,
                                   collate_fn=lambda b: collate(b, self.pad_id))

    def _doc_loader(self, split: str) -> DataLoader:
        rank, world = self._rank_world()
        idx = list(range(len(self.eval_docs[split])))[rank::world]
        return DataLoader(torch.tensor(idx, dtype=torch.long), batch_size=self.eval_docs_per_step)

    def val_dataloader(self) -> DataLoader:
        return self._doc_loader("dev")

    def test_dataloader(self) -> DataLoader:
        return self._doc_loader("test")


def _warn_issues(stats: dict) -> None:
    """The corpus reader's issues by kind and the first few, as one warning (never note text)."""
    summary = stats.get("reader_issues")
    if summary:
        lines = describe_issues("corpus", summary)
        if lines:
            log.warning("\n".join(lines))
