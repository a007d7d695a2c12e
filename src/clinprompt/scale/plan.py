"""Memory planning per GPU: weights, gradients, optimizer state, activations; does it fit?

Byte rules (per device, N = devices x nodes, P = all parameters, T = trainable, L = largest layer):

- plain PyTorch (cpu / gpu / ddp): parameters in their own dtype (the backbone in ``model.dtype``,
  ``auto`` = bf16 on a GPU, prompts and heads float32); gradients and AdamW's two moments in the
  parameter's dtype plus a float32 ``step`` per tensor; DDP keeps a second copy of the gradients in its
  communication buckets.
- DeepSpeed ZeRO (bf16): DeepSpeed's own multipliers, so the totals equal its estimators
  (``estimate_zero2/3_model_states_mem_needs``): 2 bytes per weight (ZeRO-3: sharded over N, plus a
  4 x L gather buffer), gradients 6 (ZeRO-2: bf16 + fp32 partitions) or 4 (ZeRO-3) bytes per trainable
  parameter / N, 12 bytes per trainable parameter / N for the fp32 master copy and Adam's moments;
  offloading moves those to CPU. DeepSpeed's estimators assume every parameter trains: for a frozen
  backbone they are applied to the trainable set and the frozen weights are added (2 bytes, sharded
  under ZeRO-3).
- activations: what a transformer layer saves for backward (Korthikanti et al. 2022, "Reducing
  activation recomputation"), generalised to an intermediate size and to deep-prompt keys/values:
  per layer ``e*(8sbh + 2sbi + 2bph) + 2sbh`` bytes (e = activation bytes, 1-byte dropout masks),
  plus ``e*2as(s+p) + as(s+p)`` for attention probabilities unless a fused kernel (sdpa/flash) keeps
  none. A frozen backbone saves the same activations: gradients still flow through every layer to the
  prompts. Gradient checkpointing keeps only each layer's input plus one layer's full set.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from clinprompt.backbone import architecture_config, position_limit
from clinprompt.scale.params import ParamCounts, count_params
from clinprompt.strategy import mrc_strategy

GB = 1024**3
DTYPE_BYTES = {"float32": 4, "fp32": 4, "bfloat16": 2, "bf16": 2, "float16": 2, "fp16": 2}


@dataclass(frozen=True)
class Hardware:
    accelerator: str
    devices_per_node: int
    num_nodes: int
    memory_bytes: int  # per device
    name: str

    @property
    def n_devices(self) -> int:
        return self.devices_per_node * self.num_nodes


@dataclass(frozen=True)
class Zero:
    stage: int = 0  # 0: no DeepSpeed
    offload_optimizer: bool = False
    offload_params: bool = False
    bf16: bool = True


@dataclass(frozen=True)
class Sequence:
    batch: int
    tokens: int  # window + query + special tokens
    prompt: int  # deep-prompt positions attended to at every layer


@dataclass
class MemoryPlan:
    weights: int
    gradients: int
    optimizer: int
    gather_buffer: int
    activations: int
    capacity: int
    cpu_offload: int  # bytes moved to host memory per node (DeepSpeed's estimate when it applies)
    deepspeed_model_states: int | None  # DeepSpeed's estimate of weights+grads+optimizer+buffer per GPU

    @property
    def model_states(self) -> int:
        return self.weights + self.gradients + self.optimizer + self.gather_buffer

    @property
    def total(self) -> int:
        return self.model_states + self.activations

    @property
    def fits(self) -> bool:
        return self.total <= self.capacity


# ---- reading the composed config -----------------------------------------------------------------
def _host_memory() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def hardware_of(cfg: Mapping[str, Any]) -> Hardware:
    tr, hw = cfg["trainer"], cfg.get("hardware") or {}
    accelerator = str(tr.get("accelerator", "cpu"))
    devices = tr.get("devices", 1)
    if not isinstance(devices, int) or devices < 1:  # "auto" / -1: all GPUs of a node
        devices = int(hw.get("gpus_per_node", 1))
    if accelerator == "cpu":
        return Hardware("cpu", devices, int(tr.get("num_nodes", 1)), _host_memory(), "host RAM")
    return Hardware(accelerator, devices, int(tr.get("num_nodes", 1)), int(float(hw.get("gpu_memory_gb", 80)) * GB),
                    str(hw.get("gpu", "GPU")))


def zero_of(trainer_cfg: Mapping[str, Any]) -> Zero:
    strategy = trainer_cfg.get("strategy")
    bf16 = str(trainer_cfg.get("precision", "32")).startswith(("bf16", "16"))
    if isinstance(strategy, str) and strategy.startswith("deepspeed_stage_"):  # Lightning's registry names
        return Zero(int(strategy.split("_")[2]), "offload" in strategy, "offload" in strategy and "3" in strategy,
                    bf16)
    if not isinstance(strategy, Mapping) or "config" not in strategy:
        return Zero(0, bf16=bf16)
    zo = strategy["config"].get("zero_optimization", {})

    def offloaded(key: str) -> bool:
        return str((zo.get(key) or {}).get("device", "none")) in ("cpu", "nvme")

    return Zero(int(zo.get("stage", 0)), offloaded("offload_optimizer"), offloaded("offload_param"), bf16)


def backbone_bytes(model_cfg: Mapping[str, Any], accelerator: str) -> int:
    dtype = str(model_cfg.get("dtype") or "auto")
    if dtype == "auto":  # resolve_dtype: bf16 on a bf16-capable GPU, float32 on CPU
        return 4 if accelerator == "cpu" else 2
    return DTYPE_BYTES[dtype]


def sequence_of(cfg: Mapping[str, Any]) -> Sequence:
    """Longest input the DataModule builds: the window (shrunk as ExampleBuilder does) + query + specials."""
    strategy = mrc_strategy(cfg["strategy"], int(cfg.get("prompt_len") or 0))
    limit = position_limit(architecture_config(cfg["model"]))
    window = int(cfg["dataset"].get("window", {}).get("size", 256))
    window = min(window, strategy.window_room(limit))
    return Sequence(int(cfg.get("batch_size", 16)), window + strategy.non_window_tokens, strategy.effective_prompt_len)


# ---- the arithmetic ------------------------------------------------------------------------------
def activation_bytes(arch, seq: Sequence, elem: int, fused_attention: bool = True,
                     gradient_checkpointing: bool = False) -> int:
    s, b, p = seq.tokens, seq.batch, seq.prompt
    h, i, a, n = arch.hidden_size, arch.intermediate_size, arch.num_attention_heads, arch.num_hidden_layers
    layer = elem * (8 * s * b * h + 2 * s * b * i + 2 * b * p * h) + 2 * s * b * h
    if not fused_attention:
        layer += (2 * elem + 1) * a * b * s * (s + p)  # softmax output, its dropout output and mask
    embeddings = elem * 2 * s * b * h + s * b * h
    if gradient_checkpointing:
        return n * elem * s * b * h + layer + embeddings
    return n * layer + embeddings


def _plain_states(c: ParamCounts, bb_bytes: int, trainable_backbone: int, n_devices: int) -> tuple[int, int, int]:
    other = c.total - c.backbone
    weights = c.backbone * bb_bytes + other * 4
    grads = trainable_backbone * bb_bytes + (c.trainable - trainable_backbone) * 4
    optimizer = 2 * grads + 4 * c.trainable_tensors
    if n_devices > 1:
        grads *= 2  # DDP's buckets hold a copy of every gradient
    return weights, grads, optimizer


def _zero_states(c: ParamCounts, z: Zero, n: int) -> tuple[int, int, int, int]:
    w = 2 if z.bf16 else 4
    if z.stage == 3:
        weights = 0 if z.offload_params else int(w * c.total / n)
        gather = 4 * c.largest_layer
        grads = 0 if z.offload_optimizer else int(4 * c.trainable / n)
    else:
        weights, gather = w * c.total, 0
        grads = 0 if z.offload_optimizer else int(6 * c.trainable / n)
    optimizer = 0 if z.offload_optimizer else int(12 * c.trainable / n)
    return weights, grads, optimizer, gather


def deepspeed_estimate(c: ParamCounts, z: Zero, hw: Hardware) -> tuple[int, int]:
    """(per-GPU, per-node CPU) bytes from DeepSpeed's estimators on the trainable set + frozen weights."""
    if z.stage == 3:
        from deepspeed.runtime.zero.stage3 import estimate_zero3_model_states_mem_needs

        # zero_init=False: MRCModule builds the backbone in __init__, outside deepspeed.zero.Init
        cpu, gpu, _ = estimate_zero3_model_states_mem_needs(
            c.trainable, c.largest_layer, hw.devices_per_node, hw.num_nodes, cpu_offload=z.offload_optimizer,
            cpu_offload_params=z.offload_params, zero_init=False)
        frozen = 0 if z.offload_params else int(2 * c.frozen / hw.n_devices)
    else:
        from deepspeed.runtime.zero.stage_1_and_2 import estimate_zero2_model_states_mem_needs

        cpu, gpu = estimate_zero2_model_states_mem_needs(c.trainable, hw.devices_per_node, hw.num_nodes,
                                                         cpu_offload=z.offload_optimizer)
        frozen = 2 * c.frozen
    return gpu + frozen, cpu


