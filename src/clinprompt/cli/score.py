"""clinprompt-score: strict and lenient P/R/F1 of one brat folder against another (n2c2 2018 track 2 semantics).

    clinprompt-score GOLD_DIR PRED_DIR [--types Drug Strength ...] [--relations ...] [--official] [--json OUT]
    clinprompt-score --events GOLD_DIR PRED_DIR [--json OUT]

PRED_DIR may hold .ann files alone (as training and ``clinprompt-predict`` write them): each note's text comes
from GOLD_DIR; a .txt in PRED_DIR must be the same note. Default semantics: one-to-one matching, every
predicted entity and relation counts whatever its type (a type the gold lacks gets its own row);
``--types``/``--relations`` restrict both sides to the listed types. ``--official`` counts as the n2c2 2018
track 2 script does (see clinprompt.evaluation.official); ``--events`` scores SDoH events (n2c2 2022 track 2).
Reader issues are counted by kind (skipped / kept with a warning); the first few are printed as
``file:line: field: reason`` and all go to --json. A note missing from PRED_DIR counts all its gold as false
negatives (``--official`` skips it, as the script does, and says so).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from clinprompt.data.brat import BratError, describe_issues, issue_summary, read_gold_and_predictions
from clinprompt.evaluation.console import print_event_scores, print_scores
from clinprompt.evaluation.events import score_events
from clinprompt.evaluation.official import official_scores
from clinprompt.evaluation.scoring import score_documents


def _types(given: list[str] | None, seen: set[str], flag: str, ap: argparse.ArgumentParser) -> list[str]:
    if given is None:
        return sorted(seen)
    unknown = [t for t in given if t not in seen]
    if unknown:
        ap.error(f"{flag}: {', '.join(unknown)} not in the gold or the predictions (types seen: "
                 f"{', '.join(sorted(seen)) or 'none'})")
    return list(given)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="clinprompt-score", description=__doc__.splitlines()[0])
    ap.add_argument("gold", type=Path)
    ap.add_argument("pred", type=Path)
    ap.add_argument("--types", nargs="+", help="entity types to score (default: every type on either side)")
    ap.add_argument("--relations", nargs="+", help="relation types to score (default: every type on either side)")
    ap.add_argument("--official", action="store_true",
                    help="count as the n2c2 2018 track 2 evaluation script does (duplicate rule included)")
    ap.add_argument("--events", action="store_true", help="score SDoH events (n2c2 2022 track 2)")
    ap.add_argument("--json", type=Path, help="also write the scores and the reader issues as JSON")
    args = ap.parse_args(argv)
    if args.official and (args.types or args.relations or args.events):
        ap.error("--official counts every type as the n2c2 script does: it takes no --types, --relations or --events")
    for folder in (args.gold, args.pred):
        if not folder.is_dir():
            ap.error(f"{folder} is not a folder of brat .txt/.ann files")
    try:
        gold, pred, issues = read_gold_and_predictions(args.gold, args.pred)
    except BratError as err:
        print(f"clinprompt-score: error: {err}", file=sys.stderr)
        return 2
    if not pred:
        print(f"warning: {args.pred} holds no .ann or .txt files: every gold annotation is a false negative")
    missing = sorted({d.doc_id for d in gold} - {d.doc_id for d in pred})
    if missing and pred:
        print(f"warning: {len(missing)} gold notes have no prediction file in {args.pred} "
              f"(first: {', '.join(missing[:3])})" + ("; --official skips them" if args.official else
                                                      "; their gold annotations are false negatives"))
    extra: dict = {}
    if args.events:
        scores = score_events(gold, pred)
        print_event_scores(scores, title=f"{args.pred} vs {args.gold} events")
    elif args.official:
        scores, skipped = official_scores(gold, pred)
        extra["skipped_notes"] = skipped
        print_scores(scores, title=f"{args.pred} vs {args.gold} (official n2c2 2018 counting; macro = mean over "
                                   "notes)")
    else:
        types = _types(args.types, {e.type for d in gold + pred for e in d.entities.values()}, "--types", ap)
        rels = _types(args.relations, {r.type for d in gold + pred for r in d.relations.values()}, "--relations", ap)
        scores = score_documents(gold, pred, types, rels)
        print_scores(scores, title=f"{args.pred} vs {args.gold}")
    summaries = {side: issue_summary(found) for side, found in issues.items()}
    for name, summary in summaries.items():
        for line in describe_issues(name, summary):
            print(line)
    if args.json:
        args.json.write_text(json.dumps({"scores": scores, "reader_issues": summaries, **extra}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
