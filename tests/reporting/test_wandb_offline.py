"""W&B offline logging of a real (tiny) sweep job: the run lands in <run_dir>/wandb/offline-run-*/run-*.wandb,
its config carries the grid keys flat, the sweep's runs share the sweep directory as group, and no note text
of the corpus reaches any W&B file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FAST = ["model=tiny_bert", "trainer=fast", "dataset.loader.n_train=12", "dataset.loader.n_dev=4",
        "dataset.loader.n_test=4"]


def _note_strings(cache: Path) -> set[str]:
    """Entity texts (>= 8 characters) and 40-character stretches of note text from the generated brat files."""
    out: set[str] = set()
    for ann in cache.rglob("*.ann"):
        for line in ann.read_text().splitlines():
            parts = line.split("\t")
            if line.startswith("T") and len(parts) == 3 and len(parts[2]) >= 8:
                out.add(parts[2])
    for txt in cache.rglob("*.txt"):
        text = " ".join(txt.read_text().split())
        out.update(text[i:i + 40] for i in range(0, max(len(text) - 40, 1), 400))
    return out


def test_sweep_job_logs_grid_config_and_group_offline_without_text(tmp_path: Path) -> None:
    sweep = tmp_path / "multirun" / "sweep_wandb_check"
    cache = tmp_path / "cache"
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true", "CLINPROMPT_CACHE_DIR": str(cache)}
    proc = subprocess.run([sys.executable, str(REPO / "train.py"), "-m", *FAST, "logger=default", "seed=7",
                           f"hydra.sweep.dir={sweep}"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (run_dir,) = [p.parent for p in sweep.glob("*/results.json")]
    logs = list(run_dir.glob("wandb/offline-run-*/run-*.wandb"))
    assert len(logs) == 1, sorted(str(p) for p in run_dir.rglob("*"))[:20]
    blob = logs[0].read_bytes()
    for needle in (b"sweep_wandb_check", b"tiny_bert", b"hard_prompt", b"prompt_len", b"shots",
                   b"test/concepts/strict/micro/f1"):
        assert needle in blob, needle  # group = sweep dir, grid keys in the config, test metrics

    strings = _note_strings(cache)
    assert len(strings) > 20
    wandb_files = [p for p in (run_dir / "wandb").rglob("*") if p.is_file()]
    for path in wandb_files:
        data = path.read_bytes().decode("utf-8", errors="ignore")
        leaked = [s for s in strings if s in data]
        assert not leaked, f"{path.name} contains note text: {leaked[:2]}"
