"""Relation MRC examples on a hand-made note: heads, tails, negatives, the head's context, labelled values."""

from __future__ import annotations

import pytest

from clinprompt.data.document import Attribute, Document, Entity, Relation
from clinprompt.data.mrc import ExampleBuilder, predicted_head_examples, swap_in
from clinprompt.data.windows import tokenize_document
from clinprompt.schema import Schema

# three sentences: aspirin's strength in its own sentence, its reason in the next, its frequency two away
TEXT = "Start aspirin 81 mg and ibuprofen 2 tabs. Take it for chest pain. Then twice daily."
RELS = ("Strength-Drug", "Dosage-Drug", "Reason-Drug", "Frequency-Drug")
QUESTIONS = {"Drug": "Which medications are mentioned?", "Strength": "What is the strength of a medication?",
             "Dosage": "What is the dosage of a medication?", "Reason": "Why is a medication given?",
             "Frequency": "How often is a medication taken?", "Strength-Drug": "What is the strength of {head}?",
             "Dosage-Drug": "What is the dosage of {head}?", "Reason-Drug": "Why is {head} given?",
             "Frequency-Drug": "How often is {head} taken?"}
SCHEMA = Schema("n2c2_2018", ("Drug", "Strength", "Dosage", "Reason", "Frequency"), RELS,
                {r: (r.split("-")[0], "Drug") for r in RELS}, questions=QUESTIONS)
SENTENCES = [(0, 41), (42, 65), (66, 83)]


def span(text: str, sub: str) -> tuple[int, int]:
    s = text.index(sub)
    return s, s + len(sub)


@pytest.fixture(scope="module")
def doc() -> Document:
    ents = {}
    for eid, etype, sub in (("T1", "Drug", "aspirin"), ("T2", "Strength", "81 mg"), ("T3", "Drug", "ibuprofen"),
                            ("T4", "Dosage", "2 tabs"), ("T5", "Reason", "chest pain"),
                            ("T6", "Frequency", "twice daily")):
        ents[eid] = Entity(eid, etype, (span(TEXT, sub),))
    rels = {"R1": Relation("R1", "Strength-Drug", "T2", "T1"), "R2": Relation("R2", "Dosage-Drug", "T4", "T3"),
            "R3": Relation("R3", "Reason-Drug", "T5", "T1"), "R4": Relation("R4", "Frequency-Drug", "T6", "T1")}
    d = Document("d", TEXT, ents, rels, sentences=list(SENTENCES))
    assert [TEXT[s:e] for s, e in SENTENCES][1] == "Take it for chest pain."
    return d


def build(tokenizer, query: str, context_sentences: int = 1, schema: Schema = SCHEMA) -> ExampleBuilder:
    return ExampleBuilder(tokenizer, schema, query, 64, 48, 8, 512, prompt_len=4,
                          context_sentences=context_sentences)


def tails(tdoc, ex, channel: int = 0) -> list[str]:
    return sorted(TEXT[slice(*tdoc.tokens_to_char(ex.window.start + f, ex.window.start + t))]
                  for c, f, t in ex.spans if c == channel)


def by_head_and_rel(examples, tdoc) -> dict[tuple[str, str], object]:
    out = {}
    for ex in examples:
        head = TEXT[slice(*tdoc.tokens_to_char(ex.window.start + ex.head[0], ex.window.start + ex.head[1]))]
        out[(head, ex.channels[0])] = ex
    return out


def test_hard_prompt_heads_tails_negatives_and_questions(tokenizer, doc):
    tdoc = tokenize_document(doc, tokenizer)
    heads = doc.entities_of("Drug")
    examples = build(tokenizer, "hard").relation_examples(tdoc, doc, heads)
    assert len(examples) == 2 * 4  # every head asks every relation type of its head type
    got = by_head_and_rel(examples, tdoc)
    assert set(got) == {(h, r) for h in ("aspirin", "ibuprofen") for r in RELS}
    assert tails(tdoc, got[("aspirin", "Strength-Drug")]) == ["81 mg"]
    assert tails(tdoc, got[("aspirin", "Reason-Drug")]) == ["chest pain"]  # the next sentence
    assert tails(tdoc, got[("ibuprofen", "Dosage-Drug")]) == ["2 tabs"]
    # negatives: ibuprofen's 2 tabs is not aspirin's dosage; aspirin's strength is not ibuprofen's
    assert tails(tdoc, got[("aspirin", "Dosage-Drug")]) == []
    assert tails(tdoc, got[("ibuprofen", "Strength-Drug")]) == []
    assert sum(1 for ex in examples if not ex.spans) == 8 - 3
    ex = got[("ibuprofen", "Dosage-Drug")]
    question = tokenizer("What is the dosage of ibuprofen?", add_special_tokens=False)
    assert list(ex.input_ids[1:ex.ctx_offset - 1]) == question["input_ids"]
    assert ex.block_id == -1 and ex.head_id == "T3" and ex.task == "relations"


def test_tail_two_sentences_away_is_outside_the_context(tokenizer, doc):
    tdoc = tokenize_document(doc, tokenizer)
    aspirin = [doc.entities["T1"]]
    near = by_head_and_rel(build(tokenizer, "soft", 1).relation_examples(tdoc, doc, aspirin), tdoc)
    ex = near[("aspirin", "Frequency-Drug")]
    assert tails(tdoc, ex) == []
    assert tdoc.tokens_to_char(ex.window.start, ex.window.end - 1) == (0, SENTENCES[1][1])
    far = by_head_and_rel(build(tokenizer, "soft", 2).relation_examples(tdoc, doc, aspirin), tdoc)
    assert tails(tdoc, far[("aspirin", "Frequency-Drug")]) == ["twice daily"]
    # soft: no question, the relation type is the prompt block
    assert near[("aspirin", "Reason-Drug")].block_id == SCHEMA.block_id("Reason-Drug") == 5 + 2
    assert near[("aspirin", "Reason-Drug")].ctx_offset == 1


