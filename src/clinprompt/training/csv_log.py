"""A CSV metrics log that a resumed run continues instead of replacing.

Lightning's ``CSVLogger`` deletes an existing ``metrics.csv`` when it starts, so a resumed run lost the
log of everything before the crash. ``ResumableCSVLogger`` keeps the file, writes every row as soon as it
is logged (a SIGKILL loses at most the row being written), and lets the resume callback cut it back to
what the checkpoint covers (:meth:`truncate`): rows logged after the checkpoint are logged again by the
resumed run, so every step appears once.
"""

from __future__ import annotations

import csv
import os
from typing import Any

from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from lightning.pytorch.utilities import rank_zero_only


class _AppendingWriter(ExperimentWriter):
    def __init__(self, log_dir: str) -> None:
        super().__init__(log_dir)
        if os.path.isfile(self.metrics_file_path):  # continue with the columns already on disk
            with open(self.metrics_file_path, newline="") as f:
                self.metrics_keys = next(csv.reader(f), [])

    def _check_log_dir_exists(self) -> None:
        """Keep an existing log (Lightning's writer deletes it): ``truncate`` decides what stays."""

    def rows(self) -> list[dict[str, str]]:
        if not os.path.isfile(self.metrics_file_path):
            return []
        with open(self.metrics_file_path, newline="") as f:
            return list(csv.DictReader(f))

    def rewrite(self, rows: list[dict[str, Any]]) -> None:
        tmp = f"{self.metrics_file_path}.tmp"
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=self.metrics_keys)
            writer.writeheader()
            writer.writerows(rows)
        os.replace(tmp, self.metrics_file_path)


class ResumableCSVLogger(CSVLogger):
    @property
    def experiment(self) -> _AppendingWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _AppendingWriter(log_dir=self.log_dir)
        return self._experiment

    @rank_zero_only
    def log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None:
        super().log_metrics(metrics, step)
        self.experiment.save()

    def row_count(self) -> int:
        self.experiment.save()
        return len(self.experiment.rows())

    @rank_zero_only
    def truncate(self, rows: int, step: int | None = None) -> None:
        """Keep the first ``rows`` rows, and the rows right after them logged for ``step`` (a checkpoint
        written at a batch end precedes the logging of that batch, which a resumed run does not repeat)."""
        self.experiment.metrics = []
        old = self.experiment.rows()
        keep = old[:rows]
        for row in old[rows:]:
            if step is None or row.get("step") != str(step):
                break
            keep.append(row)
        if keep != old:
            self.experiment.rewrite(keep)


def flush_csv(loggers: list[Any]) -> int | None:
    """Rows on disk of the resumable CSV log (written out first), or None without one."""
    for lg in loggers:
        if isinstance(lg, ResumableCSVLogger):
            return lg.row_count()
    return None
