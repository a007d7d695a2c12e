"""Framework overhead: a training step through Lightning (MRCModule + Trainer.fit) vs a bare PyTorch loop.

    python benchmarks/bench_overhead.py --steps 24 --rounds 4

Run time here (2 shared CPU cores, MiniLM, batch 16): about 5-8 minutes. `--smoke`: tiny_bert, seconds.

Both sides run the same MRCModel from the same initial weights on the same pre-collated batches with the
same optimizer and schedule (AdamW with three parameter groups, linear warm-up, gradient clipping at 1.0):
forward, loss, backward, clip, step, zero_grad. The Lightning side adds what a real run adds: the
Trainer's loop, hooks and `self.log`. Rounds alternate which side goes first (ABBA), so load from other
processes hits both sides alike; the first `--warmup` steps of every run are discarded.
"""

from __future__ import annotations

import statistics
import time

import torch
from hydra.utils import instantiate

from common import parse, parser, summarise, table, write_result
from harness import StepClock, batch_loader, build, describe_batches, fixed_batches, snapshot, trainer_for


class LossTrace(StepClock):
    def __init__(self):
        super().__init__()
        self.losses: list[float] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.losses.append(float(outputs["loss"]))


def lightning_run(module, batches: list[dict], seed: int) -> tuple[list[float], list[float], float]:
    clock = LossTrace()
    trainer = trainer_for(len(batches), clock)
    torch.manual_seed(seed)
    t0 = time.perf_counter()
    trainer.fit(module, train_dataloaders=batch_loader(batches))
    return clock.steps, clock.losses, time.perf_counter() - t0


def training_loss(module, out: dict, batch: dict):
    """MRCModule.training_step's loss without its logging: span loss (+ positive-class weight, + value
    loss where the module has them)."""
    extra = (module.pos_weight,) if hasattr(module, "pos_weight") else ()
    loss = module.net.heads_for(batch["task"]).loss(out, batch, module.loss_weights, *extra)["loss"]
    value = module.net.value_loss(out, batch) if hasattr(module.net, "value_loss") else None
    return loss if value is None else loss + value


def bare_run(module, batches: list[dict], seed: int, clip: float = 1.0) -> tuple[list[float], list[float], float]:
    """The same work without Lightning: the module's own parameter groups, optimizer and scheduler configs."""
    t0 = time.perf_counter()
    hp = module.hparams
    optimizer = instantiate(hp.optimizer)(params=module.parameter_groups())
    sched_cfg = {k: v for k, v in hp.scheduler.items() if k != "warmup_ratio"}
    scheduler = instantiate(sched_cfg)(optimizer=optimizer, num_warmup_steps=int(hp.scheduler["warmup_ratio"]
                                                                                 * len(batches)),
                                       num_training_steps=len(batches))
    net = module.net
    net.train()
    if module.freeze_backbone:
        net.backbone.eval()
    params = [p for g in optimizer.param_groups for p in g["params"]]
    torch.manual_seed(seed)
    marks, losses = [], []
    for batch in batch_loader(batches):
        marks.append(time.perf_counter())
        out = net(batch)
        loss = training_loss(module, out, batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, clip)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(float(loss.detach()))
    marks.append(time.perf_counter())
    steps = [b - a for a, b in zip(marks, marks[1:], strict=False)]
    return steps, losses, time.perf_counter() - t0


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--model", default="minilm")
    p.add_argument("--strategy", default="hard_prompt")
    p.add_argument("--steps", type=int, default=24, help="training steps per run")
    p.add_argument("--rounds", type=int, default=4, help="Lightning/bare pairs, order alternating")
    p.add_argument("--warmup", type=int, default=2, help="steps discarded at the start of every run")
    p.add_argument("--batch-size", type=int, default=16)
    args = parse(p)
    if args.smoke:
        args.model, args.steps, args.rounds, args.warmup = "tiny_bert", 4, 2, 1
    started = time.perf_counter()
    ov = [f"model={args.model}", f"strategy={args.strategy}", f"batch_size={args.batch_size}", "dataset=synthetic"]
    if args.smoke:
        ov += ["dataset.loader.n_train=4", "dataset.loader.n_dev=1", "dataset.loader.n_test=1"]
    _, dm, module = build(ov)
    batches = fixed_batches(dm, args.steps)
    initial = snapshot(module)
    samples: dict[str, list[float]] = {"lightning": [], "bare": []}
    rows = []
    for r in range(args.rounds):
        order = ("lightning", "bare") if r % 2 == 0 else ("bare", "lightning")
        for side in order:
            module.load_state_dict(initial)
            module.zero_grad(set_to_none=True)  # Lightning leaves the last step's gradients on the parameters
            run = lightning_run if side == "lightning" else bare_run
            steps, losses, wall = run(module, batches, seed=1000 + r)
            kept = steps[args.warmup:]
            samples[side] += kept
            rows.append({"round": r, "side": side, "mean_step_s": statistics.fmean(kept),
                         "median_step_s": statistics.median(kept), "run_wall_s": wall,
                         "outside_steps_s": wall - sum(steps), "first_loss": losses[0], "last_loss": losses[-1]})
    table(rows, ["round", "side", "mean_step_s", "median_step_s", "run_wall_s", "outside_steps_s", "last_loss"],
          f"training step: Lightning vs bare PyTorch ({args.model}, {args.strategy}, batch {args.batch_size})")
    light, bare = summarise(samples["lightning"]), summarise(samples["bare"])
    by_round = [x["mean_step_s"] for x in rows if x["side"] == "lightning"]
    bare_round = [x["mean_step_s"] for x in rows if x["side"] == "bare"]
    summary = {
        "lightning": light, "bare": bare,
        "ratio_mean": light["mean_s"] / bare["mean_s"], "ratio_median": light["median_s"] / bare["median_s"],
        "ratio_per_round": [a / b for a, b in zip(by_round, bare_round, strict=True)],
        "target_ratio": 1.05,
        # same weights, batches, seed: the two sides should compute the same losses
        "max_abs_loss_diff": max(abs(a["last_loss"] - b["last_loss"]) for a, b in
                                 zip(rows[0::2], rows[1::2], strict=True)),
    }
    summary["meets_target"] = summary["ratio_median"] <= summary["target_ratio"]
    print(f"\nLightning / bare step time: mean ratio {summary['ratio_mean']:.3f}, median ratio "
          f"{summary['ratio_median']:.3f} (target <= 1.05)")
    config = {"model": args.model, "strategy": args.strategy, "batch_size": args.batch_size, "steps": args.steps,
              "rounds": args.rounds, "warmup": args.warmup, "dataset": "synthetic", **describe_batches(batches)}
    write_result("overhead", args, config, rows, summary, started,
                 notes=["step = one loop iteration (data fetch, hooks, logging, forward, backward, clip, step)",
                        "outside_steps_s = Trainer.fit set-up/tear-down (once per fit, not per step)"])


if __name__ == "__main__":
    main()
