"""results.json: one file per run, written atomically, that reports and dashboards rely on."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from clinprompt.evaluation.console import print_results

GRID_KEYS = ("model", "strategy", "dataset", "task", "prompt_len", "shots", "seed", "fold", "site")
PACKAGES = ("torch", "transformers", "peft", "lightning", "torchmetrics", "hydra-core", "wandb", "clinprompt")


def grid_of(cfg) -> dict[str, Any]:
    """The grid coordinates of a run: what a sweep varies and a report groups by."""
    ds = cfg.get("dataset", {}) or {}
    site = None
    if ds.get("train_site") is not None:
        site = f"{ds.get('train_site')}->{ds.get('test_site')}"
    return {"model": cfg.model.get("name"), "strategy": cfg.strategy.get("name"), "dataset": ds.get("name"),
            "task": cfg.get("task"), "prompt_len": cfg.get("prompt_len"), "shots": cfg.get("shots"),
            "seed": cfg.get("seed"), "fold": cfg.get("fold"), "site": site}


def _git_commit() -> str | None:
    try:
        here = Path(__file__).resolve().parent
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True,
                              timeout=5).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for p in PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[p] = metadata.version(p)
    return out


def _flatten(d: dict, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}/{k}" if prefix else str(k)
        if isinstance(v, dict):
            out.update(_flatten(v, key))
        elif isinstance(v, int | float | str | bool) or v is None:
            out[key] = v
    return out


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def write_json_atomic(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str))
    tmp.replace(path)


class RunRecord:
    def __init__(self, run_dir: Path, grid: dict, config: dict, fingerprint: str | None = None):
        self.run_dir, self.grid, self.config = Path(run_dir), grid, config
        self.fingerprint = fingerprint
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.status, self.error, self.hint = "running", None, None
        self.started = _now()
        self.heartbeat = self.started
        self.finished: str | None = None
        self.params: dict[str, Any] = {}
        self.metrics: dict[str, Any] = {}
        self.timings: dict[str, float] = {}
        self.counts: dict[str, Any] = {}
        self.data: dict[str, Any] = {}
        self.per_document: dict[str, Any] = {}
        # which checkpoint training resumed from and which one was tested (None: the weights in memory)
        self.checkpoint: dict[str, str | None] = {}

    def set_params(self, params: dict) -> None:
        self.params.update(params)

    def to_dict(self) -> dict:
        return {
            "run": {"id": self.run_dir.name, "dir": str(self.run_dir), "started": self.started,
                    "finished": self.finished, "status": self.status, "error": self.error, "hint": self.hint,
                    "heartbeat": self.heartbeat, "config_fingerprint": self.fingerprint,
                    "git_commit": self._commit, "versions": self._versions, "checkpoint": self.checkpoint},
            "grid": self.grid, "params": self.params, "metrics": self.metrics, "timings": self.timings,
            "data": self.data, "counts": self.counts,
        }

    @property
    def _commit(self) -> str | None:
        if not hasattr(self, "_commit_cache"):
            self._commit_cache = _git_commit()
        return self._commit_cache

    @property
    def _versions(self) -> dict[str, str]:
        if not hasattr(self, "_versions_cache"):
            self._versions_cache = _versions()
        return self._versions_cache

    def beat(self) -> None:
        self.heartbeat = _now()
        self.write()

    @staticmethod
    def stored_metric(run_dir: Path, key: str | None) -> float | None:
        """The optimised metric of a finished run already on disk (what a sweep gets back for it)."""
        try:
            data = json.loads((Path(run_dir) / "results.json").read_text())
        except (OSError, json.JSONDecodeError):
            return None
        rec = RunRecord.__new__(RunRecord)
        rec.metrics = data.get("metrics") or {}
        return rec.lookup(key)

    def write(self) -> None:
        write_json_atomic(self.run_dir / "results.json", self.to_dict())
        if self.per_document:
            write_json_atomic(self.run_dir / "per_document.json", self.per_document)

    def finish(self) -> None:
        self.status = "finished"
        self.finished = self.heartbeat = _now()
        self.write()

    def fail(self, error: str, trace: str, hint: str | None = None) -> None:
        self.status, self.error = "failed", error.splitlines()[0][:500] if error else "failed"
        self.hint = hint
        self.finished = self.heartbeat = _now()
        (self.run_dir / "error.log").write_text(trace)
        self.write()

    def flat_config(self) -> dict[str, Any]:
        """Grid keys first and flat, so a W&B dashboard can group by them; then the full config."""
        return {**{k: v for k, v in self.grid.items()}, **_flatten(self.config)}

    def flat_metrics(self) -> dict[str, float]:
        flat = _flatten({k: v for k, v in self.metrics.items()})
        out = {k: v for k, v in flat.items() if isinstance(v, int | float) and "per_type" not in k}
        out.update({f"params/{k}": v for k, v in self.params.items()})
        return out

    def lookup(self, key: str | None) -> float | None:
        """A metric by slash path, e.g. 'dev/concepts/strict/micro/f1' (what an optuna sweep optimises)."""
        if not key:
            return None
        node: Any = self.metrics
        for part in key.split("/"):
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        return float(node)

    def print_table(self) -> None:
        print_results(self.to_dict())
