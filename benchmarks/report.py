"""The README's "Performance" tables from the recorded results: `python benchmarks/report.py`.

Reads benchmarks/results/<name>.json (whatever is there) and prints one markdown table per benchmark
with the machine, date and command it was measured with."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def _f(v: Any, digits: int = 3) -> str:
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.{digits}g}" if abs(v) < 1000 else f"{v:,.0f}"
    return f"{v:,}" if isinstance(v, int) else str(v)


def _md(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(_f(c) for c in r) + " |" for r in rows])


def _accuracy(d: dict) -> str:
    rows = [[r["strategy"], r["seed"], r.get("concepts_strict_f1"), r.get("concepts_lenient_f1"),
             r.get("relations_strict_f1"), r.get("relations_lenient_f1"), r.get("trainable_params"), r.get("train_s")]
            for r in d["rows"]]
    out = _md(["strategy", "seed", "concepts strict F1", "concepts lenient F1", "relations strict F1",
               "relations lenient F1", "trainable params", "train s"], rows)
    gap = d["summary"].get("frozen_gap_points")
    if gap:
        out += "\n\nFrozen-vs-unfrozen gap (F1 points, unfrozen minus soft_frozen): " + "; ".join(
            f"{k.replace('_minus_soft_frozen', '')}: concepts strict {_f(v['concepts_strict_f1'])}, "
            f"relations strict {_f(v['relations_strict_f1'])}" for k, v in gap.items())
    return out


def _overhead(d: dict) -> str:
    s = d["summary"]
    return _md(["side", "mean step s", "median step s", "steps timed"],
               [["Lightning (MRCModule + Trainer.fit)", s["lightning"]["mean_s"], s["lightning"]["median_s"],
                 s["lightning"]["n"]],
                ["bare PyTorch loop", s["bare"]["mean_s"], s["bare"]["median_s"], s["bare"]["n"]]]) + (
        f"\n\nLightning / bare: mean {_f(s['ratio_mean'])}, median {_f(s['ratio_median'])} (target ≤ 1.05); "
        f"per round {', '.join(_f(x) for x in s['ratio_per_round'])}")


def _strategies(d: dict) -> str:
    rows = [[r["strategy"], r["step_median_s"], r["step_median_s_ratio"], r["epoch_est_s_ratio"],
             r["peak_rss_delta_bytes"] / 2**20, r["peak_rss_delta_bytes_ratio"], r["optimizer_state_bytes"] / 2**20,
             r["optimizer_state_bytes_ratio"], r["checkpoint_bytes"] / 2**20, r["checkpoint_bytes_ratio"]]
            for r in d["rows"]]
    return _md(["strategy", "step s (median)", "× step", "× epoch", "peak RSS Δ MiB", "× memory",
                "optimizer state MiB", "× optimizer", "checkpoint MiB", "× checkpoint"], rows)


def _inference(d: dict) -> str:
    rows = [[r["mode"], r["median_s"], r["docs_per_s"], r["tokens_per_s"]] for r in d["rows"]]
    s = d["summary"]
    return _md(["mode", "median s", "documents/s", "tokens/s"], rows) + (
        f"\n\nbatched vs naive: {_f(s['batched_speedup_over_naive'])}x; relations on top cost "
        f"{_f(100 * s['relation_cost_over_concepts'])}% of concept inference; identical spans "
        f"(Jaccard {_f(s['span_agreement_jaccard'])})")


def _data(d: dict) -> str:
    rows = [[k, v["first_wall_s"], v["second_wall_s"], 100 * v["second_over_first_wall"], v["first_cpu_s"],
             v["second_cpu_s"], 100 * v["second_over_first_cpu"]] for k, v in d["summary"].items()]
    return _md(["dataset", "first s (wall)", "second s (wall)", "second % (wall)", "first s (CPU)",
                "second s (CPU)", "second % (CPU)"], rows)


def _estimate(d: dict) -> str:
    rows = [[r["strategy"], r["trainer"], r["gpus"], r["memory_per_gpu_gb"], r["fits_80gb"], r["largest_batch_per_gpu"],
             r["train_examples_per_s"]] for r in d["rows"]]
    return "**ESTIMATES, not measurements.**\n\n" + _md(
        ["strategy", "trainer", "GPUs", "GB/GPU (plan)", "fits 80 GB", "max batch/GPU", "train examples/s (est.)"],
        rows)


SECTIONS: dict[str, tuple[str, Callable[[dict], str]]] = {
    "accuracy_ade": ("Accuracy on ADE (test PMIDs, micro F1)", _accuracy),
    "overhead": ("Framework overhead: Lightning vs bare PyTorch training step", _overhead),
    "strategies": ("Cost per strategy (ratios to no_prompt)", _strategies),
    "inference": ("Inference throughput (Predictor)", _inference),
    "data": ("Data set-up: first run vs cached second run", _data),
    "estimate_gpu": ("GatorTron-8.9B on A100-80GB (estimated)", _estimate),
}


def render(results: Path = RESULTS) -> str:
    parts = []
    for name, (title, fn) in SECTIONS.items():
        path = results / f"{name}.json"
        if not path.is_file():
            continue
        d = json.loads(path.read_text())
        m = d["machine"]
        parts.append(f"### {title}\n\n`{d['command']}` — {m['date'][:16].replace('T', ' ')} UTC, {m['cpu_model']} "
                     f"× {m['cpu_cores']} cores, torch {m['torch_version']}, {m['torch_threads']} thread(s), load "
                     f"average {m.get('load_average_1m_start', '—')} → {m['load_average_1m_end']}\n\n{fn(d)}\n")
    return "\n".join(parts)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--results", type=Path, default=RESULTS)
    print(render(p.parse_args().results))


if __name__ == "__main__":
    main()
