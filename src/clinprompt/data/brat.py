"""brat standoff reader and writer.

Offsets are character offsets into the .txt exactly as stored: files are decoded from bytes, so CRLF line
ends count as two characters. Every line kind is read: T (discontinuous ``a b;c d`` spans too), R, E, A/M,
N, ``*`` (equivalences) and ``#`` (annotator notes).

Bad input is reported as ``path:line: field: reason``. In strict mode the first problem raises
:class:`BratError`; in lenient mode it is appended to ``issues`` and the line is skipped. One exception: a
T line whose text field differs from the span it points at (beyond case and spacing) is kept in lenient mode,
because brat's offsets are the annotation and the text field is only a copy (obfuscated corpora rely on it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

from clinprompt.data.document import Attribute, Document, Entity, Event, Normalization, Note, Relation

_FRAGMENT = re.compile(r"^(\d+) (\d+)$")


class BratIssue(NamedTuple):
    path: str
    line: int
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.field}: {self.reason}"


class BratError(ValueError):
    def __init__(self, issue: BratIssue):
        super().__init__(str(issue))
        self.issue = issue


class _Skip(Exception):
    """A line that cannot be kept: carries the field and the reason."""

    def __init__(self, field: str, reason: str):
        super().__init__(reason)
        self.field, self.reason = field, reason


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


def _parse_line(line: str, text: str, doc: Document, refs: list) -> None:
    """Parse one line into ``doc``; id references are checked later (forward references are legal)."""
    parts = _fields(line)
    ident = parts[0].strip()
    if len(parts) < 2:
        raise _Skip("line", "expected tab-separated fields (id<TAB>annotation...)")
    body = parts[1].split()
    if not body:
        raise _Skip("annotation", "empty annotation field")
    kind = ident[0]
    if kind == "T":
        if len(body) < 3:
            raise _Skip("annotation", f"expected 'Type start end', got {parts[1]!r}")
        frags = _fragments(" ".join(body[1:]), len(text))
        stored = parts[2] if len(parts) > 2 else ""
        ent = Entity(ident, body[0], frags, " ".join(text[s:e] for s, e in frags))
        doc.entities[ident] = ent
        if len(parts) > 2 and _norm(stored) != _norm(ent.text):
            raise _Skip("text", f"text field {stored!r} does not match the span text {ent.text!r}")
    elif kind == "R":
        args = dict(a.split(":", 1) for a in body[1:] if ":" in a)
        if len(body) != 3 or len(args) != 2:
            raise _Skip("annotation", f"expected 'Type Arg1:ID Arg2:ID', got {parts[1]!r}")
        (_, a1), (_, a2) = args.items()
        doc.relations[ident] = Relation(ident, body[0], a1, a2)
        refs.append((ident, (a1, a2)))
    elif kind == "E":
        pairs = [a.split(":", 1) for a in body]
        if any(len(p) != 2 or not p[1] for p in pairs):
            raise _Skip("annotation", f"expected 'Type:TRIGGER Role:ID ...', got {parts[1]!r}")
        etype, trigger = pairs[0]
        doc.events[ident] = Event(ident, etype, trigger, tuple((r, i) for r, i in pairs[1:]))
        refs.append((ident, (trigger, *(i for _, i in pairs[1:]))))
    elif kind in "AM":
        if len(body) not in (2, 3):
            raise _Skip("annotation", f"expected 'Name ID [value]', got {parts[1]!r}")
        doc.attributes[ident] = Attribute(ident, body[0], body[1], body[2] if len(body) == 3 else None)
        refs.append((ident, (body[1],)))
    elif kind == "N":
        if len(body) != 3 or ":" not in body[2]:
            raise _Skip("annotation", f"expected 'Reference ID resource:concept', got {parts[1]!r}")
        resource, concept = body[2].split(":", 1)
        doc.normalizations[ident] = Normalization(ident, body[1], resource, concept,
                                                  parts[2] if len(parts) > 2 else "")
        refs.append((ident, (body[1],)))
    elif kind == "*":
        if len(body) < 3:
            raise _Skip("annotation", f"expected 'Equiv ID ID ...', got {parts[1]!r}")
        doc.equivs.append((body[0], tuple(body[1:])))
        refs.append((None, tuple(body[1:])))
    elif kind == "#":
        doc.notes.append(Note(ident, body[0], body[1] if len(body) > 1 else "", parts[2] if len(parts) > 2 else ""))
    else:
        raise _Skip("id", f"unknown annotation id {ident!r} (expected T, R, E, A, M, N, * or #)")


def _remove(doc: Document, ident: str | None) -> None:
    for table in (doc.relations, doc.events, doc.attributes, doc.normalizations):
        table.pop(ident, None)


def parse_ann(ann_text: str, text: str, doc_id: str, path: str = "", strict: bool = True,
              issues: list[BratIssue] | None = None) -> Document:
    """Parse the content of an .ann file against its note text."""
    doc = Document(doc_id, text)
    issues = issues if issues is not None else []

    def report(line_no: int, field: str, reason: str) -> None:
        issue = BratIssue(path or doc_id, line_no, field, reason)
        if strict:
            raise BratError(issue)
        issues.append(issue)

    ref_lines: list[tuple[int, str | None, tuple[str, ...]]] = []
    for no, raw in enumerate(ann_text.splitlines(), 1):
        line = raw.rstrip("\r\n")
        if not line.strip():
            continue
        refs: list = []
        try:
            _parse_line(line, text, doc, refs)
        except _Skip as skip:
            report(no, skip.field, skip.reason)  # a text mismatch keeps the entity (see module docstring)
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


def read_text(path: Path) -> str:
    """The note as stored: no newline translation, so offsets count CRLF as two characters."""
    return Path(path).read_bytes().decode("utf-8")


def read_document(txt_path: Path, ann_path: Path | None = None, strict: bool = True,
                  issues: list[BratIssue] | None = None) -> Document:
    txt_path = Path(txt_path)
    ann_path = Path(ann_path) if ann_path else txt_path.with_suffix(".ann")
    text = read_text(txt_path)
    ann = read_text(ann_path) if ann_path.exists() else ""
    return parse_ann(ann, text, txt_path.stem, str(ann_path), strict, issues)


def read_dir(folder: Path, strict: bool = True) -> tuple[list[Document], list[BratIssue]]:
    """Every ``*.txt`` of a folder with its ``.ann`` (a missing .ann is an unannotated note)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"brat folder {folder} does not exist")
    issues: list[BratIssue] = []
    docs = [read_document(p, strict=strict, issues=issues) for p in sorted(folder.glob("*.txt"))]
    for ann in sorted(folder.glob("*.ann")):
        if not ann.with_suffix(".txt").exists():
            issue = BratIssue(str(ann), 0, "file", "an .ann file without its .txt note")
            if strict:
                raise BratError(issue)
            issues.append(issue)
    return docs, issues


