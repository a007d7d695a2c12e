"""The final per-type results table in the terminal (metrics only: no text, no spans)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table


def print_results(results: dict, split: str = "test") -> None:
    metrics = results.get("metrics", {}).get(split, {})
    console = Console()
    for kind in ("concepts", "relations"):
        if kind not in metrics:
            continue
        table = Table(title=f"{split} {kind} ({results['grid'].get('model')}, {results['grid'].get('strategy')})")
        table.add_column("type")
        for mode in ("strict", "lenient"):
            for k in ("P", "R", "F1"):
                table.add_column(f"{mode} {k}", justify="right")
        strict, lenient = metrics[kind]["strict"], metrics[kind]["lenient"]
        rows = [(t, strict["per_type"][t], lenient["per_type"][t]) for t in strict["per_type"]]
        rows += [("micro", strict["micro"], lenient["micro"]), ("macro", strict["macro"], lenient["macro"])]
        for name, s, le in rows:
            table.add_row(name, *[f"{m[k]:.3f}" for m in (s, le) for k in ("precision", "recall", "f1")])
        console.print(table)
    p = results.get("params", {})
    if p:
        console.print(f"parameters: total {p.get('total'):,}  trainable {p.get('trainable'):,} "
                      f"({p.get('trainable_pct')}%)")
