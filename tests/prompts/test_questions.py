"""The question registry: one distinct question per type of each dataset, relation templates name the head."""

from __future__ import annotations

import pytest

from clinprompt.data.corpora.base import N2C2_2018_ENTITY_TYPES, N2C2_2018_RELATION_TYPES
from clinprompt.prompts.questions import QUESTIONS, question_for

EXPECTED = {
    "n2c2_2018": (N2C2_2018_ENTITY_TYPES, N2C2_2018_RELATION_TYPES),
    "ade": (("Drug", "AdverseEffect", "Dose"), ("AdverseEffect-Drug", "Dose-Drug")),
}

KEYWORD = {"Drug": "drug", "Strength": "strength", "Dosage": "dosage", "Duration": "how long", "Frequency": "how often",
           "Form": "form", "Route": "route", "Reason": "reason", "ADE": "adverse", "AdverseEffect": "adverse",
           "Dose": "dose"}


@pytest.mark.parametrize("dataset", sorted(EXPECTED))
def test_every_type_has_its_own_question(dataset):
    entities, relations = EXPECTED[dataset]
    table = QUESTIONS[dataset]
    assert set(entities) | set(relations) <= set(table)
    texts = [table[t] for t in (*entities, *relations)]
    assert len(set(texts)) == len(texts), "two types share a question (copy-paste?)"
    for rel in relations:
        assert "{head}" in table[rel]
        # the question asks for the relation's tail type, e.g. 'dosage' for Dosage-Drug
        assert KEYWORD[rel.split("-")[0]] in table[rel].lower(), (rel, table[rel])
    for ent in entities:
        assert "{head}" not in table[ent] and KEYWORD[ent] in table[ent].lower(), (ent, table[ent])


def test_relation_question_names_the_head():
    assert question_for("n2c2_2018", "Dosage-Drug", head="warfarin") == "What is the dosage of warfarin?"


def test_unknown_type_is_a_clear_error_and_generic_corpora_get_a_neutral_question():
    with pytest.raises(KeyError, match="no question for type 'Foo'.*questions.py"):
        question_for("n2c2_2018", "Foo")
    assert question_for("my_brat", "Problem") == "Find all Problem mentions."
