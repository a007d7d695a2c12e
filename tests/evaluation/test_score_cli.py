"""clinprompt-score on the n2c2-shaped ETUDE fixtures: gold vs a messy system output, counted by hand."""

from __future__ import annotations

import json
import shutil

from clinprompt.cli.score import main


def test_messy_output_scores_without_crashing_and_counts_bad_lines(tmp_path, data_dir, capsys):
    gold, pred = tmp_path / "gold", tmp_path / "pred"
    shutil.copytree(data_dir / "etude-brat-samples/medXN_test", gold)
    shutil.copytree(data_dir / "etude-brat-samples/medex_test", pred)
    assert main([str(gold), str(pred), "--json", str(tmp_path / "s.json")]) == 0
    out = json.loads((tmp_path / "s.json").read_text())
    c = out["scores"]["concepts"]
    # 10 predicted entities survive (2 tab-broken lines and 14 past-the-end spans are skipped) vs 13 gold.
    # strict: only Strength 10-16 is exact. lenient adds Route 18-22~17-21, Dosage 39-49~37-40,
    # Duration 130-137~133-139.
    assert [c["strict"]["micro"][k] for k in ("tp", "fp", "fn")] == [1, 9, 12]
    assert [c["lenient"]["micro"][k] for k in ("tp", "fp", "fn")] == [4, 6, 9]
    assert c["strict"]["per_type"]["Strength"]["tp"] == 1
    # every surviving relation points at a Drug the gold never had at that span: none match
    assert out["scores"]["relations"]["lenient"]["micro"]["tp"] == 0
    assert out["scores"]["relations"]["strict"]["micro"]["fn"] == 10
    fields = [i.split(": ")[1] for i in out["reader_issues"]["pred"]["all"]]
    # 2 tab-broken T lines, 14 spans past the end, 15 of 18 relations point at a skipped T, 10 wrong text fields
    assert {f: fields.count(f) for f in set(fields)} == {"annotation": 2, "offsets": 14, "reference": 15, "text": 10}
    assert out["reader_issues"]["gold"]["all"] == []
    # the 10 text-field mismatches keep their entity: they are not counted as skipped
    assert (out["reader_issues"]["pred"]["skipped"], out["reader_issues"]["pred"]["kept_with_warning"]) == (31, 10)
    assert "pred: 31 annotation lines skipped, 10 kept with a warning" in capsys.readouterr().out
