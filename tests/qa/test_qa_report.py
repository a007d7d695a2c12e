"""The QA report on constructed runs: hand-counted discordant pairs, McNemar p from statsmodels' binomial
(checked against scipy), bootstrap CI around the known difference, all files written."""

from __future__ import annotations

import json

import pytest
from scipy import stats as sps

from clinprompt.cli.qa_report import main


def fake_run(root, name, strategy, preds, gold, trainable):
    d = root / name
    d.mkdir(parents=True)
    from clinprompt.qa.metrics import classification_metrics

    test = classification_metrics(gold, preds, ("yes", "no"))
    test["latency"] = {"mean_ms": 10.0, "p95_ms": 12.0, "n": 5}
    res = {"run": {"id": name, "status": "finished"}, "grid": {"model": "m", "strategy": strategy,
                                                               "dataset": "pubmedqa", "seed": 1},
           "params": {"total": 1000, "trainable": trainable},
           "metrics": {"test": test, "dev_curve": [{"epoch": 0, "accuracy": 0.5, "macro_f1": 0.4}]}}
    (d / "results.json").write_text(json.dumps(res))
    pairs = enumerate(zip(gold, preds, strict=True))
    per = {f"p{i}": {"gold": g, "pred": p, "correct": int(g == p)} for i, (g, p) in pairs}
    (d / "per_document.json").write_text(json.dumps({"test": per}))


def test_report_table_and_files(tmp_path, capsys):
    gold = ["yes"] * 30 + ["no"] * 20
    base = ["yes"] * 50                                   # right on the 30 yes
    tuned = ["yes"] * 25 + ["no"] * 5 + ["no"] * 18 + ["invalid"] * 2  # loses 5 yes, gains 18 no
    fake_run(tmp_path / "sweep", "0", "qa_base", base, gold, 0)
    fake_run(tmp_path / "sweep", "1", "qa_prompt_tuning", tuned, gold, 320)
    (tmp_path / "sweep" / "broken").mkdir()
    (tmp_path / "sweep" / "broken" / "results.json").write_text("{")
    out = tmp_path / "report"
    assert main([str(tmp_path / "sweep"), "--out", str(out), "--resamples", "999"]) == 0
    rows = {r.split("|")[2].strip(): r for r in (out / "table.md").read_text().splitlines()[2:]}
    assert set(rows) == {"qa_base", "qa_prompt_tuning"}
    import pandas as pd

    t = pd.read_csv(out / "table.csv").set_index("strategy")
    tuned_row = t.loc["qa_prompt_tuning"]
    assert tuned_row["accuracy"] == pytest.approx(43 / 50) and tuned_row["invalid"] == 2
    assert (tuned_row["mcnemar_b"], tuned_row["mcnemar_c"]) == (18, 5)  # fixes, regressions (hand-counted)
    assert tuned_row["mcnemar_p"] == pytest.approx(sps.binomtest(5, 23, 0.5).pvalue)
    assert tuned_row["acc_diff"] == pytest.approx(43 / 50 - 30 / 50)
    assert tuned_row["acc_ci_low"] < tuned_row["acc_diff"] < tuned_row["acc_ci_high"]
    for png in ("metrics", "latency", "params", "dev_curves", "confusion"):
        assert (out / f"{png}.png").stat().st_size > 1000
    assert "broken" in capsys.readouterr().err  # an unreadable run is listed, not silently dropped


def test_no_qa_runs_is_a_one_line_error(tmp_path, capsys):
    assert main([str(tmp_path), "--out", str(tmp_path / "r")]) == 2
    assert "no finished QA runs" in capsys.readouterr().err
