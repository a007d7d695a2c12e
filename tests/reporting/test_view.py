"""clinprompt-view without a browser: hand-counted outcomes, the scorer's counts in the HTML, offline page,
predictions as .ann files alone, bad input, and no note text on the console."""

from __future__ import annotations

import json
import re
import shutil
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import pytest
from view_data import synthetic_folders

from clinprompt.cli.score import main as score_main
from clinprompt.cli.view import main as view_main
from clinprompt.data.brat import read_dir
from clinprompt.reporting.errors import analyse, read_folders

TEXT = "Gave aspirin 81 mg PO daily for chest pain.\n"
#       0    5      12 15 18 21    27  31    37  42
GOLD = """T1\tDrug 5 12\taspirin
T2\tStrength 13 18\t81 mg
T3\tRoute 19 21\tPO
T4\tFrequency 22 27\tdaily
T5\tReason 32 42\tchest pain
R1\tStrength-Drug Arg1:T2 Arg2:T1
R2\tRoute-Drug Arg1:T3 Arg2:T1
R3\tFrequency-Drug Arg1:T4 Arg2:T1
R4\tReason-Drug Arg1:T5 Arg2:T1
"""
# Drug and Route match; Strength is cut short (boundary), Frequency is called Dosage (type), "Gave" is an invented
# Route, Reason is missed. Relations: Route-Drug correct; Strength-Drug (short arg) and Frequency-Drug (arg typed
# Dosage) spurious and their gold missed; Reason-Drug missed.
PRED = """T1\tDrug 5 12\taspirin
T2\tStrength 13 15\t81
T3\tRoute 19 21\tPO
T4\tDosage 22 27\tdaily
T5\tRoute 0 4\tGave
R1\tStrength-Drug Arg1:T2 Arg2:T1
R2\tRoute-Drug Arg1:T3 Arg2:T1
R3\tFrequency-Drug Arg1:T4 Arg2:T1
"""
NESTED_TEXT = "Take two 500 mg tablets.\n"
NESTED = "T1\tDosage 5 23\ttwo 500 mg tablets\nT2\tStrength 9 15\t500 mg\nT3\tForm 16 23\ttablets\n"


def _folders(tmp_path: Path) -> tuple[Path, Path]:
    gold, pred = tmp_path / "gold", tmp_path / "pred"
    gold.mkdir()
    pred.mkdir()
    for name, text, ann in (("a", TEXT, GOLD), ("b", NESTED_TEXT, NESTED),
                            ("c", "Nothing predicted here.\n", "T1\tDrug 0 7\tNothing\n"), ("d", "No drugs.\n", "")):
        (gold / f"{name}.txt").write_text(text)
        (gold / f"{name}.ann").write_text(ann)
    (pred / "a.ann").write_text(PRED)  # .ann alone: the text comes from the gold folder
    (pred / "b.ann").write_text(NESTED)
    return gold, pred


class _Classes(HTMLParser):
    """Every element's class list and attributes, in document order."""

    def __init__(self):
        super().__init__()
        self.elements: list[tuple[str, set[str], dict]] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.elements.append((tag, set((a.get("class") or "").split()), a))

    def count(self, *classes: str) -> int:
        return sum(set(classes) <= c for _, c, _ in self.elements)


def parse(path: Path) -> _Classes:
    p = _Classes()
    p.feed(path.read_text())
    return p


