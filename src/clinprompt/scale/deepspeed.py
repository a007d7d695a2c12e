"""DeepSpeed helpers: the Lightning strategy built from a DeepSpeed config dict (conf/trainer/deepspeed_*.yaml),
and one fp32 file from a sharded ZeRO checkpoint.

A ZeRO checkpoint (``checkpoints/last.ckpt`` is then a *folder*: ``latest`` + ``checkpoint/`` shards)
becomes one file that ``torch.load`` and ``MRCModule.load_from_checkpoint`` read without DeepSpeed::

    python -m clinprompt.scale.deepspeed RUN_DIR/checkpoints/best.ckpt best_fp32.ckpt

With ``exclude_frozen_parameters`` (soft_frozen) the file holds only what trained (prompts, marker, heads);
the module's ``prompt_only`` flag makes loading take the frozen backbone from its source, as for any
prompt-only checkpoint.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf


def plain_config(config: Mapping[str, Any] | DictConfig) -> dict[str, Any]:
    """A JSON-able dict (DeepSpeed rejects OmegaConf nodes); ``device: none`` offload sections dropped."""
    cfg = OmegaConf.to_container(config, resolve=True) if isinstance(config, DictConfig) else dict(config)
    zo = dict(cfg.get("zero_optimization") or {})
    for key in ("offload_optimizer", "offload_param"):
        if str((zo.get(key) or {}).get("device", "none")) == "none":
            zo.pop(key, None)
    if zo:
        cfg["zero_optimization"] = zo
    return cfg


def deepspeed_strategy(config: Mapping[str, Any] | DictConfig, exclude_frozen_parameters: bool = True,
                       **kwargs: Any):
    """Lightning's DeepSpeedStrategy from a DeepSpeed config dict. Lightning fills in micro-batch size,
    gradient accumulation, clipping and precision from the Trainer."""
    from lightning.pytorch.strategies import DeepSpeedStrategy

    return DeepSpeedStrategy(config=plain_config(config), exclude_frozen_parameters=exclude_frozen_parameters,
                             **kwargs)


def zero_to_fp32(checkpoint_dir: str | Path, output_file: str | Path, tag: str | None = None) -> dict[str, Any]:
    """Consolidate a (ZeRO-2 or ZeRO-3) DeepSpeed checkpoint folder into one fp32 checkpoint file,
    keeping Lightning's own state (epoch, callbacks, the module's fingerprint) next to ``state_dict``."""
    from lightning.pytorch.utilities.deepspeed import convert_zero_checkpoint_to_fp32_state_dict

    checkpoint_dir = Path(checkpoint_dir)
    if not (checkpoint_dir / "latest").is_file() and tag is None:
        raise FileNotFoundError(f"{checkpoint_dir}: not a DeepSpeed checkpoint folder (no 'latest' file); "
                                "pass the .ckpt folder a DeepSpeed run saved")
    Path(output_file).parent.mkdir(parents=True, exist_ok=True)
    return convert_zero_checkpoint_to_fp32_state_dict(checkpoint_dir, output_file, tag=tag)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Turn a DeepSpeed ZeRO checkpoint folder into one fp32 file.")
    parser.add_argument("checkpoint_dir", help="the .ckpt folder a DeepSpeed run saved")
    parser.add_argument("output_file")
    parser.add_argument("--tag", default=None, help="checkpoint tag (default: read from 'latest')")
    args = parser.parse_args(argv)
    zero_to_fp32(args.checkpoint_dir, args.output_file, args.tag)


if __name__ == "__main__":
    main()
