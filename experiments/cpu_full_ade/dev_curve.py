"""Dev-only learning curve of one run config: train for ``--steps`` steps and score dev every ``--every`` steps.

    python experiments/cpu_full_ade/dev_curve.py --name sf_base --steps 600 --every 100 \
        --schedule-steps 2500 strategy=soft_frozen

Never touches test (Trainer.fit only; dev is the run's own dev split), so settings can be chosen with it.
``--schedule-steps`` sets the length the LR schedule is built for (warm-up = 10% of it), so a short probe
sees the learning rates a long run would see in its first ``--steps`` steps. Besides dev strict F1 and the
training loss, every eval records the RMS of the deep prompt's key/value prefixes next to the RMS of the
backbone's own keys/values on the same batch: a prefix far larger than the real keys/values swamps attention.
Writes ``<out>/<name>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import lightning as L
import torch
from hydra.utils import instantiate

from clinprompt.scale.compose import compose_config

REPO = Path(__file__).resolve().parents[2]


class Curve(L.Callback):
    def __init__(self, out: Path, meta: dict):
        self.out, self.meta, self.points, self.losses, self.t0 = out, meta, [], [], time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        self.losses.append(float(loss))

    def on_validation_end(self, trainer, pl_module) -> None:  # after the module's epoch-end scoring
        res = pl_module.eval_results.get("dev", {})
        step = trainer.global_step
        recent = self.losses[-50:]
        point = {"step": step, "wall_s": round(time.perf_counter() - self.t0, 1),
                 "train_loss_last50": sum(recent) / len(recent) if recent else None,
                 "train_loss_per_25": [round(sum(c) / len(c), 4) for c in
                                       (self.losses[i:i + 25] for i in range(0, len(self.losses), 25))],
                 "dev_concepts_strict_f1": res.get("concepts", {}).get("strict", {}).get("micro", {}).get("f1"),
                 "lr": {g.get("name", str(i)): g["lr"] for i, g in enumerate(trainer.optimizers[0].param_groups)}
                 if trainer.optimizers else {}, **kv_scale(pl_module, trainer.datamodule)}
        if "relations" in res:
            point["dev_relations_strict_f1"] = res["relations"]["strict"]["micro"]["f1"]
        self.points.append({k: (float(v) if torch.is_tensor(v) else v) for k, v in point.items()})
        print(json.dumps(self.points[-1]), flush=True)
        self.out.write_text(json.dumps({**self.meta, "points": self.points}, indent=1) + "\n")


@torch.no_grad()
def kv_scale(module, dm) -> dict:
    """RMS of the prompt's key/value prefixes and of the backbone's own first-layer keys/values."""
    net = module.net
    if net.prompt is None:
        return {}
    kv = net.prompt.key_values(torch.arange(net.prompt.n_blocks))  # [blocks, layers, 2, heads, P, d]
    layer = net.backbone.encoder.layer[0].attention.self if hasattr(net.backbone, "encoder") else None
    out = {"prompt_kv_rms": float(kv.pow(2).mean().sqrt()),
           "prompt_kv_rms_per_layer": [round(float(kv[:, i].pow(2).mean().sqrt()), 4) for i in range(kv.shape[1])]}
    if layer is not None:
        ex = dm.train_examples[:8]
        from clinprompt.data.collate import collate
        b = collate(ex, dm.pad_id)
        h = net.backbone.embeddings(input_ids=b["input_ids"])
        m = b["attention_mask"].bool()
        k, v = layer.key(h)[m], layer.value(h)[m]
        out["backbone_layer0_kv_rms"] = float(torch.cat([k, v]).pow(2).mean().sqrt())
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--name", required=True)
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--every", type=int, default=100)
    p.add_argument("--schedule-steps", type=int, default=None, help="LR schedule length (default: --steps)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--dev-docs", type=int, default=None, help="score only the first N dev documents")
    p.add_argument("--out", type=Path, default=REPO / "experiments" / "cpu_full_ade" / "dev_curves")
    p.add_argument("overrides", nargs="*")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    cache = os.environ.get("CLINPROMPT_CACHE_DIR") or str(REPO / ".cache")
    ov = [f"paths.cache_dir={cache}", f"paths.output_dir={cache}/dev_curve",
          f"paths.data_dir={os.environ['CLINPROMPT_DATA_DIR']}", "model=minilm", "dataset=ade", "task=concepts",
          *args.overrides]
    cfg = compose_config(ov)
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    dm = instantiate(cfg.module.datamodule, _recursive_=False)
    dm.setup("fit")
    if args.dev_docs:
        dm.eval_docs["dev"] = dm.eval_docs["dev"][:args.dev_docs]
    module = instantiate(cfg.module.lightning_module, _recursive_=False, _partial_=True)(schema=dm.schema)
    args.out.mkdir(parents=True, exist_ok=True)
    meta = {"name": args.name, "overrides": args.overrides, "steps": args.steps, "every": args.every,
            "schedule_steps": args.schedule_steps or args.steps, "threads": args.threads,
            "train_examples": len(dm.train_examples), "dev_docs": len(dm.eval_docs["dev"]),
            "command": " ".join([Path(sys.executable).name, *sys.argv]), "load_1m_start": os.getloadavg()[0]}
    curve = Curve(args.out / f"{args.name}.json", meta)
    trainer = L.Trainer(accelerator="cpu", devices=1, max_steps=args.steps, max_epochs=-1, precision="32-true",
                        gradient_clip_val=cfg.trainer.gradient_clip_val, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, val_check_interval=args.every,
                        check_val_every_n_epoch=None, num_sanity_val_steps=0, callbacks=[curve])
    if args.schedule_steps:
        # the schedule a run of schedule_steps steps would build (configure_optimizers reads this)
        type(trainer).estimated_stepping_batches = property(lambda self: args.schedule_steps)
    trainer.fit(module, datamodule=dm)


if __name__ == "__main__":
    main()
