"""The typed strategy: built from every strategy file without losing a key, the only place prompt length and window
budget are derived, and YAML values that agree with the code defaults they shadow."""

from __future__ import annotations

import inspect

import pytest
from omegaconf import OmegaConf

from clinprompt.config import conf_dir
from clinprompt.data.document import Document
from clinprompt.data.mrc import ExampleBuilder, Schema
from clinprompt.data.windows import tokenize_document
from clinprompt.models.span_heads import HeadOptions
from clinprompt.strategy import (
    LearningRates,
    MRCStrategy,
    PromptOptions,
    QAStrategy,
    Query,
    StrategyError,
    build_strategy,
    prompt_defaults,
)


def load(repo_root, group: str, name: str) -> dict:
    return OmegaConf.to_container(OmegaConf.load(conf_dir() / group / f"{name}.yaml"))


def strategy_files(repo_root) -> dict[str, dict]:
    folder = conf_dir() / "strategy"
    return {p.stem: load(repo_root, "strategy", p.stem) for p in sorted(folder.glob("*.yaml"))}


def flat(d: dict, prefix: str = "") -> dict[str, object]:
    out: dict[str, object] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def test_every_strategy_file_builds_and_keeps_every_value(repo_root):
    """No key of a strategy file is ignored: each reaches the typed strategy unchanged."""
    for name, cfg in strategy_files(repo_root).items():
        s = build_strategy(cfg, prompt_len=16)
        assert isinstance(s, MRCStrategy if "query" in cfg else QAStrategy), name
        recorded = flat(s.to_config())
        for key, value in flat(cfg).items():
            assert recorded[key] == value, (name, key)


def test_a_misspelt_or_unknown_option_is_refused():
    with pytest.raises(StrategyError, match="strategy.lr_head"):
        build_strategy({"name": "x", "query": "hard", "freeze_backbone": False, "lr_head": 1e-3})
    with pytest.raises(StrategyError, match="strategy.prompt.reparam_hiden"):
        build_strategy({"name": "x", "query": "soft", "freeze_backbone": False, "prompt": {"reparam_hiden": 8}})
    with pytest.raises(StrategyError, match="strategy.query='sof'"):
        build_strategy({"name": "x", "query": "sof", "freeze_backbone": False})
    with pytest.raises(StrategyError, match="strategy.method='prefix'"):
        build_strategy({"name": "x", "method": "prefix"})


def test_a_value_every_strategy_file_of_a_family_shares_is_the_code_default(repo_root):
    """A setting that every MRC (or every QA) strategy file spelling it out agrees on must be the dataclass
    default, so a strategy written without it behaves like the shipped ones (the old code's head rate was 1e-3
    where every file said 3e-3)."""
    checked = 0
    for family in ("query", "method"):
        seen: dict[str, list[tuple[object, object]]] = {}
        for cfg in strategy_files(repo_root).values():
            if family not in cfg:
                continue
            defaults = {"train": True, "weight_decay": 0.01,
                        **{f"lr.{k}": v for k, v in LearningRates().__dict__.items()},
                        **{f"prompt.{k}": v for k, v in prompt_defaults(cfg.get("method")).__dict__.items()}}
            for key, value in flat(cfg).items():
                if key in defaults:
                    seen.setdefault(key, []).append((value, defaults[key]))
        for key, pairs in seen.items():
            if len(pairs) >= 2 and len({repr(v) for v, _ in pairs}) == 1:
                assert all(v == d for v, d in pairs), (family, key, pairs)
                checked += 1
    assert checked >= 6  # train, lr.head and the soft strategies' prompt options among them


def test_effective_prompt_length_and_window_budget():
    assert [Query(q).effective_prompt_len(16) for q in ("none", "hard", "soft")] == [0, 0, 16]
    # 512 positions: [CLS] + window + [SEP], plus a 48-token question and its [SEP] (hard) or 16 prompt positions
    assert [Query(q).window_room(16, 512) for q in ("none", "hard", "soft")] == [510, 461, 494]
    frozen = build_strategy({"name": "soft_frozen", "query": "soft", "freeze_backbone": True}, prompt_len=8)
    assert frozen.effective_prompt_len == 8 and not frozen.trains_backbone and frozen.saves_only_trained
    assert frozen.prompt == PromptOptions()  # a soft query always has prompt options


