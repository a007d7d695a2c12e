"""The Optuna sweep really runs: two tiny trials, each returning its dev F1 to the sweeper, which records the
best value and parameters (slow: two trainings)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
FAST = ["model=tiny_bert", "trainer=fast", "logger=csv_only", "dataset.loader.n_train=8", "dataset.loader.n_dev=4",
        "dataset.loader.n_test=4"]


@pytest.mark.slow
def test_optuna_sweep_optimises_the_returned_dev_f1(tmp_path: Path) -> None:
    sweep = tmp_path / "optuna"
    env = {**os.environ, "WANDB_MODE": "offline", "CLINPROMPT_CACHE_DIR": str(tmp_path / "cache")}
    proc = subprocess.run([sys.executable, str(REPO / "train.py"), "hparams_search=optuna", *FAST,
                           "strategy=soft_frozen", "hydra.sweeper.n_trials=2",
                           "hydra.sweeper.sampler.n_startup_trials=2",
                           f"hydra.sweep.dir={sweep}"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    best = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    dev = [json.loads(p.read_text())["metrics"]["dev"]["concepts"]["strict"]["micro"]["f1"]
           for p in sweep.glob("*/results.json")]
    assert len(dev) == 2
    assert best["best_value"] == pytest.approx(max(dev))   # the sweeper saw what train() returned
    assert set(best["best_params"]) == {"strategy.lr.prompt", "strategy.lr.head", "prompt_len"}
