"""brat standoff reader and writer.

Offsets are character offsets into the .txt exactly as stored: files are decoded from bytes, so CRLF line
ends count as two characters, and a byte-order mark at the start of a .txt is a character (a .ann whose
offsets ignore it is reported). A BOM at the start of an .ann is removed. Every line kind is read: T
(discontinuous ``a b;c d`` spans too, fragments in any order), R, E, A/M, N, ``*`` (equivalences) and ``#``
(annotator notes).

Bad input is reported as ``path:line: field: reason`` and never quotes note or span text. In strict mode
the first problem raises :class:`BratError`; in lenient mode it is appended to ``issues`` with what was done:
``skipped`` (the line is dropped) or ``kept_with_warning``. Kept with a warning: a T line whose text field
differs from the span it points at (brat's offsets are the annotation and the text field is only a copy;
obfuscated corpora rely on it), and a file with bytes that are not UTF-8 (decoded with U+FFFD in their
place). Skipped: malformed lines, references to undefined ids, and the second definition of a duplicate id
(the first is kept, so relations never re-point).

The writer re-emits every line it read unchanged, byte for byte, while its annotation is still in the
document; new or changed annotations are written after them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

from clinprompt.data.document import Attribute, Document, Entity, Event, Normalization, Note, Relation

_FRAGMENT = re.compile(r"^(\d+) (\d+)$")


SKIPPED, KEPT = "skipped", "kept_with_warning"
BOM = "\ufeff"


class BratIssue(NamedTuple):
    path: str
    line: int
    field: str
    reason: str
    action: str = SKIPPED  # SKIPPED or KEPT (lenient mode)

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.field}: {self.reason}"


class BratError(ValueError):
    def __init__(self, issue: BratIssue):
        super().__init__(str(issue))
        self.issue = issue


class _Skip(Exception):
    """A line that cannot be kept: carries the field and the reason."""

    def __init__(self, field: str, reason: str, action: str = SKIPPED):
        super().__init__(reason)
        self.field, self.reason, self.action = field, reason, action


def _norm(s: str) -> str:
    return " ".join(s.split()).lower()


def _fragments(spec: str, n_chars: int) -> tuple[tuple[int, int], ...]:
    frags = []
    for part in spec.split(";"):
        m = _FRAGMENT.match(part.strip())
        if not m:
            raise _Skip("offsets", f"expected 'start end[;start end]', got {spec!r}")
        s, e = int(m.group(1)), int(m.group(2))
        if s > e:
            raise _Skip("offsets", f"start {s} > end {e}")
        if e > n_chars:
            raise _Skip("offsets", f"end {e} is past the end of the text ({n_chars} characters)")
        frags.append((s, e))
    return tuple(frags)


def _fields(line: str) -> list[str]:
    parts = line.split("\t")
    while len(parts) > 1 and parts[-1].strip() == "":
        parts.pop()  # tolerate trailing tabs
    return parts


def _text_mismatch(stored: str, text: str, frags: tuple[tuple[int, int], ...]) -> str:
    """Why a T line's text field differs from its span: lengths and offsets only, never the text."""
    where = ";".join(f"{s} {e}" for s, e in frags)
    if text.startswith(BOM) and _norm(stored) == _norm(" ".join(text[s + 1:e + 1] for s, e in frags)):
        return (f"offsets {where} ignore the byte-order mark (U+FEFF) at the start of the .txt: every span is "
                "one character early; remove the BOM from the .txt or shift the offsets")
    return (f"text field ({len(stored)} characters) does not match the note at offsets {where}; "
            "the offsets are kept")


_TABLES = {"T": "entities", "R": "relations", "E": "events", "A": "attributes", "M": "attributes",
           "N": "normalizations"}


