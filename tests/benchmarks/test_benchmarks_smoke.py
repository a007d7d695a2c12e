"""Every benchmark's --smoke version runs as its documented command would and writes JSON of the
agreed shape. Schema only (keys and types): timings on a shared machine are not asserted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
NUM = (int, float)
OPT_NUM = (int, float, type(None))
MACHINE = {"cpu_model": str, "cpu_cores": int, "cpus_usable": int, "torch_threads": int, "memory_gb": NUM,
           "torch_version": str, "python_version": str, "date": str, "load_average_1m_end": NUM}
TOP = {"benchmark": str, "smoke": bool, "command": str, "machine": dict, "config": dict, "rows": list,
       "summary": dict, "notes": list, "wall_s": NUM}

# script -> (json name, row keys and types, summary keys)
SCHEMAS = {
    "bench_accuracy_ade.py": ("accuracy_ade", {
        "seed": int, "strategy": str, "status": str, "concepts_strict_f1": NUM, "concepts_lenient_f1": NUM,
        "relations_strict_f1": NUM, "relations_lenient_f1": NUM, "trainable_params": int, "train_s": NUM},
        {"per_strategy", "best_unfrozen", "targets", "frozen_gap_points"}),
    "bench_overhead.py": ("overhead", {
        "round": int, "side": str, "mean_step_s": NUM, "median_step_s": NUM, "run_wall_s": NUM, "last_loss": NUM},
        {"lightning", "bare", "ratio_mean", "ratio_median", "ratio_per_round", "target_ratio", "meets_target",
         "max_abs_loss_diff"}),
    "bench_strategies.py": ("strategies", {
        "strategy": str, "step_median_s": NUM, "peak_rss_delta_bytes": int, "optimizer_state_bytes": int,
        "checkpoint_bytes": int, "params_trainable": int, "step_median_s_ratio": NUM,
        "optimizer_state_bytes_ratio": NUM, "checkpoint_bytes_ratio": NUM, "peak_rss_delta_bytes_ratio": OPT_NUM},
        {"ratios_to_no_prompt"}),
    "bench_inference.py": ("inference", {"mode": str, "median_s": NUM, "docs_per_s": NUM, "tokens_per_s": NUM},
                           {"batched_speedup_over_naive", "relation_cost_over_concepts", "span_agreement_jaccard"}),
    "bench_throughput.py": ("throughput", {
        "side": str, "train_real_tok_s": NUM, "train_real_tok_s_ratio": NUM, "train_pad_frac": NUM,
        "data_s": NUM, "forward_s": NUM, "heads_s": NUM, "backward_s": NUM, "optimizer_s": NUM, "lightning_s": NUM,
        "infer_real_tok_s": NUM, "infer_pad_frac": NUM, "infer_decoding_s": NUM, "epoch_ratio": NUM,
        "train_meets_target": bool}, {"label", "ratios_to_tagger"}),
    "bench_data.py": ("data", {"dataset": str, "run": str, "setup_s": NUM, "setup_cpu_s": NUM, "setup_cached": bool,
                               "train_examples": int}, {"synthetic"}),
    "estimate_gpu.py": ("estimate_gpu", {
        "kind": str, "strategy": str, "trainer": str, "memory_per_gpu_gb": NUM, "fits_80gb": bool,
        "largest_batch_per_gpu": int, "train_examples_per_s": NUM}, {"kind", "per_trainer"}),
}


def _check(obj: dict, schema: dict, where: str) -> None:
    for key, typ in schema.items():
        assert key in obj, f"{where}: missing {key}"
        assert isinstance(obj[key], typ), f"{where}.{key}: {type(obj[key]).__name__}, expected {typ}"


@pytest.mark.parametrize("script", sorted(SCHEMAS))
def test_smoke_json_schema(script: str, tmp_path: Path, data_dir: Path):
    name, row_schema, summary_keys = SCHEMAS[script]
    env = {**os.environ, "CLINPROMPT_DATA_DIR": str(data_dir), "CLINPROMPT_CACHE_DIR": str(tmp_path / "cache")}
    cmd = [sys.executable, str(REPO / "benchmarks" / script), "--smoke", "--out-dir", str(tmp_path)]
    if script == "bench_accuracy_ade.py":
        cmd += ["--work-dir", str(tmp_path / "runs")]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads((tmp_path / f"{name}.json").read_text())
    _check(result, TOP, name)
    _check(result["machine"], MACHINE, f"{name}.machine")
    assert result["benchmark"] == name and result["smoke"] is True
    assert result["rows"], f"{name}: no rows"
    for i, row in enumerate(result["rows"]):
        _check(row, row_schema, f"{name}.rows[{i}]")
    assert summary_keys <= set(result["summary"]), f"{name}: summary lacks {summary_keys - set(result['summary'])}"
