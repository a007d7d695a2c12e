"""MRC vs a plain token tagger: real tokens per second for training and inference, side by side.

    python benchmarks/bench_throughput.py --docs 200 --steps 16 --rounds 2

Run time here (2 shared CPU cores, MiniLM, 1 thread): about 10-15 minutes. `--smoke`: tiny_bert, seconds.

One process, one thread count, the same encoder (the config's model), the same ADE training documents
(`shots=--docs` drawn from the training split by the seed) and dev documents for inference:
- MRC, each strategy: the project's DataModule and MRCModule as train.py builds them. Training is timed
  twice over the same first `--steps` batches of its own train loader: a bare loop (torch AdamW over the
  module's parameter groups, the same gradient clipping) split into data / backbone forward / heads
  (span heads + loss) / backward / optimizer, and Lightning's Trainer.fit (its step wall time minus the
  bare step is the Lightning cost). Inference: clinprompt's Predictor over the dev documents (backbone
  forward vs the rest, decoding).
- tagger: AutoModelForTokenClassification on the same encoder, BIO tags over the same token windows
  (the builder's window size, [CLS] window [SEP]), random batches of `--batch-size` windows padded to the
  longest (no_prompt's batch: the same sequences, so the same token budget), torch AdamW. Inference:
  argmax BIO decoding over the dev windows in batches of the module's eval batch size.
Real tokens = non-pad input tokens. Document tokens = context tokens (a window asked k questions counts
k times); `epoch_ratio` = the side's estimated epoch time (its own examples per epoch) over the tagger's.
Target (issue 16): no_prompt real tokens/s >= 0.8x the tagger's; a query strategy >= 0.8x the tagger's /
questions per window. Sides alternate order every round; times are medians over rounds and steps.
"""

from __future__ import annotations

import random
import statistics
import time
from collections import defaultdict
from typing import Any

import torch
from clinprompt.backbone import load_config, model_source
from transformers import AutoModelForTokenClassification

from common import parse, parser, table, write_result
from harness import StepClock, build, trainer_for

STRATEGIES = ("no_prompt", "hard_prompt", "soft_unfrozen", "soft_frozen")


class Stopwatch:
    """Seconds spent inside a module's forward (pre/post hooks): the backbone's share of a step."""

    def __init__(self, module: torch.nn.Module):
        self.total, self._t = 0.0, 0.0
        module.register_forward_pre_hook(lambda *_: self._start())
        module.register_forward_hook(lambda *_: self._stop())

    def _start(self) -> None:
        self._t = time.perf_counter()

    def _stop(self) -> None:
        self.total += time.perf_counter() - self._t

    def take(self) -> float:
        t, self.total = self.total, 0.0
        return t


def overrides(args, strategy: str) -> list[str]:
    ov = [f"model={args.model}", f"strategy={strategy}", f"batch_size={args.batch_size}", "dataset=ade",
          "task=concepts", f"prompt_len={args.prompt_len}", f"shots={args.docs}", *args.override]
    return ov


# ---- the tagger -------------------------------------------------------------------------------------------
def bio_windows(dm, docs, types: tuple[str, ...]) -> list[tuple[list[int], list[int]]]:
    """(input ids, BIO labels) per window of every document: [CLS] window [SEP], labels -100 on specials.
    Overlapping gold spans (nested types) keep the first one by start: BIO cannot hold both."""
    tok, size = dm.tokenizer, dm.builder.window_size
    label = {t: i for i, t in enumerate(types)}
    out = []
    for d in docs:
        td = dm.tdocs[d.doc_id]
        tags = [0] * len(td)
        for e in sorted(d.entities.values(), key=lambda e: (e.start, -e.end)):
            span = td.char_to_tokens(e.start, e.end) if e.type in label else None
            if span is None or any(tags[span[0]:span[1] + 1]):
                continue
            tags[span[0]] = 1 + 2 * label[e.type]
            for k in range(span[0] + 1, span[1] + 1):
                tags[k] = 2 + 2 * label[e.type]
        for w in range(0, max(1, len(td) - size + dm.builder.stride), dm.builder.stride):
            ids = list(td.input_ids[w:w + size])
            out.append(([tok.cls_token_id, *ids, tok.sep_token_id], [-100, *tags[w:w + size], -100]))
            if w + size >= len(td):
                break
    return out


