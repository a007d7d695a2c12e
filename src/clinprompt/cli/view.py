"""clinprompt-view: an offline HTML page to look at predicted brat annotations against gold, note by note.

    clinprompt-view GOLD_DIR PRED_DIR --out view.html [--mode strict|lenient] [--types ...] [--relations ...]

PRED_DIR may hold .ann files alone (a run's predictions/test): note text is taken from GOLD_DIR. Counts are
clinprompt-score's on the same folders (types default to those in the gold). The page contains note text, so it
is written only to --out; the console gets counts and the path, never text.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from clinprompt.evaluation.matching import MODES
from clinprompt.reporting.collect import load_run
from clinprompt.reporting.errors import analyse, issue_counts, read_folders
from clinprompt.reporting.view import write_page


def build(gold_dir: Path, pred_dir: Path, out: Path, mode: str = "strict", types: list[str] | None = None,
          relations: list[str] | None = None, title: str | None = None) -> str:
    """Write the page; returns a one-line summary without any note text."""
    gold, pred, issues = read_folders(gold_dir, pred_dir)
    an = analyse(gold, pred, types or None, relations, mode)  # type: ignore[arg-type]
    an.issues = issues
    write_page(an, out, title or f"{Path(pred_dir).name} vs {Path(gold_dir).name}")
    micro = an.scores["concepts"][mode]["micro"]
    line = (f"written: {out} ({len(an.docs)} documents; concepts {mode} TP {micro['tp']} FP {micro['fp']} "
            f"FN {micro['fn']} F1 {micro['f1']:.4f}")
    return line + (f"; {issue_counts(issues)}, listed on the page)" if any(issues.values()) else ")")


def view_run(run_dir: Path, gold_dir: Path, out: Path | None) -> int:
    """``clinprompt-report --view RUN GOLD --out FILE``: the page of a run's test predictions."""
    preds = Path(run_dir) / "predictions" / "test"
    try:
        if out is None or out.suffix.lower() not in (".html", ".htm"):
            raise ValueError("--view needs --out FILE.html: the page holds note text, so it goes only where you say")
        if not preds.is_dir():
            raise FileNotFoundError(f"{preds}: missing; a finished run writes its test predictions there")
        if not Path(gold_dir).is_dir():
            raise FileNotFoundError(f"{gold_dir}: not a folder of the run's gold test notes (brat .txt + .ann)")
        # a concepts-only run predicts no relations: listing every gold relation as missed would mislead
        relations = [] if load_run(Path(run_dir)).grid.get("task") == "concepts" else None
        print(build(gold_dir, preds, out, relations=relations,
                    title=f"{Path(run_dir).name}: test predictions vs {Path(gold_dir).name}"))
    except (ValueError, FileNotFoundError) as err:
        print(f"clinprompt-report: {err}", file=sys.stderr)
        return 2
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="clinprompt-view", description=__doc__.splitlines()[0])
    ap.add_argument("gold", type=Path, help="brat folder of gold notes (.txt + .ann)")
    ap.add_argument("pred", type=Path, help="brat folder of predictions (.ann, with or without .txt)")
    ap.add_argument("--out", type=Path, required=True, help="the HTML file to write (it will contain note text)")
    ap.add_argument("--mode", choices=MODES, default="strict", help="matching mode of the page (default strict)")
    ap.add_argument("--types", nargs="*", help="entity types to show and count (default: those in the gold)")
    ap.add_argument("--relations", nargs="*", help="relation types (default: those in the gold)")
    ap.add_argument("--title", help="page title (default: 'PRED vs GOLD' folder names)")
    args = ap.parse_args(argv)
    for folder in (args.gold, args.pred):
        if not folder.is_dir():
            ap.error(f"{folder} is not a folder of brat files")
    if args.out.is_dir():
        ap.error(f"--out {args.out} is a folder: give the HTML file to write")
    try:
        print(build(args.gold, args.pred, args.out, args.mode, args.types, args.relations, args.title))
    except (ValueError, FileNotFoundError) as err:
        print(f"clinprompt-view: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