def test_no_prompt_one_example_per_head_one_channel_per_relation(tokenizer, doc):
    tdoc = tokenize_document(doc, tokenizer)
    examples = build(tokenizer, "none").relation_examples(tdoc, doc, doc.entities_of("Drug"))
    assert len(examples) == 2
    aspirin = next(ex for ex in examples if ex.head_id == "T1")
    assert aspirin.channels == RELS
    assert [tails(tdoc, aspirin, c) for c in range(4)] == [["81 mg"], [], ["chest pain"], []]


def test_head_marker_covers_the_head_tokens(tokenizer, doc):
    from clinprompt.data.collate import collate

    tdoc = tokenize_document(doc, tokenizer)
    examples = build(tokenizer, "hard").relation_examples(tdoc, doc, [doc.entities["T3"]])
    batch = collate(examples, tokenizer.pad_token_id)
    marked = batch["input_ids"][0][batch["head_mask"][0]].tolist()
    assert tokenizer.decode(marked) == "ibuprofen"


def test_labelled_values_follow_their_tails(tokenizer):
    text = "Former smoker, quit 2005. Drinks wine daily."
    ents = {"T1": Entity("T1", "StatusTime", (span(text, "Former"),)),
            "T2": Entity("T2", "Tobacco", (span(text, "smoker"),)),
            "T3": Entity("T3", "History", (span(text, "quit 2005"),)),
            "T4": Entity("T4", "Alcohol", (span(text, "Drinks"),)),
            "T5": Entity("T5", "StatusTime", (span(text, "Drinks"),))}
    rels = {"R1": Relation("R1", "StatusTime-Tobacco", "T1", "T2"), "R2": Relation("R2", "History-Tobacco", "T3", "T2"),
            "R3": Relation("R3", "StatusTime-Alcohol", "T5", "T4")}
    attrs = {"A1": Attribute("A1", "StatusTimeVal", "T1", "past"),
             "A2": Attribute("A2", "StatusTimeVal", "T5", "current")}
    d = Document("s", text, ents, rels, attributes=attrs, sentences=[(0, 25), (26, 44)])
    rtypes = ("StatusTime-Tobacco", "History-Tobacco", "StatusTime-Alcohol")
    schema = Schema("sdoh", ("Alcohol", "Tobacco"), rtypes, {r: tuple(r.split("-")) for r in rtypes},
                    {"StatusTime": ("none", "current", "past", "future")}, events=True)
    tdoc = tokenize_document(d, tokenizer)
    examples = build(tokenizer, "none", schema=schema).relation_examples(tdoc, d, [ents["T2"], ents["T4"]])
    smoker = next(ex for ex in examples if ex.head_id == "T2")
    assert smoker.channels == ("StatusTime-Tobacco", "History-Tobacco")
    labelled = {c: v for (c, _, _), v in zip(smoker.spans, smoker.values, strict=True)}
    assert labelled == {0: schema.value_pairs.index(("StatusTime", "past")), 1: -1}
    drinks = next(ex for ex in examples if ex.head_id == "T4")
    assert drinks.values == (schema.value_pairs.index(("StatusTime", "current")),) == (1,)


def test_predicted_heads_get_the_overlapped_gold_heads_tails_and_swap_in_one_for_one(tokenizer, doc):
    tdoc = tokenize_document(doc, tokenizer)
    builder = build(tokenizer, "none")
    predicted = [Entity("P1", "Drug", (span(TEXT, "aspirin"),)),  # exactly gold: nothing new to learn
                 Entity("P2", "Drug", (span(TEXT, "Start aspirin"),)),  # boundary error on aspirin
                 Entity("P3", "Drug", (span(TEXT, "Then"),))]  # not a drug at all
    extra = predicted_head_examples(builder, tdoc, doc, predicted)
    assert [ex.head_id for ex in extra] == ["T1", "predicted-2"]
    assert [tails(tdoc, extra[0], c) for c in range(4)] == [["81 mg"], [], ["chest pain"], []]
    assert extra[1].spans == ()  # a spurious head is asked and should find nothing
    gold = builder.relation_examples(tdoc, doc, doc.entities_of("Drug"))
    assert sum(1 for e in gold if not e.spans) == 0  # no_prompt: every head has some tail here
    negatives = build(tokenizer, "hard").relation_examples(tdoc, doc, doc.entities_of("Drug"))
    swapped, n = swap_in(negatives, extra, seed=0)
    assert n == 2 and len(swapped) == len(negatives)
    assert sum(1 for e in swapped if not e.spans) == sum(1 for e in negatives if not e.spans) - 2 + 1
    assert all(e in swapped for e in negatives if e.spans) and all(e in swapped for e in extra)


def test_schema_survives_its_saved_form():
    import json

    schema = Schema("sdoh", ("Alcohol",), ("StatusTime-Alcohol",), {"StatusTime-Alcohol": ("StatusTime", "Alcohol")},
                    {"StatusTime": ("none", "current")}, events=True,
                    questions={"Alcohol": "Where is alcohol mentioned?", "StatusTime-Alcohol": "Is {head} current?"})
    saved = json.loads(json.dumps(schema.__dict__))  # what a checkpoint's hyper-parameters hold
    assert Schema.from_dict(saved) == schema
    assert Schema.from_dict({"dataset": "ade", "entity_types": ["Drug"]}) == Schema("ade", ("Drug",))
