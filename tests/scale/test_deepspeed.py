"""Trainer configs for GPUs: the strategy objects build, DeepSpeed accepts its configs, and one raw
``deepspeed.initialize`` step runs on CPU with the project's module (Lightning refuses DeepSpeed without CUDA)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hydra.utils import instantiate

from clinprompt.scale.compose import composer
from clinprompt.scale.deepspeed import plain_config

HERE = Path(__file__).resolve().parent
ZO = "trainer.strategy.config.zero_optimization"


@pytest.fixture(scope="module")
def make():
    with composer() as compose:
        yield compose


@pytest.mark.parametrize("trainer,stage", [("deepspeed_zero2", 2), ("deepspeed_zero3", 3)])
@pytest.mark.parametrize("offload", [False, True])
def test_deepspeed_strategy_and_config_build(make, trainer, stage, offload):
    from deepspeed.runtime.config import DeepSpeedConfig
    from lightning.pytorch.strategies import DeepSpeedStrategy

    cfg = make([f"trainer={trainer}", *([f"{ZO}.offload_optimizer.device=cpu"] if offload else [])])
    assert cfg.trainer.precision == "bf16-mixed" and cfg.trainer.devices == 8 and cfg.hardware.gpu_memory_gb == 80
    strategy = instantiate(cfg.trainer.strategy)
    assert isinstance(strategy, DeepSpeedStrategy)
    assert strategy.exclude_frozen_parameters
    assert strategy.config["zero_optimization"]["stage"] == stage
    assert ("offload_optimizer" in strategy.config["zero_optimization"]) == offload
    # DeepSpeed's own parser, with what Lightning adds from the Trainer
    ds = DeepSpeedConfig({**plain_config(cfg.trainer.strategy.config), "train_micro_batch_size_per_gpu": 4,
                          "gradient_accumulation_steps": 2})
    assert ds.zero_optimization_stage == stage and ds.train_batch_size == 8
    assert (ds.zero_config.offload_optimizer is not None) == offload
    assert ds.bfloat16_config.enabled


def test_gpu_and_ddp_trainer_configs(make):
    from lightning.pytorch.strategies import DDPStrategy

    gpu = make(["trainer=gpu"]).trainer
    assert (gpu.accelerator, gpu.devices, gpu.precision) == ("gpu", 1, "bf16-mixed")
    ddp = make(["trainer=ddp", "trainer.num_nodes=2"]).trainer
    strategy = instantiate(ddp.strategy)
    assert isinstance(strategy, DDPStrategy) and ddp.devices == 8 and ddp.num_nodes == 2
    assert ddp.gradient_clip_val == 1.0 and ddp.accumulate_grad_batches == 1
    for name in ("gpu", "ddp", "deepspeed_zero2", "deepspeed_zero3"):
        assert not make([f"trainer={name}"]).trainer.use_distributed_sampler  # the DataModule shards documents


def ds_step(tmp_path: Path, trainer: str, strategy: str) -> dict:
    proc = subprocess.run([sys.executable, str(HERE / "ds_step.py"), trainer, strategy, str(tmp_path)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_zero2_step_on_cpu_soft_frozen(tmp_path):
    r = ds_step(tmp_path, "deepspeed_zero2", "soft_frozen")
    assert r["zero_stage"] == 2 and r["bf16"]
    # soft_frozen's reparameterization MLP learns at lr / fan-in (tiny_bert hidden 32, MLP hidden 256)
    # biases and LayerNorm weights sit in their own *.no_decay group (same learning rate, no weight decay)
    assert r["group_names"] == ["prompt", "prompt_mlp.0", "prompt_mlp.1", "head", "head.no_decay"]
    assert r["group_lrs"] == r["configured_lrs"] == pytest.approx([1e-2, 1e-2 / 32, 1e-2 / 256, 3e-3, 3e-3])
    assert r["prompt_changed"] and not r["backbone_changed"]
    # frozen backbone left out of the checkpoint; the consolidated file holds exactly the trained tensors
    assert r["saved_keys_are_trainable"] and r["prompt_only"] is True
    assert r["saved_dtypes"] == ["torch.float32"]


def test_zero3_step_on_cpu_soft_unfrozen(tmp_path):
    r = ds_step(tmp_path, "deepspeed_zero3", "soft_unfrozen")
    assert r["zero_stage"] == 3
    # soft_unfrozen's MLP learns at lr / fan-in too (tiny_bert hidden 32, MLP hidden 256)
    assert r["group_names"] == ["backbone", "backbone.no_decay", "prompt", "prompt_mlp.0", "prompt_mlp.1", "head",
                                "head.no_decay"]
    assert r["group_lrs"] == pytest.approx([5e-5, 5e-5, 5e-3, 5e-3 / 32, 5e-3 / 256, 3e-3, 3e-3])
    assert r["prompt_changed"] and r["backbone_changed"]
    assert r["saved_keys_are_trainable"] and r["n_saved"] == r["n_trainable"]