@pytest.mark.parametrize("query", ["none", "hard", "soft"])
def test_the_builder_and_the_planner_use_the_same_budget(tokenizer, query):
    """Windows shrink to exactly the room the strategy leaves, and the longest real input (+ prompt) fits."""
    from clinprompt.scale.plan import sequence_of

    schema = Schema("n2c2_2018", ("Drug", "Strength"))
    text = " ".join(["Metoprolol 25 mg daily for hypertension and aspirin 81 mg."] * 120)
    doc = Document("d", text, {})
    limit, prompt_len = 128, 12
    builder = ExampleBuilder(tokenizer, schema, query, 500, 400, 8, limit, prompt_len)
    s = build_strategy({"name": query, "query": query, "freeze_backbone": False}, prompt_len)
    assert builder.window_size == s.window_room(limit)
    longest = max(len(e.input_ids) for e in builder.concept_examples(tokenize_document(doc, tokenizer), doc))
    assert longest + s.effective_prompt_len <= limit
    cfg = {"strategy": {"name": query, "query": query, "freeze_backbone": False}, "prompt_len": prompt_len,
           "batch_size": 2, "dataset": {"window": {"size": 500}},
           "model": {"name": "t", "tiny": {"architecture": "bert", "hidden_size": 32, "num_hidden_layers": 2,
                                           "num_attention_heads": 2, "intermediate_size": 37,
                                           "max_position_embeddings": limit}}}
    seq = sequence_of(cfg)
    assert seq.prompt == s.effective_prompt_len and seq.tokens + seq.prompt == limit
    if query != "hard":  # a hard question may be shorter than its budget
        assert seq.tokens == longest


def _literal_defaults(target: type, cfg: dict) -> list[tuple[str, object, object]]:
    params = inspect.signature(target.__init__).parameters
    return [(k, v, params[k].default) for k, v in cfg.items()
            if k in params and params[k].default is not inspect.Parameter.empty
            and not (isinstance(v, str) and v.startswith("${")) and not isinstance(v, dict)]


@pytest.mark.parametrize("module", ["mrc", "qa"])
def test_module_yaml_values_equal_the_code_defaults(repo_root, module):
    """A module config's literal values are the constructors' defaults (pos_weight 10 vs 1, flat true vs false and
    eval_batch_size 64 vs 32 once disagreed), so a module built in code behaves like one built from the config."""
    from hydra.utils import get_class

    cfg = load(repo_root, "module", module)
    checked = 0
    for part in ("datamodule", "lightning_module"):
        for key, value, default in _literal_defaults(get_class(cfg[part]["_target_"]), cfg[part]):
            assert value == default, (module, part, key)
            checked += 1
    heads = cfg["lightning_module"].get("heads")
    if heads is not None:
        literal = {k: v for k, v in heads.items() if not (isinstance(v, str) and v.startswith("${"))}
        assert HeadOptions.from_config(literal) == HeadOptions()
        assert set(heads) == set(HeadOptions().to_config())  # every head option is spelt out in the config
    assert checked >= 2


def _run(root, strategy: str, prompt_len: int, per_doc: dict[str, list[int]], recorded: dict | None):
    import json

    from clinprompt.reporting.collect import Run

    run_dir = root / f"{strategy}-{prompt_len}"
    (run_dir / ".hydra").mkdir(parents=True)
    if recorded is not None:  # the run's resolved config, as Hydra records it
        OmegaConf.save({"strategy": recorded, "prompt_len": prompt_len}, run_dir / ".hydra" / "config.yaml")
    docs = {d: {"concepts": {"strict": c, "lenient": c}} for d, c in per_doc.items()}
    (run_dir / "per_document.json").write_text(json.dumps({"test": docs}))
    tp, fp, fn = (sum(c[i] for c in per_doc.values()) for i in range(3))
    micro = {"f1": 2 * tp / (2 * tp + fp + fn)}
    grid = {"strategy": strategy, "prompt_len": prompt_len, "seed": 1, "fold": None}
    return Run(run_dir, "finished", grid=grid, metrics={"test": {"concepts": {"strict": {"micro": micro}}}})


@pytest.mark.parametrize("baseline_query", ["none", "soft"])
def test_reports_learn_the_baselines_kind_from_its_recorded_config(tmp_path, baseline_query):
    """A baseline without a prompt is compared at every prompt length; one with a deep prompt only at its own, whatever
    its name says (the name here says neither)."""
    from clinprompt.reporting.tables import add_comparisons, summary_table

    docs = {"d1": [4, 2, 2], "d2": [3, 1, 1]}
    base = {"name": "reference", "query": baseline_query, "freeze_backbone": False}
    soft = {"name": "soft_frozen", "query": "soft", "freeze_backbone": True}
    runs = [_run(tmp_path, "reference", 16, docs, base), _run(tmp_path, "soft_frozen", 4, docs, soft)]
    keys = ["strategy", "prompt_len"]
    table = add_comparisons(summary_table(runs, keys), runs, keys, "reference", n_resamples=99)
    delta = table.set_index("strategy").loc["soft_frozen", "Δ concept strict F1 vs reference"]
    if baseline_query == "none":
        assert delta == pytest.approx(0.0)
    else:
        assert delta is None or delta != delta  # no baseline run at prompt_len 4: no comparison (None / NaN)
