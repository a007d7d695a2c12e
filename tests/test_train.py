"""train.py end to end: every config group composes; a fast run and a two-point multirun write their files."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_module
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf, open_dict

from clinprompt.config import CONFIG_MODULE, conf_dir

REPO = Path(__file__).resolve().parents[1]
CONF = conf_dir()
GROUPS = ("model", "strategy", "dataset", "trainer", "logger", "callbacks", "paths", "module")
FAST = ["model=tiny_bert", "trainer=fast", "logger=csv_only", "dataset.loader.n_train=12",
        "dataset.loader.n_dev=4", "dataset.loader.n_test=4"]


def compose_train(overrides: list[str]):
    GlobalHydra.instance().clear()
    with initialize_config_module(config_module=CONFIG_MODULE, version_base="1.3"):  # as clinprompt-train does
        cfg = compose("train", overrides=overrides, return_hydra_config=True)
    with open_dict(cfg):  # what a real run fills in before the job starts
        cfg.hydra.runtime.output_dir = str(REPO / "outputs" / "composed")
        cfg.hydra.runtime.cwd = str(REPO)
        cfg.hydra.job.num = 0
    HydraConfig.instance().set_config(cfg)  # resolves ${hydra:...} as under a real run
    with open_dict(cfg):
        del cfg["hydra"]
    return cfg


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


@pytest.mark.parametrize("group,option", [(g, o) for g in GROUPS for o in options(g)])
def test_every_config_option_composes_and_resolves(group, option):
    overrides = [f"{group}={option}"]
    if (group, option) == ("dataset", "brat"):
        overrides.append("dataset.root=/some/brat")
    qa = (group, option) == ("dataset", "pubmedqa") or (group == "strategy" and option.startswith("qa_"))
    if qa:  # the PubMedQA study's options compose with its own module and dataset
        overrides += [o for o in ("module=qa", "dataset=pubmedqa") if o.split("=")[0] != group]
    cfg = compose_train(overrides)
    plain = OmegaConf.to_container(cfg, resolve=True)
    assert plain[group] is not None
    if group == "model":
        assert plain["model"]["name"] == option
    if group == "strategy" and not qa:
        assert plain["strategy"]["name"] == option and plain["strategy"]["query"] in ("none", "hard", "soft")
    if group == "strategy" and qa:
        assert plain["strategy"]["name"] == option and plain["strategy"]["method"]


def test_strategies_differ_only_in_query_and_training():
    keys = {}
    for s in ("no_prompt", "hard_prompt", "soft_unfrozen", "soft_frozen"):
        st = OmegaConf.to_container(compose_train([f"strategy={s}"]).strategy)
        keys[s] = (st["query"], st["freeze_backbone"])
    assert keys == {"no_prompt": ("none", False), "hard_prompt": ("hard", False),
                    "soft_unfrozen": ("soft", False), "soft_frozen": ("soft", True)}


def run_train(args: list[str], cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "WANDB_MODE": "offline", "CLINPROMPT_CACHE_DIR": str(cwd / "cache")}
    proc = subprocess.run([sys.executable, str(REPO / "train.py"), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def test_fast_dev_run(tmp_path):
    run_dir = tmp_path / "run"
    run_train([*FAST, "+trainer.fast_dev_run=true", f"hydra.run.dir={run_dir}"], tmp_path)
    res = json.loads((run_dir / "results.json").read_text())
    assert res["run"]["status"] == "finished"
    assert res["grid"]["model"] == "tiny_bert" and res["grid"]["strategy"] == "hard_prompt"
    assert set(res["metrics"]["test"]["concepts"]["strict"]["per_type"]) == {
        "Drug", "Strength", "Dosage", "Duration", "Frequency", "Form", "Route", "Reason", "ADE"}
    assert 0 < res["params"]["trainable"] == res["params"]["total"]
    assert (run_dir / ".hydra" / "config.yaml").exists()


def test_multirun_writes_one_directory_and_results_file_per_run(tmp_path):
    sweep = tmp_path / "sweep"
    run_train(["-m", *FAST, "strategy=hard_prompt", "seed=1,2", f"hydra.sweep.dir={sweep}"], tmp_path)
    results = sorted(sweep.glob("*/results.json"))
    assert len(results) == 2
    seeds = sorted(json.loads(p.read_text())["grid"]["seed"] for p in results)
    assert seeds == [1, 2]
    for p in results:
        res = json.loads(p.read_text())
        assert res["run"]["status"] == "finished"
        assert list((p.parent / "predictions" / "test").glob("*.ann"))
        assert (p.parent / "checkpoints" / "best.ckpt").exists()


def test_csv_is_always_logged_and_wandb_is_offline_unless_asked():
    for option, wandb_offline in (("default", True), ("wandb", True), ("wandb_online", False), ("csv_only", None)):
        loggers = OmegaConf.to_container(compose_train([f"logger={option}"]).logger)
        assert "csv" in loggers
        assert (loggers["wandb"]["offline"] if "wandb" in loggers else None) == wandb_offline
        if "wandb" in loggers:
            assert loggers["wandb"]["log_model"] is False


# ---- train / test / ckpt_path, and clinprompt-eval ----------------------------------------------------------------
TINY = ["model=tiny_bert", "trainer=fast", "logger=csv_only", "dataset.loader.n_train=8", "dataset.loader.n_dev=4",
        "dataset.loader.n_test=4", "trainer.limit_train_batches=2", "callbacks.early_stopping=null"]


def test_each_module_optimises_its_own_metric_unless_told():
    mrc, qa = compose_train([]), compose_train(["module=qa", "dataset=pubmedqa", "strategy=qa_finetune"])
    assert mrc.optimized_metric == "dev/concepts/strict/micro/f1"
    assert qa.optimized_metric == "dev/macro_f1"   # the QA module logs no concept scores
    assert qa.callbacks.model_checkpoint.monitor == qa.callbacks.early_stopping.monitor == "dev/macro_f1"
    assert compose_train(["module=qa", "optimized_metric=dev/accuracy"]).optimized_metric == "dev/accuracy"


def test_modes_that_cannot_work_are_refused_before_any_work(tmp_path):
    from clinprompt.training.run import check_eval, check_modes
    from clinprompt.training.validate import ConfigError

    ckpt = tmp_path / "best.ckpt"
    ckpt.write_bytes(b"")
    check_modes(compose_train(["train=false", f"ckpt_path={ckpt}"]))
    with pytest.raises(ConfigError, match="train=false and test=false: nothing to do"):
        check_modes(compose_train(["train=false", "test=false"]))
    with pytest.raises(ConfigError, match="strategy=qa_base does not train and test=false"):
        check_modes(compose_train(["module=qa", "strategy=qa_base", "test=false"]))
    with pytest.raises(ConfigError, match="no such file"):
        check_modes(compose_train([f"ckpt_path={tmp_path / 'missing.ckpt'}"]))
    GlobalHydra.instance().clear()
    with initialize_config_module(config_module=CONFIG_MODULE, version_base="1.3"):
        evaluation = compose("eval", overrides=[])
        assert evaluation.split == "test" and evaluation.ckpt_path is None
        with pytest.raises(ConfigError, match="ckpt_path is required"):
            check_eval(evaluation)
        with pytest.raises(ConfigError, match="split='train'"):
            check_eval(compose("eval", overrides=[f"ckpt_path={ckpt}", "split=train"]))
    GlobalHydra.instance().clear()


def run_script(script: str, args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "WANDB_MODE": "offline", "CLINPROMPT_CACHE_DIR": str(cwd / "cache")}
    proc = subprocess.run([sys.executable, str(REPO / script), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def test_train_without_test_then_test_resume_and_evaluate_its_checkpoint(tmp_path):
    """test=false trains and keeps the dev score; train=false ckpt_path=... tests that checkpoint (its dev score
    is the training run's: the weights were loaded); ckpt_path=... resumes training where the checkpoint stopped;
    clinprompt-eval (eval.py) scores it on dev in its own directory."""
    trained = tmp_path / "trained"
    run_script("train.py", [*TINY, "test=false", f"hydra.run.dir={trained}"], tmp_path)
    first = json.loads((trained / "results.json").read_text())
    dev = first["metrics"]["dev"]["concepts"]["lenient"]["micro"]   # tp, fp, fn: what these weights predict
    assert first["run"]["status"] == "finished" and "test" not in first["metrics"]
    assert "tested" not in first["run"]["checkpoint"] and not (trained / "predictions").exists()
    best = trained / "checkpoints" / "best.ckpt"

    tested = tmp_path / "tested"
    run_script("train.py", [*TINY, "train=false", f"ckpt_path={best}", f"hydra.run.dir={tested}"], tmp_path)
    res = json.loads((tested / "results.json").read_text())
    assert res["run"]["checkpoint"] == {"tested": str(best)}
    assert "train_s" not in res["timings"] and not (tested / "checkpoints").exists()
    assert res["metrics"]["dev"]["concepts"]["lenient"]["micro"] == dev
    assert list((tested / "predictions" / "test").glob("*.ann"))

    resumed = tmp_path / "resumed"
    last = trained / "checkpoints" / "last.ckpt"
    run_script("train.py", [*TINY, f"ckpt_path={last}", "trainer.max_epochs=2", f"hydra.run.dir={resumed}"], tmp_path)
    res = json.loads((resumed / "results.json").read_text())
    assert res["run"]["checkpoint"]["resumed_from"] == str(last) and "test" in res["metrics"]
    with (resumed / "csv" / "metrics.csv").open() as f:
        epochs = {row["epoch"] for row in csv.DictReader(f) if row.get("train/loss")}
    assert epochs == {"1"}   # training steps of the second epoch only: the first came from the checkpoint

    # the test split through clinprompt-eval: tests/test_packaging.py
    out = tmp_path / "eval_dev"
    run_script("eval.py", [*TINY, f"ckpt_path={best}", "split=dev", f"hydra.run.dir={out}"], tmp_path)
    res = json.loads((out / "results.json").read_text())
    assert res["run"]["status"] == "finished" and list(res["metrics"]) == ["dev"]
    assert res["run"]["checkpoint"] == {"tested": str(best)}
    assert res["metrics"]["dev"]["concepts"]["lenient"]["micro"] == dev
    assert (out / "eval.log").exists() and not (out / "checkpoints").exists()
