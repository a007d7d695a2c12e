"""train.py end to end on the real PubMedQA data with tiny models: a sweep over both paths (tiny_bert encoder,
tiny_t5 seq2seq) x (base, prompt tuning), then the report. Checks the run files, that no question is
dropped (invalid answers counted), and that the saved peft adapter reloads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from omegaconf import OmegaConf
from peft import PeftModel

from clinprompt.backbone import load_tokenizer
from clinprompt.cli.qa_report import main as qa_report
from clinprompt.config import conf_dir
from clinprompt.qa.seq2seq import load_seq2seq

REPO = Path(__file__).resolve().parents[2]


def test_sweep_both_paths_and_report(tmp_path, data_dir):
    sweep = tmp_path / "sweep"
    env = {**os.environ, "WANDB_MODE": "offline", "CLINPROMPT_DATA_DIR": str(data_dir)}
    args = ["-m", "module=qa", "dataset=pubmedqa", "model=tiny_bert,tiny_t5", "strategy=qa_base,qa_prompt_tuning",
            "trainer=fast", "logger=csv_only", "optimized_metric=dev/macro_f1", "dataset.max_length=48",
            "prompt_len=4", "trainer.limit_test_batches=null", "module.lightning_module.class_weights=balanced",
            f"hydra.sweep.dir={sweep}"]
    proc = subprocess.run([sys.executable, str(REPO / "train.py"), *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = {}
    for path in sweep.rglob("results.json"):
        res = json.loads(path.read_text())
        results[(res["grid"]["model"], res["grid"]["strategy"])] = (path.parent, res)
    assert len(results) == 4
    for (_model, strategy), (run_dir, res) in results.items():
        test = res["metrics"]["test"]
        assert res["run"]["status"] == "finished"
        assert test["n"] == res["data"]["splits"]["test"]["n"] == 89  # every test question answered or counted
        assert sum(map(sum, test["confusion"]["matrix"])) == 89
        preds = json.loads((run_dir / "predictions" / "test.json").read_text())
        assert len(preds) == 89 and set(preds.values()) <= {"yes", "no", "invalid"}
        assert test["invalid"] == sum(v == "invalid" for v in preds.values())
        if strategy == "qa_base":
            assert res["params"]["trainable"] == 0
        else:
            assert 0 < res["params"]["trainable"] < res["params"]["total"] / 10
            assert res["metrics"]["dev_curve"]
    t5_dir = results[("tiny_t5", "qa_prompt_tuning")][0]
    cfg = OmegaConf.to_container(OmegaConf.load(conf_dir() / "model" / "tiny_t5.yaml"))
    model = PeftModel.from_pretrained(load_seq2seq(cfg, load_tokenizer(cfg)), str(t5_dir / "adapter"))
    assert sum(p.numel() for n, p in model.named_parameters() if "prompt_encoder" in n) == 2 * 4 * 32

    out = tmp_path / "report"
    assert qa_report([str(sweep), "--out", str(out), "--resamples", "499"]) == 0
    table = (out / "table.md").read_text()
    assert table.count("qa_prompt_tuning") == 2 and table.count("qa_base") == 2