def pad(seqs: list[tuple[list[int], list[int]]], pad_id: int) -> dict[str, torch.Tensor]:
    n = max(len(s) for s, _ in seqs)
    ids = torch.full((len(seqs), n), pad_id, dtype=torch.long)
    labels = torch.full((len(seqs), n), -100, dtype=torch.long)
    mask = torch.zeros(len(seqs), n, dtype=torch.long)
    for i, (s, lab) in enumerate(seqs):
        ids[i, :len(s)], labels[i, :len(s)], mask[i, :len(s)] = torch.tensor(s), torch.tensor(lab), 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def bio_spans(tags: list[int]) -> list[tuple[int, int, int]]:
    """(type index, first, last) of every B(-I)* run; a stray I starts a span (the usual lenient reading)."""
    spans, cur = [], None
    for k, t in enumerate([*tags, 0]):
        typ, inside = (t - 1) // 2, t > 0 and t % 2 == 0
        if cur is not None and not (inside and typ == cur[0]):
            spans.append((cur[0], cur[1], k - 1))
            cur = None
        if t > 0 and cur is None:
            cur = (typ, k)
    return spans


def tagger_model(args, dm, n_labels: int):
    cfg = dm.model_cfg
    if cfg.get("tiny"):
        torch.manual_seed(0)
        conf = load_config(cfg)
        conf.num_labels = n_labels
        return AutoModelForTokenClassification.from_config(conf)
    return AutoModelForTokenClassification.from_pretrained(model_source(cfg), num_labels=n_labels)


# ---- timing loops -----------------------------------------------------------------------------------------
def bare_mrc_steps(module, loader, steps: int) -> list[dict[str, float]]:
    """One bare training step per batch, split into its parts (seconds)."""
    net, clock = module.net, Stopwatch(module.net.backbone)
    opt = torch.optim.AdamW(module.parameter_groups())
    params = [p for g in opt.param_groups for p in g["params"]]
    net.train()
    if module.freeze_backbone:
        net.backbone.eval()
    out, it = [], iter(loader)
    for _ in range(steps):
        t0 = time.perf_counter()
        batch = next(it, None)
        if batch is None:  # fewer batches than steps (smoke): the next epoch's
            it = iter(loader)
            batch = next(it)
        t1 = time.perf_counter()
        clock.take()
        o = net(batch)
        loss = net.heads_for(batch["task"]).loss(o, batch, module.loss_weights, module.pos_weight)["loss"]
        t2 = time.perf_counter()
        fwd = clock.take()
        loss.backward()
        t3 = time.perf_counter()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        t4 = time.perf_counter()
        out.append({"data": t1 - t0, "forward": fwd, "heads": t2 - t1 - fwd, "backward": t3 - t2,
                    "optimizer": t4 - t3, "real": int(batch["attention_mask"].sum()),
                    "padded": batch["attention_mask"].numel(), "doc": int(batch["ctx_mask"].sum()),
                    "examples": batch["n_examples"]})
    return out


def bare_tagger_steps(model, windows, batch_size: int, steps: int, pad_id: int, seed: int) -> list[dict]:
    order = list(range(len(windows)))
    random.Random(seed).shuffle(order)
    clock = Stopwatch(model.base_model)
    opt = torch.optim.AdamW(model.parameters(), lr=5e-5)
    model.train()
    out = []
    for s in range(steps):
        t0 = time.perf_counter()
        idx = [order[(s * batch_size + k) % len(order)] for k in range(batch_size)]
        batch = pad([windows[i] for i in idx], pad_id)
        t1 = time.perf_counter()
        clock.take()
        loss = model(**batch).loss
        t2 = time.perf_counter()
        fwd = clock.take()
        loss.backward()
        t3 = time.perf_counter()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        t4 = time.perf_counter()
        real = int(batch["attention_mask"].sum())
        out.append({"data": t1 - t0, "forward": fwd, "heads": t2 - t1 - fwd, "backward": t3 - t2,
                    "optimizer": t4 - t3, "real": real, "padded": batch["attention_mask"].numel(),
                    "doc": real - 2 * batch_size, "examples": batch_size})
    return out


def padded_batches(dm, docs, batch_size: int) -> list[list]:
    """The Predictor's forward batches over ``docs`` (examples in the order it batches them)."""
    from clinprompt.decoding import Predictor

    examples = [ex for d in docs for ex in dm.builder.concept_examples(dm.tdocs[d.doc_id])]
    return [chunk for _, chunk in Predictor(None, dm.builder, dm.pad_id, batch_size).batches(examples)]