def test_hand_counted_outcomes(tmp_path):
    gold, pred, issues = read_folders(*_folders(tmp_path))
    assert issues == {"gold": [], "pred": []}
    an = analyse(gold, pred, mode="strict")
    a = next(d for d in an.docs if d.doc_id == "a")
    outcome = {(s.side, s.type, s.start, s.end): (s.kind, s.error) for s in a.spans}
    assert outcome == {
        ("gold", "Drug", 5, 12): ("tp", ""), ("pred", "Drug", 5, 12): ("tp", ""),
        ("gold", "Route", 19, 21): ("tp", ""), ("pred", "Route", 19, 21): ("tp", ""),
        ("gold", "Strength", 13, 18): ("fn", "boundary"), ("pred", "Strength", 13, 15): ("fp", "boundary"),
        ("gold", "Frequency", 22, 27): ("fn", "type"), ("pred", "Dosage", 22, 27): ("fp", "type"),
        ("gold", "Reason", 32, 42): ("fn", ""), ("pred", "Route", 0, 4): ("fp", ""),
    }
    assert a.counts() == (2, 3, 3) and a.errors("boundary") == 1 and a.errors("type") == 1
    assert sorted((r.kind, r.type) for r in a.relations) == [
        ("fn", "Frequency-Drug"), ("fn", "Reason-Drug"), ("fn", "Strength-Drug"),
        ("fp", "Frequency-Drug"), ("fp", "Strength-Drug"), ("tp", "Route-Drug")]
    # every missed / spurious relation here fails on its attribute argument; the Drug argument is found
    assert {r.args_found for r in a.relations if r.kind != "tp"} == {(False, True)}
    b = next(d for d in an.docs if d.doc_id == "b")
    c = next(d for d in an.docs if d.doc_id == "c")
    assert b.counts() == (3, 0, 0) and c.counts() == (0, 0, 1) and not c.has_pred
    # lenient: the short Strength overlaps its gold, so it and its relation match
    lenient = next(d for d in analyse(gold, pred, mode="lenient").docs if d.doc_id == "a")
    assert lenient.counts() == (3, 2, 2) and lenient.counts("relations") == (2, 1, 2)


def test_page_counts_equal_clinprompt_score(tmp_path, capsys):
    gold, pred = synthetic_folders(tmp_path, n=5, with_pred_text=True)  # clinprompt-score reads pred .txt
    assert score_main([str(gold), str(pred), "--json", str(tmp_path / "s.json")]) == 0
    scores = json.loads((tmp_path / "s.json").read_text())["scores"]
    for mode in ("strict", "lenient"):
        out = tmp_path / f"{mode}.html"
        assert view_main([str(gold), str(pred), "--out", str(out), "--mode", mode]) == 0
        page = parse(out)
        for what, side in (("concepts", "pred"), ("relations", "rel")):
            micro = scores[what][mode]["micro"]
            assert micro["tp"] > 0 and micro["fp"] > 0 and micro["fn"] > 0  # the corruption made every kind
            assert page.count("ann", side, "k-tp") == micro["tp"]
            assert page.count("ann", side, "k-fp") == micro["fp"]
            assert page.count("ann", "gold" if side == "pred" else "rel", "k-fn") == micro["fn"]
        assert page.count("ann", "gold", "k-tp") == scores["concepts"][mode]["micro"]["tp"]
        # per-type rows of the summary table are the scorer's
        html = out.read_text()
        for t, s in scores["concepts"][mode]["per_type"].items():
            if s["tp"] + s["fp"] + s["fn"]:
                assert f"<td>{t}</td><td>{s['tp']}</td><td>{s['fp']}</td><td>{s['fn']}</td>" in html
    # the same predictions as .ann files alone give the same page
    ann_only = tmp_path / "pred_ann_only"
    shutil.copytree(pred, ann_only, ignore=shutil.ignore_patterns("*.txt"))
    assert view_main([str(gold), str(ann_only), "--out", str(tmp_path / "ann_only.html")]) == 0
    with_text, without = parse(tmp_path / "strict.html"), parse(tmp_path / "ann_only.html")
    for kind in ("k-tp", "k-fp", "k-fn"):
        for side in ("gold", "pred", "rel"):
            assert with_text.count("ann", side, kind) == without.count("ann", side, kind)


