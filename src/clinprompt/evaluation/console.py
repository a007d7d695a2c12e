"""Score tables in the terminal (metrics only: no text, no spans): a run's final per-type results (training
prints them) and ``clinprompt-score``'s."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table


def print_scores(scores: dict, title: str = "", console: Console | None = None) -> None:
    """One table per kind (concepts, relations): per type, micro and macro, strict and lenient P/R/F1."""
    console = console or Console()
    for kind in ("concepts", "relations"):
        if kind not in scores:
            continue
        table = Table(title=f"{title} {kind}".strip())
        table.add_column("type")
        for mode in ("strict", "lenient"):
            for k in ("P", "R", "F1"):
                table.add_column(f"{mode} {k}", justify="right")
        table.add_column("gold", justify="right")
        strict, lenient = scores[kind]["strict"], scores[kind]["lenient"]
        rows = [(t, strict["per_type"][t], lenient["per_type"][t]) for t in strict["per_type"]]
        rows += [("micro", strict["micro"], lenient["micro"]), ("macro", strict["macro"], lenient["macro"])]
        for name, s, le in rows:
            gold = str(s["tp"] + s["fn"]) if "tp" in s else ""
            table.add_row(name, *[f"{m[k]:.3f}" for m in (s, le) for k in ("precision", "recall", "f1")], gold)
        console.print(table)


def print_results(results: dict, split: str = "test") -> None:
    console = Console()
    grid = results.get("grid", {})
    print_scores(results.get("metrics", {}).get(split, {}),
                 f"{split} ({grid.get('model')}, {grid.get('strategy')}, {grid.get('dataset')})", console)
    p = results.get("params", {})
    if p:
        console.print(f"parameters: total {p.get('total'):,}  trainable {p.get('trainable'):,} "
                      f"({p.get('trainable_pct')}%)")


def print_event_scores(scores: dict, title: str = "", console: Console | None = None) -> None:
    """SDoH event scores: overall, per event type and per (event type, argument type)."""
    console = console or Console()
    table = Table(title=title)
    for col in ("key", "P", "R", "F1", "tp", "fp", "fn"):
        table.add_column(col, justify="left" if col == "key" else "right")
    rows = [("overall", scores["micro"])] + list(scores["per_event"].items()) + list(scores["per_argument"].items())
    for name, m in rows:
        table.add_row(name, *[f"{m[k]:.3f}" for k in ("precision", "recall", "f1")],
                      *[str(m[k]) for k in ("tp", "fp", "fn")])
    console.print(table)