@torch.no_grad()
def mrc_inference(module, dm, docs) -> dict[str, float]:
    from clinprompt.decoding import Predictor

    net = module.net
    net.eval()
    clock = Stopwatch(net.backbone)
    predictor = Predictor.from_heads(net, dm.builder, dm.pad_id, module.hparams.eval_batch_size, module.hparams.heads)
    step = dm.eval_docs_per_step  # validation predicts this many documents per step, as here
    groups = [docs[i:i + step] for i in range(0, len(docs), step)]
    examples = [ex for d in docs for ex in dm.builder.concept_examples(dm.tdocs[d.doc_id])]
    padded = 0
    for chunk in (padded_batches(dm, g, module.hparams.eval_batch_size) for g in groups):
        padded += sum(len(b) * max(len(e.input_ids) for e in b) for b in chunk)
    clock.take()
    t0 = time.perf_counter()
    for g in groups:
        predictor.predict(g, dm.tdocs, "concepts")
    total = time.perf_counter() - t0
    fwd = clock.take()
    net.train()
    return {"total": total, "forward": fwd, "decoding": total - fwd, "real": sum(len(e.input_ids) for e in examples),
            "padded": padded, "doc": sum(e.ctx_len for e in examples)}


@torch.no_grad()
def tagger_inference(model, windows, batch_size: int, pad_id: int) -> dict[str, float]:
    model.eval()
    clock = Stopwatch(model.base_model)
    clock.take()
    t0 = time.perf_counter()
    spans, real, padded = 0, 0, 0
    for i in range(0, len(windows), batch_size):
        batch = pad(windows[i:i + batch_size], pad_id)
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        tags = logits.argmax(-1).tolist()
        for row, m in zip(tags, batch["attention_mask"].sum(1).tolist(), strict=True):
            spans += len(bio_spans(row[1:m - 1]))
        real, padded = real + int(batch["attention_mask"].sum()), padded + batch["attention_mask"].numel()
    total = time.perf_counter() - t0
    fwd = clock.take()
    model.train()
    return {"total": total, "forward": fwd, "decoding": total - fwd, "real": real, "padded": padded,
            "doc": real - 2 * len(windows), "spans": spans}


def lightning_steps(module, dm, steps: int) -> list[float]:
    clock = StepClock()
    trainer = trainer_for(steps, clock)
    trainer.fit(module, train_dataloaders=dm.train_dataloader())
    return clock.steps


# ---- the report -------------------------------------------------------------------------------------------
def med(rows: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in rows)


