"""Evaluation on 1 and on 2 processes (Lightning DDP over gloo, CPU) gives identical metrics and the same
documents: the DataModule shards whole documents by rank, the torchmetrics scorer sums counts across
processes, and per-document results are gathered from every rank."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def evaluate(world: int, tmp_path: Path) -> dict:
    out = tmp_path / f"world{world}" / "eval.json"
    out.parent.mkdir()
    proc = subprocess.run([sys.executable, str(HERE / "eval_world.py"), str(world), str(tmp_path / "corpus"),
                           str(out)], cwd=out.parent, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(out.read_text())


def test_one_and_two_process_evaluation_agree(tmp_path):
    one, two = evaluate(1, tmp_path), evaluate(2, tmp_path)
    assert (one["world"], two["world"]) == (1, 2)
    assert one["per_document"] == two["per_document"] == [f"synth-test-{i:03d}" for i in range(5)]
    assert one["metrics"] == two["metrics"]
    counts = one["metrics"]["concepts"]["strict"]["micro"]
    assert counts["tp"] + counts["fn"] > 0 and counts["tp"] + counts["fp"] > 0  # something was scored