def plan_memory(cfg: Mapping[str, Any], counts: ParamCounts | None = None) -> tuple[MemoryPlan, ParamCounts]:
    """The memory plan of a composed run config (keys: model, strategy, dataset, trainer, task,
    prompt_len, batch_size; optional ``hardware.gpu_memory_gb``)."""
    model, strategy, dataset = cfg["model"], cfg["strategy"], cfg["dataset"]
    c = counts or count_params(model, strategy, dataset, cfg.get("task", "concepts"), int(cfg.get("prompt_len", 0)))
    hw, z = hardware_of(cfg), zero_of(cfg["trainer"])
    bb = backbone_bytes(model, hw.accelerator)
    elem = 2 if (z.stage and z.bf16) or bb == 2 else 4
    seq = sequence_of(cfg)
    acts = activation_bytes(architecture_config(model), seq, elem, fused_attention=hw.accelerator != "cpu",
                            gradient_checkpointing=bool(model.get("gradient_checkpointing", False)))
    if z.stage:
        weights, grads, optimizer, gather = _zero_states(c, z, hw.n_devices)
        ds_gpu, ds_cpu = deepspeed_estimate(c, z, hw) if z.bf16 else (None, 0)
    else:
        trainable_backbone = c.backbone if mrc_strategy(strategy).trains_backbone else 0
        weights, grads, optimizer = _plain_states(c, bb, trainable_backbone, hw.n_devices)
        gather, ds_gpu, ds_cpu = 0, None, 0
    return MemoryPlan(weights, grads, optimizer, gather, acts, hw.memory_bytes, ds_cpu, ds_gpu), c


