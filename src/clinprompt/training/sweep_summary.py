"""The end of a multirun: "N finished, M failed" and each failed job's one line.

Hydra's basic sweeper re-raises the first failed job's error once every job has run, before
``on_multirun_end``; so the summary is also registered to print at exit, and printed once either way.
It reads the jobs' results.json files, so it works whatever launcher ran them."""

from __future__ import annotations

import atexit
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig


def summarize(sweep_dir: Path) -> str:
    jobs = sorted((p for p in Path(sweep_dir).iterdir() if p.is_dir() and (p / ".hydra").is_dir()),
                  key=lambda p: (len(p.name.split("_")[0]), p.name)) if Path(sweep_dir).is_dir() else []
    counts: Counter[str] = Counter()
    failed: list[str] = []
    for job in jobs:
        try:
            run = json.loads((job / "results.json").read_text())["run"]
            status, error = run.get("status", "unknown"), run.get("error")
        except (OSError, json.JSONDecodeError, KeyError, TypeError):
            status, error = "failed", "no results.json (stopped before the run started; see its train.log)"
        counts[status] += 1
        if status != "finished" and error:
            failed.append(f"  {job.name}: {status}: {error}")
    parts = [f"{counts.pop('finished', 0)} finished", f"{counts.pop('failed', 0)} failed"]
    parts += [f"{n} {s}" for s, n in sorted(counts.items())]
    return "\n".join([f"sweep {sweep_dir}: {len(jobs)} jobs: " + ", ".join(parts), *failed])


class SweepSummary(Callback):
    def __init__(self) -> None:
        self._sweep_dir: Path | None = None

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._sweep_dir = Path(config.hydra.sweep.dir)
        atexit.register(self._print)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        self._print()
        atexit.unregister(self._print)

    def _print(self) -> None:
        if self._sweep_dir is None:
            return
        sweep, self._sweep_dir = self._sweep_dir, None
        print(summarize(sweep), file=sys.stderr, flush=True)
