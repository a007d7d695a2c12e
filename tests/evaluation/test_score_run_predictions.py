"""A run's own prediction folder (``RUN/predictions/test``: .ann files alone) scored by clinprompt-score
against the gold test folder gives the concept figures results.json reports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from clinprompt.cli.score import main as score_main

REPO = Path(__file__).resolve().parents[2]
NOTES = ["Aspirin 81 mg daily.", "Heparin 5000 units sc bid.", "Metformin 500 mg po.", "Lisinopril 10 mg qd."]


def _corpus(root: Path) -> Path:
    for split in ("train", "dev", "test"):
        (root / split).mkdir(parents=True)
        for i, note in enumerate(NOTES):
            drug, strength = note.split(" ")[0], " ".join(note.split(" ")[1:3])
            s = note.index(strength)
            (root / split / f"{split}{i}.txt").write_text(note)
            (root / split / f"{split}{i}.ann").write_text(
                f"T1\tDrug 0 {len(drug)}\t{drug}\nT2\tStrength {s} {s + len(strength)}\t{strength}\n")
    return root


def test_own_prediction_folder_scores_like_results_json(tmp_path):
    root, run_dir = _corpus(tmp_path / "c"), tmp_path / "run"
    env = {**os.environ, "WANDB_MODE": "offline", "CLINPROMPT_CACHE_DIR": str(tmp_path / "cache")}
    args = ["model=tiny_bert", "trainer=fast", "logger=csv_only", "dataset=brat", f"dataset.root={root}",
            "task=concepts", f"hydra.run.dir={run_dir}"]
    proc = subprocess.run([sys.executable, str(REPO / "train.py"), *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads((run_dir / "results.json").read_text())["metrics"]["test"]["concepts"]
    assert res["strict"]["micro"]["tp"] + res["strict"]["micro"]["fn"] == 8  # every test note was predicted
    assert score_main([str(root / "test"), str(run_dir / "predictions" / "test"),
                       "--json", str(tmp_path / "s.json")]) == 0
    assert json.loads((tmp_path / "s.json").read_text())["scores"]["concepts"] == res
