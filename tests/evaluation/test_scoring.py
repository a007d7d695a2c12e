"""Concept and relation scores against hand-counted cases (n2c2 2018 track 2 semantics)."""

from __future__ import annotations

import pytest
import torch

from clinprompt.data.document import Document, Entity, Relation
from clinprompt.evaluation.matching import Mention, match_counts, match_mentions
from clinprompt.evaluation.scoring import ExtractionScore, entity_recall_by_overlap_class, score_documents

TEXT = "x" * 200


def doc(*ents: tuple, rels: tuple = (), doc_id: str = "d1") -> Document:
    """ents: (id, type, start, end) or (id, type, ((s, e), (s, e))) for discontinuous spans."""
    entities = {}
    for e in ents:
        frags = e[2] if isinstance(e[2], tuple) else ((e[2], e[3]),)
        entities[e[0]] = Entity(e[0], e[1], frags)
    relations = {r[0]: Relation(*r) for r in rels}
    return Document(doc_id, TEXT, entities, relations)


def counts(res: dict, mode: str, etype: str | None = None, kind: str = "concepts") -> tuple[int, int, int]:
    m = res[kind][mode]["micro"] if etype is None else res[kind][mode]["per_type"][etype]
    return m["tp"], m["fp"], m["fn"]


TYPES = ("Drug", "Route", "Form", "Dosage")


def test_exact_match_counts_in_both_modes():
    res = score_documents([doc(("T1", "Drug", 0, 5))], [doc(("T9", "Drug", 0, 5))], TYPES)
    assert counts(res, "strict", "Drug") == (1, 0, 0)
    assert counts(res, "lenient", "Drug") == (1, 0, 0)
    assert res["concepts"]["strict"]["micro"]["f1"] == 1.0


def test_wrong_type_is_a_fp_and_a_fn():
    res = score_documents([doc(("T1", "Drug", 0, 5))], [doc(("T1", "Route", 0, 5))], TYPES)
    for mode in ("strict", "lenient"):
        assert counts(res, mode, "Drug") == (0, 0, 1)
        assert counts(res, mode, "Route") == (0, 1, 0)


def test_partial_overlap_counts_only_lenient():
    res = score_documents([doc(("T1", "Drug", 0, 9))], [doc(("T1", "Drug", 3, 12))], TYPES)
    assert counts(res, "strict") == (0, 1, 1)
    assert counts(res, "lenient") == (1, 0, 0)


def test_adjacent_spans_do_not_overlap():
    res = score_documents([doc(("T1", "Drug", 0, 5))], [doc(("T1", "Drug", 5, 9))], TYPES)
    assert counts(res, "lenient") == (0, 1, 1)


def test_one_gold_matched_once_when_two_predictions_overlap_it():
    gold = [doc(("T1", "Drug", 0, 10))]
    pred = [doc(("T1", "Drug", 0, 4), ("T2", "Drug", 2, 10))]
    res = score_documents(gold, pred, TYPES)
    assert counts(res, "lenient") == (1, 1, 0)
    assert counts(res, "strict") == (0, 2, 1)
    # same prediction twice: one tp, one fp
    res = score_documents(gold, [doc(("T1", "Drug", 0, 10), ("T2", "Drug", 0, 10))], TYPES)
    assert counts(res, "strict") == (1, 1, 0)


def test_lenient_prefers_largest_overlap_then_earliest_gold():
    gold = [Mention("Drug", 0, 4), Mention("Drug", 5, 20)]
    assert match_mentions(gold, [Mention("Drug", 3, 10)], "lenient") == [(1, 0)]  # 5 chars beat 1
    tie = [Mention("Drug", 0, 4), Mention("Drug", 6, 10)]
    assert match_mentions(tie, [Mention("Drug", 2, 8)], "lenient") == [(0, 0)]  # 2 vs 2: earliest
    assert match_counts(gold, [Mention("Drug", 3, 10), Mention("Drug", 0, 2)], "lenient") == (2, 0, 0)


def test_discontinuous_span_is_reduced_to_outer_span():
    gold = [doc(("T1", "Drug", ((0, 3), (8, 12))))]
    assert counts(score_documents(gold, [doc(("T1", "Drug", 0, 12))], TYPES), "strict") == (1, 0, 0)
    res = score_documents(gold, [doc(("T1", "Drug", 0, 3))], TYPES)
    assert counts(res, "strict") == (0, 1, 1)
    assert counts(res, "lenient") == (1, 0, 0)
    # a prediction inside the gap still overlaps the outer span
    assert counts(score_documents(gold, [doc(("T1", "Drug", 4, 6))], TYPES), "lenient") == (1, 0, 0)


