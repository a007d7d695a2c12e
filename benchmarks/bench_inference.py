"""Inference throughput of the MRC Predictor on the synthetic long notes: batched vs naive per-query order.

    python benchmarks/bench_inference.py --docs 12 --rounds 3

Run time here (2 shared CPU cores, MiniLM, hard_prompt, 12 multi-window notes): about 5-10 minutes.
`--smoke`: tiny_bert, 2 notes, seconds.

- batched: clinprompt.decoding.Predictor — every type query of every window of the notes in batches of
  the module's eval_batch_size, each note tokenized once (the DataModule's cached TokenizedDocs).
- naive: one query at a time (batch of one), the note re-tokenized for every type query.
- relations on top: Predictor with task=relations, i.e. the relation stage asked of the gold entities as
  heads (what end-to-end adds once the concept stage has found those heads; an untrained model's
  concept stage would find arbitrary heads). end-to-end = concepts + relations.
Rounds alternate the order of the sides; throughput = documents (tokens) / median seconds.
"""

from __future__ import annotations

import statistics
import time

import torch
from clinprompt.data.collate import collate
from clinprompt.data.windows import tokenize_document
from clinprompt.decoding import Predictor, examples_to_spans

from common import parse, parser, table, write_result
from harness import build


@torch.no_grad()
def naive_concepts(net, builder, tokenizer, pad_id: int, docs, max_spans: int | None) -> set[tuple[str, str, int, int]]:
    """The Predictor's work in the naive order: same decoding (and span cap), one query per forward pass."""
    found = set()
    for doc in docs:
        for etype in builder.schema.entity_types:
            tdoc = tokenize_document(doc, tokenizer)  # re-tokenized for every query
            for ex in [e for e in builder.concept_examples(tdoc) if e.channels == (etype,)]:
                batch = collate([ex], pad_id)
                heads = net.heads_for("concepts")
                decoded = heads.decode(heads(net.encode(batch)), batch["ctx_mask"], max_spans)
                found |= {(doc.doc_id, t, s, e) for _, t, s, e in examples_to_spans([ex], decoded,
                                                                                    {doc.doc_id: tdoc})}
    return found


def batched_concepts(predictor: Predictor, docs, tdocs) -> set[tuple[str, str, int, int]]:
    preds = predictor.predict(docs, tdocs, "concepts")
    return {(p.concepts.doc_id, e.type, e.start, e.end) for p in preds for e in p.concepts.entities.values()}


def timed(fn, *a) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn(*a)
    return time.perf_counter() - t0, out


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--model", default="minilm")
    p.add_argument("--strategy", default="hard_prompt", choices=("hard_prompt", "soft_unfrozen", "soft_frozen"))
    p.add_argument("--docs", type=int, default=12, help="synthetic test notes")
    p.add_argument("--rounds", type=int, default=3)
    args = parse(p)
    if args.smoke:
        args.model, args.docs, args.rounds = "tiny_bert", 2, 1
    started = time.perf_counter()
    ov = [f"model={args.model}", f"strategy={args.strategy}", "dataset=synthetic", "task=end_to_end",
          f"dataset.loader.n_test={args.docs}"]
    if args.smoke:
        ov += ["dataset.loader.n_train=2", "dataset.loader.n_dev=1"]
    _, dm, module = build(ov)
    net = module.net.eval()
    docs = dm.eval_docs["test"][: args.docs]
    tokens = sum(len(dm.tdocs[d.doc_id]) for d in docs)
    windows = sum(len(dm.builder.concept_examples(dm.tdocs[d.doc_id])) for d in docs)
    predictor = Predictor(net, dm.builder, dm.pad_id, module.hparams.eval_batch_size)
    sides = {
        "batched": lambda: batched_concepts(predictor, docs, dm.tdocs),
        "naive": lambda: naive_concepts(net, dm.builder, dm.tokenizer, dm.pad_id, docs, predictor.max_spans),
        "relations": lambda: predictor.predict(docs, dm.tdocs, "relations"),
    }
    times: dict[str, list[float]] = {k: [] for k in sides}
    outputs = {}
    for r in range(args.rounds):
        order = list(sides) if r % 2 == 0 else list(reversed(sides))
        for side in order:
            t, out = timed(sides[side])
            times[side].append(t)
            outputs[side] = out
    med = {k: statistics.median(v) for k, v in times.items()}
    label = {"batched": "concepts, batched (Predictor)", "naive": "concepts, naive per query",
             "relations": "relations on gold heads (Predictor)"}
    rows = [{"mode": label[k], "median_s": med[k], "docs_per_s": len(docs) / med[k], "tokens_per_s": tokens / med[k],
             "runs": len(times[k]), "times_s": times[k]} for k in sides]
    e2e = med["batched"] + med["relations"]
    rows.append({"mode": "end-to-end = concepts batched + relations", "median_s": e2e,
                 "docs_per_s": len(docs) / e2e, "tokens_per_s": tokens / e2e, "runs": None, "times_s": None})
    table(rows, ["mode", "median_s", "docs_per_s", "tokens_per_s", "runs"],
          f"Predictor throughput ({args.model}, {args.strategy}, {len(docs)} notes, {tokens} tokens)")
    a, b = outputs["batched"], outputs["naive"]
    summary = {
        "batched_speedup_over_naive": med["naive"] / med["batched"],
        "relation_cost_over_concepts": med["relations"] / med["batched"],
        "end_to_end_over_concepts": e2e / med["batched"],
        # the two orders must find the same spans (padding differs, so allow float-edge disagreements)
        "span_agreement_jaccard": len(a & b) / len(a | b) if a | b else 1.0,
        "spans_batched": len(a), "spans_naive": len(b),
    }
    print(f"\nbatched / naive speed-up {summary['batched_speedup_over_naive']:.2f}x; relations add "
          f"{100 * summary['relation_cost_over_concepts']:.0f}% to concept inference; span agreement "
          f"{summary['span_agreement_jaccard']:.3f}")
    config = {"model": args.model, "strategy": args.strategy, "dataset": "synthetic (test notes)",
              "docs": len(docs), "tokens": tokens, "concept_queries": windows, "rounds": args.rounds,
              "eval_batch_size": module.hparams.eval_batch_size, "weights": "untrained span heads"}
    write_result("inference", args, config, rows, summary, started,
                 notes=["throughput of an untrained model: the work per query does not depend on the weights; "
                        "relation examples come from gold heads"])


if __name__ == "__main__":
    main()
