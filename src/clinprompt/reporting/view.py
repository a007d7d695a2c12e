"""The error-analysis page: one self-contained offline HTML file (inline CSS and JS, no external assets).

Each note is shown once, gold spans drawn as bars above the text and predicted spans below, one lane per
nesting level so nested and overlapping spans stay apart; bar colour = entity type, outline and tag = outcome.
Exactly one ``.ann`` element stands for each gold entity, predicted entity and relation (classes ``gold`` /
``pred`` / ``rel`` and ``k-tp`` / ``k-fp`` / ``k-fn``), which is what the tests count in a real browser.
The page holds note text: write it only where the user asks.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from pathlib import Path

from clinprompt.evaluation.matching import Mention
from clinprompt.reporting.errors import Analysis, DocErrors, Span, issue_counts
from clinprompt.reporting.view_assets import PALETTE, SCRIPT, STYLE

CATEGORIES = (("tp", "correct"), ("fp", "false positive"), ("fn", "false negative"),
              ("boundary", "boundary error"), ("type", "type error"))
_TAG = {"tp": "✓", "fp": "FP", "fn": "FN", "boundary": "B", "type": "T"}
_REL = {"tp": "correct", "fp": "spurious", "fn": "missed"}
LANE = 16  # px per bar lane
LEGEND = (
    '<p class="legend">Gold entities are drawn <b>above</b> the text, predictions <b>below</b>; one lane per nesting '
    'level. Colour = entity type; tag = outcome: <span class="tag c-tp">✓</span> matched, <span class="tag c-fp">FP'
    '</span>/<span class="tag c-fn">FN</span> unmatched, <span class="tag c-boundary">B</span> boundary error (same '
    'type, overlapping span), <span class="tag c-type">T</span> type error (same span, other type); a boundary or '
    'type error is one FP plus one FN in the counts. In the relation lists, a <span class="arg no-match">wavy</span> '
    'argument has no matching entity on the other side. Matching: clinprompt-score, {mode} mode (discontinuous '
    'spans as first start .. last end). Hover a tag for ids and offsets; hover a bar to outline its partner.</p>')


def category(s: Span) -> str:
    return s.error or s.kind


def _lanes(spans: Sequence[Span]) -> dict[int, int]:
    """Interval colouring: a span goes to the first lane free at its start; containers before contents."""
    ends: list[int] = []
    out = {}
    for k in sorted(range(len(spans)), key=lambda k: (spans[k].start, -spans[k].end, spans[k].type)):
        s = spans[k]
        lane = next((i for i, e in enumerate(ends) if e <= s.start), len(ends))
        if lane == len(ends):
            ends.append(0)
        ends[lane] = s.end
        out[k] = lane
    return out


def _pieces(text: str, a: int, b: int) -> list[tuple[int, int, bool]]:
    """[a, b) cut into words with their trailing spaces (so bars wrap with the text) and newlines (plain)."""
    out, i = [], a
    while i < b:
        if text[i] in "\r\n":
            j = i
            while j < b and text[j] in "\r\n":
                j += 1
            out.append((i, j, False))
        else:  # at least one character, so odd whitespace (\xa0, \f) cannot stall the loop
            j = i + 1
            while j < b and not text[j].isspace():
                j += 1
            while j < b and text[j].isspace() and text[j] not in "\r\n":
                j += 1
            out.append((i, j, True))
        i = j
    return out


def _bar(s: Span, key: str, lane: int, n_lanes: int, first: bool, type_ix: dict[str, int], pair_key: str) -> str:
    pos = "top" if s.side == "gold" else "bottom"
    offset = (n_lanes - 1 - lane) * LANE
    cls = f"bar {s.side} c-{category(s)} t-{type_ix[s.type]}"
    label = ""
    if first:
        tag = _TAG[category(s)]
        title = f"{s.side} {s.id} {s.type} [{s.start}, {s.end}): {dict(CATEGORIES)[category(s)]}"
        if s.partner:
            title += f" (pairs with {'pred' if s.side == 'gold' else 'gold'} {s.partner})"
        label = (f'<b class="ann {s.side} k-{s.kind} c-{category(s)} t-{type_ix[s.type]}" '
                 f'title="{html.escape(title)}"><em>{tag}</em>{html.escape(s.type)}</b>')
        cls += " first"
    pair = f' data-p="{html.escape(pair_key)}"' if s.partner else ""
    return f'<i class="{cls}" data-k="{html.escape(key)}"{pair} style="{pos}:{offset}px">{label}</i>'


def _text_html(doc: DocErrors, type_ix: dict[str, int]) -> str:
    spans = doc.spans
    # keys are local to the document's section (hover highlighting looks only there): side initial + brat id
    keys = [f"{s.side[0]}{s.id}" for s in spans]
    pairs = [f"{'p' if s.side == 'gold' else 'g'}{s.partner}" for s in spans]
    gold = [k for k, s in enumerate(spans) if s.side == "gold"]
    pred = [k for k, s in enumerate(spans) if s.side == "pred"]
    lanes = {gold[i]: v for i, v in _lanes([spans[k] for k in gold]).items()}
    lanes |= {pred[i]: v for i, v in _lanes([spans[k] for k in pred]).items()}
    n_gold = max((lanes[k] for k in gold), default=-1) + 1
    n_pred = max((lanes[k] for k in pred), default=-1) + 1
    cuts = sorted({0, len(doc.text)} | {s.start for s in spans} | {s.end for s in spans})
    started: set[int] = set()
    out = []
    for a, b in zip(cuts, cuts[1:], strict=False):
        cover = [k for k, s in enumerate(spans) if s.start <= a and b <= s.end and s.start < s.end]
        if not cover:
            out.append(html.escape(doc.text[a:b]))
            continue
        for i, j, word in _pieces(doc.text, a, b):
            if not word:
                out.append(html.escape(doc.text[i:j]))
                continue
            bars = []
            for k in sorted(cover, key=lambda k: lanes[k]):
                n = n_gold if spans[k].side == "gold" else n_pred
                bars.append(_bar(spans[k], keys[k], lanes[k], n, k not in started, type_ix, pairs[k]))
                started.add(k)
            out.append(f'<span class="pc">{"".join(bars)}{html.escape(doc.text[i:j])}</span>')
    # empty spans (start == end) have no text to sit on: list them so nothing is dropped
    for k, s in enumerate(spans):
        if k not in started:
            out.append(f'<span class="pc">{_bar(s, keys[k], 0, 1, True, type_ix, pairs[k])}∅</span>')
    style = f"--gl:{n_gold * LANE}px;--pl:{n_pred * LANE}px"
    return f'<div class="text" style="{style}">{"".join(out)}</div>'


def _arg(text: str, m: Mention, found: bool, kind: str) -> str:
    if found:
        attrs = 'class="arg"'
    else:
        other = "predicted" if kind == "fn" else "gold"
        attrs = f'class="arg no-match" title="no {other} {html.escape(m.label)} entity matches this argument"'
    return (f'<span {attrs}>{html.escape(text[m.start:m.end])}</span> '
            f'<small>{html.escape(m.label)} [{m.start}, {m.end})</small>')


def _relations_html(doc: DocErrors, rel_ix: dict[str, int]) -> str:
    if not doc.relations:
        return ""
    rows = []
    for r in doc.relations:
        ids = " / ".join(x for x in (r.gold_id and f"gold {r.gold_id}", r.pred_id and f"pred {r.pred_id}") if x)
        rows.append(f'<tr class="ann rel k-{r.kind} c-{r.kind} r-{rel_ix[r.type]}" title="{html.escape(ids)}">'
                    f'<td><span class="tag c-{r.kind}">{_REL[r.kind]}</span></td><td>{html.escape(r.type)}</td>'
                    f'<td>{_arg(doc.text, r.arg1, r.args_found[0], r.kind)}</td>'
                    f'<td>{_arg(doc.text, r.arg2, r.args_found[1], r.kind)}</td></tr>')
    return ('<table class="rels"><thead><tr><th>relation</th><th>type</th><th>Arg1</th><th>Arg2</th></tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>')


def _count_cells(doc: DocErrors, what: str) -> str:
    tp, fp, fn = doc.counts(what)
    return f"TP {tp} · FP {fp} · FN {fn}"


def _doc_html(doc: DocErrors, order: int, type_ix: dict[str, int], rel_ix: dict[str, int], relations: bool) -> str:
    empty = not any(doc.counts())  # nothing to find, nothing predicted: no F1, sorted last
    f1 = "" if empty else f"{doc.f1():.6f}"
    head = [f'<span class="f1">F1 {"–" if empty else f"{doc.f1():.3f}"}</span>',
            f"<span>{_count_cells(doc, 'concepts')}</span>"]
    extra = [f"{n} {e}" for e in ("boundary", "type") if (n := doc.errors(e))]
    if extra:
        head.append(f"<span>({', '.join(extra)} errors)</span>")
    if relations:
        head.append(f'<span>relations F1 {doc.f1("relations"):.3f} · {_count_cells(doc, "relations")}</span>')
    if not doc.has_pred:
        head.append('<span class="warn">no prediction file</span>')
    if not doc.has_gold:
        head.append('<span class="warn">no gold note</span>')
    return (f'<section class="doc" data-f1="{f1}" data-id="{html.escape(doc.doc_id)}" data-order="{order}">'
            f'<details open><summary><h2>{html.escape(doc.doc_id)}</h2>{"".join(head)}</summary>'
            f'{_text_html(doc, type_ix)}{_relations_html(doc, rel_ix)}</details></section>')


def _score_row(name: str, s: dict) -> str:
    return (f"<tr><td>{html.escape(name)}</td><td>{s['tp']}</td><td>{s['fp']}</td><td>{s['fn']}</td>"
            f"<td>{s['precision']:.3f}</td><td>{s['recall']:.3f}</td><td>{s['f1']:.3f}</td></tr>")


def _summary_html(an: Analysis) -> str:
    parts = []
    for what in ("concepts", "relations"):
        if what not in an.scores:
            continue
        sc = an.scores[what][an.mode]
        rows = [_score_row(f"all (micro), macro F1 {sc['macro']['f1']:.3f}", sc["micro"])]
        rows += [_score_row(t, sc["per_type"][t]) for t in sc["per_type"]
                 if sum(sc["per_type"][t][c] for c in ("tp", "fp", "fn"))]
        parts.append(f'<div class="card"><h3>{what} ({an.mode})</h3><table class="scores"><thead><tr><th>type</th>'
                     f"<th>TP</th><th>FP</th><th>FN</th><th>P</th><th>R</th><th>F1</th></tr></thead>"
                     f'<tbody>{"".join(rows)}</tbody></table></div>')
    return "".join(parts)


def _filters_html(an: Analysis, type_ix: dict[str, int], rel_ix: dict[str, int]) -> str:
    n = dict.fromkeys((c for c, _ in CATEGORIES), 0)
    for d in an.docs:  # one per matched pair, FP, FN, or boundary / type error pair (counted on the pred side)
        for s in d.spans:
            n[category(s)] += s.side == ("gold" if category(s) == "fn" else "pred")
    kinds = "".join(f'<label><input type="checkbox" checked data-hide="hide-c-{c}"><span class="tag c-{c}">'
                    f'{_TAG[c]}</span> {name} <span class="n">{n[c]}</span></label>' for c, name in CATEGORIES)
    types = "".join(f'<label><input type="checkbox" checked data-hide="hide-t-{i}"><span class="sw t-{i}"></span>'
                    f"{html.escape(t)}</label>" for t, i in type_ix.items())
    rels = "".join(f'<label><input type="checkbox" checked data-hide="hide-r-{i}">{html.escape(t)}</label>'
                   for t, i in rel_ix.items())
    rows = [f'<div class="row"><b>outcome</b>{kinds}</div>', f'<div class="row"><b>entity type</b>{types}</div>']
    if rels:
        rows.append(f'<div class="row"><b>relation type</b>{rels}</div>')
    rows.append('<div class="row"><b>documents</b><label>sort <select id="sort"><option value="f1-asc">F1, worst '
                'first</option><option value="f1-desc">F1, best first</option><option value="id">document id'
                '</option></select></label><label><input type="checkbox" id="errors-only"> only documents with '
                'shown errors</label></div>')
    return f'<div class="filters">{"".join(rows)}</div>'


def _issues_html(an: Analysis) -> str:
    items = [f"<li>{side}: {html.escape(str(i))}</li>" for side, issues in an.issues.items() for i in issues]
    if not items:
        return ""
    return f'<details class="issues"><summary>{issue_counts(an.issues)}</summary><ul>{"".join(items)}</ul>' \
           f"</details>"


def _type_css(type_ix: dict[str, int], rel_ix: dict[str, int]) -> str:
    rules = []
    for i in type_ix.values():
        bg, fg = PALETTE[i % len(PALETTE)]
        rules.append(f".t-{i}{{--tc:{bg};--tf:{fg}}}.hide-t-{i} #docs .t-{i}{{visibility:hidden}}")
    rules += [f".hide-r-{i} #docs tr.r-{i}{{display:none}}" for i in rel_ix.values()]
    return "".join(rules)


def render(an: Analysis, title: str = "clinprompt error analysis") -> str:
    """The page as a string."""
    type_ix = {t: i for i, t in enumerate(an.entity_types)}
    rel_ix = {t: i for i, t in enumerate(an.relation_types)}
    docs = "".join(_doc_html(d, k, type_ix, rel_ix, bool(an.relation_types)) for k, d in enumerate(an.docs))
    counts = {"gold": {}, "pred": {}, "rel": {}}
    for d in an.docs:
        for s in d.spans:
            counts[s.side][s.kind] = counts[s.side].get(s.kind, 0) + 1
        for r in d.relations:
            counts["rel"][r.kind] = counts["rel"].get(r.kind, 0) + 1
    legend = LEGEND.format(mode=an.mode)
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<style>{STYLE}{_type_css(type_ix, rel_ix)}:root{{--lane:{LANE}px}}</style></head><body>"
            f"<header><h1>{html.escape(title)}</h1><p class=\"meta\">{len(an.docs)} documents · contains note text: "
            f"do not share outside the data use agreement</p>{_summary_html(an)}</header>{legend}"
            f"{_filters_html(an, type_ix, rel_ix)}{_issues_html(an)}<main id=\"docs\">{docs}</main>"
            f"<div id=\"dom-counts\" hidden data-expected='{html.escape(json.dumps(counts))}'></div>"
            f"<script>{SCRIPT}</script></body></html>")


def write_page(an: Analysis, out: Path, title: str = "clinprompt error analysis") -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(an, title), encoding="utf-8")
    return out
