"""SDoH (n2c2 2022) brat events: reader, writer, relation view, schema and the synthetic two-site corpus."""

from __future__ import annotations

import re

import pytest

from clinprompt.data.brat import format_ann, parse_ann, read_dir
from clinprompt.data.corpora.sdoh import load_sdoh
from clinprompt.data.corpora.synthetic_sdoh import generate, load_synthetic_sdoh
from clinprompt.data.events import as_event_document, events_to_relations, relations_to_events
from clinprompt.evaluation.events import events_of, score_events
from clinprompt.schema import EVENT_ARGUMENTS, SDOH_ARGUMENT_TYPES, VALUE_LABELS

# a SHAC-style note: one status shared by three events, a Degree argument the challenge did not score
TEXT = "Former smoker, 1 ppd, quit 2005. Denies EtOH or drugs. Lives with wife."
ANN = """T1\tStatusTime 0 6\tFormer
T2\tTobacco 7 13\tsmoker
T3\tAmount 15 20\t1 ppd
T4\tHistory 22 31\tquit 2005
T5\tStatusTime 33 39\tDenies
T6\tAlcohol 40 44\tEtOH
T7\tDrug 48 53\tdrugs
T8\tStatusTime 55 60\tLives
T9\tLivingStatus 55 60\tLives
T10\tTypeLiving 61 70\twith wife
T11\tDegree 15 20\t1 ppd
E1\tTobacco:T2 Status:T1 Amount:T3 History:T4 Degree:T11
E2\tAlcohol:T6 Status:T5
E3\tDrug:T7 Status:T5
E4\tLivingStatus:T9 Status:T8 Type:T10
A1\tStatusTimeVal T1 past
A2\tStatusTimeVal T5 none
A3\tStatusTimeVal T8 current
A4\tTypeLivingVal T10 with_family
"""


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    """(generated brat root, corpus read back from it)."""
    cache = tmp_path_factory.mktemp("cache")
    corpus = load_synthetic_sdoh(cache, "mimic", "uw", n_train=6, n_dev=2, n_test=4, seed=3)
    return next(cache.glob("sdoh-v*")), corpus


def test_events_become_relations_by_hand():
    assert format_ann(parse_ann(ANN, TEXT, "n1")) == ANN  # reader and writer leave SHAC events unchanged
    doc = events_to_relations(parse_ann(ANN, TEXT, "n1"))
    rels = sorted((r.type, r.arg1, r.arg2) for r in doc.relations.values())
    assert rels == sorted([("StatusTime-Tobacco", "T1", "T2"), ("Amount-Tobacco", "T3", "T2"),
                           ("History-Tobacco", "T4", "T2"), ("StatusTime-Alcohol", "T5", "T6"),
                           ("StatusTime-Drug", "T5", "T7"), ("StatusTime-LivingStatus", "T8", "T9"),
                           ("TypeLiving-LivingStatus", "T10", "T9")])  # Degree is not an n2c2 2022 argument
    assert len(doc.events) == 4 and len(doc.attributes) == 4


def test_relations_back_to_events_keep_every_scored_event():
    gold = parse_ann(ANN, TEXT, "n1")
    back = relations_to_events(events_to_relations(gold), EVENT_ARGUMENTS)
    scored_args = [a for a in SDOH_ARGUMENT_TYPES if a != "Degree"]
    assert sorted(events_of(back, EVENT_ARGUMENTS, scored_args)) == sorted(events_of(gold, EVENT_ARGUMENTS,
                                                                                      scored_args))
    res = score_events([gold], [back], argument_types=scored_args)
    # 4 triggers + (3 + 1 + 1 + 2) arguments, all matched
    assert (res["micro"]["tp"], res["micro"]["fp"], res["micro"]["fn"]) == (11, 0, 0)
    # SHAC roles: Status for StatusTime, Type for TypeLiving
    living = next(e for e in back.events.values() if e.type == "LivingStatus")
    assert living.args == (("Status", "T8"), ("Type", "T10"))


def test_written_prediction_is_t_e_a_lines_only_and_reads_back():
    doc = relations_to_events(events_to_relations(parse_ann(ANN, TEXT, "n1")), EVENT_ARGUMENTS)
    ann = format_ann(as_event_document(doc))
    assert {line[0] for line in ann.splitlines()} == {"T", "E", "A"}
    assert "E4\tLivingStatus:T9 Status:T8 Type:T10" in ann.splitlines()
    again = parse_ann(ann, TEXT, "n1")
    assert events_of(again, EVENT_ARGUMENTS, SDOH_ARGUMENT_TYPES) == events_of(doc, EVENT_ARGUMENTS,
                                                                               SDOH_ARGUMENT_TYPES)


def test_value_labels_and_arguments_agree_with_the_official_schema(data_dir):
    conf = (data_dir / "sdoh-brat-schema" / "annotation.conf").read_text()
    values = dict(re.findall(r"^(\w+)Val\s+Arg:\w+, Value:(\S+)$", conf, re.M))
    for arg, labels in VALUE_LABELS.items():
        assert tuple(values[arg].split("|")) == labels
    for event, args in EVENT_ARGUMENTS.items():
        line = re.search(rf"^{event}\s+(.*)$", conf, re.M).group(1)
        declared = {part.split(":")[1].strip() for part in line.split(",") if ":" in part}
        assert set(args) <= declared and declared - set(args) <= {"Degree"}


def test_synthetic_round_trip_is_byte_exact(synthetic, tmp_path):
    generate(tmp_path, 3, 0, 2, seed=3)
    for folder in (tmp_path / "mimic" / "train", tmp_path / "uw" / "test"):
        docs, issues = read_dir(folder, strict=True)
        assert docs and not issues
        for d in docs:
            assert format_ann(d) == (folder / f"{d.doc_id}.ann").read_text()
    _, corpus = synthetic
    for d in corpus.documents():
        for e in d.entities.values():  # offsets point at the text the .ann line carries
            assert d.text[e.start:e.end] == e.text


def test_sites_train_and_test_independently_and_differ(synthetic, tmp_path):
    _, corpus = synthetic
    assert {d.doc_id.split("_")[0] for d in corpus.splits["train"] + corpus.splits["dev"]} == {"mimic"}
    assert {d.doc_id.split("_")[0] for d in corpus.splits["test"]} == {"uw"}
    assert corpus.value_labels == VALUE_LABELS and corpus.events
    triggers = {site: {d.span_text(e) for d in corpus.documents() if d.doc_id.startswith(site)
                       for e in d.entities.values() if e.type in EVENT_ARGUMENTS} for site in ("mimic", "uw")}
    assert triggers["mimic"] and triggers["uw"] and triggers["mimic"] != triggers["uw"]
    with pytest.raises(ValueError, match="dataset.test_site='mayo'"):
        load_sdoh(synthetic[0], "mimic", "mayo")
    same = load_sdoh(synthetic[0], "uw", "uw")
    assert {d.doc_id.split("_")[0] for d in same.documents()} == {"uw"}


def test_generator_is_deterministic(tmp_path):
    generate(tmp_path / "a", 2, 1, 1, seed=5)
    generate(tmp_path / "b", 2, 1, 1, seed=5)
    generate(tmp_path / "c", 2, 1, 1, seed=6)
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.*"))
    assert len(files) == 2 * 4 * 2
    assert all((tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes() for f in files)
    assert any((tmp_path / "a" / f).read_bytes() != (tmp_path / "c" / f).read_bytes() for f in files)
