"""clinprompt-score semantics on small hand-counted fixtures: default (one-to-one) vs --official (the n2c2
2018 track 2 script's counting), predictions as .ann alone, unseen predicted types, --types checks,
out-of-order discontinuous spans, and SDoH trigger alignment (--events)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clinprompt.cli.score import main
from clinprompt.data.brat import parse_ann
from clinprompt.evaluation.events import score_events
from clinprompt.evaluation.scoring import score_documents

TEXT = "aspirin 81 mg po daily; heparin 5000 units sc"
# aspirin 0-7, 81 mg 8-13, po 14-16, daily 17-22, heparin 24-31, 5000 units 32-42 (5000: 32-36), sc 43-45
GOLD = """T1\tDrug 0 7\taspirin
T2\tStrength 8 13\t81 mg
T3\tRoute 14 16\tpo
T4\tFrequency 17 22\tdaily
T5\tDrug 24 31\theparin
T6\tStrength 32 42\t5000 units
T7\tRoute 43 45\tsc
R1\tStrength-Drug Arg1:T2 Arg2:T1
R2\tStrength-Drug Arg1:T6 Arg2:T5
R3\tRoute-Drug Arg1:T3 Arg2:T1
"""
# T2 duplicates T1; T4 and T6 match only leniently; T7 has a type the gold lacks; R2 duplicates R1
PRED = """T1\tDrug 0 7\taspirin
T2\tDrug 0 7\taspirin
T3\tStrength 8 13\t81 mg
T4\tRoute 14 22\tpo daily
T5\tDrug 24 31\theparin
T6\tStrength 32 36\t5000
T7\tDosage 43 45\tsc
R1\tStrength-Drug Arg1:T3 Arg2:T1
R2\tStrength-Drug Arg1:T3 Arg2:T2
R3\tStrength-Drug Arg1:T6 Arg2:T5
R4\tRoute-Drug Arg1:T4 Arg2:T1
"""


def _write(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (folder / name).write_text(content, encoding="utf-8")
    return folder


def _score(tmp_path: Path, *flags: str, gold: dict | None = None, pred: dict | None = None) -> dict:
    g = _write(tmp_path / "gold", gold or {"n1.txt": TEXT, "n1.ann": GOLD})
    p = _write(tmp_path / "pred", pred or {"n1.ann": PRED})  # .ann alone: the text comes from the gold
    assert main([str(g), str(p), "--json", str(tmp_path / "s.json"), *flags]) == 0
    return json.loads((tmp_path / "s.json").read_text())


def _counts(block: dict) -> list[int]:
    return [block[k] for k in ("tp", "fp", "fn")]


def test_default_semantics_count_every_prediction(tmp_path):
    s = _score(tmp_path)["scores"]
    c, r = s["concepts"], s["relations"]
    # strict: Drug tp2 fp1 (the duplicate); Strength tp1 fp1 fn1; Route fp1 fn2; Frequency fn1; Dosage fp1
    assert _counts(c["strict"]["micro"]) == [3, 4, 4]
    # lenient: Strength 32-36 ~ 32-42 and Route 14-22 ~ 14-16 now match
    assert _counts(c["lenient"]["micro"]) == [5, 2, 2]
    # a predicted type absent from the gold is its own row and lowers precision
    assert _counts(c["strict"]["per_type"]["Dosage"]) == [0, 1, 0]
    assert c["strict"]["micro"]["precision"] == pytest.approx(3 / 7)
    # relations strict: R1 exact, R2 (same spans as R1) has no gold left, R3 and R4 match only leniently
    assert _counts(r["strict"]["micro"]) == [1, 3, 2]
    assert _counts(r["lenient"]["micro"]) == [3, 1, 0]


def test_official_semantics_drop_duplicates_of_matched_gold(tmp_path):
    out = _score(tmp_path, "--official")
    c, r = out["scores"]["concepts"], out["scores"]["relations"]
    # the duplicate Drug equals a gold some earlier prediction matched: dropped, not a false positive
    assert _counts(c["strict"]["per_type"]["Drug"]) == [2, 0, 0]
    assert _counts(c["strict"]["micro"]) == [3, 3, 4]
    assert _counts(c["lenient"]["micro"]) == [5, 1, 2]
    assert _counts(c["strict"]["per_type"]["Dosage"]) == [0, 1, 0]
    # relations: R2 duplicates R1 and is dropped in both modes
    assert _counts(r["strict"]["micro"]) == [1, 2, 2]
    assert _counts(r["lenient"]["micro"]) == [3, 0, 0]
    # one note: the per-note macro equals the micro
    assert c["lenient"]["macro"]["f1"] == pytest.approx(c["lenient"]["micro"]["f1"])
    assert out["skipped_notes"] == []


def test_official_one_prediction_over_two_gold(tmp_path):
    """Lenient: one prediction overlapping two gold items marks both; a later prediction of the second is
    dropped. Official: tp 1, fn 1. One-to-one: tp 2."""
    text = "metformin and insulin glargine"
    gold = "T1\tDrug 0 9\tmetformin\nT2\tDrug 14 30\tinsulin glargine\n"
    pred = "T1\tDrug 0 21\tmetformin and insulin\nT2\tDrug 14 30\tinsulin glargine\n"
    files = {"gold": {"a.txt": text, "a.ann": gold}, "pred": {"a.ann": pred}}
    official = _score(tmp_path / "o", "--official", **files)["scores"]["concepts"]["lenient"]["micro"]
    default = _score(tmp_path / "d", **files)["scores"]["concepts"]["lenient"]["micro"]
    assert _counts(official) == [1, 0, 1]
    assert _counts(default) == [2, 0, 0]


def test_official_skips_notes_without_a_prediction_file(tmp_path, capsys):
    gold = {"n1.txt": TEXT, "n1.ann": GOLD, "n2.txt": "x", "n2.ann": ""}
    out = _score(tmp_path, "--official", gold=gold)
    assert out["skipped_notes"] == ["n2"]
    assert "1 gold notes have no prediction file" in capsys.readouterr().out


def test_prediction_ann_alone_scores_like_with_its_txt(tmp_path):
    alone = _score(tmp_path / "a")["scores"]
    with_txt = _score(tmp_path / "b", pred={"n1.ann": PRED, "n1.txt": TEXT})["scores"]
    assert alone == with_txt
    assert alone["concepts"]["strict"]["micro"]["tp"] == 3


def test_prediction_txt_of_another_note_is_an_error(tmp_path, capsys):
    g = _write(tmp_path / "gold", {"n1.txt": TEXT, "n1.ann": GOLD})
    p = _write(tmp_path / "pred", {"n1.ann": PRED, "n1.txt": TEXT.replace("heparin", "HEPARIN")})
    assert main([str(g), str(p)]) == 2
    err = capsys.readouterr().err
    assert f"{p / 'n1.txt'}:1: text: differs from {g / 'n1.txt'} from character 24" in err
    assert "heparin" not in err.lower()


def test_types_filter_only_when_given_and_unknown_names_fail(tmp_path, capsys):
    s = _score(tmp_path, "--types", "Drug", "--relations", "Route-Drug")["scores"]
    assert list(s["concepts"]["strict"]["per_type"]) == ["Drug"]
    assert _counts(s["concepts"]["strict"]["micro"]) == [2, 1, 0]
    assert _counts(s["relations"]["lenient"]["micro"]) == [1, 0, 0]
    with pytest.raises(SystemExit) as exc:
        main([str(tmp_path / "gold"), str(tmp_path / "pred"), "--types", "Drug", "Dose"])
    assert exc.value.code == 2
    assert "--types: Dose not in the gold or the predictions" in capsys.readouterr().err


def test_empty_folders_are_reported(tmp_path, capsys):
    g = _write(tmp_path / "gold", {"n1.txt": TEXT, "n1.ann": GOLD})
    empty = _write(tmp_path / "empty", {})
    assert main([str(g), str(empty), "--json", str(tmp_path / "s.json")]) == 0
    assert "holds no .ann or .txt files: every gold annotation is a false negative" in capsys.readouterr().out
    assert json.loads((tmp_path / "s.json").read_text())["scores"]["concepts"]["strict"]["micro"]["fn"] == 7
    assert main([str(empty), str(g)]) == 2
    assert f"{empty}:0: folder: no .txt notes in this folder" in capsys.readouterr().err


def test_gold_txt_without_ann_is_reported(tmp_path):
    out = _score(tmp_path, gold={"n1.txt": TEXT, "n1.ann": GOLD, "n2.txt": "no annotations here"})
    issues = out["reader_issues"]["gold"]
    assert issues["kept_with_warning"] == 1
    assert issues["all"][0].endswith("n2.txt:0: file: a .txt note without its .ann: read as a note with no annotations")


def test_out_of_order_discontinuous_gold_vs_itself_is_perfect():
    text = "pain in the left knee, mild"
    ann = "T1\tQualifier 23 27;12 16\tmild left\nT2\tFinding 0 4\tpain\nT3\tFinding 0 4;17 21\tpain knee\n"
    doc = parse_ann(ann, text, "d")
    assert doc.entities["T1"].span == (12, 27)  # the covering span, whatever the fragment order
    s = score_documents([doc], [doc], ["Qualifier", "Finding"])
    for mode in ("strict", "lenient"):
        assert s["concepts"][mode]["micro"]["f1"] == 1.0


SDOH_GOLD = ("Drinks wine daily.", "T1\tAlcohol 7 11\twine\nT2\tStatusTime 7 11\twine\nE1\tAlcohol:T1 Status:T2\n"
             "A1\tStatusTimeVal T2 past\n")
# the exact trigger comes first in the file, a spurious one starting earlier second
SDOH_PRED = ("T1\tAlcohol 7 11\twine\nT2\tStatusTime 7 11\twine\nE1\tAlcohol:T1 Status:T2\nA1\tStatusTimeVal T2 past\n"
             "T3\tAlcohol 0 9\tDrinks wi\nT4\tStatusTime 0 6\tDrinks\nE2\tAlcohol:T3 Status:T4\n"
             "A2\tStatusTimeVal T4 current\n")


def test_sdoh_trigger_alignment_walks_gold_then_predictions_in_file_order(tmp_path):
    text, gold_ann = SDOH_GOLD
    gold, pred = parse_ann(gold_ann, text, "s"), parse_ann(SDOH_PRED, text, "s")
    s = score_events([gold], [pred])
    # the gold event takes E1 (first overlapping prediction in file order), not E2 (earlier start): its
    # StatusTime 'past' matches; E2's trigger and argument are false positives
    assert _counts(s["per_argument"]["Alcohol/Trigger"]) == [1, 1, 0]
    assert _counts(s["per_argument"]["Alcohol/StatusTime"]) == [1, 1, 0]
    out = _score(tmp_path, "--events", gold={"s.txt": text, "s.ann": gold_ann}, pred={"s.ann": SDOH_PRED})
    assert out["scores"] == json.loads(json.dumps(s))


@pytest.mark.parametrize("folder", ["brat_reference", "medXN_test", "medex_test"])
def test_public_gold_vs_itself_is_perfect_in_every_mode(tmp_path, data_dir, folder):
    src = data_dir / "etude-brat-samples" / folder
    for flags in ((), ("--official",)):
        assert main([str(src), str(src), "--json", str(tmp_path / "s.json"), *flags]) == 0
        scores = json.loads((tmp_path / "s.json").read_text())["scores"]
        for kind in scores:
            for mode in ("strict", "lenient"):
                m = scores[kind][mode]["micro"]
                assert m["tp"] > 0 and (m["fp"], m["fn"], m["f1"]) == (0, 0, 1.0), (folder, flags, kind, mode)
