"""Inline CSS and JS of the error-analysis page (kept here so the page needs no file or network at view time)."""

# (bar colour, label colour) per entity type, in the order of the page's type list; readable on white
PALETTE = (
    ("#8ecae6", "#05324a"), ("#ffb703", "#3d2a00"), ("#b5e48c", "#1f3d08"), ("#f4a6c6", "#4a0d28"),
    ("#cdb4db", "#2e1440"), ("#ffd6a5", "#4a2800"), ("#a0e7e5", "#0a3d3b"), ("#e9c46a", "#3b2d05"),
    ("#bde0fe", "#0b2e52"), ("#d4a373", "#3a220a"), ("#caffbf", "#163d10"), ("#ffadad", "#4a0a0a"),
)

STYLE = """
*{box-sizing:border-box}
body{margin:0;padding:0 24px 48px;background:#f4f5f7;color:#1d2330;font:14px/1.45 system-ui,-apple-system,
 "Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
header{display:flex;flex-wrap:wrap;gap:12px 20px;align-items:flex-start;padding:18px 0 6px}
header h1{flex-basis:100%;margin:0;font-size:20px}
header .meta{flex-basis:100%;margin:-8px 0 0;color:#6b7280;font-size:12.5px}
.card{background:#fff;border:1px solid #e3e6eb;border-radius:8px;padding:8px 12px}
.card h3{margin:0 0 4px;font-size:13px;text-transform:uppercase;letter-spacing:.04em;color:#4b5563}
table{border-collapse:collapse}
.scores td,.scores th{padding:1px 8px;text-align:right;font-variant-numeric:tabular-nums;font-size:12.5px}
.scores td:first-child,.scores th:first-child{text-align:left}
.scores tbody tr:first-child{font-weight:600;border-bottom:1px solid #e3e6eb}
.legend{font-size:12.5px;color:#4b5563;margin:8px 0}
.filters{position:sticky;top:0;z-index:5;background:#f4f5f7ee;padding:6px 0;border-bottom:1px solid #e3e6eb}
.filters .row{display:flex;flex-wrap:wrap;gap:4px 14px;align-items:center;font-size:12.5px;margin:2px 0}
.filters .row>b{width:92px;color:#4b5563;font-weight:600}
.filters label{display:inline-flex;gap:4px;align-items:center;cursor:pointer}
.n{color:#6b7280;font-variant-numeric:tabular-nums}
.sw{display:inline-block;width:12px;height:12px;border-radius:3px;background:var(--tc)}
.tag{display:inline-block;min-width:16px;padding:0 4px;border-radius:3px;color:#fff;font:700 10px/15px system-ui,
 sans-serif;text-align:center;font-style:normal}
.tag.c-tp,.ann em{background:#2e7d32}
.c-fp>.tag,.tag.c-fp,.ann.c-fp em{background:#d62728}
.tag.c-fn,.ann.c-fn em{background:#d62728}
.tag.c-boundary,.ann.c-boundary em{background:#e67e00}
.tag.c-type,.ann.c-type em{background:#7b3fb0}
.issues{margin:8px 0;font-size:12.5px}
.doc{background:#fff;border:1px solid #e3e6eb;border-radius:8px;margin:12px 0;padding:4px 16px 12px}
.doc summary{cursor:pointer;display:flex;flex-wrap:wrap;gap:4px 14px;align-items:baseline;padding:6px 0;
 font-size:12.5px;color:#4b5563}
.doc summary h2{margin:0;font-size:15px;color:#1d2330}
.doc .f1{font-weight:700;color:#1d2330}
.warn{color:#b45309;font-weight:600}
.text{white-space:pre-wrap;font:13.5px/1.5 ui-monospace,"SFMono-Regular",Menlo,Consolas,"DejaVu Sans Mono",
 monospace;margin:6px 0 10px;overflow-wrap:anywhere}
.pc{display:inline-block;position:relative;padding:var(--gl) 0 var(--pl);white-space:pre}
.bar{position:absolute;left:0;right:0;height:calc(var(--lane) - 3px);background:var(--tc);font-style:normal}
.bar.gold{margin-top:1px}.bar.pred{margin-bottom:1px}
.bar.first{border-top-left-radius:4px;border-bottom-left-radius:4px}
.bar.c-fp,.bar.c-fn,.bar.c-boundary,.bar.c-type{background:repeating-linear-gradient(135deg,var(--tc) 0 5px,
 #fff 5px 8px)}
.bar.c-fp,.bar.c-fn{box-shadow:inset 0 1.5px #d62728,inset 0 -1.5px #d62728}
.bar.c-boundary{box-shadow:inset 0 1.5px #e67e00,inset 0 -1.5px #e67e00}
.bar.c-type{box-shadow:inset 0 1.5px #7b3fb0,inset 0 -1.5px #7b3fb0}
.bar>.ann{position:absolute;left:0;top:0;z-index:1;display:flex;gap:3px;align-items:center;padding:0 5px 0 0;
 height:100%;border-radius:4px;background:var(--tc);color:var(--tf);font:600 10px/1 system-ui,sans-serif;
 white-space:nowrap;cursor:default}
.bar>.ann em{font-style:normal;color:#fff;padding:0 3px;height:100%;display:flex;align-items:center;
 border-radius:4px 0 0 4px}
.bar.c-tp,.bar.c-tp>.ann{background:color-mix(in srgb,var(--tc) 55%,#fff)}
.bar.hl{outline:2px solid #1d2330;z-index:2}
.rels{font-size:12.5px;margin-top:4px;width:100%}
.rels th{text-align:left;color:#6b7280;font-weight:600;border-bottom:1px solid #e3e6eb;padding:2px 8px}
.rels td{padding:2px 8px;border-bottom:1px solid #f0f1f4;vertical-align:top}
.rels tr.c-fp{background:#fff5f5}.rels tr.c-fn{background:#fff8f0}
.arg{font-family:ui-monospace,Menlo,Consolas,"DejaVu Sans Mono",monospace;background:#f1f3f6;padding:0 3px;
 border-radius:3px}
.rels small{color:#6b7280}
.arg.no-match{text-decoration:underline wavy #d62728;text-underline-offset:3px}
.hide-c-tp #docs .c-tp,.hide-c-fp #docs .c-fp,.hide-c-fn #docs .c-fn,.hide-c-boundary #docs .c-boundary,
.hide-c-type #docs .c-type{visibility:hidden}
.hide-c-tp #docs tr.c-tp,.hide-c-fp #docs tr.c-fp,.hide-c-fn #docs tr.c-fn{display:none}
"""