def test_page_is_offline_and_structured(tmp_path):
    gold, pred = _folders(tmp_path)
    out = tmp_path / "view.html"
    assert view_main([str(gold), str(pred), "--out", str(out)]) == 0
    html = out.read_text()
    assert not re.search(r"(?i)\b(src|href)\s*=|https?:|@import|url\(|<link", html)  # no external asset
    page = parse(out)
    sections = [a for tag, c, a in page.elements if tag == "section" and "doc" in c]
    assert [(s["data-id"], s["data-f1"] and round(float(s["data-f1"]), 4)) for s in sections] == [
        ("a", round(2 * 2 / (2 * 2 + 3 + 3), 4)), ("b", 1.0), ("c", 0.0), ("d", "")]  # d: nothing to find, no F1
    assert page.count("ann", "pred", "c-boundary") == 1 and page.count("ann", "gold", "c-type") == 1
    # nested gold spans sit in different lanes: Dosage (outer) nearest the text, Strength and Form one lane out
    types = analyse(*read_folders(gold, pred)[:2]).entity_types
    ix = {f"t-{types.index(t)}": t for t in ("Dosage", "Form", "Strength")}
    tops = {ix[k]: a["style"] for tag, c, a in page.elements if tag == "i" and {"bar", "gold", "first"} <= c
            for k in c & ix.keys()}
    assert tops == {"Dosage": "top:16px", "Form": "top:0px", "Strength": "top:0px"}


