"""n2c2 2022 track 2 (SDoH, SHAC) brat events as an MRC problem, and predictions back to brat events.

SHAC notes annotate events: a trigger (``T1 Alcohol 10 14``), arguments (``T2 StatusTime 0 6``) and an
``E1 Alcohol:T1 Status:T2 Amount:T3`` line; labelled arguments carry their value on an attribute
(``A1 StatusTimeVal T2 past``). The MRC formulation:

- concepts = triggers (the five event types), found first;
- relations ``<ArgumentType>-<EventType>`` (e.g. ``StatusTime-Alcohol``) are asked per predicted trigger, the
  trigger being the head (Arg2) and the argument the tail (Arg1), as for n2c2 2018 medications;
- labelled arguments (StatusTime, StatusEmploy, TypeLiving) get their value from a value head on the tail span.

Predicted relations become events again (:func:`relations_to_events`): one event per predicted trigger, its
arguments the predicted tails with the role SHAC uses (``Status`` for StatusTime/StatusEmploy, ``Type`` for
TypeLiving), plus ``<Type>Val`` attribute lines: the T, E and A lines the official scorer reads.

Layout: ``<root>/<site>/{train,dev?,test}/*.txt|ann`` for site in mimic and uw; training (and dev) come from
``train_site``, test from ``test_site``, so cross-site transfer is one config override.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from clinprompt.data.brat import read_dir
from clinprompt.data.corpora.base import Corpus, fill_sentences, require_dir
from clinprompt.data.document import Document, Event, Relation

SITES = ("mimic", "uw")
_SUBSTANCE = ("StatusTime", "Amount", "Duration", "Frequency", "History", "Method", "Type")
# the n2c2 2022 events and their arguments (annotation.conf, without Degree, which the challenge did not score)
EVENT_ARGUMENTS: dict[str, tuple[str, ...]] = {
    "Alcohol": _SUBSTANCE,
    "Drug": _SUBSTANCE,
    "Tobacco": _SUBSTANCE,
    "Employment": ("StatusEmploy", "Duration", "History", "Type"),
    "LivingStatus": ("StatusTime", "TypeLiving", "Duration", "History"),
}
EVENT_TYPES = tuple(EVENT_ARGUMENTS)
VALUE_LABELS: dict[str, tuple[str, ...]] = {
    "StatusTime": ("none", "current", "past", "future"),
    "StatusEmploy": ("employed", "unemployed", "retired", "on_disability", "student", "homemaker"),
    "TypeLiving": ("alone", "with_family", "with_others", "homeless"),
}
ROLE_OF_ARGUMENT = {"StatusTime": "Status", "StatusEmploy": "Status", "TypeLiving": "Type"}
RELATION_TYPES = tuple(f"{a}-{e}" for e, args in EVENT_ARGUMENTS.items() for a in args)
RELATION_HEADS = {f"{a}-{e}": (a, e) for e, args in EVENT_ARGUMENTS.items() for a in args}


@dataclass
class EventCorpus(Corpus):
    """A corpus whose relations are event arguments, some with labelled values."""

    value_labels: dict[str, tuple[str, ...]] = field(default_factory=dict)
    events: bool = True


def events_to_relations(doc: Document) -> Document:
    """``doc`` with one relation ``<ArgumentType>-<EventType>`` (Arg1 argument, Arg2 trigger) per event
    argument of a known event type; events and attributes are kept for event scoring."""
    rels: dict[str, Relation] = {}
    for ev in doc.events.values():
        trig = doc.entities.get(ev.trigger)
        if ev.type not in EVENT_ARGUMENTS or trig is None:
            continue
        for _, eid in ev.args:
            arg = doc.entities.get(eid)
            if arg is None or arg.type not in EVENT_ARGUMENTS[ev.type]:
                continue
            rid = f"R{len(rels) + 1}"
            rels[rid] = Relation(rid, f"{arg.type}-{ev.type}", eid, ev.trigger)
    return Document(doc.doc_id, doc.text, dict(doc.entities), rels, dict(doc.events), dict(doc.attributes),
                    dict(doc.normalizations), list(doc.notes), list(doc.equivs), list(doc.sentences))


def relations_to_events(doc: Document, trigger_types: Iterable[str]) -> Document:
    """Events from predicted triggers and relations: one event per trigger entity (in text order), its
    arguments the relation tails pointing at it (labelled ones first, as SHAC writes ``Status`` first)."""
    triggers = sorted((e for e in doc.entities.values() if e.type in set(trigger_types)),
                      key=lambda e: (e.start, e.end, e.type))
    events: dict[str, Event] = {}
    for n, trig in enumerate(triggers, 1):
        tails = [doc.entities[r.arg1] for r in doc.relations.values() if r.arg2 == trig.id and r.arg1 in doc.entities]
        tails.sort(key=lambda e: (e.type not in VALUE_LABELS, e.start, e.end, e.type))
        args = tuple((ROLE_OF_ARGUMENT.get(t.type, t.type), t.id) for t in tails)
        events[f"E{n}"] = Event(f"E{n}", trig.type, trig.id, args)
    return Document(doc.doc_id, doc.text, dict(doc.entities), dict(doc.relations), events, dict(doc.attributes),
                    sentences=list(doc.sentences))


def as_event_document(doc: Document) -> Document:
    """What a brat prediction file holds for SDoH: T, E and A lines, no R lines (the scorer reads events)."""
    return Document(doc.doc_id, doc.text, dict(doc.entities), {}, dict(doc.events), dict(doc.attributes))


def _site_dir(root: Path, site: str, key: str) -> Path:
    if site not in SITES:
        raise ValueError(f"{key}={site!r}: expected one of {SITES}")
    return require_dir(root / site, "dataset.root", f"SDoH site folder '{site}'")


def _read_split(folder: Path, strict: bool, issues: list) -> list[Document]:
    if not folder.is_dir():
        return []
    docs, found = read_dir(folder, strict=strict)
    issues += found
    return fill_sentences([events_to_relations(d) for d in docs])


def load_sdoh(root: str | Path, train_site: str = "mimic", test_site: str = "mimic", strict: bool = False,
              name: str = "sdoh") -> EventCorpus:
    """Train (and dev, when present) from ``train_site``, test from ``test_site``."""
    root = require_dir(root, "dataset.root", "SDoH corpus")
    train_dir, test_dir = _site_dir(root, train_site, "dataset.train_site"), _site_dir(root, test_site,
                                                                                       "dataset.test_site")
    issues: list = []
    splits = {"train": _read_split(train_dir / "train", strict, issues),
              "dev": _read_split(train_dir / "dev", strict, issues),
              "test": _read_split(test_dir / "test", strict, issues)}
    if not splits["train"] or not splits["test"]:
        raise FileNotFoundError(f"SDoH corpus at {root}: need {train_dir / 'train'} and {test_dir / 'test'} "
                                f"with .txt/.ann files (dataset.root, dataset.train_site, dataset.test_site)")
    seen: dict[str, str] = {}
    for split, docs in splits.items():
        for d in docs:  # documents are keyed by file name across splits (token cache, predictions)
            if d.doc_id in seen:
                raise ValueError(f"{root}: document id {d.doc_id!r} occurs in both {seen[d.doc_id]} and {split}; "
                                 "rename one of the files")
            seen[d.doc_id] = split
    return EventCorpus(name, splits, EVENT_TYPES, RELATION_TYPES, dict(RELATION_HEADS), issues,
                       value_labels=dict(VALUE_LABELS))