# ---- presentation --------------------------------------------------------------------------------
def _gb(n: int | None) -> str:
    return "—" if n is None else f"{n / GB:.2f} GB"


def describe(cfg: Mapping[str, Any], plan: MemoryPlan, c: ParamCounts) -> str:
    hw, z, seq = hardware_of(cfg), zero_of(cfg["trainer"]), sequence_of(cfg)
    mode = f"DeepSpeed ZeRO-{z.stage}" if z.stage else ("DDP" if hw.n_devices > 1 else "single device")
    if z.offload_optimizer or z.offload_params:
        mode += " + CPU offload (" + ", ".join(k for k, v in (("optimizer", z.offload_optimizer),
                                                               ("params", z.offload_params)) if v) + ")"
    lines = [
        f"model {cfg['model']['name']} · strategy {cfg['strategy']['name']} · {hw.n_devices} x {hw.name} "
        f"({hw.devices_per_node}/node x {hw.num_nodes} node) · {mode}",
        f"parameters: total {c.total:,} · trainable {c.trainable:,} ({c.trainable_pct}%) · "
        f"backbone {c.backbone:,} · prompt {c.prompt:,} · heads {c.head:,}",
        f"batch {seq.batch} x sequence {seq.tokens} tokens" + (f" + {seq.prompt} prompt" if seq.prompt else ""),
        "per device:",
    ]
    rows = [("weights", plan.weights), ("gradients", plan.gradients), ("optimizer state", plan.optimizer)]
    if plan.gather_buffer:
        rows.append(("ZeRO-3 gather buffer", plan.gather_buffer))
    rows += [("activations (estimate)", plan.activations), ("total", plan.total), ("capacity", plan.capacity)]
    lines += [f"  {k:<24}{_gb(v):>12}" for k, v in rows]
    if plan.deepspeed_model_states is not None:
        lines.append(f"  model states: ours {_gb(plan.model_states)} · DeepSpeed estimator "
                     f"{_gb(plan.deepspeed_model_states)} per GPU, {_gb(plan.cpu_offload)} CPU per node")
    verdict = "FITS" if plan.fits else "DOES NOT FIT"
    lines.append(f"{verdict}: {_gb(plan.total)} of {_gb(plan.capacity)} per device")
    return "\n".join(lines)


def plan_row(cfg: Mapping[str, Any], plan: MemoryPlan, c: ParamCounts) -> dict[str, Any]:
    hw, z = hardware_of(cfg), zero_of(cfg["trainer"])
    return {"model": cfg["model"]["name"], "strategy": cfg["strategy"]["name"], "devices": hw.n_devices,
            "zero": z.stage, **{k: v for k, v in asdict(plan).items()}, "total": plan.total, "fits": plan.fits,
            "params_total": c.total, "params_trainable": c.trainable}
