"""One raw DeepSpeed step on CPU with the project's module (run in a subprocess by test_deepspeed.py:
DeepSpeed initialises torch.distributed, which must not leak into the pytest process).

usage: python ds_step.py TRAINER STRATEGY OUT_DIR  -> prints one JSON line of observations."""

from __future__ import annotations

import json
import os
import socket
import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def batch(schema, pad_id: int, n: int = 4):
    from clinprompt.data.collate import collate
    from clinprompt.data.mrc import MRCExample
    from clinprompt.data.windows import Window

    g = torch.Generator().manual_seed(0)
    out = []
    for i in range(n):
        ctx = torch.randint(1000, 2000, (12,), generator=g).tolist()
        out.append(MRCExample(f"d{i}", "concepts", Window(0, 0, 12, 0, 12), (101, *ctx, 102), 1, i % 9,
                              (schema.entity_types[i % 9],), ((0, 2, 4), (0, 7, 7))))
    return collate(out, pad_id)


def main(trainer_name: str, strategy_name: str, out_dir: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(free_port()), RANK="0", LOCAL_RANK="0",
                      WORLD_SIZE="1")
    import deepspeed

    from clinprompt.models.mrc_module import MRCModule
    from clinprompt.scale.compose import compose_config
    from clinprompt.scale.deepspeed import plain_config, zero_to_fp32
    from clinprompt.scale.params import schema_for

    cfg = compose_config([f"trainer={trainer_name}", f"strategy={strategy_name}", "model=tiny_bert",
                          "prompt_len=4"])
    ds = plain_config(cfg.trainer.strategy.config)
    # what Lightning fills in from the Trainer; bf16 stays as configured (DeepSpeed's CPU accelerator has it)
    ds.update(train_micro_batch_size_per_gpu=4, gradient_accumulation_steps=1, gradient_clipping=1.0)
    deepspeed.init_distributed(dist_backend="gloo")

    schema = schema_for(cfg.dataset, "concepts")
    lm = MRCModule(dict(cfg.model), dict(cfg.strategy), schema, prompt_len=4, heads={"dropout": 0.0})
    groups = lm.parameter_groups()
    optimizer = torch.optim.AdamW(groups)
    backbone_before = {k: v.clone() for k, v in lm.net.backbone.state_dict().items()}
    prompt_before = [p.detach().clone() for p in lm.net.prompt_parameters()]
    engine, ds_opt, _, _ = deepspeed.initialize(model=lm.net, optimizer=optimizer, config=ds)

    b = batch(schema, 0)
    out = engine(b)
    loss = lm.net.heads_for("concepts").loss(out, b)["loss"]
    engine.backward(loss)
    engine.step()

    with deepspeed.zero.GatheredParameters(list(lm.net.parameters()), enabled=ds["zero_optimization"]["stage"] == 3):
        backbone_changed = any(not torch.equal(v, backbone_before[k].to(v.dtype))  # DeepSpeed cast it to bf16
                               for k, v in lm.net.backbone.state_dict().items())
        prompt_changed = any(not torch.equal(p.detach().float(), q.float())
                             for p, q in zip(lm.net.prompt_parameters(), prompt_before, strict=True))
    ckpt_dir = Path(out_dir) / "last.ckpt"
    engine.save_checkpoint(str(ckpt_dir), tag="checkpoint", client_state={"prompt_only": lm.freeze_backbone},
                           exclude_frozen_parameters=True)
    single = zero_to_fp32(ckpt_dir, Path(out_dir) / "fp32.ckpt")
    trainable = {n for n, p in lm.net.named_parameters() if p.requires_grad}
    print(json.dumps({
        "loss": loss.item(), "zero_stage": engine.zero_optimization_stage(), "bf16": engine.bfloat16_enabled(),
        "group_names": [g.get("name") for g in ds_opt.param_groups],
        "group_lrs": [g["lr"] for g in ds_opt.param_groups],
        "configured_lrs": [g["lr"] for g in groups],
        "backbone_changed": backbone_changed, "prompt_changed": prompt_changed,
        "saved_keys_are_trainable": set(single["state_dict"]) == trainable,
        "n_saved": len(single["state_dict"]), "n_trainable": len(trainable),
        "saved_dtypes": sorted({str(v.dtype) for v in single["state_dict"].values()}),
        "prompt_only": single.get("prompt_only"),
    }))


if __name__ == "__main__":
    main(*sys.argv[1:4])
