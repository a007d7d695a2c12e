"""An installed clinprompt is complete: a fresh venv with a non-editable install of the repository, run from another
directory, trains with clinprompt-train and scores the checkpoint with clinprompt-eval. The configs come from the
installed package (pkg://clinprompt.conf), not from a checkout."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
TINY = ["model=tiny_bert", "trainer=fast", "logger=csv_only", "dataset.loader.n_train=8", "dataset.loader.n_dev=4",
        "dataset.loader.n_test=4", "trainer.limit_train_batches=2", "callbacks.early_stopping=null"]


def _run(cmd: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"{cmd}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    return proc


def test_installed_package_trains_and_evaluates_from_another_directory(tmp_path):
    # build from a copy: an in-tree build would leave build/ and *.egg-info in the checkout
    source = tmp_path / "source"
    shutil.copytree(REPO / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, source / name)
    venv = tmp_path / "venv"
    # the system's packages (torch, transformers ...) are reused: the install is of clinprompt alone, offline.
    # No pip of its own: ensurepip's bundled setuptools is too old for pyproject's license; the system's pip and
    # setuptools build, and install into the venv it runs in
    _run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)], tmp_path,
         dict(os.environ))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}   # nothing points at a checkout's src/
    env.update(WANDB_MODE="offline", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               CLINPROMPT_CACHE_DIR=str(tmp_path / "cache"))
    _run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
          "--no-index", str(source)], tmp_path, env)

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = _run([str(venv / "bin" / "python"), "-c", "import clinprompt.conf; print(clinprompt.conf.__file__)"],
                 elsewhere, env).stdout.strip()
    assert Path(where).resolve().is_relative_to(venv.resolve()), where   # the venv's copy, not the checkout's
    assert (Path(where).parent / "train.yaml").is_file() and (Path(where).parent / "eval.yaml").is_file()

    # the command, as a user types it
    _run([str(venv / "bin" / "clinprompt-train"), "model=tiny_bert", "++trainer.fast_dev_run=true",
          "logger=csv_only", "hydra.run.dir=smoke"], elsewhere, env)
    assert json.loads((elsewhere / "smoke" / "results.json").read_text())["run"]["status"] == "finished"

    # a run that saves its best checkpoint (fast_dev_run saves none), then clinprompt-eval on it
    _run([str(venv / "bin" / "clinprompt-train"), *TINY, "hydra.run.dir=run"], elsewhere, env)
    trained = json.loads((elsewhere / "run" / "results.json").read_text())
    best = elsewhere / "run" / "checkpoints" / "best.ckpt"
    assert trained["run"]["checkpoint"]["tested"] == str(best.resolve())
    hydra_cfg = yaml.safe_load((elsewhere / "run" / ".hydra" / "hydra.yaml").read_text())["hydra"]
    sources = {(s["schema"], s["path"]) for s in hydra_cfg["runtime"]["config_sources"] if s["provider"] == "main"}
    assert sources == {("pkg", "clinprompt.conf")}   # composed from the installed package

    _run([str(venv / "bin" / "clinprompt-eval"), *TINY, "ckpt_path=run/checkpoints/best.ckpt",
          "hydra.run.dir=scored"], elsewhere, env)
    scored = json.loads((elsewhere / "scored" / "results.json").read_text())
    assert scored["run"]["status"] == "finished" and scored["run"]["checkpoint"] == {"tested": str(best.resolve())}
    assert list(scored["metrics"]) == ["test"]
    f1 = scored["metrics"]["test"]["concepts"]["strict"]["micro"]["f1"]
    assert f1 == trained["metrics"]["test"]["concepts"]["strict"]["micro"]["f1"]   # the same checkpoint, same score
    assert list((elsewhere / "scored" / "predictions" / "test").glob("*.ann"))
