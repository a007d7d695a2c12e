"""Find every run under one or more directories and load what it recorded.

A run directory is any directory holding a ``results.json`` or a Hydra ``.hydra/`` folder, or a job folder with a
``train.log`` next to a sweep's ``multirun.yaml`` (a job that died before Hydra saved its config). Runs that did not
finish are kept with their status (failed, running, interrupted, unfinished, unreadable) so a report can list
them instead of silently dropping them. A ``running`` run whose ``run.heartbeat`` (refreshed by a live run, see
``clinprompt.training.heartbeat``) is older than ``stale_after_s`` is ``stale``: killed without a chance to say so."""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clinprompt.training.results import GRID_KEYS

# Override keys that never distinguish settings (where outputs go, how runs are launched or logged).
_IGNORED_OVERRIDE_PREFIXES = ("experiment", "hparams_search", "trainer", "logger", "hydra", "paths", "callbacks",
                              "wandb_group", "optimized_metric", "dataset.train_site", "dataset.test_site")
# Hydra group overrides that are already grid keys (`model=bert` is grid["model"]).
_GRID_GROUPS = {"model", "strategy", "dataset"}


@dataclass
class Run:
    """One run as recorded on disk."""

    dir: Path
    status: str                       # finished | failed | running | stale | interrupted | unfinished | unreadable
    grid: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    overrides: dict[str, str] = field(default_factory=dict)   # swept Hydra overrides that are not grid keys
    override_list: list[str] = field(default_factory=list)    # the run's Hydra task overrides, verbatim

    @property
    def finished(self) -> bool:
        return self.status == "finished"

    def per_document(self, split: str = "test") -> dict[str, dict] | None:
        """Per-document counts ``{doc_id: {"concepts": {"strict": [tp, fp, fn], ...}, ...}}`` or None."""
        path = self.dir / "per_document.json"
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}:{err.lineno}: per_document.json is not valid JSON ({err.msg})") from err
        # written either as {split: {doc: counts}} or, for the test split only, {doc: counts}
        if split in data and isinstance(data[split], dict) and not _looks_like_counts(data[split]):
            return data[split]
        if split == "test" and data and all(_looks_like_counts(v) for v in data.values()):
            return data
        return None

    def metric(self, path: str, split: str = "test") -> float | None:
        """A metric by slash path below ``metrics[split]``, e.g. ``concepts/strict/micro/f1``."""
        node: Any = self.metrics.get(split, {})
        for part in path.split("/"):
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        if isinstance(node, int | float) and not isinstance(node, bool) and math.isfinite(node):
            return float(node)
        return None


def _looks_like_counts(v: Any) -> bool:
    return isinstance(v, dict) and any(k in v for k in ("concepts", "relations"))


def find_run_dirs(roots: list[Path]) -> list[Path]:
    """Every run directory below ``roots`` (a root may itself be a run), sorted, without duplicates."""
    found: set[Path] = set()
    for root in roots:
        root = Path(root)
        if not root.is_dir():
            raise FileNotFoundError(f"{root}: not a directory (give a run or multirun directory)")
        for marker in ("results.json", ".hydra"):
            for hit in root.rglob(marker):
                # a W&B or CSV logger folder inside a run never holds these, so the parent is the run
                if marker == "results.json" and not hit.is_file():
                    continue
                if marker == ".hydra" and not hit.is_dir():
                    continue
                found.add(hit.parent.resolve())
        # a sweep job that died before Hydra saved .hydra/ (e.g. a config error) leaves only its train.log
        for sweep_file in root.rglob("multirun.yaml"):
            for job in sweep_file.parent.iterdir():
                if job.is_dir() and not job.name.startswith(".") and (job / "train.log").is_file():
                    found.add(job.resolve())
    return sorted(found)


def _read_overrides(run_dir: Path) -> list[str]:
    path = run_dir / ".hydra" / "overrides.yaml"
    if not path.is_file():
        return []
    from omegaconf import OmegaConf

    try:
        return [str(o) for o in (OmegaConf.load(path) or [])]
    except Exception:  # a damaged overrides file only costs the hyperparameter columns
        return []


def _setting_overrides(override_list: list[str]) -> dict[str, str]:
    """Overrides that define a setting but are not grid keys (e.g. ``strategy.lr.prompt=0.01``)."""
    out: dict[str, str] = {}
    for item in override_list:
        key, sep, value = item.partition("=")
        if not sep:
            continue
        key = key.lstrip("+~")
        if key in GRID_KEYS or key in _GRID_GROUPS or key.startswith(_IGNORED_OVERRIDE_PREFIXES):
            continue
        out[key] = value
    return out


def _grid_from_hydra(run_dir: Path) -> dict[str, Any]:
    """The grid of a run that never wrote results.json, from its saved Hydra config."""
    path = run_dir / ".hydra" / "config.yaml"
    if not path.is_file():
        return {}
    from omegaconf import OmegaConf

    from clinprompt.training.results import grid_of

    try:
        return grid_of(OmegaConf.load(path))
    except Exception:  # unresolvable interpolations: the report still lists the run by its directory
        return {}


STALE_AFTER_S = 30 * 60


def _stale(info: dict, stale_after_s: float, now: dt.datetime | None = None) -> str | None:
    """Why a ``running`` record is stale, or None while its heartbeat is recent enough."""
    beat = info.get("heartbeat") or info.get("started")
    if beat is None:  # no time recorded at all: nothing to judge by
        return None
    try:
        when = dt.datetime.fromisoformat(str(beat))
    except ValueError:
        return "running, with no readable heartbeat"
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    age = ((now or dt.datetime.now(dt.UTC)) - when).total_seconds()
    if age <= stale_after_s:
        return None
    return f"no heartbeat for {age / 60:.0f} min (since {beat}): killed? the same command resumes it"


def load_run(run_dir: Path, stale_after_s: float = STALE_AFTER_S) -> Run:
    """One run directory → :class:`Run` (never raises on a damaged or missing results.json)."""
    run_dir = Path(run_dir)
    override_list = _read_overrides(run_dir)
    overrides = _setting_overrides(override_list)
    path = run_dir / "results.json"
    if not path.is_file():
        return Run(run_dir, "unfinished", grid=_grid_from_hydra(run_dir), overrides=overrides,
                   override_list=override_list, error="no results.json")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        return Run(run_dir, "unreadable", grid=_grid_from_hydra(run_dir), overrides=overrides,
                   override_list=override_list, error=f"{path}:{err.lineno}: invalid JSON ({err.msg})")
    if not isinstance(data, dict) or not isinstance(data.get("run"), dict):
        return Run(run_dir, "unreadable", grid=_grid_from_hydra(run_dir), overrides=overrides,
                   override_list=override_list, error=f"{path}:1: field 'run' missing")
    info = data["run"]
    grid = {k: (data.get("grid") or {}).get(k) for k in GRID_KEYS}
    status = str(info.get("status") or "unfinished")
    run = Run(run_dir, status, grid=grid, params=data.get("params") or {}, metrics=data.get("metrics") or {},
              error=info.get("error"), overrides=overrides, override_list=override_list)
    if status == "running" and (why := _stale(info, stale_after_s)):
        run.status, run.error = "stale", why
    if run.finished and not run.metrics.get("test"):
        run.status, run.error = "unreadable", f"{path}:1: status finished but field 'metrics.test' missing"
    return run


def collect(roots: list[Path], stale_after_s: float = STALE_AFTER_S) -> list[Run]:
    """Every run under ``roots``, finished or not."""
    return [load_run(d, stale_after_s) for d in find_run_dirs(roots)]
