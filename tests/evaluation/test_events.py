"""SDoH event scores against hand-counted cases (Lybarger's brat_scoring semantics)."""

from __future__ import annotations

from clinprompt.data.document import Attribute, Document, Entity, Event
from clinprompt.evaluation.events import EventScore, score_events


def sdoh_doc(ents: dict[str, tuple], events: dict[str, tuple], values: dict[str, str],
             doc_id: str = "n1") -> Document:
    """ents: id -> (type, start, end); events: id -> (type, trigger id, ((role, id), ...));
    values: argument entity id -> labelled value (written as the ``<Type>Val`` attribute)."""
    entities = {k: Entity(k, t, ((s, e),)) for k, (t, s, e) in ents.items()}
    evs = {k: Event(k, t, trig, args) for k, (t, trig, args) in events.items()}
    attrs = {f"A{i}": Attribute(f"A{i}", f"{entities[eid].type}Val", eid, v)
             for i, (eid, v) in enumerate(values.items(), 1)}
    return Document(doc_id, "x" * 200, entities, attributes=attrs, events=evs)


GOLD_ENTS = {"T1": ("Alcohol", 0, 7), "T2": ("StatusTime", 8, 15), "T3": ("Amount", 16, 25),
             "T4": ("Frequency", 26, 30)}
GOLD_ARGS = (("Status", "T2"), ("Amount", "T3"), ("Frequency", "T4"))


def gold_doc() -> Document:
    return sdoh_doc(GOLD_ENTS, {"E1": ("Alcohol", "T1", GOLD_ARGS)}, {"T2": "current"})


def pred_doc(trigger=("Alcohol", 2, 9), status=("StatusTime", 8, 14), value="current",
             amount=("Amount", 16, 24), etype="Alcohol") -> Document:
    ents = {"T1": trigger, "T2": status, "T3": amount, "T4": ("Frequency", 26, 30)}
    return sdoh_doc(ents, {"E1": (etype, "T1", GOLD_ARGS)}, {"T2": value})


def c(res: dict, key: str) -> tuple[int, int, int]:
    m = res["per_argument"][key]
    return m["tp"], m["fp"], m["fn"]


def test_overlapping_trigger_labelled_value_and_off_by_one_span():
    # trigger 2-9 overlaps 0-7; StatusTime span differs but its value matches; Amount is one char short
    res = score_events([gold_doc()], [pred_doc()])
    assert c(res, "Alcohol/Trigger") == (1, 0, 0)
    assert c(res, "Alcohol/StatusTime") == (1, 0, 0)
    assert c(res, "Alcohol/Amount") == (0, 1, 1)
    assert c(res, "Alcohol/Frequency") == (1, 0, 0)
    m = res["micro"]
    assert (m["tp"], m["fp"], m["fn"]) == (3, 1, 1)
    assert m["f1"] == 0.75
    assert res["per_event"]["Alcohol"]["tp"] == 3
    assert res["per_event"]["Drug"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "tp": 0, "fp": 0, "fn": 0}
    assert "Drug/Trigger" in res["per_argument"] and "Drug/Amount" not in res["per_argument"]


def test_exact_span_argument_matches():
    res = score_events([gold_doc()], [pred_doc(amount=("Amount", 16, 25))])
    assert c(res, "Alcohol/Amount") == (1, 0, 0)
    assert res["micro"]["f1"] == 1.0


def test_labelled_argument_with_wrong_value():
    res = score_events([gold_doc()], [pred_doc(value="past", amount=("Amount", 16, 25))])
    assert c(res, "Alcohol/StatusTime") == (0, 1, 1)
    assert c(res, "Alcohol/Trigger") == (1, 0, 0)


def test_labelled_argument_matches_whatever_its_span():
    res = score_events([gold_doc()], [pred_doc(status=("StatusTime", 100, 104))])
    assert c(res, "Alcohol/StatusTime") == (1, 0, 0)


def test_trigger_without_overlap_makes_all_arguments_errors():
    res = score_events([gold_doc()], [pred_doc(trigger=("Alcohol", 40, 47), amount=("Amount", 16, 25))])
    for key in ("Alcohol/Trigger", "Alcohol/StatusTime", "Alcohol/Amount", "Alcohol/Frequency"):
        assert c(res, key) == (0, 1, 1)
    assert res["micro"]["tp"] == 0 and res["micro"]["f1"] == 0.0


def test_trigger_overlap_with_another_event_type_does_not_match():
    res = score_events([gold_doc()], [pred_doc(trigger=("Drug", 0, 7), etype="Drug")])
    assert c(res, "Alcohol/Trigger") == (0, 0, 1)
    assert c(res, "Drug/Trigger") == (0, 1, 0)
    assert c(res, "Drug/StatusTime") == (0, 1, 0)


def test_missing_prediction_and_unlisted_event_types():
    gold = gold_doc()
    tob = sdoh_doc({"T1": ("Tobacco", 50, 55), "T2": ("StatusTime", 56, 60), "T3": ("Race", 61, 65),
                    "T4": ("Type", 61, 65)},
                   {"E1": ("Tobacco", "T1", (("Status", "T2"),)), "E2": ("Race", "T3", (("Type", "T4"),))},
                   {"T2": "past"}, doc_id="n2")
    res = score_events([gold, tob], [pred_doc(amount=("Amount", 16, 25))])
    assert c(res, "Tobacco/Trigger") == (0, 0, 1)
    assert c(res, "Tobacco/StatusTime") == (0, 0, 1)
    assert (res["micro"]["tp"], res["micro"]["fp"], res["micro"]["fn"]) == (4, 0, 2)  # Race is not scored


def test_two_updates_equal_one():
    gold = [gold_doc(), sdoh_doc(GOLD_ENTS, {"E1": ("Alcohol", "T1", GOLD_ARGS)}, {"T2": "past"}, "n2")]
    pred = [pred_doc(), pred_doc(value="past")]
    pred[1].doc_id = "n2"
    one = EventScore()
    one.update(gold, pred)
    two = EventScore()
    two.update(gold[:1], pred[:1])
    two.update(gold[1:], pred[1:])
    assert one.compute() == two.compute()
    assert one.compute()["micro"]["tp"] == 6
