"""clinprompt-score: strict and lenient P/R/F1 of one brat folder against another (n2c2 2018 track 2 semantics).

    clinprompt-score GOLD_DIR PRED_DIR [--types Drug Strength ...] [--relations ...] [--json OUT]

Types default to those seen in the gold. Bad lines in either folder are skipped, counted and listed (file,
line, field, reason); a document missing from PRED_DIR counts all its gold as false negatives.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from clinprompt.data.brat import read_dir
from clinprompt.evaluation.scoring import score_documents
from clinprompt.reporting.console import print_scores


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="clinprompt-score", description=__doc__.splitlines()[0])
    ap.add_argument("gold", type=Path)
    ap.add_argument("pred", type=Path)
    ap.add_argument("--types", nargs="*", help="entity types to score (default: those in the gold)")
    ap.add_argument("--relations", nargs="*", help="relation types to score (default: those in the gold)")
    ap.add_argument("--json", type=Path, help="also write the scores and the reader issues as JSON")
    args = ap.parse_args(argv)
    for folder in (args.gold, args.pred):
        if not folder.is_dir():
            ap.error(f"{folder} is not a folder of brat .txt/.ann files")
    gold, gold_issues = read_dir(args.gold, strict=False)
    pred, pred_issues = read_dir(args.pred, strict=False)
    types = args.types or sorted({e.type for d in gold for e in d.entities.values()})
    rels = args.relations if args.relations is not None else sorted({r.type for d in gold
                                                                       for r in d.relations.values()})
    scores = score_documents(gold, pred, types, rels)
    print_scores(scores, title=f"{args.pred} vs {args.gold}")
    for name, issues in (("gold", gold_issues), ("pred", pred_issues)):
        if issues:
            print(f"{name}: {len(issues)} bad lines skipped")
            for issue in issues:
                print(f"  {issue}")
    if args.json:
        issues = {"gold": [str(i) for i in gold_issues], "pred": [str(i) for i in pred_issues]}
        args.json.write_text(json.dumps({"scores": scores, "issues": issues}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