def test_micro_macro_and_ignored_types():
    gold = [doc(("T1", "Drug", 0, 5), ("T2", "Drug", 10, 15), ("T3", "Route", 20, 25))]
    pred = [doc(("T1", "Drug", 0, 5), ("T2", "Route", 20, 24), ("T3", "Form", 30, 35), ("T4", "Reason", 40, 45))]
    res = score_documents(gold, pred, TYPES)
    s, le = res["concepts"]["strict"], res["concepts"]["lenient"]
    assert "Reason" not in s["per_type"]
    assert counts(res, "strict") == (1, 2, 2)  # Reason is outside the types: ignored
    assert s["micro"]["precision"] == pytest.approx(1 / 3) and s["micro"]["f1"] == pytest.approx(1 / 3)
    assert s["per_type"]["Drug"]["f1"] == pytest.approx(2 / 3)
    # macro over Drug, Route, Form (Dosage occurs nowhere): P (1+0+0)/3, R (.5+0+0)/3, F1 (2/3+0+0)/3
    assert s["macro"]["precision"] == pytest.approx(1 / 3)
    assert s["macro"]["recall"] == pytest.approx(1 / 6)
    assert s["macro"]["f1"] == pytest.approx(2 / 9)
    assert s["per_type"]["Dosage"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "tp": 0, "fp": 0, "fn": 0}
    assert counts(res, "lenient") == (2, 1, 1)
    assert le["macro"]["f1"] == pytest.approx((2 / 3 + 1 + 0) / 3)
    assert "relations" not in res


def test_documents_paired_by_id_and_missing_ones_counted():
    gold = [doc(("T1", "Drug", 0, 5), doc_id="a"), doc(("T1", "Drug", 0, 5), ("T2", "Form", 6, 9), doc_id="b")]
    pred = [doc(("T1", "Drug", 0, 5), doc_id="c"), doc(("T1", "Drug", 0, 5), doc_id="a")]
    res = score_documents(gold, pred, TYPES)
    assert counts(res, "strict") == (1, 1, 2)  # a: tp; b missing: 2 fn; c has no gold: 1 fp
    with pytest.raises(ValueError, match="appears twice"):
        score_documents(gold + gold[:1], pred, TYPES)


def test_no_documents_gives_zeros():
    res = score_documents([], [], TYPES)
    assert res["concepts"]["strict"]["micro"]["f1"] == 0.0
    assert res["concepts"]["strict"]["macro"]["f1"] == 0.0


# ---- relations -----------------------------------------------------------------------------------

RTYPES = ("Strength-Drug", "Route-Drug")
GOLD_ENTS = (("T1", "Drug", 0, 9), ("T2", "Strength", 10, 16), ("T3", "Route", 17, 21), ("T4", "Drug", 28, 36))
ETYPES = ("Drug", "Strength", "Route")


def rel_score(pred_ents: tuple, pred_rels: tuple) -> dict:
    gold = doc(*GOLD_ENTS, rels=(("R1", "Strength-Drug", "T2", "T1"), ("R2", "Route-Drug", "T3", "T1")))
    return score_documents([gold], [doc(*pred_ents, rels=pred_rels)], ETYPES, RTYPES)


def test_relation_exact():
    res = rel_score(GOLD_ENTS, (("R7", "Strength-Drug", "T2", "T1"), ("R8", "Route-Drug", "T3", "T1")))
    assert counts(res, "strict", kind="relations") == (2, 0, 0)
    assert res["relations"]["lenient"]["per_type"]["Route-Drug"]["f1"] == 1.0


def test_relation_wrong_type():
    res = rel_score(GOLD_ENTS, (("R1", "Route-Drug", "T2", "T1"),))
    for mode in ("strict", "lenient"):
        assert counts(res, mode, "Route-Drug", "relations") == (0, 1, 1)
        assert counts(res, mode, "Strength-Drug", "relations") == (0, 0, 1)


def test_relation_wrong_argument():
    res = rel_score(GOLD_ENTS, (("R1", "Strength-Drug", "T2", "T4"),))  # the other Drug
    assert counts(res, "strict", kind="relations") == (0, 1, 2)
    assert counts(res, "lenient", kind="relations") == (0, 1, 2)


def test_relation_wrong_argument_type():
    ents = (("T1", "Drug", 0, 9), ("T2", "Dosage", 10, 16))  # same span, but Dosage instead of Strength
    res = rel_score(ents, (("R1", "Strength-Drug", "T2", "T1"),))
    assert counts(res, "strict", kind="relations") == (0, 1, 2)
    assert counts(res, "lenient", kind="relations") == (0, 1, 2)


