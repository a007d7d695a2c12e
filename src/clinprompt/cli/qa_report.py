"""clinprompt-qa-report: the PubMedQA study's table and plots from QA runs.

    clinprompt-qa-report multirun/pubmedqa_cpu [more dirs] --out experiments/pubmedqa [--base qa_base]

Writes table.md, table.csv, metrics.png, latency.png, params.png, dev_curves.png, confusion.png and prints
the table. Each run is compared with the base run (``--base``) of the same model, dataset and seed."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from clinprompt.qa.report import to_markdown, write_report


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="clinprompt-qa-report", description=__doc__.split("\n\n")[0])
    p.add_argument("dirs", nargs="+", type=Path, help="run or multirun directories (searched recursively)")
    p.add_argument("--out", type=Path, default=Path("qa_report"), help="output folder (default: qa_report)")
    p.add_argument("--base", default="qa_base", help="strategy every run is compared with (default: qa_base)")
    p.add_argument("--resamples", type=int, default=9999, help="bootstrap resamples (default: 9999)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default: 0)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        table, skipped = write_report(args.dirs, args.out, args.base, args.resamples, args.seed)
    except (ValueError, FileNotFoundError) as err:
        print(f"clinprompt-qa-report: {err}", file=sys.stderr)
        return 2
    print(to_markdown(table))
    for run in skipped:
        print(f"skipped {run.dir}: {run.status}{f' ({run.error})' if run.error else ''}", file=sys.stderr)
    print(f"wrote {args.out}/table.md, table.csv and plots", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
