"""Memory planner and parameter accounting: checked against hand counts, a real model and DeepSpeed."""

from __future__ import annotations

import pytest
import torch

from clinprompt.scale.compose import composer
from clinprompt.scale.params import build_meta_model, count_model, count_params, schema_for
from clinprompt.scale.plan import GB, plan_memory


@pytest.fixture(scope="module")
def make():
    with composer() as compose:
        yield compose


def test_tiny_bert_soft_frozen_prompt_params_by_hand(make):
    cfg = make(["model=tiny_bert", "strategy=soft_frozen", "prompt_len=16"])
    c = count_params(cfg.model, cfg.strategy, cfg.dataset, cfg.task, cfg.prompt_len)
    h, layers, r, blocks, plen = 32, 2, 256, 9, 16  # tiny_bert dims; 9 n2c2 entity types (task=concepts)
    embedding = blocks * plen * h
    mlp = (h * r + r) + (r * layers * 2 * h + layers * 2 * h)
    # concepts only: no relation head and no head marker (no loss would reach them)
    assert c.prompt == embedding + mlp == 45952
    one_head = 3 * (h + 1) + (h * h + h) + h * h  # start, end, match (1 channel) + left + right
    assert c.head == one_head == 2179
    assert c.trainable == c.prompt + c.head  # backbone frozen
    assert c.total == c.backbone + c.prompt + c.head


def test_meta_count_equals_real_model(make, tokenizer):
    """The meta-device count equals the parameters of the real MRCModel built with weights."""
    from transformers import AutoModel

    from clinprompt.backbone import load_config
    from clinprompt.models.mrc_model import MRCModel

    cfg = make(["model=tiny_bert", "strategy=soft_unfrozen", "prompt_len=8", "task=end_to_end"])
    schema = schema_for(cfg.dataset, cfg.task)
    assert (len(schema.entity_types), len(schema.relation_types)) == (9, 8)
    meta = count_model(build_meta_model(cfg.model, cfg.strategy, schema, 8, cfg.dataset.max_span_width))
    backbone = AutoModel.from_config(load_config(cfg.model), add_pooling_layer=False)
    real = MRCModel(backbone, schema, "soft", 8, dict(cfg.strategy.prompt))
    assert meta.total == sum(p.numel() for p in real.parameters())
    assert meta.backbone == sum(p.numel() for p in backbone.parameters())


def test_adamw_state_bytes_equal_a_real_optimizer(make):
    from clinprompt.training.accounting import optimizer_state_bytes

    cfg = make(["model=tiny_bert", "strategy=soft_frozen", "prompt_len=4"])
    c = count_params(cfg.model, cfg.strategy, cfg.dataset, cfg.task, 4)
    from transformers import AutoModel

    from clinprompt.backbone import load_config
    from clinprompt.models.mrc_model import MRCModel

    net = MRCModel(AutoModel.from_config(load_config(cfg.model), add_pooling_layer=False),
                   schema_for(cfg.dataset, cfg.task), "soft", 4, dict(cfg.strategy.prompt))
    net.backbone.requires_grad_(False)
    params = [p for p in net.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params)
    for p in params:
        p.grad = torch.ones_like(p)
    opt.step()

    class FakeTrainer:
        optimizers = [opt]

    assert optimizer_state_bytes(FakeTrainer()) == c.adamw_state_bytes()


# ZeRO-2 has no parameter offload
ZERO_SETUPS = [("deepspeed_zero2", ()), ("deepspeed_zero2", ("optimizer",)), ("deepspeed_zero3", ()),
               ("deepspeed_zero3", ("optimizer",)), ("deepspeed_zero3", ("optimizer", "param"))]


@pytest.mark.parametrize("trainer,offload", ZERO_SETUPS)
@pytest.mark.parametrize("strategy", ["hard_prompt", "soft_frozen"])
def test_model_states_equal_deepspeed_estimators(make, trainer, strategy, offload):
    zo = "trainer.strategy.config.zero_optimization"
    extra = [f"{zo}.offload_{k}.device=cpu" for k in offload]
    cfg = make(["model=gatortron_8_9b", f"strategy={strategy}", f"trainer={trainer}", *extra])
    plan, c = plan_memory(cfg)
    assert plan.deepspeed_model_states is not None
    assert abs(plan.model_states - plan.deepspeed_model_states) <= 2  # int() rounding of the shards
    if strategy == "hard_prompt":  # all trainable: DeepSpeed's estimator applies as is
        from deepspeed.runtime.zero.stage3 import estimate_zero3_model_states_mem_needs
        from deepspeed.runtime.zero.stage_1_and_2 import estimate_zero2_model_states_mem_needs

        if trainer.endswith("2"):
            _, gpu = estimate_zero2_model_states_mem_needs(c.total, 8, 1, cpu_offload=bool(offload))
        else:
            _, gpu, _ = estimate_zero3_model_states_mem_needs(c.total, c.largest_layer, 8, 1,
                                                              cpu_offload=bool(offload),
                                                              cpu_offload_params="param" in offload)
        assert abs(plan.model_states - gpu) <= 2


