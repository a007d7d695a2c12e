"""The PubMedQA study's table and plots from QA runs (results.json + per_document.json per run).

Columns follow the reference study: accuracy, macro-F1, per-class F1, latency mean/p95, trainable
parameters, and vs the base run of the same model/dataset/seed: McNemar's exact p (b = base wrong and the
run right, c = the reverse) and paired-bootstrap 95% CIs of the accuracy and macro-F1 differences.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from clinprompt.evaluation.stats import (
    accuracy_difference,
    macro_f1_difference,
    mcnemar,
    paired_bootstrap,
)
from clinprompt.reporting.collect import Run, collect
from clinprompt.reporting.plots import subplots

# qa_prefix_tuning: the name peft's decoder-only variant had before qa_prefix_decoder (older runs)
STRATEGY_ORDER = ("qa_base", "qa_finetune", "qa_soft_frozen", "qa_prompt_tuning", "qa_prefix_tuning",
                  "qa_prefix_decoder", "qa_prefix_full")


@dataclass
class QARun:
    run: Run
    labels: tuple[str, ...]
    answers: dict[str, tuple[str, str]]  # pmid -> (gold, predicted)

    @property
    def name(self) -> str:
        return f"{self.run.grid.get('model')}/{self.run.grid.get('strategy')}"

    @property
    def test(self) -> dict[str, Any]:
        return self.run.metrics["test"]


def _is_qa(run: Run) -> bool:
    return run.finished and isinstance(run.metrics.get("test"), dict) and "macro_f1" in run.metrics["test"]


def load_qa_runs(roots: Sequence[Path]) -> tuple[list[QARun], list[Run]]:
    """Finished QA runs, and every other run found (failed, unfinished, not QA) so the report can list it."""
    runs, skipped = [], []
    for run in collect([Path(r) for r in roots]):
        path = run.dir / "per_document.json"
        if not _is_qa(run) or not path.is_file():
            skipped.append(run)
            continue
        try:
            records = json.loads(path.read_text())["test"]
        except (json.JSONDecodeError, KeyError) as err:
            raise ValueError(f"{path}:1: field 'test' with per-question answers is missing or invalid ({err})") from err
        answers = {pmid: (r["gold"], r["pred"]) for pmid, r in records.items()}
        runs.append(QARun(run, tuple(run.metrics["test"]["per_class"]), answers))
    order = {s: i for i, s in enumerate(STRATEGY_ORDER)}
    runs.sort(key=lambda r: (str(r.run.grid.get("model")), order.get(r.run.grid.get("strategy"), 99),
                             str(r.run.grid.get("strategy")), str(r.run.grid.get("seed"))))
    return runs, skipped


def _setting(r: QARun) -> tuple:
    return r.run.grid.get("model"), r.run.grid.get("dataset"), r.run.grid.get("seed")


def compare(base: QARun, other: QARun, n_resamples: int = 9999, seed: int = 0,
            confidence: float = 0.95) -> dict[str, float]:
    """Paired comparison on the questions both runs answered (they must be the same questions)."""
    if set(base.answers) != set(other.answers):
        raise ValueError(f"{other.run.dir} and base {base.run.dir} answered different test questions: "
                         "compare runs of the same split and seed")
    pmids = sorted(base.answers)
    labels = base.labels
    index = {lab: i for i, lab in enumerate(labels)}  # anything else (invalid) -> len(labels)
    gold = np.array([index[base.answers[p][0]] for p in pmids])
    pred_a = np.array([index.get(base.answers[p][1], len(labels)) for p in pmids])
    pred_b = np.array([index.get(other.answers[p][1], len(labels)) for p in pmids])
    ca, cb = (pred_a == gold).astype(float), (pred_b == gold).astype(float)
    mc = mcnemar(ca.astype(bool), cb.astype(bool))
    acc = paired_bootstrap(accuracy_difference, ca, cb, confidence=confidence, n_resamples=n_resamples, seed=seed)
    f1 = paired_bootstrap(macro_f1_difference(len(labels)), gold, pred_a, pred_b, confidence=confidence,
                          n_resamples=n_resamples, seed=seed)
    return {"mcnemar_b": mc.b, "mcnemar_c": mc.c, "mcnemar_p": mc.p_value,
            "acc_diff": acc.estimate, "acc_ci_low": acc.low, "acc_ci_high": acc.high,
            "f1_diff": f1.estimate, "f1_ci_low": f1.low, "f1_ci_high": f1.high}


def qa_table(runs: Sequence[QARun], base_strategy: str = "qa_base", n_resamples: int = 9999,
             seed: int = 0) -> pd.DataFrame:
    bases = {_setting(r): r for r in runs if r.run.grid.get("strategy") == base_strategy}
    rows = []
    for r in runs:
        t, p = r.test, r.run.params
        row: dict[str, Any] = {"model": r.run.grid.get("model"), "strategy": r.run.grid.get("strategy"),
                               "seed": r.run.grid.get("seed"), "n": t["n"], "accuracy": t["accuracy"],
                               "macro_f1": t["macro_f1"]}
        row.update({f"f1_{lab}": t["per_class"][lab]["f1"] for lab in r.labels})
        row.update({"invalid": t.get("invalid", 0), "latency_mean_ms": t.get("latency", {}).get("mean_ms"),
                    "latency_p95_ms": t.get("latency", {}).get("p95_ms"), "trainable_params": p.get("trainable"),
                    "total_params": p.get("total")})
        base = bases.get(_setting(r))
        if base is not None and base is not r:
            row.update(compare(base, r, n_resamples, seed))
        rows.append(row)
    return pd.DataFrame(rows)


def _num(v: Any, digits: int = 3) -> str:
    return "–" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.{digits}f}"


def _params(v: Any) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "–"
    return f"{v / 1e6:.3f}M" if v >= 1e4 else f"{int(v):,}"


def _ci(row: pd.Series, key: str) -> str:
    if pd.isna(row.get(f"{key}_diff", np.nan)):
        return "–"
    return f"{row[f'{key}_diff']:+.3f} [{row[f'{key}_ci_low']:+.3f}, {row[f'{key}_ci_high']:+.3f}]"


def to_markdown(table: pd.DataFrame) -> str:
    f1_cols = [c for c in table.columns if c.startswith("f1_") and c not in ("f1_diff", "f1_ci_low", "f1_ci_high")]
    head = (["model", "strategy", "n", "accuracy", "macro-F1"] + [f"F1 {c[3:]}" for c in f1_cols]
            + ["invalid", "latency mean (ms)", "latency p95 (ms)", "trainable params", "McNemar p vs base (b/c)",
               "Δ accuracy [95% CI]", "Δ macro-F1 [95% CI]"])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for _, r in table.iterrows():
        mc = "–" if pd.isna(r.get("mcnemar_p", np.nan)) else (
            f"{r['mcnemar_p']:.4f} ({int(r['mcnemar_b'])}/{int(r['mcnemar_c'])})")
        cells = ([str(r["model"]), str(r["strategy"]), str(int(r["n"])), _num(r["accuracy"]), _num(r["macro_f1"])]
                 + [_num(r[c]) for c in f1_cols]
                 + [str(int(r["invalid"])), _num(r["latency_mean_ms"], 1), _num(r["latency_p95_ms"], 1),
                    _params(r["trainable_params"]), mc, _ci(r, "acc"), _ci(r, "f1")])
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


# ---- plots -----------------------------------------------------------------------------------------
def _bar(ax, names: list[str], values: list[list[float]], series: list[str], ylabel: str,
         texts: list[str] | None = None) -> None:
    x = np.arange(len(names))
    width = 0.8 / max(1, len(series))
    for i, (s, vals) in enumerate(zip(series, values, strict=True)):
        bars = ax.bar(x + i * width - 0.4 + width / 2, vals, width, label=s)
        ax.bar_label(bars, labels=texts, fmt="%.3g", fontsize=7)
    ax.set_xticks(x, names, rotation=20, ha="right", fontsize=8)
    ax.set_ylabel(ylabel)
    if len(series) > 1:
        ax.legend(fontsize=8)


def plot_all(runs: Sequence[QARun], table: pd.DataFrame, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    names = [r.name for r in runs]
    written = []

    def save(fig, name: str) -> None:
        fig.tight_layout()
        fig.savefig(out / name, dpi=120)
        written.append(out / name)

    fig, ax = subplots(figsize=(max(5, 1.6 * len(names)), 3.6))
    _bar(ax, names, [list(table["accuracy"]), list(table["macro_f1"])], ["accuracy", "macro-F1"], "test score")
    ax.set_ylim(0, 1)
    save(fig, "metrics.png")

    fig, ax = subplots(figsize=(max(5, 1.6 * len(names)), 3.6))
    _bar(ax, names, [list(table["latency_mean_ms"].fillna(0)), list(table["latency_p95_ms"].fillna(0))],
         ["mean", "p95"], "latency per question (ms, batch 1)")
    save(fig, "latency.png")

    fig, ax = subplots(figsize=(max(5, 1.6 * len(names)), 3.6))
    trainable = [max(float(v or 0), 0.0) for v in table["trainable_params"].fillna(0)]
    # a log axis cannot show 0: a base run that trains nothing is drawn at 1 and labelled 0
    _bar(ax, names, [[max(v, 1.0) for v in trainable]], ["trainable"], "trainable parameters (log)",
         texts=[_params(v) for v in trainable])
    ax.set_yscale("log")
    save(fig, "params.png")

    fig, axes = subplots(1, 2, figsize=(10, 3.6))
    for r in runs:
        curve = r.run.metrics.get("dev_curve") or []
        if curve:
            epochs = [c["epoch"] + 1 for c in curve]
            axes[0].plot(epochs, [c["accuracy"] for c in curve], marker="o", label=r.name)
            axes[1].plot(epochs, [c["macro_f1"] for c in curve], marker="o", label=r.name)
    for ax, metric in zip(axes, ("dev accuracy", "dev macro-F1"), strict=True):
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.set_ylim(0, 1)
    if any(r.run.metrics.get("dev_curve") for r in runs):
        axes[1].legend(fontsize=7)
    save(fig, "dev_curves.png")

    fig, axes = subplots(1, len(runs), figsize=(3.2 * len(runs), 3.2), squeeze=False)
    for ax, r in zip(axes[0], runs, strict=True):
        conf = r.test["confusion"]
        m = np.array(conf["matrix"])
        ax.imshow(m, cmap="Blues")
        for (i, j), v in np.ndenumerate(m):
            ax.text(j, i, str(v), ha="center", va="center", fontsize=9,
                    color="white" if v > m.max() / 2 else "black")
        ax.set_xticks(range(len(conf["cols"])), conf["cols"], fontsize=8)
        ax.set_yticks(range(len(conf["rows"])), conf["rows"], fontsize=8)
        ax.set_xlabel("predicted")
        ax.set_ylabel("gold")
        ax.set_title(r.name, fontsize=8)
    save(fig, "confusion.png")
    return written


def write_report(roots: Sequence[Path], out: Path, base_strategy: str = "qa_base", n_resamples: int = 9999,
                 seed: int = 0) -> tuple[pd.DataFrame, list[Run]]:
    runs, skipped = load_qa_runs(roots)
    if not runs:
        raise ValueError(f"no finished QA runs (results.json with metrics.test.macro_f1) under {list(map(str, roots))}")
    table = qa_table(runs, base_strategy, n_resamples, seed)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "table.csv", index=False)
    (out / "table.md").write_text(to_markdown(table))
    plot_all(runs, table, out)
    return table, skipped
