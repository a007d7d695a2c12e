"""The one in-memory representation of an annotated note, shared by every stage.

Offsets are character offsets into ``Document.text`` exactly as stored on disk (CRLF counts as two).
"""

from __future__ import annotations

from dataclasses import dataclass, field

Fragment = tuple[int, int]  # [start, end) character offsets


@dataclass(frozen=True)
class Entity:
    id: str
    type: str
    fragments: tuple[Fragment, ...]
    text: str = ""

    @property
    def start(self) -> int:
        # a discontinuous span is reduced to its covering span (min start .. max end): brat allows the
        # fragments in any order, and 'first start .. last end' gives start > end for out-of-order ones
        return min(s for s, _ in self.fragments)

    @property
    def end(self) -> int:
        return max(e for _, e in self.fragments)

    @property
    def span(self) -> Fragment:
        return (self.start, self.end)


@dataclass(frozen=True)
class Relation:
    """A binary relation. n2c2 2018 convention: ``arg1`` is the attribute, ``arg2`` the Drug."""

    id: str
    type: str
    arg1: str
    arg2: str


@dataclass(frozen=True)
class Event:
    """A brat event: ``trigger`` is an entity id; ``args`` are (role, entity id) pairs in file order."""

    id: str
    type: str
    trigger: str
    args: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Attribute:
    """An A/M line: ``value`` is None for binary attributes."""

    id: str
    name: str
    target: str
    value: str | None = None


@dataclass(frozen=True)
class Normalization:
    id: str
    target: str
    resource: str
    concept: str
    text: str = ""


@dataclass(frozen=True)
class Note:
    """A ``#`` annotator note."""

    id: str
    kind: str
    target: str
    text: str = ""


@dataclass
class Document:
    doc_id: str
    text: str
    entities: dict[str, Entity] = field(default_factory=dict)
    relations: dict[str, Relation] = field(default_factory=dict)
    events: dict[str, Event] = field(default_factory=dict)
    attributes: dict[str, Attribute] = field(default_factory=dict)
    normalizations: dict[str, Normalization] = field(default_factory=dict)
    notes: list[Note] = field(default_factory=list)
    equivs: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    # sentence boundaries as [start, end) offsets; filled by the corpus loader or the splitter
    sentences: list[Fragment] = field(default_factory=list)
    # the .ann lines as read, in file order, each with the annotation parsed from it (None: a blank line);
    # the writer re-emits a line unchanged while its annotation is still in the document
    source: list[tuple[object, str]] = field(default_factory=list, repr=False, compare=False)

    def entities_of(self, etype: str) -> list[Entity]:
        return [e for e in self.entities.values() if e.type == etype]

    def without_annotations(self) -> Document:
        return Document(self.doc_id, self.text, sentences=list(self.sentences))

    def span_text(self, ent: Entity) -> str:
        return " ".join(self.text[s:e] for s, e in ent.fragments)
