"""README tables from configs alone: parameter accounting and per-GPU memory for the paper's models."""

from __future__ import annotations

from collections.abc import Iterable

from clinprompt.scale.compose import composer
from clinprompt.scale.params import count_params
from clinprompt.scale.plan import GB, plan_memory
from clinprompt.strategy import mrc_strategy

PAPER_MODELS = ("bert", "roberta", "gatortron_345m", "gatortron_3_9b", "gatortron_8_9b")
STRATEGIES = ("no_prompt", "hard_prompt", "soft_unfrozen", "soft_frozen")
PROMPT_LENS = (16, 32, 64, 128)
# the paper's setting: n2c2 2018, concepts and relations (17 prompt blocks)
PAPER_DATA = ("dataset=n2c2_2018", "task=end_to_end")


def _md(header: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return "\n".join(out + ["| " + " | ".join(r) + " |" for r in rows])


def param_rows(models: Iterable[str] = PAPER_MODELS, strategies: Iterable[str] = STRATEGIES,
               prompt_lens: Iterable[int] = PROMPT_LENS, extra: Iterable[str] = PAPER_DATA) -> list[dict]:
    """Total, trainable, trainable-% and AdamW state bytes (float32) for model x strategy x prompt_len.
    Strategies without a soft prompt do not depend on prompt_len and get one row (prompt_len None)."""
    rows = []
    with composer() as make:
        for model in models:
            for strategy in strategies:
                uses_prompt_len = mrc_strategy(make([f"strategy={strategy}"]).strategy).uses_prompt_len
                for plen in (prompt_lens if uses_prompt_len else (None,)):
                    cfg = make([f"model={model}", f"strategy={strategy}", f"prompt_len={plen or 0}", *extra])
                    c = count_params(cfg.model, cfg.strategy, cfg.dataset, cfg.task, int(cfg.prompt_len))
                    rows.append({"model": model, "strategy": strategy, "prompt_len": plen, "total": c.total,
                                 "trainable": c.trainable, "trainable_pct": c.trainable_pct,
                                 "optimizer_state_bytes": c.adamw_state_bytes()})
    return rows


def param_table(**kwargs) -> str:
    rows = [[r["model"], r["strategy"], str(r["prompt_len"] or "–"), f"{r['total']:,}", f"{r['trainable']:,}",
             f"{r['trainable_pct']:.3f}", f"{r['optimizer_state_bytes'] / 2**20:,.1f}"] for r in param_rows(**kwargs)]
    return _md(["model", "strategy", "prompt_len", "total", "trainable", "trainable %", "AdamW state (MiB)"], rows)


def memory_rows(models: Iterable[str] = PAPER_MODELS, strategies: Iterable[str] = STRATEGIES,
                trainers: Iterable[str] = ("gpu", "deepspeed_zero2", "deepspeed_zero3"),
                extra: Iterable[str] = (*PAPER_DATA, "prompt_len=64")) -> list[dict]:
    rows = []
    with composer() as make:
        for model in models:
            for strategy in strategies:
                for trainer in trainers:
                    cfg = make([f"model={model}", f"strategy={strategy}", f"trainer={trainer}", *extra])
                    plan, _ = plan_memory(cfg)
                    rows.append({"model": model, "strategy": strategy, "trainer": trainer, "total": plan.total,
                                 "model_states": plan.model_states, "activations": plan.activations,
                                 "deepspeed": plan.deepspeed_model_states, "fits": plan.fits,
                                 "capacity": plan.capacity})
    return rows


def memory_table(**kwargs) -> str:
    rows = memory_rows(**kwargs)
    trainers = list(dict.fromkeys(r["trainer"] for r in rows))
    cells: dict[tuple[str, str], list[str]] = {}
    for r in rows:
        ds = f" (DS {r['deepspeed'] / GB:.1f})" if r["deepspeed"] is not None else ""
        cell = f"{r['total'] / GB:.1f}{ds} {'✓' if r['fits'] else '✗'}"
        cells.setdefault((r["model"], r["strategy"]), []).append(cell)
    return _md(["model", "strategy", *[f"{t} GB/GPU" for t in trainers]],
               [[m, s, *v] for (m, s), v in cells.items()])
