"""clinprompt-view in a real browser: headless Chromium (Debian package `chromium`, installed by .ci/run) runs the
page's JS; the elements it finds per outcome must equal clinprompt-score's counts, filters must hide what they
say, sorting must order by F1, and the screenshot must show a drawn page."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html import unescape
from pathlib import Path

import pytest
from view_data import synthetic_folders

from clinprompt.cli.score import main as score_main
from clinprompt.cli.view import main as view_main
from clinprompt.reporting.errors import analyse, read_folders

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-headless-shell", "chromium-browser",
                                               "google-chrome")) if p), None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no headless Chromium on PATH (Debian: apt-get install "
                                                         "chromium; .ci/run installs it)")


def chromium(tmp_path: Path, url: str, *args: str) -> subprocess.CompletedProcess:
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
           f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000", *args, url]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=True)


def rendered_counts(dom: str) -> dict:
    m = re.search(r'<div id="dom-counts"[^>]*data-rendered="([^"]*)"', dom)
    assert m, "the page's script did not run (no data-rendered on #dom-counts)"
    return json.loads(unescape(m.group(1)))


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("view")
    gold, pred = synthetic_folders(tmp, n=4, with_pred_text=True)
    (gold / "aaa-empty.txt").write_text("No medications.\n")  # no F1 (nothing to find): sorted last
    assert score_main([str(gold), str(pred), "--json", str(tmp / "scores.json")]) == 0
    out = tmp / "view.html"
    assert view_main([str(gold), str(pred), "--out", str(out)]) == 0
    scores = json.loads((tmp / "scores.json").read_text())["scores"]
    return tmp, out, scores, analyse(*read_folders(gold, pred)[:2])


def test_rendered_counts_equal_the_scorer(page):
    tmp, out, scores, an = page
    got = rendered_counts(chromium(tmp, out.as_uri() + "#sort=f1-asc", "--dump-dom").stdout)
    c, r = scores["concepts"]["strict"]["micro"], scores["relations"]["strict"]["micro"]
    expected = {"pred-tp": c["tp"], "gold-tp": c["tp"], "pred-fp": c["fp"], "gold-fn": c["fn"],
                "rel-tp": r["tp"], "rel-fp": r["fp"], "rel-fn": r["fn"], "pred-fn": 0, "gold-fp": 0}
    assert {k: v for k, v in got.items() if k != "order"} == {k: {"total": n, "shown": n} for k, n in expected.items()}
    assert min(c["tp"], c["fp"], c["fn"], r["tp"], r["fp"], r["fn"]) > 0
    # sorted by F1, worst first (ties in input order), as the scorer's per-document counts give it
    by_f1 = sorted(range(len(an.docs)), key=lambda k: (not any(an.docs[k].counts()), an.docs[k].f1(), k))
    assert got["order"] == [an.docs[k].doc_id for k in by_f1] and got["order"][-1] == "aaa-empty"
    assert len({round(d.f1(), 6) for d in an.docs}) > 1


def test_filters_hide_in_the_browser(page):
    tmp, out, scores, an = page
    # show only plain false negatives: every other outcome is hidden, nothing else is
    url = out.as_uri() + "#sort=id&hide=c-tp,c-fp,c-boundary,c-type"
    got = rendered_counts(chromium(tmp, url, "--dump-dom").stdout)
    plain_fn = sum(s.side == "gold" and s.kind == "fn" and not s.error for d in an.docs for s in d.spans)
    assert 0 < plain_fn < scores["concepts"]["strict"]["micro"]["fn"]
    assert got["gold-fn"]["shown"] == plain_fn
    assert got["pred-tp"]["shown"] == got["gold-tp"]["shown"] == got["pred-fp"]["shown"] == 0
    assert got["rel-tp"]["shown"] == got["rel-fp"]["shown"] == 0
    assert got["rel-fn"]["shown"] == scores["relations"]["strict"]["micro"]["fn"]  # missed relations stay
    assert got["order"] == sorted(d.doc_id for d in an.docs)


def test_screenshot_is_a_drawn_page(page):
    from PIL import Image

    tmp, out, _, _ = page
    shot = tmp / "shot.png"
    chromium(tmp, out.as_uri(), f"--screenshot={shot}", "--window-size=1200,1400")
    img = Image.open(shot).convert("RGB")
    assert img.size == (1200, 1400)
    colours = img.getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 200  # text, type colours, tags: not a blank or one-colour page
    background = max(colours)[0] / (img.width * img.height)
    assert background < 0.9
