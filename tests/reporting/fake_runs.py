"""Run directories written by hand, shaped like training/results.py writes them (results.json,
per_document.json, .hydra/overrides.yaml), so the report can be tested without training anything."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

GRID_DEFAULTS = {"model": "minilm", "strategy": "hard_prompt", "dataset": "synthetic", "task": "concepts",
                 "prompt_len": 16, "shots": None, "seed": 1, "fold": None, "site": None}


def f1(tp: float, fp: float, fn: float) -> float:
    return 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0


def prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return {"precision": p, "recall": r, "f1": f1(tp, fp, fn), "tp": tp, "fp": fp, "fn": fn}


def block(counts: dict[str, list[int]], tot: list[int]) -> dict[str, Any]:
    """{type: [tp, fp, fn]} and the micro counts -> a strict/lenient-mode block (micro, macro, per_type)."""
    per_type = {t: prf(*c) for t, c in counts.items()}
    macro = {k: sum(v[k] for v in per_type.values()) / len(per_type) for k in ("precision", "recall", "f1")}
    return {"micro": prf(*tot), "macro": macro, "per_type": per_type}


def write_run(run_dir: Path, *, per_doc: dict[str, list[int]] | None = None, status: str = "finished",
              overrides: list[str] | None = None, per_type: dict[str, list[int]] | None = None,
              relations: dict[str, list[int]] | None = None, error_analysis: dict | None = None,
              params: dict | None = None, dev_f1: float | None = None, **grid: Any) -> Path:
    """One run. ``per_doc`` {doc: [tp, fp, fn]} of concepts (strict = lenient here) defines the test micro
    F1; ``per_type`` only the per-type block; ``relations`` adds relation micro and per-document counts."""
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / ".hydra").mkdir(exist_ok=True)
    g = {**GRID_DEFAULTS, **grid}
    ovr = overrides if overrides is not None else [f"strategy={g['strategy']}", f"seed={g['seed']}"]
    (run_dir / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in ovr))
    if status == "unfinished":
        return run_dir
    per_doc = per_doc or {"d1": [8, 2, 2]}
    tot = [sum(c[i] for c in per_doc.values()) for i in range(3)]
    concepts = block(per_type or {"Drug": tot}, tot)
    test: dict[str, Any] = {"concepts": {"strict": concepts, "lenient": concepts}}
    if relations:
        rel_tot = [sum(c[i] for c in relations.values()) for i in range(3)]
        rel = block({"Drug-Dose": rel_tot}, rel_tot)
        test["relations"] = {"strict": rel, "lenient": rel}
    if error_analysis:
        test["error_analysis"] = error_analysis
    dev = {"concepts": {"strict": {"micro": {"f1": dev_f1}}}} if dev_f1 is not None else {}
    results = {"run": {"id": run_dir.name, "dir": str(run_dir), "status": status,
                       "error": "RuntimeError: boom" if status == "failed" else None},
               "grid": g, "params": params or {"total": 22_700_000, "trainable": 22_700_000, "trainable_pct": 100.0},
               "metrics": {} if status != "finished" else {"dev": dev, "test": test}, "timings": {}}
    (run_dir / "results.json").write_text(json.dumps(results))
    if status == "finished":
        docs = {d: {"concepts": {"strict": c, "lenient": c}} for d, c in per_doc.items()}
        for d, c in (relations or {}).items():
            docs[d]["relations"] = {"strict": c, "lenient": c}
        (run_dir / "per_document.json").write_text(json.dumps({"test": docs}))
    return run_dir


def write_metrics_csv(run_dir: Path, dev: list[tuple[float, float | None]], steps_per_epoch: int = 2,
                      tested_dev_f1: float = 0.99) -> Path:
    """csv/metrics.csv as Lightning's CSVLogger writes it for one fit: an lr row, train-loss rows, one dev row per
    epoch ((dev F1, time/elapsed_s) with the time column left out when every time is None), then the test row and
    the re-validation of the tested checkpoint (``tested_dev_f1``), which is not part of the curve."""
    timed = any(t is not None for _, t in dev)
    cols = ["dev/concepts/strict/micro/f1", "epoch", "lr-AdamW/backbone", "step", "test/concepts/strict/micro/f1",
            "train/loss"] + (["time/elapsed_s"] if timed else [])
    rows: list[dict[str, Any]] = [{"lr-AdamW/backbone": 5e-5, "step": 0}]
    step = 0
    for epoch, (f1_dev, elapsed) in enumerate(dev):
        for _ in range(steps_per_epoch):
            rows.append({"epoch": epoch, "step": step, "train/loss": 1.0 / (step + 1)})
            step += 1
        rows.append({"dev/concepts/strict/micro/f1": f1_dev, "epoch": epoch, "step": step - 1,
                     **({"time/elapsed_s": elapsed} if timed else {})})
    rows.append({"epoch": len(dev), "step": step, "test/concepts/strict/micro/f1": 0.5})
    rows.append({"dev/concepts/strict/micro/f1": tested_dev_f1, "epoch": len(dev), "step": step})
    path = run_dir / "csv" / "metrics.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [",".join(cols)] + [",".join("" if r.get(c) is None else str(r[c]) for c in cols) for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return path