def _parse_line(line: str, text: str, doc: Document, refs: list, warnings: list) -> object:
    """Parse one line into ``doc`` and return the annotation; id references are checked later (forward
    references are legal). A problem that keeps the annotation goes to ``warnings`` as (field, reason)."""
    parts = _fields(line)
    ident = parts[0].strip()
    if len(parts) < 2:
        raise _Skip("line", "expected tab-separated fields (id<TAB>annotation...)")
    body = parts[1].split()
    if not body:
        raise _Skip("annotation", "empty annotation field")
    kind = ident[0]
    if kind in _TABLES and ident in getattr(doc, _TABLES[kind]):
        raise _Skip("id", f"duplicate id {ident!r}: the first definition is kept, this line is skipped")
    if kind == "T":
        if len(body) < 3:
            raise _Skip("annotation", f"expected 'Type start end', got {parts[1]!r}")
        frags = _fragments(" ".join(body[1:]), len(text))
        stored = parts[2] if len(parts) > 2 else ""
        ent = Entity(ident, body[0], frags, " ".join(text[s:e] for s, e in frags))
        doc.entities[ident] = ent
        if len(parts) > 2 and _norm(stored) != _norm(ent.text):
            warnings.append(("text", _text_mismatch(stored, text, frags)))
        return ent
    elif kind == "R":
        args = dict(a.split(":", 1) for a in body[1:] if ":" in a)
        if len(body) != 3 or len(args) != 2:
            raise _Skip("annotation", f"expected 'Type Arg1:ID Arg2:ID', got {parts[1]!r}")
        (_, a1), (_, a2) = args.items()
        obj = doc.relations[ident] = Relation(ident, body[0], a1, a2)
        refs.append((ident, (a1, a2)))
    elif kind == "E":
        pairs = [a.split(":", 1) for a in body]
        if any(len(p) != 2 or not p[1] for p in pairs):
            raise _Skip("annotation", f"expected 'Type:TRIGGER Role:ID ...', got {parts[1]!r}")
        etype, trigger = pairs[0]
        obj = doc.events[ident] = Event(ident, etype, trigger, tuple((r, i) for r, i in pairs[1:]))
        refs.append((ident, (trigger, *(i for _, i in pairs[1:]))))
    elif kind in "AM":
        if len(body) not in (2, 3):
            raise _Skip("annotation", f"expected 'Name ID [value]', got {parts[1]!r}")
        obj = doc.attributes[ident] = Attribute(ident, body[0], body[1], body[2] if len(body) == 3 else None)
        refs.append((ident, (body[1],)))
    elif kind == "N":
        if len(body) != 3 or ":" not in body[2]:
            raise _Skip("annotation", f"expected 'Reference ID resource:concept', got {parts[1]!r}")
        resource, concept = body[2].split(":", 1)
        obj = doc.normalizations[ident] = Normalization(ident, body[1], resource, concept,
                                                  parts[2] if len(parts) > 2 else "")
        refs.append((ident, (body[1],)))
    elif kind == "*":
        if len(body) < 3:
            raise _Skip("annotation", f"expected 'Equiv ID ID ...', got {parts[1]!r}")
        obj = (body[0], tuple(body[1:]))
        doc.equivs.append(obj)
        refs.append((None, tuple(body[1:])))
    elif kind == "#":
        obj = Note(ident, body[0], body[1] if len(body) > 1 else "", parts[2] if len(parts) > 2 else "")
        doc.notes.append(obj)
    else:
        raise _Skip("id", f"unknown annotation id {ident!r} (expected T, R, E, A, M, N, * or #)")
    return obj


def _remove(doc: Document, ident: str | None) -> None:
    for table in (doc.relations, doc.events, doc.attributes, doc.normalizations):
        table.pop(ident, None)


def parse_ann(ann_text: str, text: str, doc_id: str, path: str = "", strict: bool = True,
              issues: list[BratIssue] | None = None) -> Document:
    """Parse the content of an .ann file against its note text."""
    doc = Document(doc_id, text)
    issues = issues if issues is not None else []

    def report(line_no: int, field: str, reason: str, action: str = SKIPPED) -> None:
        issue = BratIssue(path or doc_id, line_no, field, reason, action)
        if strict:
            raise BratError(issue)
        issues.append(issue)

    ref_lines: list[tuple[int, str | None, tuple[str, ...]]] = []
    ann_text = ann_text.removeprefix(BOM)
    # lines end at '\n' only (as in brat): str.splitlines would also split inside a text field at U+2028,
    # U+0085, form feeds ...
    raws = [line + "\n" for line in ann_text.split("\n")]
    raws[-1] = raws[-1][:-1]
    for no, raw in enumerate((r for r in raws if r), 1):
        line = raw.rstrip("\r\n")
        if not line.strip():
            doc.source.append((None, raw))
            continue
        refs: list = []
        warnings: list[tuple[str, str]] = []
        try:
            doc.source.append((_parse_line(line, text, doc, refs, warnings), raw))
        except _Skip as skip:
            report(no, skip.field, skip.reason, skip.action)
        for field, reason in warnings:
            report(no, field, reason, KEPT)
        ref_lines += [(no, ident, targets) for ident, targets in refs]
    # references resolve after every line is read; an annotation pointing at nothing is dropped
    for no, ident, targets in ref_lines:
        known = doc.entities.keys() | doc.events.keys() | doc.relations.keys()
        missing = [t for t in targets if t not in known]
        if missing:
            _remove(doc, ident)
            if ident is None:
                doc.equivs = [e for e in doc.equivs if e[1] != targets]
            report(no, "reference", f"undefined id {missing[0]!r}")
    return doc