def test_bad_input_is_reported_and_console_has_no_note_text(tmp_path, capsys):
    gold, pred = _folders(tmp_path)
    (pred / "ghost.ann").write_text("T1\tDrug 0 4\tabcd\n")  # a prediction for a note nobody has
    (pred / "a.ann").write_text(PRED + "T9\tDrug 5 999\taspirin\n")  # an offset past the end
    out = tmp_path / "view.html"
    assert view_main([str(gold), str(pred), "--out", str(out)]) == 0
    console = capsys.readouterr()
    assert "2 bad input lines (2 skipped, 0 kept with a warning)" in console.out
    for doc in read_dir(gold)[0]:
        for e in doc.entities.values():
            assert e.text not in console.out + console.err
    assert f"{pred / 'ghost.ann'}:0: file:" in out.read_text() and "end 999 is past the end" in out.read_text()
    # a predicted note that differs from the gold note: refused with one line naming the file
    (pred / "a.txt").write_text(TEXT.replace("aspirin", "heparin"))
    assert view_main([str(gold), str(pred), "--out", str(tmp_path / "v2.html")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(pred / "a.txt") in err and f"differs from {gold / 'a.txt'}" in err
    assert not (tmp_path / "v2.html").exists()


@pytest.mark.parametrize("mode", ["strict", "lenient"])
def test_refinement_never_changes_counts(tmp_path, mode):
    """Boundary and type errors are pairs of one FP and one FN; the page's FP/FN stay the scorer's."""
    gold_dir, pred_dir = synthetic_folders(tmp_path, n=4)
    an = analyse(*read_folders(gold_dir, pred_dir)[:2], mode=mode)
    for d in an.docs:
        for err in ("boundary", "type"):
            g = sum(s.side == "gold" and s.error == err for s in d.spans)
            p = sum(s.side == "pred" and s.error == err for s in d.spans)
            assert g == p
        assert all((s.kind == "fn") == (s.side == "gold") for s in d.spans if s.error)
    assert sum(d.errors("type") for d in an.docs) > 0
    assert (sum(d.errors("boundary") for d in an.docs) > 0) == (mode == "strict")


def test_report_writes_the_page_of_a_runs_test_predictions(tmp_path, capsys):
    from clinprompt.cli.report import main as report_main

    gold, pred = _folders(tmp_path)
    run = tmp_path / "run"
    shutil.copytree(pred, run / "predictions" / "test")  # what a run writes: .ann files alone
    out = tmp_path / "pages" / "view.html"
    assert report_main(["--view", str(run), str(gold), "--out", str(out)]) == 0
    page = parse(out)
    assert (page.count("ann", "pred", "k-tp"), page.count("ann", "pred", "k-fp"),
            page.count("ann", "gold", "k-fn")) == (5, 3, 4)  # a: 2/3/3, b: 3/0/0, c: 0/0/1 (hand counts above)
    assert "TP 5 FP 3 FN 4" in capsys.readouterr().out
    assert page.count("ann", "rel") == 6  # 1 correct, 3 missed, 2 spurious: task unknown (no results.json)
    # a concepts-only run: its gold relations are not listed as missed
    (run / "results.json").write_text(json.dumps({"run": {"status": "running"}, "grid": {"task": "concepts"}}))
    assert report_main(["--view", str(run), str(gold), "--out", str(out)]) == 0
    assert parse(out).count("ann", "rel") == 0 and parse(out).count("ann", "pred", "k-tp") == 5
    # without --out the page is not written anywhere
    assert report_main(["--view", str(run), str(gold)]) == 2
    assert "--view needs --out FILE.html" in capsys.readouterr().err
    assert report_main(["--view", str(tmp_path / "nope"), str(gold), "--out", str(out)]) == 2
    assert "predictions/test: missing" in capsys.readouterr().err


@pytest.mark.parametrize("gold_name,pred_name", [("medXN_test", "medex_test"), ("brat_reference", "brat_system_out")])
def test_etude_fixtures_match_clinprompt_score(tmp_path, data_dir, gold_name, pred_name):
    """Third-party brat pairs: a messy system output with malformed lines, and a system folder of .ann files alone
    (clinprompt-score is given a copy with the gold notes added; the page takes them from the gold folder)."""
    src = data_dir / "etude-brat-samples"
    gold, pred, scored = tmp_path / "gold", tmp_path / "pred", tmp_path / "pred_with_text"
    shutil.copytree(src / gold_name, gold)
    shutil.copytree(src / pred_name, pred)
    shutil.copytree(pred, scored)
    for ann in scored.glob("*.ann"):
        if not ann.with_suffix(".txt").exists():
            shutil.copy(gold / f"{ann.stem}.txt", scored)
    assert score_main([str(gold), str(scored), "--json", str(tmp_path / "s.json")]) == 0
    data = json.loads((tmp_path / "s.json").read_text())
    out = tmp_path / "view.html"
    assert view_main([str(gold), str(pred), "--out", str(out)]) == 0
    page = parse(out)
    for what, side in (("concepts", "pred"), ("relations", "rel")):
        micro = data["scores"][what]["strict"]["micro"]
        got = (page.count("ann", side, "k-tp"), page.count("ann", side, "k-fp"),
               page.count("ann", "gold" if side == "pred" else "rel", "k-fn"))
        assert got == (micro["tp"], micro["fp"], micro["fn"])
    issues = data["reader_issues"]
    skipped = issues["gold"]["skipped"] + issues["pred"]["skipped"]
    kept = issues["gold"]["kept_with_warning"] + issues["pred"]["kept_with_warning"]
    said = f"{skipped + kept} bad input lines ({skipped} skipped, {kept} kept with a warning)"
    assert (said in out.read_text()) == (skipped + kept > 0)


def test_odd_whitespace_and_crlf_inside_spans(tmp_path):
    """A span over a no-break space, a form feed and a CRLF line end is drawn around them, not stalled on them."""
    text = "Took\xa0aspirin\f81\r\nmg today.\r\n"
    gold, pred = tmp_path / "gold", tmp_path / "pred"
    for folder in (gold, pred):
        folder.mkdir()
    (gold / "x.txt").write_bytes(text.encode())
    (gold / "x.ann").write_text("T1\tDrug 0 12\tTook aspirin\nT2\tStrength 13 19\t81 mg\n")
    (pred / "x.ann").write_text("T1\tDrug 0 12\tTook aspirin\n")
    out = tmp_path / "v.html"
    assert view_main([str(gold), str(pred), "--out", str(out)]) == 0
    page = parse(out)
    assert (page.count("ann", "pred", "k-tp"), page.count("ann", "gold", "k-fn")) == (1, 1)
    shown = re.search(r'<div class="text"[^>]*>(.*?)</div>', out.read_bytes().decode(), re.S).group(1)
    shown = re.sub(r"<[^>]+>", "", re.sub(r"<i\b[^>]*>.*?</i>", "", shown))  # drop bars (with labels), keep text
    assert unescape(shown) == text
