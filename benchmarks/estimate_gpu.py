"""ESTIMATED (not measured) GPU figures: GatorTron-8.9B frozen vs unfrozen on A100-80GB.

    python benchmarks/estimate_gpu.py

Run time: about 30 seconds (configs and arithmetic only; nothing is downloaded or allocated).
`--smoke`: hard_prompt, soft_unfrozen, soft_frozen on one GPU.

No GPU is available here, so every figure in this benchmark is an ESTIMATE:
- memory per GPU: clinprompt's memory planner (clinprompt.scale.plan.plan_memory: weights, gradients,
  optimizer state, activations; DeepSpeed's own estimators under ZeRO), and the largest batch (power
  of two) whose plan fits in 80 GB;
- training throughput from FLOPs: forward = 2 FLOPs per multiply-accumulate over the encoder's matrix
  weights per token, plus attention scores over the prompt + real tokens; training = forward + backward,
  where backward costs 2x forward when the weights train and 1x forward (input gradients only, still
  through every layer down to the deep prompts) for the linear layers of a frozen backbone; at an
  assumed model-FLOPs utilisation (--mfu, default 0.40) of the A100's 312 TFLOPS bf16 dense peak.
"""

from __future__ import annotations

import time
from typing import Any

from clinprompt.backbone import architecture_config
from clinprompt.scale.compose import composer
from clinprompt.scale.plan import GB, plan_memory, sequence_of

from common import parse, parser, table, write_result

STRATEGIES = ("no_prompt", "hard_prompt", "soft_unfrozen", "soft_frozen")
TRAINERS = ("gpu", "deepspeed_zero2", "deepspeed_zero3")
A100_BF16_FLOPS = 312e12


def forward_flops(arch, tokens: int, prompt: int) -> tuple[float, float]:
    """(linear-layer FLOPs, attention-score FLOPs) of one example's forward pass."""
    h, i, n = arch.hidden_size, arch.intermediate_size, arch.num_hidden_layers
    linear = 2 * tokens * n * (4 * h * h + 2 * h * i)  # Q, K, V, O projections and the two MLP matrices
    attention = 2 * n * 2 * tokens * (tokens + prompt) * h  # QK^T and attention x V over prompt + real keys
    return float(linear), float(attention)


def train_flops(arch, tokens: int, prompt: int, frozen: bool) -> float:
    linear, attention = forward_flops(arch, tokens, prompt)
    # backward: input gradients (1x forward) always; weight gradients (1x) only when the weights train
    return linear * (2 if frozen else 3) + attention * 3


def largest_batch(make, overrides: list[str], limit: int = 1024) -> int:
    """Largest power-of-two batch whose memory plan fits (0: not even batch 1)."""
    best, b = 0, 1
    while b <= limit:
        plan, _ = plan_memory(make([*overrides, f"batch_size={b}"]))
        if not plan.fits:
            break
        best, b = b, b * 2
    return best


def row_for(make, model: str, strategy: str, trainer: str, args) -> dict[str, Any]:
    ov = [f"model={model}", f"strategy={strategy}", f"trainer={trainer}", f"prompt_len={args.prompt_len}",
          f"dataset={args.dataset}", f"task={args.task}"]
    cfg = make([*ov, f"batch_size={args.batch_size}"])
    plan, counts = plan_memory(cfg)
    seq = sequence_of(cfg)
    arch = architecture_config(cfg["model"])
    frozen = bool(cfg["strategy"].get("freeze_backbone", False))
    flops = train_flops(arch, seq.tokens, seq.prompt, frozen)
    n_gpus = int(cfg["trainer"]["devices"]) * int(cfg["trainer"].get("num_nodes", 1))
    per_s = args.mfu * A100_BF16_FLOPS * n_gpus / flops
    return {"kind": "ESTIMATE", "model": model, "strategy": strategy, "trainer": trainer, "gpus": n_gpus,
            "frozen_backbone": frozen, "params_trainable": counts.trainable, "params_total": counts.total,
            "seq_tokens": seq.tokens, "prompt_tokens": seq.prompt, "batch_per_gpu": args.batch_size,
            "memory_per_gpu_gb": plan.total / GB, "model_states_gb": plan.model_states / GB,
            "activations_gb": plan.activations / GB, "fits_80gb": plan.fits,
            "largest_batch_per_gpu": largest_batch(make, ov), "train_tflop_per_example": flops / 1e12,
            "train_examples_per_s": per_s}


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--model", default="gatortron_8_9b")
    p.add_argument("--dataset", default="n2c2_2018")
    p.add_argument("--task", default="end_to_end")
    p.add_argument("--prompt-len", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=16, help="per GPU")
    p.add_argument("--mfu", type=float, default=0.40, help="assumed model-FLOPs utilisation")
    args = parse(p)
    strategies, trainers = (("hard_prompt", "soft_unfrozen", "soft_frozen"), ("gpu",)) if args.smoke else (
        STRATEGIES, TRAINERS)
    started = time.perf_counter()
    with composer() as make:
        rows = [row_for(make, args.model, s, t, args) for t in trainers for s in strategies]
    for r in rows:
        ref = next(x for x in rows if x["trainer"] == r["trainer"] and x["strategy"] == "hard_prompt")
        r["throughput_vs_hard_prompt"] = r["train_examples_per_s"] / ref["train_examples_per_s"]
        r["memory_vs_hard_prompt"] = r["memory_per_gpu_gb"] / ref["memory_per_gpu_gb"]
    table(rows, ["strategy", "trainer", "gpus", "memory_per_gpu_gb", "fits_80gb", "largest_batch_per_gpu",
                 "train_examples_per_s", "throughput_vs_hard_prompt", "memory_vs_hard_prompt"],
          f"ESTIMATES ({args.model}, A100-80GB, MFU {args.mfu}, batch {args.batch_size}/GPU, prompt_len "
          f"{args.prompt_len}) — planner + FLOPs, not measured")
    by = {(r["strategy"], r["trainer"]): r for r in rows}
    summary = {"kind": "ESTIMATE", "per_trainer": {}}
    for t in trainers:
        fz = by[("soft_frozen", t)]
        entry = {"frozen_fits": fz["fits_80gb"]}
        # soft_unfrozen: the same inputs (prompt, no question), so the ratio isolates freezing the backbone
        for ref in ("soft_unfrozen", "hard_prompt"):
            if (ref, t) in by:
                uf = by[(ref, t)]
                entry[f"frozen_over_{ref}_throughput"] = fz["train_examples_per_s"] / uf["train_examples_per_s"]
                entry[f"frozen_over_{ref}_memory"] = fz["memory_per_gpu_gb"] / uf["memory_per_gpu_gb"]
                entry[f"{ref}_fits"] = uf["fits_80gb"]
        summary["per_trainer"][t] = entry
    config = {"model": args.model, "dataset": args.dataset, "task": args.task, "prompt_len": args.prompt_len,
              "batch_size_per_gpu": args.batch_size, "mfu": args.mfu, "peak_flops": A100_BF16_FLOPS,
              "gpu": "A100-80GB", "strategies": list(strategies), "trainers": list(trainers)}
    write_result("estimate_gpu", args, config, rows, summary, started,
                 notes=["ESTIMATES, not measurements: memory from clinprompt.scale.plan, throughput from FLOPs "
                        "at an assumed MFU",
                        "per example: no_prompt asks one query per window, the others one per type, so per "
                        "document no_prompt does ~1/17 of the work on n2c2 (17 types and relations)"])


if __name__ == "__main__":
    main()