def read_text(path: Path, strict: bool = True, issues: list[BratIssue] | None = None) -> str:
    """The note as stored: no newline translation, so offsets count CRLF as two characters.

    Bytes that are not UTF-8 raise :class:`BratError` naming the file, line and byte offset (never the
    bytes); in lenient mode (``strict=False``) they become U+FFFD and an issue is recorded."""
    data = Path(path).read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        issue = BratIssue(str(path), line, "encoding",
                          f"byte offset {err.start} is not valid UTF-8; re-save the file as UTF-8", SKIPPED)
        if strict:
            raise BratError(issue) from None  # the decode error carries the file's bytes: keep them out
        if issues is not None:
            issues.append(issue._replace(reason=issue.reason + " (decoded with U+FFFD in its place)",
                                         action=KEPT))
        return data.decode("utf-8", errors="replace")


def read_document(txt_path: Path, ann_path: Path | None = None, strict: bool = True,
                  issues: list[BratIssue] | None = None, text: str | None = None) -> Document:
    """One note; ``text`` (e.g. the gold note) stands in for a missing .txt."""
    txt_path = Path(txt_path)
    ann_path = Path(ann_path) if ann_path else txt_path.with_suffix(".ann")
    text = read_text(txt_path, strict, issues) if text is None else text
    ann = read_text(ann_path, strict, issues) if ann_path.exists() else ""
    return parse_ann(ann, text, txt_path.stem, str(ann_path), strict, issues)


def _report(issue: BratIssue, strict: bool, issues: list[BratIssue]) -> None:
    if strict:
        raise BratError(issue)
    issues.append(issue)


def read_dir(folder: Path, strict: bool = True, require_ann: bool = False) -> tuple[list[Document], list[BratIssue]]:
    """Every ``*.txt`` of a folder with its ``.ann``. A missing .ann is an unannotated note; with
    ``require_ann`` (a gold folder) it is also reported, as is a folder with no .txt at all."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"brat folder {folder} does not exist")
    issues: list[BratIssue] = []
    txts = sorted(folder.glob("*.txt"))
    if require_ann and not txts:
        _report(BratIssue(str(folder), 0, "folder", "no .txt notes in this folder"), strict, issues)
    docs = []
    for p in txts:
        if require_ann and not p.with_suffix(".ann").exists():
            _report(BratIssue(str(p), 0, "file", "a .txt note without its .ann: read as a note with no "
                              "annotations", KEPT), strict, issues)
        docs.append(read_document(p, strict=strict, issues=issues))
    for ann in sorted(folder.glob("*.ann")):
        if not ann.with_suffix(".txt").exists():
            _report(BratIssue(str(ann), 0, "file", "an .ann file without its .txt note"), strict, issues)
    return docs, issues


def read_predictions(folder: Path, gold: list[Document], gold_dir: Path | None = None,
                     strict: bool = False) -> tuple[list[Document], list[BratIssue]]:
    """A prediction folder: ``.ann`` files alone (as written by training and ``clinprompt-predict``) take
    each note's text from ``gold``; a ``.txt`` next to one must equal the gold note (a different note is a
    :class:`BratError`, whatever ``strict``). A prediction for a note the gold lacks needs its own .txt."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"brat folder {folder} does not exist")
    by_id = {d.doc_id: d for d in gold}
    issues: list[BratIssue] = []
    docs = []
    for stem in sorted({p.stem for p in folder.glob("*.ann")} | {p.stem for p in folder.glob("*.txt")}):
        txt, ann = folder / f"{stem}.txt", folder / f"{stem}.ann"
        g = by_id.get(stem)
        if g is None and not txt.exists():
            _report(BratIssue(str(ann), 0, "file", "a prediction for a note that is neither in the gold folder "
                              "nor next to it as a .txt: its annotations cannot be placed"), strict, issues)
            continue
        if g is not None and txt.exists():
            own = read_text(txt, strict, issues)
            if own != g.text:
                at = next((i for i, (a, b) in enumerate(zip(own, g.text, strict=False)) if a != b),
                          min(len(own), len(g.text)))
                gold_path = Path(gold_dir) / f"{stem}.txt" if gold_dir else f"the gold note {stem!r}"
                raise BratError(BratIssue(str(txt), own.count("\n", 0, at) + 1, "text",
                                          f"differs from {gold_path} from character {at} on ({len(own)} vs "
                                          f"{len(g.text)} characters): predictions must be made on the same note"))
        docs.append(read_document(txt, ann, strict, issues, text=None if g is None else g.text))
    return docs, issues


