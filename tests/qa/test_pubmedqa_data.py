"""PubMedQA loading and splits against the counts published in the data's SOURCE.md (computed by hand
there) and against constructed duplicates."""

from __future__ import annotations

import json

import pytest

from clinprompt.qa.data import (
    PubMedQAFormatError,
    QAExample,
    balanced_class_weights,
    load_pubmedqa,
    make_splits,
    render_input,
    stratified_split,
)


@pytest.fixture(scope="module")
def pqal(data_dir):
    return load_pubmedqa(data_dir / "pubmedqa")


def _labels(exs):
    return {lab: sum(e.label == lab for e in exs) for lab in ("yes", "no", "maybe")}


def test_load_counts_match_source_md(pqal):
    examples, test_key = pqal
    assert len(examples) == 1000 and _labels(examples) == {"yes": 552, "no": 338, "maybe": 110}
    assert len(test_key) == 500 and sorted(test_key.values()).count("maybe") == 55


def test_official_split_keeps_the_500_test_ids(pqal):
    examples, test_key = pqal
    s = make_splits(examples, test_key, "yes_no_maybe", "official", seed=0)
    assert {e.pmid for e in s["test"]} == set(test_key)
    assert _labels(s["test"]) == {"yes": 276, "no": 169, "maybe": 55}
    # dev = 10% per label of the 500-question pool: round(27.6) + round(16.9) + round(5.5) = 28 + 17 + 6
    assert len(s["train"]) + len(s["dev"]) == 500 and len(s["dev"]) == 51
    y = make_splits(examples, test_key, "yes_no", "official", seed=0)
    assert len(y["test"]) == 276 + 169 and all(e.label != "maybe" for sp in y.values() for e in sp)


def test_stratified_split_sizes_and_proportions(pqal):
    examples, test_key = pqal
    s = make_splits(examples, test_key, "yes_no", "stratified", seed=3)
    # per label: yes 552 -> dev/test round(55.2)=55, no 338 -> round(33.8)=34; the rest trains
    assert _labels(s["test"]) == _labels(s["dev"]) == {"yes": 55, "no": 34, "maybe": 0}
    assert _labels(s["train"]) == {"yes": 442, "no": 270, "maybe": 0}
    assert balanced_class_weights(s["train"], ("yes", "no")) == pytest.approx([712 / 884, 712 / 540])
    ids = [{e.pmid for e in s[k]} for k in ("train", "dev", "test")]
    assert not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])
    again = make_splits(examples, test_key, "yes_no", "stratified", seed=3)
    other = make_splits(examples, test_key, "yes_no", "stratified", seed=4)
    assert [e.pmid for e in again["test"]] == [e.pmid for e in s["test"]]
    assert {e.pmid for e in other["test"]} != ids[2]


def test_duplicates_never_leak_across_splits():
    base = [QAExample(str(i), f"Question {i}?", (f"Context {i}.",), "yes" if i % 3 else "no") for i in range(40)]
    # the same question on the same abstract under another PMID, differing only in case and spacing
    dups = [QAExample(f"d{i}", f"question  {i}?", (f"CONTEXT {i}. ",), e.label) for i, e in enumerate(base)]
    s = make_splits(base + dups, {}, "yes_no", "stratified", seed=0)
    keys = [{e.key() for e in s[k]} for k in ("train", "dev", "test")]
    assert sum(len(s[k]) for k in s) == 40  # each duplicate dropped once
    assert not (keys[0] & keys[1] or keys[0] & keys[2] or keys[1] & keys[2])
    test_key = {"3": "yes"}
    off = make_splits(base + dups, test_key, "yes_no", "official", seed=0)
    assert [e.pmid for e in off["test"]] == ["3"]
    assert all(e.key() != base[3].key() for k in ("train", "dev") for e in off[k])


def test_stratified_split_fractions_hand_counted():
    exs = [QAExample(str(i), "q", (str(i),), "yes" if i < 20 else "no") for i in range(30)]
    parts = stratified_split(exs, (0.8, 0.1, 0.1), seed=1)
    assert [_labels(p)["yes"] for p in parts] == [16, 2, 2] and [_labels(p)["no"] for p in parts] == [8, 1, 1]


def test_render_input_fits_and_keeps_the_question(tokenizer):
    ex = QAExample("1", "Is aspirin effective?", ("word " * 500,), "yes")
    text = render_input(tokenizer, "Q: {question} C: {context} Answer {options}.", ex, 64, ("yes", "no", "maybe"))
    ids = tokenizer(text)["input_ids"]
    assert len(ids) <= 64 and text.startswith("Q: Is aspirin effective? C: word")
    assert text.endswith("Answer yes, no or maybe.")
    assert len(ids) >= 60  # the context fills the budget rather than being dropped


def test_bad_record_names_file_line_and_field(tmp_path):
    (tmp_path / "ori_pqal.json").write_text(json.dumps(
        {"1": {"QUESTION": "q?", "CONTEXTS": ["c"], "final_decision": "yes"},
         "2": {"QUESTION": "q2?", "CONTEXTS": ["c"], "final_decision": "perhaps"}}, indent=4))
    (tmp_path / "test_ground_truth.json").write_text("{}")
    # indent=4: record "2" opens on line 9, its final_decision is line 14
    with pytest.raises(PubMedQAFormatError, match=r"ori_pqal\.json:14: record 2 field 'final_decision'"):
        load_pubmedqa(tmp_path)
