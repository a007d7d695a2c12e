"""SDoH events <-> MRC relations (n2c2 2022 track 2): the reader turns each event argument into a relation
``<ArgumentType>-<EventType>`` (Arg1 argument, Arg2 trigger); decoding turns predicted relations back into
events, the T, E and A lines the official scorer reads. The event schema itself is in ``clinprompt.schema``."""

from __future__ import annotations

from collections.abc import Iterable

from clinprompt.data.document import Document, Event, Relation
from clinprompt.schema import EVENT_ARGUMENTS, ROLE_OF_ARGUMENT, VALUE_LABELS


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
