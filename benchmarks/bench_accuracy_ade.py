"""Accuracy on real text: ADE corpus v2 (fixed PMID split), four strategies, concepts + end-to-end relations.

    python benchmarks/bench_accuracy_ade.py --train-docs 100 --epochs 3 --batch-size 8 --seeds 42 \\
        --dev-docs 20 --negatives 0.5

Run time here (2 CPU cores, MiniLM, 1 torch thread, the other core busy with other work): 43 minutes for the
four strategies (no_prompt 7 min, the queried strategies 9-15 min each; `--strategies ...` runs a subset and
`--collect` makes the table from several invocations). The full study (--train-docs 0 = all 1329 training PMIDs,
--epochs 3, --seeds 1 2 3, --dev-docs 0) is ~40x that work: a GPU job, not this box.
`--smoke` (tiny_bert, hard_prompt + soft_frozen, 4 documents, 1 batch) takes under a minute.

Every run goes through train.py (one Hydra multirun per seed over the strategies); the figures are read
from each run's results.json: strict and lenient micro F1 of concepts and of end-to-end relations
(relations asked of the predicted Drug heads) on the test PMIDs, best-dev-epoch checkpoint.
"""

from __future__ import annotations

import json
import math
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from common import REPO, parse, parser, table, write_result

STRATEGIES = ("no_prompt", "hard_prompt", "soft_unfrozen", "soft_frozen")
UNFROZEN = ("no_prompt", "hard_prompt", "soft_unfrozen")
TARGETS = {"concepts_strict_f1": 0.88, "relations_strict_f1": 0.75}  # issue 8, best unfrozen strategy


def overrides(args, seed: int, sweep_dir: Path) -> list[str]:
    ov = [f"model={args.model}", "dataset=ade", "task=end_to_end", f"seed={seed}", "logger=csv_only",
          f"strategy={','.join(args.strategies)}", f"trainer.max_epochs={args.epochs}",
          f"batch_size={args.batch_size}", f"prompt_len={args.prompt_len}", f"hydra.sweep.dir={sweep_dir}",
          "hydra.sweep.subdir=${hydra.job.num}_${strategy.name}", "trainer.enable_progress_bar=false"]
    if args.train_docs:
        ov.append(f"shots={args.train_docs}")
    if args.dev_docs:
        ov += [f"++trainer.limit_val_batches={math.ceil(args.dev_docs / 4)}",  # 4 documents per eval step
               "module.datamodule.eval_docs_per_step=4"]
    if args.negatives is not None:
        ov.append(f"++dataset.negatives={args.negatives}")
    if args.smoke:
        ov += ["++trainer.limit_train_batches=1", "++trainer.limit_val_batches=1", "++trainer.limit_test_batches=1"]
    return ov


def micro(metrics: dict, kind: str, mode: str) -> float | None:
    try:
        return float(metrics[kind][mode]["micro"]["f1"])
    except (KeyError, TypeError):
        return None


def row_of(result: dict[str, Any]) -> dict[str, Any]:
    test = result.get("metrics", {}).get("test", {})
    return {
        "seed": result["grid"]["seed"], "strategy": result["grid"]["strategy"], "status": result["run"]["status"],
        "concepts_strict_f1": micro(test, "concepts", "strict"),
        "concepts_lenient_f1": micro(test, "concepts", "lenient"),
        "relations_strict_f1": micro(test, "relations", "strict"),
        "relations_lenient_f1": micro(test, "relations", "lenient"),
        "trainable_params": result.get("params", {}).get("trainable"),
        "train_docs": result.get("data", {}).get("train_docs"), "test_docs": result.get("data", {}).get("test_docs"),
        "train_examples": result.get("data", {}).get("train_examples"),
        "train_s": result.get("timings", {}).get("train_s"), "eval_s": result.get("timings", {}).get("eval_s"),
    }


def run_seed(args, seed: int, sweep_dir: Path) -> list[dict[str, Any]]:
    cmd = [sys.executable, str(REPO / "train.py"), "-m", *overrides(args, seed, sweep_dir)]
    print("$", " ".join(cmd[1:]), flush=True)
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=args.timeout_min * 60)
    rows = [row_of(json.loads(p.read_text())) for p in sorted(sweep_dir.glob("*/results.json"))]
    if proc.returncode != 0:
        tail = [ln for ln in proc.stderr.strip().splitlines() if "Warning" not in ln][-8:]
        print(f"seed {seed}: train.py exited {proc.returncode}:", *tail, sep="\n  ", file=sys.stderr)
    done = {r["strategy"] for r in rows}
    rows += [{"seed": seed, "strategy": s, "status": "missing"} for s in args.strategies if s not in done]
    return rows