def train_row(side: str, steps: list[dict], lightning: list[float] | None, epoch_examples: int,
              questions: int) -> dict[str, Any]:
    parts = {k: med(steps, k) for k in ("data", "forward", "heads", "backward", "optimizer")}
    bare = sum(parts.values())
    step = statistics.median(lightning) if lightning else bare
    real, padded, doc = (sum(s[k] for s in steps) / len(steps) for k in ("real", "padded", "doc"))
    examples = sum(s["examples"] for s in steps) / len(steps)
    return {"side": side, "questions_per_window": questions, "train_step_s": step, "bare_step_s": bare,
            **{f"{k}_s": v for k, v in parts.items()}, "lightning_s": step - bare if lightning else 0.0,
            "train_real_tok_s": real / step, "train_doc_tok_s": doc / step, "train_pad_frac": 1 - real / padded,
            "real_tokens_per_batch": real, "padded_tokens_per_batch": padded, "examples_per_batch": examples,
            "epoch_examples": epoch_examples, "epoch_est_s": epoch_examples / examples * step}


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--model", default="minilm")
    p.add_argument("--docs", type=int, default=200, help="ADE training documents (shots)")
    p.add_argument("--infer-docs", type=int, default=60, help="dev documents for inference")
    p.add_argument("--steps", type=int, default=16, help="training steps per side per round")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--warmup", type=int, default=2, help="steps discarded at the start of every run")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--prompt-len", type=int, default=16)
    p.add_argument("--strategies", default=",".join(STRATEGIES))
    p.add_argument("--label", default="", help="a name for this measurement (e.g. before/after), kept in the JSON")
    p.add_argument("--override", action="append", default=[], help="extra Hydra override for the MRC sides")
    args = parse(p)
    if args.smoke:
        args.model, args.docs, args.infer_docs, args.steps, args.rounds, args.warmup = "tiny_bert", 6, 3, 3, 1, 1
    started = time.perf_counter()
    strategies = [s for s in args.strategies.split(",") if s]
    built = {s: build(overrides(args, s)) for s in strategies}
    _, dm0, module0 = built[strategies[0]]
    types = dm0.schema.entity_types
    docs, dev = dm0.train_docs, dm0.eval_docs["dev"][:args.infer_docs]
    windows = bio_windows(dm0, docs, types)
    dev_windows = bio_windows(dm0, dev, types)
    tagger = tagger_model(args, dm0, 1 + 2 * len(types))
    states = {s: {k: v.clone() for k, v in m.state_dict().items()} for s, (_, _, m) in built.items()}
    tagger_state = {k: v.clone() for k, v in tagger.state_dict().items()}
    sides = ["tagger", *strategies]
    train: dict[str, list[dict]] = defaultdict(list)
    light: dict[str, list[float]] = defaultdict(list)
    infer: dict[str, list[dict]] = defaultdict(list)
    eval_bs = module0.hparams.eval_batch_size
    for r in range(args.rounds):
        for side in sides[r % len(sides):] + sides[:r % len(sides)]:
            if side == "tagger":
                tagger.load_state_dict(tagger_state)
                train[side] += bare_tagger_steps(tagger, windows, args.batch_size, args.steps, dm0.pad_id,
                                                 r)[args.warmup:]
                infer[side].append(tagger_inference(tagger, dev_windows, eval_bs, dm0.pad_id))
                continue
            _, dm, module = built[side]
            module.load_state_dict(states[side])
            train[side] += bare_mrc_steps(module, dm.train_dataloader(), args.steps)[args.warmup:]
            module.load_state_dict(states[side])
            light[side] += lightning_steps(module, dm, args.steps)[args.warmup:]
            infer[side].append(mrc_inference(module, dm, dev))
    rows = []
    for side in sides:
        q = 1 if side in ("tagger", "no_prompt") else len(types)
        n_ex = len(windows) if side == "tagger" else len(built[side][1].train_examples)
        row = train_row(side, train[side], light.get(side), n_ex, q)
        inf = {k: statistics.median(x[k] for x in infer[side]) for k in ("total", "forward", "decoding")}
        real, padded, doc = (infer[side][0][k] for k in ("real", "padded", "doc"))
        row.update({"infer_s": inf["total"], "infer_forward_s": inf["forward"], "infer_decoding_s": inf["decoding"],
                    "infer_real_tok_s": real / inf["total"], "infer_doc_tok_s": doc / inf["total"],
                    "infer_pad_frac": 1 - real / padded, "infer_docs_per_s": len(dev) / inf["total"]})
        rows.append(row)
    base = rows[0]
    for row in rows:
        q = row["questions_per_window"]
        for k in ("train_real_tok_s", "train_doc_tok_s", "infer_real_tok_s", "infer_doc_tok_s"):
            row[f"{k}_ratio"] = row[k] / base[k]
        row["epoch_ratio"] = row["epoch_est_s"] / base["epoch_est_s"]
        # the target: >= 0.8x the tagger's rate divided by the questions each window needs
        row["train_target"] = 0.8 / q
        row["train_meets_target"] = row["side"] == "tagger" or row["train_real_tok_s_ratio"] >= 0.8 / q
        row["infer_meets_target"] = row["side"] == "tagger" or row["infer_real_tok_s_ratio"] >= 0.8 / q
    title = f"training ({args.model}, {args.docs} ADE docs, batch {args.batch_size}, {args.threads} thread(s))"
    table(rows, ["side", "train_real_tok_s", "train_real_tok_s_ratio", "train_target", "train_pad_frac",
                 "epoch_est_s", "epoch_ratio", "data_s", "forward_s", "heads_s", "backward_s", "optimizer_s",
                 "lightning_s"], title)
    table(rows, ["side", "infer_real_tok_s", "infer_real_tok_s_ratio", "infer_pad_frac", "infer_docs_per_s",
                 "infer_forward_s", "infer_decoding_s"], f"inference ({len(dev)} dev docs, batch {eval_bs})")
    summary = {"label": args.label,
               "ratios_to_tagger": {r["side"]: {k: r[k] for k in ("train_real_tok_s_ratio", "infer_real_tok_s_ratio",
                                                                   "epoch_ratio", "train_meets_target",
                                                                   "infer_meets_target")} for r in rows}}
    config = {"model": args.model, "dataset": "ade", "train_docs": len(docs), "infer_docs": len(dev),
              "batch_size": args.batch_size, "eval_batch_size": eval_bs, "prompt_len": args.prompt_len,
              "steps": args.steps, "rounds": args.rounds, "warmup": args.warmup, "threads": args.threads,
              "tagger_windows": len(windows), "overrides": args.override, "label": args.label}
    name = f"throughput_{args.label}" if args.label and not args.smoke else "throughput"
    write_result(name, args, config, rows, summary, started,
                 notes=["real tokens = non-pad input tokens; doc tokens = context tokens (each question counts)",
                        "train_step_s: Lightning Trainer.fit step wall time for MRC sides, bare loop for the tagger",
                        "lightning_s = Lightning step - bare step over the same batches (may be < 0 from noise)",
                        "epoch_est_s = examples per epoch / examples per batch x step time"])


if __name__ == "__main__":
    main()
