"""A sentence splitter for clinical notes, by character offsets.

Notes break lines far more often than they end sentences with a period, so every line break ends a
sentence; inside a line, ``. ! ?`` followed by whitespace and an upper-case letter or digit ends one, unless
the word before it is an abbreviation ("p.o.", "b.i.d.", "Dr.", "mg.", a single letter).
"""

from __future__ import annotations

import re

_END = re.compile(r"[.!?]+(?=\s+[A-Z0-9(\[\"'])")
_ABBREV = {"dr", "mr", "mrs", "ms", "pt", "vs", "no", "st", "approx", "mg", "mcg", "ml", "tab", "tabs", "cap",
           "caps", "inj", "sol", "susp", "hr", "hrs", "min", "wk", "wks", "mo", "yr", "yrs", "e.g", "i.e", "etc",
           "fig", "al", "ref"}


def _is_abbreviation(line: str, dot: int) -> bool:
    word = re.search(r"([A-Za-z][A-Za-z.]*)$", line[:dot])
    if word is None:
        return False
    w = word.group(1).lower()
    return len(w) == 1 or "." in w or w in _ABBREV


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans ``[start, end)``, stripped of surrounding whitespace; empty lines give none."""
    spans: list[tuple[int, int]] = []
    for line in re.finditer(r"[^\r\n]+", text):
        base, content = line.start(), line.group()
        cuts = [m.end() for m in _END.finditer(content) if not _is_abbreviation(content, m.start())]
        start = 0
        for cut in [*cuts, len(content)]:
            piece = content[start:cut]
            lead = len(piece) - len(piece.lstrip())
            trail = len(piece.rstrip())
            if trail > lead:
                spans.append((base + start + lead, base + start + trail))
            start = cut
    return spans
