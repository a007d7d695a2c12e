"""What a run directory guarantees: it holds one config's run, ever.

The resolved config's fingerprint (SHA-256 of its canonical JSON, minus the keys below) is written to
``fingerprint.json`` when a run starts. The same command again in that directory
- after the run finished: reports "finished" and does nothing (``rerun=true`` trains again, overwriting);
- after it was interrupted or killed: resumes from ``checkpoints/last.ckpt``;
while another config is refused before anything in the directory is touched.

Left out of the fingerprint, because they do not change what is computed: where things are written
(``paths``, any value under the run directory itself, checkpoint ``dirpath``s), how a run is watched
(``logger``, progress bar, logging interval, heartbeat), every callback but ``early_stopping`` and
``model_checkpoint`` (the learning-rate monitor, how often ``last.ckpt`` is written, preemption, progress lines,
test harnesses: they watch or save, they do not change what is trained), the set-up cache (``dataset.cache``,
cache dirs) and ``rerun`` itself.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from clinprompt.training.validate import ConfigError

IGNORED = ("paths", "logger", "rerun", "heartbeat_s", "wandb_group", "third_party_noise", "trainer.enable_progress_bar",
           "trainer.log_every_n_steps", "trainer.default_root_dir", "dataset.cache", "dataset.loader.cache_dir",
           "module.datamodule.cache_dir")
# callbacks that decide the result (when training stops, which checkpoint is tested); every other callback
# watches, checkpoints or reports (lr monitor, last.ckpt cadence, preemption, progress, test harnesses)
RESULT_CALLBACKS = ("early_stopping", "model_checkpoint")
FILE = "fingerprint.json"


class RunDirConflict(ConfigError):
    """The run directory holds a run of another config."""


def _strip(node: Any, run_dir: str, prefix: str = "") -> Any:
    if isinstance(node, Mapping):
        out = {}
        for k, v in node.items():
            key = f"{prefix}.{k}" if prefix else str(k)
            if any(key == ig or key.endswith(f".{ig}") for ig in IGNORED) or key.endswith(".dirpath"):
                continue  # also the interpolated copies, e.g. module.datamodule.dataset.cache
            if prefix == "callbacks" and k not in RESULT_CALLBACKS:
                continue
            out[str(k)] = _strip(v, run_dir, key)
        return out
    if isinstance(node, list | tuple):
        return [_strip(v, run_dir, prefix) for v in node]
    if isinstance(node, str) and run_dir and node.startswith(run_dir):
        return "<run_dir>" + node[len(run_dir):]
    return node


def fingerprinted(config: Mapping, run_dir: Path) -> dict[str, Any]:
    """The part of a resolved config that decides the result."""
    return _strip(config, str(Path(run_dir).resolve()))


def fingerprint(config: Mapping, run_dir: Path) -> str:
    blob = json.dumps(fingerprinted(config, run_dir), sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _flat(d: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(d, Mapping):
        return {prefix: d}
    out: dict[str, Any] = {}
    for k, v in d.items():
        out.update(_flat(v, f"{prefix}.{k}" if prefix else str(k)))
    return out


def differing_keys(a: Mapping, b: Mapping) -> list[str]:
    fa, fb = _flat(a), _flat(b)
    # top-level keys first: `seed` before its interpolated copy `module.datamodule.seed`
    return sorted((k for k in set(fa) | set(fb) if fa.get(k, "<absent>") != fb.get(k, "<absent>")),
                  key=lambda k: (k.count("."), k))


def read(run_dir: Path) -> dict[str, Any] | None:
    path = Path(run_dir) / FILE
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def previous_status(run_dir: Path) -> str | None:
    try:
        return json.loads((Path(run_dir) / "results.json").read_text())["run"]["status"]
    except (OSError, json.JSONDecodeError, KeyError, TypeError):
        return None


def claim(run_dir: Path, config: Mapping) -> tuple[str, str | None]:
    """(this config's fingerprint, the status of the run already in the directory with the same one, or None).

    Raises :class:`RunDirConflict` when the directory holds another config's run; writes ``fingerprint.json``
    when the directory is new."""
    run_dir = Path(run_dir)
    mine = fingerprinted(config, run_dir)
    fp = fingerprint(config, run_dir)
    old = read(run_dir)
    never_trained = previous_status(run_dir) in (None, "failed") and not (run_dir / "checkpoints").exists()
    if old is None or (old.get("fingerprint") != fp and never_trained):
        if old is None and not never_trained:
            raise RunDirConflict(f"{run_dir} holds a run without a fingerprint.json (written before fingerprints "
                                 "existed): choose another directory with hydra.run.dir=DIR, or delete this one")
        # a new directory, or one whose run failed before training anything: nothing to mix with
        run_dir.mkdir(parents=True, exist_ok=True)
        tmp = run_dir / f".{FILE}.{os.getpid()}.tmp"  # per process: DDP ranks claim one directory at the same time
        hydra = {f.name: f.read_text() for f in sorted((run_dir / ".hydra").glob("*.yaml"))}
        tmp.write_text(json.dumps({"fingerprint": fp, "config": mine, "hydra": hydra}, indent=1, sort_keys=True,
                                  default=str))
        tmp.replace(run_dir / FILE)
        return fp, None
    if old.get("fingerprint") != fp:
        for name, text in (old.get("hydra") or {}).items():  # Hydra rewrote .hydra/ before we ran: put it back
            (run_dir / ".hydra" / name).write_text(text)
        keys = differing_keys(old.get("config") or {}, json.loads(json.dumps(mine, default=str)))
        shown = ", ".join(keys[:6]) + (f" and {len(keys) - 6} more" if len(keys) > 6 else "")
        raise RunDirConflict(f"{run_dir} holds the run of config {old.get('fingerprint')}, this is config {fp} "
                             f"(differs in {shown or 'unknown keys'}): choose another directory with "
                             "hydra.run.dir=DIR (or omit it for a fresh one)")
    return fp, previous_status(run_dir)
