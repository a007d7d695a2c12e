"""Hard-prompt questions are data (``dataset.questions``): one distinct question per type of each dataset,
relation templates name the head, and a command-line override reaches the examples a run builds."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.utils import instantiate
from omegaconf import OmegaConf

from clinprompt.config import conf_dir
from clinprompt.data.corpora.base import N2C2_2018_ENTITY_TYPES, N2C2_2018_RELATION_TYPES
from clinprompt.schema import EVENT_ARGUMENTS, Schema

CONF = conf_dir()
EXPECTED = {
    "n2c2_2018": (N2C2_2018_ENTITY_TYPES, N2C2_2018_RELATION_TYPES),
    "ade": (("Drug", "AdverseEffect", "Dose"), ("AdverseEffect-Drug", "Dose-Drug")),
}

KEYWORD = {"Drug": "drug", "Strength": "strength", "Dosage": "dosage", "Duration": "how long", "Frequency": "how often",
           "Form": "form", "Route": "route", "Reason": "reason", "ADE": "adverse", "AdverseEffect": "adverse",
           "Dose": "dose"}


def questions(dataset: str) -> dict[str, str]:
    return OmegaConf.to_container(OmegaConf.load(CONF / "dataset" / f"{dataset}.yaml"))["questions"]


@pytest.mark.parametrize("dataset", sorted(EXPECTED))
def test_every_type_has_its_own_question(dataset):
    entities, relations = EXPECTED[dataset]
    table = questions(dataset)
    assert set(entities) | set(relations) <= set(table)
    texts = [table[t] for t in (*entities, *relations)]
    assert len(set(texts)) == len(texts), "two types share a question (copy-paste?)"
    for rel in relations:
        assert "{head}" in table[rel]
        # the question asks for the relation's tail type, e.g. 'dosage' for Dosage-Drug
        assert KEYWORD[rel.split("-")[0]] in table[rel].lower(), (rel, table[rel])
    for ent in entities:
        assert "{head}" not in table[ent] and KEYWORD[ent] in table[ent].lower(), (ent, table[ent])


def test_sdoh_asks_every_event_argument_naming_the_trigger():
    table = questions("sdoh")
    for event, args in EVENT_ARGUMENTS.items():
        assert event in table and "{head}" not in table[event]
        for arg in args:
            assert "{head}" in table[f"{arg}-{event}"], (arg, event)


@pytest.mark.parametrize("synthetic,real", [("synthetic", "n2c2_2018"), ("sdoh_synthetic", "sdoh")])
def test_synthetic_corpora_ask_what_their_real_counterparts_ask(synthetic, real):
    # the synthetic corpora stand in for the real ones: a CPU study must ask the paper's questions
    assert questions(synthetic) == questions(real)


def test_relation_question_names_the_head():
    schema = Schema("n2c2_2018", ("Drug", "Dosage"), questions=questions("n2c2_2018"))
    assert schema.question("Dosage-Drug", head="warfarin") == "What is the dosage of warfarin?"


def test_unknown_type_is_a_clear_error_and_generic_corpora_get_a_neutral_question():
    with pytest.raises(KeyError, match="no question for type 'Foo'.*dataset.questions"):
        Schema("n2c2_2018", ("Drug",), questions=questions("n2c2_2018")).question("Foo")
    generic = Schema("my_brat", ("Problem",), questions=questions("brat"))
    assert generic.question("Problem") == "Find all Problem mentions."
    assert generic.question("Has-Problem", head="fever") == "Find fever Has-Problem."


def test_questions_survive_the_saved_schema():
    import json

    schema = Schema("ade", ("Drug",), questions={"Drug": "Which {pills}?"})
    saved = json.loads(json.dumps(schema.__dict__))  # what a checkpoint's hyper-parameters hold
    assert Schema.from_dict(saved).question("Drug") == "Which {pills}?"  # braces other than {head} stay


def hard_prompt_questions(tmp_path: Path, overrides: list[str]) -> tuple[dict[str, tuple[int, ...]], object]:
    """The question tokens of the first concept example of each type, as a run composed with ``overrides``
    builds them (Hydra config -> DataModule -> ExampleBuilder), and the run's tokenizer."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("train", overrides=["model=tiny_bert", "strategy=hard_prompt", f"paths.cache_dir={tmp_path}",
                                          "dataset.loader.n_train=2", "dataset.loader.n_dev=1",
                                          "dataset.loader.n_test=1", "dataset.cache=false", *overrides])
    dm = instantiate(cfg.module.datamodule, cache_dir=None, _recursive_=False)  # as training/run.py does
    dm.setup("fit")
    out: dict[str, tuple[int, ...]] = {}
    for ex in dm.train_examples:
        if ex.task == "concepts":
            out.setdefault(ex.channels[0], ex.input_ids[1:ex.ctx_offset - 1])
    return out, dm.tokenizer


def test_a_question_overridden_in_config_changes_that_types_examples(tmp_path):
    default, tokenizer = hard_prompt_questions(tmp_path, [])
    changed, _ = hard_prompt_questions(tmp_path, ["dataset.questions.Drug='Which pills are named here?'"])

    def ids(text: str) -> tuple[int, ...]:
        return tuple(tokenizer(text, add_special_tokens=False)["input_ids"])

    assert default["Drug"] == ids("Which medications, drugs or drug classes are mentioned?")
    assert changed["Drug"] == ids("Which pills are named here?")
    assert changed["Strength"] == default["Strength"] == ids(
        "What is the strength (amount of active ingredient per unit) of a medication?")