def read_gold_and_predictions(gold_dir: Path, pred_dir: Path) -> tuple[list[Document], list[Document],
                                                                      dict[str, list[BratIssue]]]:
    """What a scorer reads: the gold folder (every note needs its .ann; an empty one is an error) and the
    prediction folder against the gold notes (:func:`read_predictions`), both lenient; issues by side."""
    gold, gold_issues = read_dir(gold_dir, strict=False, require_ann=True)
    if not gold:
        raise BratError(gold_issues[0])
    pred, pred_issues = read_predictions(pred_dir, gold, gold_dir, strict=False)
    return gold, pred, {"gold": gold_issues, "pred": pred_issues}


def _lines(doc: Document) -> Iterable[tuple[object, str]]:
    for e in doc.entities.values():
        spans = ";".join(f"{s} {t}" for s, t in e.fragments)
        yield e, f"{e.id}\t{e.type} {spans}\t{' '.join(doc.text[s:t] for s, t in e.fragments)}"
    for ev in doc.events.values():
        yield ev, f"{ev.id}\t{ev.type}:{ev.trigger}" + "".join(f" {r}:{i}" for r, i in ev.args)
    for r in doc.relations.values():
        yield r, f"{r.id}\t{r.type} Arg1:{r.arg1} Arg2:{r.arg2}"
    for a in doc.attributes.values():
        yield a, f"{a.id}\t{a.name} {a.target}" + (f" {a.value}" if a.value is not None else "")
    for n in doc.normalizations.values():
        yield n, f"{n.id}\tReference {n.target} {n.resource}:{n.concept}\t{n.text}"
    for eq in doc.equivs:
        yield eq, f"*\t{eq[0]} {' '.join(eq[1])}"
    for note in doc.notes:
        yield note, f"{note.id}\t{note.kind} {note.target}\t{note.text}"


def format_ann(doc: Document) -> str:
    """Lines read from disk whose annotation is unchanged come first, byte for byte and in file order;
    new or changed annotations follow, one generated line each."""
    generated = list(_lines(doc))
    present = {id(obj) for obj, _ in generated}
    out, done = [], set()
    for obj, raw in doc.source:
        if obj is None:
            out.append(raw)
        elif id(obj) in present and id(obj) not in done:
            out.append(raw)
            done.add(id(obj))
    if out and not out[-1].endswith(("\n", "\r")) and len(done) < len(generated):
        out.append("\n")
    out += [line.replace("\n", " ").replace("\r", " ") + "\n" for obj, line in generated if id(obj) not in done]
    return "".join(out)


def write_document(doc: Document, out_dir: Path, write_text: bool = True) -> None:
    """``<doc_id>.ann`` (and the note as ``<doc_id>.txt``, byte-exact) into ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{doc.doc_id}.ann").write_bytes(format_ann(doc).encode("utf-8"))
    if write_text:
        (out_dir / f"{doc.doc_id}.txt").write_bytes(doc.text.encode("utf-8"))


def issue_summary(issues: Iterable[BratIssue], first: int = 5) -> dict:
    """Reader issues counted by what was done, the first few and the full list (``file:line: field: reason``,
    never note text): the form results.json and ``clinprompt-score --json`` keep."""
    issues = list(issues)
    lines = [str(i) for i in issues]
    return {SKIPPED: sum(i.action == SKIPPED for i in issues), KEPT: sum(i.action == KEPT for i in issues),
            "first": lines[:first], "all": lines}


def describe_issues(name: str, summary: dict) -> list[str]:
    """Console lines for :func:`issue_summary`: the counts by kind, then the first few issues."""
    if not summary["all"]:
        return []
    out = [f"{name}: {summary[SKIPPED]} annotation lines skipped, {summary[KEPT]} kept with a warning "
           "(brat reader, lenient mode)"]
    out += [f"  {line}" for line in summary["first"]]
    if len(summary["all"]) > len(summary["first"]):
        out.append(f"  ... {len(summary['all']) - len(summary['first'])} more (full list in the JSON output)")
    return out
