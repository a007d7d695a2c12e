"""results.json records how span-less (question, window) training examples were sub-sampled (issue 16)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FAST = ["model=tiny_bert", "trainer=fast", "logger=csv_only", "strategy=hard_prompt", "dataset=synthetic",
        "dataset.loader.n_train=12", "dataset.loader.n_dev=4", "dataset.loader.n_test=4", "+trainer.fast_dev_run=true"]


def _data_stats(tmp_path: Path, negatives: float) -> dict:
    run_dir = tmp_path / f"neg{negatives}"
    env = {**os.environ, "WANDB_MODE": "offline", "CLINPROMPT_CACHE_DIR": str(tmp_path / "cache")}
    proc = subprocess.run([sys.executable, str(REPO / "train.py"), *FAST, f"dataset.negatives={negatives}",
                           f"hydra.run.dir={run_dir}"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads((run_dir / "results.json").read_text())["data"]


def test_results_json_records_the_sub_sampling_of_span_less_examples(tmp_path):
    everything, sampled = _data_stats(tmp_path, 1.0), _data_stats(tmp_path, 0.3)
    n = everything["span_less_examples"]
    # keeping every span-less example is the reference: nothing dropped, same count before sampling in both runs
    assert everything["negatives_ratio"] == 1.0 and everything["span_less_kept"] == n > 20
    assert everything["train_examples"] == everything["train_examples_before_sampling"]
    assert sampled["negatives_ratio"] == 0.3 and sampled["span_less_examples"] == n
    assert sampled["train_examples_before_sampling"] == everything["train_examples"]
    # the examples that train are the positives plus the kept span-less ones
    assert sampled["train_examples"] == everything["train_examples"] - n + sampled["span_less_kept"]
    # each span-less example is kept with probability 0.3: a binomial count, well inside 5 standard deviations
    assert abs(sampled["span_less_kept"] - 0.3 * n) < 5 * math.sqrt(n * 0.3 * 0.7)
