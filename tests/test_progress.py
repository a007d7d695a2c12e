"""Batch-job output: plain progress lines when stdout is a file, each log line once, known noise silenced."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import time
import warnings
from pathlib import Path

from lightning.pytorch.callbacks import RichProgressBar

from clinprompt.training.noise import quiet_third_party
from clinprompt.training.progress import LineProgress, WallClock, progress_bar

REPO = Path(__file__).resolve().parents[1]
FAST = ["model=tiny_bert", "trainer=fast", "logger=csv_only", "dataset.loader.n_train=12",
        "dataset.loader.n_dev=4", "dataset.loader.n_test=4"]
HYDRA_LINE = re.compile(r"^\[[\d\- :,]+\]\[([\w.]+)\]\[(\w+)\] - (.*)$")


def run_to_file(args: list[str], tmp_path: Path) -> str:
    """train.py as under SLURM: stdout and stderr both redirected to one file (not a terminal)."""
    out = tmp_path / "slurm.out"
    env = {**os.environ, "WANDB_MODE": "offline", "CLINPROMPT_CACHE_DIR": str(tmp_path / "cache")}
    with out.open("w") as fh:
        proc = subprocess.run([sys.executable, str(REPO / "train.py"), *args], cwd=tmp_path, env=env, stdout=fh,
                              stderr=subprocess.STDOUT, timeout=600)
    text = out.read_text()
    assert proc.returncode == 0, text[-3000:]
    return text


def test_batch_job_prints_progress_and_validation_lines_once(tmp_path):
    run_dir = tmp_path / "run"
    # 4 batches of an epoch, a line every 2 batches; every_s long enough that only the step count fires
    text = run_to_file([*FAST, "callbacks.progress.every_n_steps=2", "callbacks.progress.every_s=3600",
                        f"hydra.run.dir={run_dir}"], tmp_path)
    progress = re.findall(r"epoch (\d+)/(\d+) step (\d+)/(\d+) loss (\d+\.\d+) (\d+\.\d) examples/s "
                          r"ETA (\d+:\d\d:\d\d)", text)
    assert [(e, n, s, t) for e, n, s, t, *_ in progress] == [("1", "1", "2", "4"), ("1", "1", "4", "4")]
    assert progress[-1][-1] == "0:00:00" and all(float(p[5]) > 0 for p in progress)
    # one line per validation: the fit's epoch and the re-validation of the best checkpoint after testing;
    # the number printed is the dev F1 results.json records for that checkpoint (the only epoch)
    dev_f1 = json.loads((run_dir / "results.json").read_text())["metrics"]["dev"]["concepts"]["strict"]["micro"]["f1"]
    shown = re.findall(r"validation (epoch 1|\(validate\)): dev/concepts/strict/micro/f1 (\d\.\d{4})", text)
    assert [s[0] for s in shown] == ["epoch 1", "(validate)"]
    assert all(float(v) == round(dev_f1, 4) for _, v in shown)
    assert not re.search(r"^(Epoch \d|Testing|Validation)\b.*━", text, re.M)  # no rich bar drawn into the file

    lines = text.splitlines()
    logged = [m.groups() for m in map(HYDRA_LINE.match, lines) if m]
    assert len(logged) >= 8
    # Lightning's own console handler is gone: no "INFO: ..." copy of a Hydra-formatted line
    assert not [ln for ln in lines if re.match(r"^(INFO|WARNING|ERROR): ", ln)]
    assert sum(msg == "Seed set to 42" for _, _, msg in logged) == 1
    assert sum(ln.endswith("Seed set to 42") for ln in lines) == 1
    hydra_lines = [ln for ln in lines if HYDRA_LINE.match(ln)]
    assert len(set(hydra_lines)) == len(hydra_lines)  # no line twice through one handler set
    messages = {msg for _, _, msg in logged if len(msg) > 8}
    assert not [ln for ln in lines if not HYDRA_LINE.match(ln) and any(ln.endswith(m) for m in messages)]
    # known noise is silenced by default
    assert "💡" not in text and "LeafSpec" not in text and "anonymous setting" not in text


def test_third_party_noise_switch_brings_it_back(tmp_path):
    text = run_to_file([*FAST, "+trainer.fast_dev_run=true", "third_party_noise=true",
                        f"hydra.run.dir={tmp_path / 'run'}"], tmp_path)
    assert sum("💡 Tip: For seamless cloud logging" in ln for ln in text.splitlines()) == 1


def test_noise_filter_drops_only_the_listed_messages():
    rank_zero = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    seen: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record):
            seen.append(record.getMessage())

    handler = Keep()
    rank_zero.addHandler(handler)
    saved = list(rank_zero.filters)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            quiet_third_party()
            quiet_third_party()  # idempotent
            warnings.warn("`isinstance(treespec, LeafSpec)` is deprecated, use ...", FutureWarning, stacklevel=1)
            warnings.warn("a deprecation that matters", FutureWarning, stacklevel=1)
            warnings.warn("`isinstance(treespec, LeafSpec)` is deprecated", UserWarning, stacklevel=1)  # other category
            rank_zero.warning("💡 Tip: For seamless cloud logging and experiment tracking, try ...")
            rank_zero.warning("GPU available: False, used: False")
        assert [str(w.message) for w in caught] == ["a deprecation that matters",
                                                    "`isinstance(treespec, LeafSpec)` is deprecated"]
        assert seen == ["GPU available: False, used: False"]
        assert len(rank_zero.filters) == len(saved) + 1
    finally:
        rank_zero.removeHandler(handler)
        rank_zero.filters[:] = saved


def test_progress_bar_is_rich_on_a_terminal_and_lines_elsewhere():
    assert isinstance(progress_bar(interactive=True), RichProgressBar)
    bar = progress_bar(every_n_steps=5, every_s=30, metric="dev/macro_f1", interactive=False)
    assert isinstance(bar, LineProgress) and (bar.every_n_steps, bar.every_s, bar.metric) == (5, 30, "dev/macro_f1")
    assert progress_bar(enabled=False) is None  # trainer.enable_progress_bar=false: Lightning refuses any bar


def test_wall_clock_carries_elapsed_time_across_a_resume():
    clock = WallClock()
    clock.load_state_dict({"elapsed_s": 100.0})  # what the checkpoint of an earlier process recorded
    assert clock.elapsed() == 100.0  # training has not started in this process
    clock.on_train_start(None, None)
    time.sleep(0.01)
    assert 100.0 < clock.state_dict()["elapsed_s"] < 160.0