def test_relation_lenient_argument_overlap():
    ents = (("T1", "Drug", 0, 9), ("T2", "Strength", 10, 14))  # "200 " of "200 mg"
    res = rel_score(ents, (("R1", "Strength-Drug", "T2", "T1"),))
    assert counts(res, "strict", kind="relations") == (0, 1, 2)
    assert counts(res, "lenient", kind="relations") == (1, 0, 1)
    assert counts(res, "lenient", "Strength-Drug", "relations") == (1, 0, 0)


def test_relations_scored_from_a_separate_prediction():
    gold = doc(*GOLD_ENTS, rels=(("R1", "Strength-Drug", "T2", "T1"),))
    concepts_only = doc(("T1", "Drug", 0, 9))
    full = doc(*GOLD_ENTS, rels=(("R1", "Strength-Drug", "T2", "T1"),))
    m = ExtractionScore(ETYPES, RTYPES)
    m.update([gold], [concepts_only], [full])
    res = m.compute()
    assert counts(res, "strict") == (1, 0, 3)
    assert counts(res, "strict", kind="relations") == (1, 0, 0)


# ---- the Metric ----------------------------------------------------------------------------------


def _two_docs() -> tuple[list[Document], list[Document]]:
    gold = [doc(*GOLD_ENTS, rels=(("R1", "Strength-Drug", "T2", "T1"),), doc_id="a"),
            doc(("T1", "Drug", 0, 5), ("T2", "Route", 6, 9), doc_id="b")]
    pred = [doc(("T1", "Drug", 0, 9), ("T2", "Strength", 10, 14), rels=(("R1", "Strength-Drug", "T2", "T1"),),
                doc_id="a"),
            doc(("T1", "Drug", 1, 5), ("T2", "Route", 6, 9), ("T3", "Route", 20, 22), doc_id="b")]
    return gold, pred


def test_two_updates_equal_one_and_states_merge_by_sum():
    gold, pred = _two_docs()
    one = ExtractionScore(ETYPES, RTYPES)
    one.update(gold, pred)
    two = ExtractionScore(ETYPES, RTYPES)
    two.update(gold[:1], pred[:1])
    two.update(gold[1:], pred[1:])
    assert two.compute() == one.compute()
    # what a distributed sync does: per-process states reduced with the declared sum
    rank0, rank1 = ExtractionScore(ETYPES, RTYPES), ExtractionScore(ETYPES, RTYPES)
    rank0.update(gold[:1], pred[:1])
    rank1.update(gold[1:], pred[1:])
    rank0.merge_state(rank1)
    assert rank0.compute() == one.compute()
    assert all(rank0._reductions[k] is not None for k in ("concept_tp", "relation_fn"))
    # strict: a: Drug tp, Strength fp+fn, Route fn, Drug T4 fn; b: Drug fp+fn, Route tp, Route fp
    assert torch.equal(one.concept_tp[0], torch.tensor([1, 0, 1]))
    assert counts(one.compute(), "strict") == (2, 3, 4)
    assert counts(one.compute(), "lenient") == (4, 1, 2)


# ---- error analysis ------------------------------------------------------------------------------


def test_recall_by_overlap_class():
    gold = doc(("A", "Drug", 0, 20), ("B", "Drug", 5, 10), ("C", "Route", 15, 25), ("D", "Form", 30, 35),
               ("E", "Form", 40, 45), ("F", "Dosage", 40, 45))
    # B is nested in A; A and C overlap partially; D is flat; E and F share a span: each is nested
    pred = doc(("1", "Drug", 5, 10), ("2", "Form", 30, 35), ("3", "Route", 16, 25), ("4", "Dosage", 40, 45))
    strict = entity_recall_by_overlap_class([gold], [pred], "strict")
    assert strict["nested"] == {"recall": 2 / 3, "matched": 2, "total": 3}
    assert strict["overlapping"] == {"recall": 0.0, "matched": 0, "total": 2}
    assert strict["flat"] == {"recall": 1.0, "matched": 1, "total": 1}
    lenient = entity_recall_by_overlap_class([gold], [pred], "lenient")
    # pred (5,10) shares 5 characters with both A and B: the tie goes to the earlier gold, A
    assert lenient["overlapping"]["matched"] == 2
    assert lenient["nested"]["matched"] == 1
    assert entity_recall_by_overlap_class([gold], [], "strict")["flat"]["matched"] == 0
