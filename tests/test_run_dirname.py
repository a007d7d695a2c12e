"""A sweep job's directory is one directory: override values holding a path separator do not nest it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from clinprompt.config import dir_name

REPO = Path(__file__).resolve().parents[1]


def test_separators_are_replaced_and_long_names_cut_with_a_hash():
    assert dir_name("optimized_metric=dev/relations/strict/micro/f1,task=end_to_end") == \
        "optimized_metric=dev_relations_strict_micro_f1,task=end_to_end"
    long_a, long_b = "dataset.root=" + "a" * 300, "dataset.root=" + "a" * 299 + "b"
    cut_a, cut_b = dir_name(long_a), dir_name(long_b)
    assert len(cut_a.encode()) == 200 and cut_a != cut_b  # same first 191 bytes, different hashes
    assert cut_a.startswith("dataset.root=aaa") and "/" not in cut_a


def test_a_multirun_with_a_metric_path_override_writes_one_flat_job_directory(tmp_path):
    sweep = tmp_path / "sweep"
    args = ["-m", "model=tiny_bert", "trainer=fast", "logger=csv_only", "dataset.loader.n_train=4",
            "dataset.loader.n_dev=2", "dataset.loader.n_test=2", "+trainer.fast_dev_run=true",
            "optimized_metric=dev/concepts/strict/micro/f1", f"hydra.sweep.dir={sweep}"]
    env = {**os.environ, "WANDB_MODE": "offline", "CLINPROMPT_CACHE_DIR": str(tmp_path / "cache")}
    proc = subprocess.run([sys.executable, str(REPO / "train.py"), *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = list(sweep.rglob("results.json"))
    assert len(results) == 1 and results[0].parent.parent == sweep
    assert "optimized_metric=dev_concepts_strict_micro_f1" in results[0].parent.name
