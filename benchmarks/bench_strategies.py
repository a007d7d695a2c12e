"""Frozen vs unfrozen cost: step time, peak memory, optimizer state and checkpoint size per strategy.

    python benchmarks/bench_strategies.py --steps 12 --rounds 3

Run time here (2 shared CPU cores, MiniLM, batch 16, synthetic notes): about 6-10 minutes.
`--smoke`: tiny_bert, a few steps, seconds.

Every strategy trains its own first batches (the same seeded loader, its own query kind) through
Lightning's Trainer.fit. Step times are measured round-robin (the strategy order rotates each round)
so load from other processes hits all four alike. Peak memory: resident-set increase during
`--probe-steps` training steps over the level just before them, sampled every 2 ms with psutil, each
strategy in a fresh process (in-process under --smoke). Optimizer state: bytes of AdamW's state tensors
after training (clinprompt.training.accounting). Checkpoint: bytes of Trainer.save_checkpoint (with
optimizer state, as ModelCheckpoint writes it) and weights-only. All as ratios to no_prompt.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from clinprompt.training.accounting import count_parameters, optimizer_state_bytes

from common import parse, parser, summarise, table, write_result
from harness import StepClock, batch_loader, build, describe_batches, fixed_batches, snapshot, trainer_for
from memory import PeakRSS

STRATEGIES = ("no_prompt", "hard_prompt", "soft_unfrozen", "soft_frozen")


def overrides(args, strategy: str) -> list[str]:
    ov = [f"model={args.model}", f"strategy={strategy}", f"batch_size={args.batch_size}", "dataset=synthetic",
          f"prompt_len={args.prompt_len}", f"task={args.task}"]
    if args.smoke:
        ov += ["dataset.loader.n_train=4", "dataset.loader.n_dev=1", "dataset.loader.n_test=1"]
    return ov


def probe(args, strategy: str) -> dict[str, int]:
    """Peak RSS increase of ``args.probe_steps`` training steps, measured in this process."""
    _, dm, module = build(overrides(args, strategy))
    batches = fixed_batches(dm, args.probe_steps)
    clock = StepClock()
    trainer = trainer_for(len(batches), clock)
    with PeakRSS() as rss:
        trainer.fit(module, train_dataloaders=batch_loader(batches))
    return {"peak_rss_delta_bytes": rss.delta_bytes, "rss_before_bytes": rss.before}


def probe_in_subprocess(args, strategy: str) -> dict[str, int]:
    cmd = [sys.executable, __file__, "--memory-probe", strategy, "--model", args.model, "--batch-size",
           str(args.batch_size), "--probe-steps", str(args.probe_steps), "--prompt-len", str(args.prompt_len),
           "--task", args.task, "--threads", str(args.threads)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if out.returncode != 0 or not lines:
        raise RuntimeError(f"memory probe for {strategy} failed: {out.stderr.strip().splitlines()[-1:]}")
    return json.loads(lines[-1])


def checkpoint_sizes(trainer, folder: Path, strategy: str) -> tuple[int, int]:
    full, weights = folder / f"{strategy}.ckpt", folder / f"{strategy}-weights.ckpt"
    trainer.save_checkpoint(full)
    trainer.save_checkpoint(weights, weights_only=True)
    return full.stat().st_size, weights.stat().st_size


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--model", default="minilm")
    p.add_argument("--task", default="concepts")
    p.add_argument("--steps", type=int, default=12, help="training steps per strategy per round")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--warmup", type=int, default=2, help="steps discarded at the start of every run")
    p.add_argument("--probe-steps", type=int, default=3, help="training steps of the memory probe")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--prompt-len", type=int, default=16)
    p.add_argument("--memory-probe", choices=STRATEGIES, help=argparse.SUPPRESS)  # internal: one probe per process
    args = parse(p)
    if args.memory_probe:
        print(json.dumps(probe(args, args.memory_probe)))
        return
    if args.smoke:
        args.model, args.steps, args.rounds, args.warmup, args.probe_steps = "tiny_bert", 3, 1, 0, 2
    started = time.perf_counter()
    built = {s: build(overrides(args, s)) for s in STRATEGIES}
    batches = {s: fixed_batches(dm, args.steps) for s, (_, dm, _) in built.items()}
    initial = {s: snapshot(m) for s, (_, _, m) in built.items()}
    samples: dict[str, list[float]] = {s: [] for s in STRATEGIES}
    trainers = {}
    for r in range(args.rounds):
        for s in STRATEGIES[r % 4:] + STRATEGIES[:r % 4]:
            module = built[s][2]
            module.load_state_dict(initial[s])
            clock = StepClock()
            trainers[s] = trainer_for(len(batches[s]), clock)
            trainers[s].fit(module, train_dataloaders=batch_loader(batches[s]))
            samples[s] += clock.steps[args.warmup:]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for s in STRATEGIES:
            _, dm, module = built[s]
            ckpt, weights = checkpoint_sizes(trainers[s], Path(tmp), s)
            mem = probe(args, s) if args.smoke else probe_in_subprocess(args, s)
            params = count_parameters(module)
            step = summarise(samples[s])
            rows.append({"strategy": s, "step_mean_s": step["mean_s"], "step_median_s": step["median_s"],
                         "step_stdev_s": step["stdev_s"], "steps_timed": step["n"],
                         "train_examples": dm.stats["train_examples"], "batches_per_epoch": len(dm.train_dataloader()),
                         "params_trainable": params["trainable"], "params_total": params["total"],
                         "optimizer_state_bytes": optimizer_state_bytes(trainers[s]),
                         "checkpoint_bytes": ckpt, "checkpoint_weights_only_bytes": weights, **mem,
                         **{f"batch_{k}": v for k, v in describe_batches(batches[s]).items() if k != "tasks"}})
    for row in rows:
        row["epoch_est_s"] = row["step_median_s"] * row["batches_per_epoch"]
    base = rows[0]
    keys = ("step_median_s", "epoch_est_s", "peak_rss_delta_bytes", "optimizer_state_bytes", "checkpoint_bytes",
            "checkpoint_weights_only_bytes", "params_trainable")
    for row in rows:
        for k in keys:
            row[f"{k}_ratio"] = row[k] / base[k] if base[k] else None
    for row in rows:
        row["peak_rss_delta_mb"] = row["peak_rss_delta_bytes"] / 2**20
        row["optimizer_state_mb"] = row["optimizer_state_bytes"] / 2**20
        row["checkpoint_mb"] = row["checkpoint_bytes"] / 2**20
    table(rows, ["strategy", "step_median_s", "step_median_s_ratio", "epoch_est_s_ratio", "peak_rss_delta_mb",
                 "peak_rss_delta_bytes_ratio", "optimizer_state_mb", "optimizer_state_bytes_ratio", "checkpoint_mb",
                 "checkpoint_bytes_ratio"], f"cost per strategy ({args.model}, batch {args.batch_size}, ratios to "
                                            "no_prompt)")
    summary = {s["strategy"]: {k: s[f"{k}_ratio"] for k in keys} for s in rows}
    config = {"model": args.model, "task": args.task, "batch_size": args.batch_size, "prompt_len": args.prompt_len,
              "steps": args.steps, "rounds": args.rounds, "warmup": args.warmup, "probe_steps": args.probe_steps,
              "dataset": "synthetic", "memory_method": "psutil RSS peak delta, 2 ms sampling thread, "
              + ("same process (smoke)" if args.smoke else "one fresh process per strategy"),
              "step_time_median_of": {s: len(v) for s, v in samples.items()}}
    write_result("strategies", args, config, rows, {"ratios_to_no_prompt": summary}, started,
                 notes=["epoch_est_s = median step time x batches per epoch of the strategy's own examples",
                        "checkpoint_bytes: what ModelCheckpoint writes (weights + optimizer state); soft_frozen "
                        "saves no backbone weights"])


if __name__ == "__main__":
    main()