def test_the_issue_story_frozen_fits_one_gpu_full_needs_zero3(make):
    # at 16 examples per GPU (the paper-sized runs' batch; the CPU default is 8)
    frozen, _ = plan_memory(make(["model=gatortron_8_9b", "strategy=soft_frozen", "trainer=gpu", "batch_size=16"]))
    full_one, _ = plan_memory(make(["model=gatortron_8_9b", "strategy=hard_prompt", "trainer=gpu", "batch_size=16"]))
    full_z3, _ = plan_memory(make(["model=gatortron_8_9b", "strategy=hard_prompt", "trainer=deepspeed_zero3",
                                   "batch_size=16"]))
    assert frozen.fits and not full_one.fits and full_z3.fits
    # 8.8B backbone weights in bf16 dominate the frozen run: 2 bytes x 8.8e9 = 16.4 GiB
    assert 16 * GB < frozen.weights < 17.5 * GB


def test_activation_estimate_scales_with_batch_and_checkpointing(make):
    a, _ = plan_memory(make(["model=bert", "strategy=hard_prompt", "trainer=gpu", "batch_size=8"]))
    b, _ = plan_memory(make(["model=bert", "strategy=hard_prompt", "trainer=gpu", "batch_size=16"]))
    gc, _ = plan_memory(make(["model=bert", "strategy=hard_prompt", "trainer=gpu", "batch_size=16",
                              "model.gradient_checkpointing=true"]))
    assert b.activations == 2 * a.activations
    assert gc.activations < b.activations / 4


def test_cli_prints_plan_and_exit_code(capsys):
    from clinprompt.cli.plan import main

    assert main(["model=gatortron_8_9b", "strategy=hard_prompt", "trainer=gpu", "batch_size=16"]) == 1
    assert "DOES NOT FIT" in capsys.readouterr().out
    assert main(["model=tiny_bert", "strategy=soft_frozen"]) == 0
    assert main(["model=does_not_exist"]) == 2
    assert "model/does_not_exist" in capsys.readouterr().err


def test_activation_formula_against_autograd_saved_tensors():
    """The per-layer formula vs what autograd actually saves for backward (eager attention, fp32, dropout)."""
    from transformers import AutoModel, BertConfig

    from clinprompt.scale.plan import Sequence, activation_bytes

    cfg = BertConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=256,
                     vocab_size=1000, attn_implementation="eager")
    model = AutoModel.from_config(cfg, add_pooling_layer=False).train()
    saved: dict[tuple, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        saved[(t.data_ptr(), tuple(t.shape), t.dtype)] = t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(input_ids=torch.randint(0, 1000, (4, 96)))
    weights = {p.data_ptr() for p in model.parameters()}
    measured = sum(v for (ptr, _, _), v in saved.items() if ptr not in weights)
    estimate = activation_bytes(cfg, Sequence(batch=4, tokens=96, prompt=0), elem=4, fused_attention=False)
    assert 0.7 < estimate / measured < 1.3


@pytest.mark.parametrize("override, expected", [
    ("batch_size=-16", "clinprompt-plan: batch_size=-16: must be at least 1; set batch_size to a positive number"),
    ("batch_size=0", "clinprompt-plan: batch_size=0: must be at least 1"),
    ("prompt_len=abc", "clinprompt-plan: prompt_len='abc': not a whole number; set prompt_len"),
    ("prompt_len=-4", "clinprompt-plan: prompt_len=-4: must be at least 1"),
    ("model.local_path=/nonexistent", "clinprompt-plan: model.local_path=/nonexistent: the folder /nonexistent does"),
])
def test_plan_validates_values_like_train(override, expected, capsys):
    from clinprompt.cli.plan import main

    assert main(["model=gatortron_8_9b", "strategy=soft_frozen", "trainer=gpu", override]) == 2
    out = capsys.readouterr()
    assert out.out == "" and out.err.startswith(expected) and len(out.err.strip().splitlines()) == 1


def test_readme_plan_examples_print_what_they_claim(repo_root, capsys):
    """Every `clinprompt-plan k=v ...` line in README's planner block, run as shown, prints each number its
    comment lines quote."""
    import re
    import shlex

    from clinprompt.cli.plan import main

    text = (repo_root / "README.md").read_text()
    block = text[text.index("### Memory planner"):]
    block = block[block.index("```bash") + 7:block.index("```", block.index("```bash") + 7)]
    examples: list[tuple[list[str], list[str]]] = []
    for line in block.splitlines():
        if line.startswith("clinprompt-plan ") and "--" not in line:
            examples.append((shlex.split(line)[1:], []))
        elif line.startswith("#") and examples:
            examples[-1][1].extend(re.findall(r"\d+\.\d+", line))
    assert len(examples) == 2 and all(nums for _, nums in examples)
    for args, numbers in examples:
        assert main(args) == 0
        out = capsys.readouterr().out
        printed = set(re.findall(r"\d+\.\d+", out))
        assert set(numbers) <= printed, (args, sorted(set(numbers) - printed))
