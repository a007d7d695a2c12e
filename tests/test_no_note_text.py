"""Clinical text never reaches a log: failing runs and scores are grepped for a marker string planted in
the note; the reader issues of a run reach results.json, also when the set-up cache is used."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from clinprompt.cli.score import main as score_main

REPO = Path(__file__).resolve().parents[1]
MARK = "ZQXPATIENTMARKERZQX"
NOTE = f"{MARK} takes aspirin 81 mg daily.\n"  # aspirin 26-33, 81 mg 34-39
ANN = "T1\tDrug 26 33\taspirin\nT2\tStrength 34 39\t81 mg\nR1\tStrength-Drug Arg1:T2 Arg2:T1\n"


def _corpus(root: Path, bad_ann: str = "", latin1: bool = False) -> Path:
    for split in ("train", "test"):
        (root / split).mkdir(parents=True)
        for i in range(4):
            text = NOTE.replace("daily", "t\xe4glich") if latin1 and i == 0 else NOTE
            (root / split / f"{split}{i}.txt").write_bytes(text.encode("latin-1" if latin1 and i == 0 else "utf-8"))
            (root / split / f"{split}{i}.ann").write_text(ANN + (bad_ann if i == 0 else ""))
    return root


def _train(tmp_path: Path, root: Path, run_dir: Path, *extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "WANDB_MODE": "offline", "CLINPROMPT_CACHE_DIR": str(tmp_path / "cache")}
    args = ["model=tiny_bert", "trainer=fast", "logger=csv_only", "dataset=brat", f"dataset.root={root}",
            "+trainer.fast_dev_run=true", f"hydra.run.dir={run_dir}", *extra]
    return subprocess.run([sys.executable, str(REPO / "train.py"), *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)


def _grep(run_dir: Path, *captured: str) -> list[str]:
    hits = [str(p) for p in run_dir.rglob("*") if p.is_file() and MARK.encode() in p.read_bytes()]
    return hits + [f"captured output {i}" for i, c in enumerate(captured) if MARK in c]


def test_a_failing_run_writes_no_note_text(tmp_path):
    # strict mode, a non-UTF-8 note and a text field that does not match its span: the run fails
    root = _corpus(tmp_path / "c", bad_ann=f"T3\tDrug 0 19\t{MARK[:6]}x\n", latin1=True)
    run_dir = tmp_path / "run"
    proc = _train(tmp_path, root, run_dir, "dataset.loader.strict=true")
    assert proc.returncode != 0
    assert "train0.txt:1: encoding: byte offset" in proc.stderr + proc.stdout
    assert _grep(run_dir, proc.stdout, proc.stderr) == []
    assert list(run_dir.rglob("*")), "the failing run wrote nothing to check"


def test_a_failing_score_prints_no_note_text(tmp_path, capsys):
    gold, pred = _corpus(tmp_path / "g") / "test", tmp_path / "p"
    pred.mkdir()
    (pred / "test0.txt").write_text(NOTE.replace("aspirin", "ibuprof"))
    (pred / "test0.ann").write_text(f"T1\tDrug 0 19\t{MARK[:4]}\n")
    assert score_main([str(gold), str(pred), "--json", str(tmp_path / "s.json")]) == 2
    out = capsys.readouterr()
    assert "test0.txt:1: text: differs from" in out.err
    (pred / "test0.txt").unlink()  # now it scores, with a text-field mismatch kept with a warning
    assert score_main([str(gold), str(pred), "--json", str(tmp_path / "s.json")]) == 0
    out2 = capsys.readouterr()
    assert "1 kept with a warning" in out2.out
    assert _grep(tmp_path / "s.json", out.out, out.err, out2.out, out2.err) == []
    assert MARK[:4] not in (tmp_path / "s.json").read_text()


def test_reader_issues_reach_results_json_also_from_the_setup_cache(tmp_path):
    root = _corpus(tmp_path / "c", bad_ann="T9\tDrug 26 33\twrong text\nR9\tStrength-Drug Arg1:T7 Arg2:T1\n")
    for n in (1, 2):
        run_dir = tmp_path / f"run{n}"
        proc = _train(tmp_path, root, run_dir)
        assert proc.returncode == 0, proc.stderr[-3000:]
        res = json.loads((run_dir / "results.json").read_text())
        issues = res["data"]["reader_issues"]
        # per split folder, <split>0.ann: line 4 kept with a warning (text field), line 5 skipped (undefined T7)
        assert (issues["skipped"], issues["kept_with_warning"]) == (2, 2)
        assert any(line.endswith("train0.ann:5: reference: undefined id 'T7'") for line in issues["all"])
        assert "2 annotation lines skipped, 2 kept with a warning" in proc.stderr + proc.stdout
        assert res["data"].get("setup_cached", False) == (n == 2)
        assert _grep(run_dir, proc.stdout, proc.stderr) == []