# Filters and sorting; writes the number of .ann elements per side and kind (all, and shown) into #dom-counts
# so a headless browser test can read what the page really rendered.
SCRIPT = r"""
(() => {
  const body = document.body, box = document.getElementById('docs');
  const boxes = [...document.querySelectorAll('input[data-hide]')];
  const sortSel = document.getElementById('sort'), errOnly = document.getElementById('errors-only');
  const shown = el => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
  function count() {
    const out = {};
    for (const side of ['gold', 'pred', 'rel']) for (const k of ['tp', 'fp', 'fn']) {
      const els = [...document.querySelectorAll(`.ann.${side}.k-${k}`)];
      out[`${side}-${k}`] = {total: els.length, shown: els.filter(shown).length};
    }
    out.order = [...box.children].filter(d => !d.hidden).map(d => d.dataset.id);
    document.getElementById('dom-counts').dataset.rendered = JSON.stringify(out);
  }
  function sortDocs() {
    const how = sortSel.value, docs = [...box.children];
    docs.sort((a, b) => {
      if (how === 'id') return a.dataset.id < b.dataset.id ? -1 : a.dataset.id > b.dataset.id ? 1 : 0;
      const fa = a.dataset.f1 === '' ? NaN : +a.dataset.f1, fb = b.dataset.f1 === '' ? NaN : +b.dataset.f1;
      if (isNaN(fa) !== isNaN(fb)) return isNaN(fa) ? 1 : -1;  // documents without F1 go last
      const d = isNaN(fa) ? 0 : fa - fb;
      return (how === 'f1-desc' ? -d : d) || (a.dataset.order - b.dataset.order);
    });
    for (const d of docs) box.appendChild(d);
  }
  function apply() {
    for (const b of boxes) body.classList.toggle(b.dataset.hide, !b.checked);
    for (const d of box.children) {
      d.hidden = false;
      if (errOnly.checked) d.hidden = ![...d.querySelectorAll('.ann:not(.c-tp)')].some(shown);
    }
    sortDocs();
    count();
    const hide = boxes.filter(b => !b.checked).map(b => b.dataset.hide.slice(5));
    history.replaceState(null, '', '#sort=' + sortSel.value + (hide.length ? '&hide=' + hide.join(',') : '') +
                         (errOnly.checked ? '&errors=1' : ''));
  }
  const state = new URLSearchParams(location.hash.slice(1));
  if (state.get('sort')) sortSel.value = state.get('sort');
  const hidden = new Set((state.get('hide') || '').split(',').filter(Boolean));
  for (const b of boxes) b.checked = !hidden.has(b.dataset.hide.slice(5));
  errOnly.checked = state.get('errors') === '1';
  for (const el of [...boxes, sortSel, errOnly]) el.addEventListener('change', apply);
  box.addEventListener('mouseover', e => {
    const bar = e.target.closest('.bar');
    for (const el of box.querySelectorAll('.bar.hl')) el.classList.remove('hl');
    if (!bar) return;
    const keys = [bar.dataset.k, bar.dataset.p].filter(Boolean), doc = bar.closest('.doc');
    for (const el of doc.querySelectorAll('.bar')) if (keys.includes(el.dataset.k)) el.classList.add('hl');
  });
  apply();
})();
"""