def _lines(doc: Document) -> Iterable[str]:
    for e in doc.entities.values():
        spans = ";".join(f"{s} {t}" for s, t in e.fragments)
        yield f"{e.id}\t{e.type} {spans}\t{' '.join(doc.text[s:t] for s, t in e.fragments)}"
    for ev in doc.events.values():
        yield f"{ev.id}\t{ev.type}:{ev.trigger}" + "".join(f" {r}:{i}" for r, i in ev.args)
    for r in doc.relations.values():
        yield f"{r.id}\t{r.type} Arg1:{r.arg1} Arg2:{r.arg2}"
    for a in doc.attributes.values():
        yield f"{a.id}\t{a.name} {a.target}" + (f" {a.value}" if a.value is not None else "")
    for n in doc.normalizations.values():
        yield f"{n.id}\tReference {n.target} {n.resource}:{n.concept}\t{n.text}"
    for kind, ids in doc.equivs:
        yield f"*\t{kind} {' '.join(ids)}"
    for note in doc.notes:
        yield f"{note.id}\t{note.kind} {note.target}\t{note.text}"


def format_ann(doc: Document) -> str:
    return "".join(line.replace("\n", " ").replace("\r", " ") + "\n" for line in _lines(doc))


def write_document(doc: Document, out_dir: Path, write_text: bool = True) -> None:
    """``<doc_id>.ann`` (and the note as ``<doc_id>.txt``, byte-exact) into ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{doc.doc_id}.ann").write_bytes(format_ann(doc).encode("utf-8"))
    if write_text:
        (out_dir / f"{doc.doc_id}.txt").write_bytes(doc.text.encode("utf-8"))
