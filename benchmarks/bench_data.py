"""Data pipeline: first-run set-up (corpus load + tokenize + examples) vs a second run on a warm cache.

    python benchmarks/bench_data.py --repeats 2

Run time here (2 shared CPU cores): about 2-4 minutes. `--smoke`: synthetic only, small, seconds.

Each measurement is MRCDataModule.setup("fit") in a fresh Python process (nothing warm in memory) with
the configuration train.py composes (model minilm, hard_prompt, task end_to_end); "first" starts from
an empty cache folder, "second" re-uses what the first wrote. Target (issue 8): second <= 10% of first.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import parse, parser, table, write_result

DATASETS = ("ade", "synthetic")


def child(dataset: str, cache: str, model: str, smoke: bool) -> dict:
    """Runs in the measured process: one DataModule set-up, timed."""
    from hydra.utils import instantiate

    from common import compose

    ov = [f"model={model}", "strategy=hard_prompt", "task=end_to_end", f"dataset={dataset}"]
    if smoke:
        ov += ["dataset.loader.n_train=4", "dataset.loader.n_dev=2", "dataset.loader.n_test=2"]
    cfg = compose(ov, cache_dir=Path(cache))
    dm = instantiate(cfg.module.datamodule, _recursive_=False)
    t0 = time.perf_counter()
    dm.setup("fit")
    return {"setup_s": time.perf_counter() - t0, **{k: v for k, v in dm.stats.items() if k != "setup_s"}}


def measure(args, dataset: str, cache: Path) -> dict:
    cmd = [sys.executable, __file__, "--child", dataset, str(cache), "--model", args.model, "--threads",
           str(args.threads)] + (["--smoke"] if args.smoke else [])
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if out.returncode != 0 or not lines:
        raise RuntimeError(f"data set-up of {dataset} failed: {out.stderr.strip().splitlines()[-1:]}")
    return json.loads(lines[-1])


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--model", default="minilm")
    p.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    p.add_argument("--repeats", type=int, default=2, help="first/second pairs per dataset, each a new cache")
    p.add_argument("--child", nargs=2, metavar=("DATASET", "CACHE"), help=argparse.SUPPRESS)  # the measured process
    args = parse(p)
    if args.child:
        print(json.dumps(child(args.child[0], args.child[1], args.model, args.smoke)))
        return
    if args.smoke:
        args.datasets, args.repeats = ["synthetic"], 1
    started = time.perf_counter()
    rows = []
    for dataset in args.datasets:
        for r in range(args.repeats):
            with tempfile.TemporaryDirectory(prefix="clinprompt-bench-data-") as cache:
                for run in ("first", "second"):
                    res = measure(args, dataset, Path(cache))
                    rows.append({"dataset": dataset, "repeat": r, "run": run, **res})
    summary = {}
    for dataset in args.datasets:
        first = statistics.median(x["setup_s"] for x in rows if x["dataset"] == dataset and x["run"] == "first")
        second = statistics.median(x["setup_s"] for x in rows if x["dataset"] == dataset and x["run"] == "second")
        summary[dataset] = {"first_s": first, "second_s": second, "second_over_first": second / first,
                            "target": 0.10, "meets_target": second / first <= 0.10}
    table(rows, ["dataset", "repeat", "run", "setup_s", "tokens_cached", "train_docs", "train_examples"],
          f"MRCDataModule.setup, fresh process each ({args.model}, hard_prompt, end_to_end)")
    for d, s in summary.items():
        print(f"{d}: second run {s['second_s']:.3f} s = {100 * s['second_over_first']:.1f}% of first "
              f"{s['first_s']:.3f} s (target <= 10%)")
    config = {"model": args.model, "strategy": "hard_prompt", "task": "end_to_end", "datasets": args.datasets,
              "repeats": args.repeats}
    write_result("data", args, config, rows, summary, started,
                 notes=["set-up = corpus load + tokenization + MRC examples inside MRCDataModule.setup"])


if __name__ == "__main__":
    main()