def mean_of(rows: list[dict], strategy: str, key: str) -> tuple[float | None, float | None]:
    vals = [r[key] for r in rows if r["strategy"] == strategy and r.get(key) is not None]
    if not vals:
        return None, None
    return statistics.fmean(vals), (statistics.stdev(vals) if len(vals) > 1 else None)


def summarise(rows: list[dict], strategies: list[str]) -> dict[str, Any]:
    keys = ("concepts_strict_f1", "concepts_lenient_f1", "relations_strict_f1", "relations_lenient_f1")
    per = {s: {k: dict(zip(("mean", "stdev"), mean_of(rows, s, k), strict=True)) for k in keys} for s in strategies}
    out: dict[str, Any] = {"per_strategy": per}
    unfrozen = [s for s in UNFROZEN if s in strategies and per[s]["concepts_strict_f1"]["mean"] is not None]
    if unfrozen:
        best = max(unfrozen, key=lambda s: per[s]["concepts_strict_f1"]["mean"])
        out["best_unfrozen"] = best
        out["targets"] = {k: {"target": t, "measured": per[best][k]["mean"],
                              "met": bool(per[best][k]["mean"] is not None and per[best][k]["mean"] >= t)}
                          for k, t in TARGETS.items()}
        if "soft_frozen" in strategies:
            def gap(a: str, k: str) -> float | None:
                x, y = per[a][k]["mean"], per["soft_frozen"][k]["mean"]
                return None if x is None or y is None else round(100 * (x - y), 2)

            # F1 points the frozen backbone loses: against the same prompts unfrozen, and against the best
            out["frozen_gap_points"] = {
                f"{a}_minus_soft_frozen": {k: gap(a, k) for k in keys}
                for a in dict.fromkeys(["soft_unfrozen", best]) if a in strategies}
    return out


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--train-docs", type=int, default=300, help="training PMIDs drawn by seed (shots=); 0 = all")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--seeds", type=int, nargs="+", default=[42])
    p.add_argument("--dev-docs", type=int, default=60, help="dev PMIDs scored per epoch for checkpointing; 0 = all")
    p.add_argument("--strategies", nargs="+", default=list(STRATEGIES), choices=STRATEGIES)
    p.add_argument("--model", default="minilm")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--prompt-len", type=int, default=16)
    p.add_argument("--negatives", type=float, default=None, help="share of span-less examples kept (dataset default)")
    p.add_argument("--timeout-min", type=float, default=180.0, help="per seed")
    p.add_argument("--work-dir", type=Path, default=REPO / "outputs" / "benchmarks" / "accuracy_ade",
                   help="run directories (checkpoints, predictions); not committed")
    p.add_argument("--collect", type=Path, nargs="+", default=None, metavar="SWEEP_DIR",
                   help="train nothing: table and JSON from finished runs (*/results.json) of earlier invocations "
                        "with the same size flags, e.g. strategies run as separate processes")
    args = parse(p)
    if args.smoke:
        args.model, args.train_docs, args.epochs, args.seeds, args.dev_docs = "tiny_bert", 4, 1, args.seeds[:1], 0
        if args.strategies == list(STRATEGIES):  # one unfrozen and the frozen strategy: the gap is computed
            args.strategies = ["hard_prompt", "soft_frozen"]
    started = time.perf_counter()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    rows = []
    if args.collect:
        found = sorted(f for d in args.collect for f in d.glob("**/results.json"))
        rows = [row_of(json.loads(f.read_text())) for f in found]
        rows.sort(key=lambda r: (r["seed"], STRATEGIES.index(r["strategy"])))
    for seed in [] if args.collect else args.seeds:
        rows += run_seed(args, seed, args.work_dir / f"{stamp}{'-smoke' if args.smoke else ''}" / f"seed{seed}")
    table(rows, ["seed", "strategy", "concepts_strict_f1", "concepts_lenient_f1", "relations_strict_f1",
                 "relations_lenient_f1", "trainable_params", "train_s", "status"],
          "ADE corpus v2, test PMIDs, micro F1 (end-to-end relations from predicted heads)")
    summary = summarise(rows, args.strategies)
    if "frozen_gap_points" in summary:
        print("\nfrozen-vs-unfrozen gap (F1 points):", json.dumps(summary["frozen_gap_points"]))
    config = {k: (str(v) if isinstance(v, Path) else [str(x) for x in v] if k == "collect" and v else v)
              for k, v in vars(args).items()}
    first = next((r for r in rows if r.get("test_docs") is not None), {})
    config["test_docs"] = first.get("test_docs")
    write_result("accuracy_ade", args, config, rows, summary, started,
                 notes=["train.py runs (Hydra multirun per seed); test = fixed PMID split of clinprompt's ADE loader",
                        "dev subset (--dev-docs) selects the checkpoint; test is always every test PMID",
                        *(["--collect: machine load is the collection's; see each run's timings for the trainings"]
                          if args.collect else [])])


if __name__ == "__main__":
    main()
