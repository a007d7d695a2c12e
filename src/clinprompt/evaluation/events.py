"""SDoH event scores (n2c2 2022 track 2), following the challenge scorer's semantics (Kevin Lybarger's
``brat_scoring`` package, ``score_sdoh`` defaults: triggers by overlap, span-only arguments exact,
labelled arguments by label).

An event is a trigger (event type + span) with arguments (role, entity type, span and, for labelled
arguments, the value of the ``<Type>Val`` attribute on the argument entity, e.g. ``StatusTimeVal T3 current``).

- Triggers: gold events are walked in file order; each takes the first predicted event, in file order, that
  is still free, has the same event type and a trigger span sharing at least one character (not the best
  overlap: a spurious earlier prediction can take a gold event whose exact prediction comes later, as in
  the challenge scorer). Each trigger is one item keyed ``<Event>/Trigger``.
- Arguments of a matched event pair are aligned the same way (gold arguments in file order, each takes the
  first free matching predicted argument): span-only arguments (Amount, Duration, Type, ...) need equal
  role, entity type and exact span; labelled arguments (StatusTime, StatusEmploy, TypeLiving) need equal
  role, entity type and value, whatever their span (being attached to a matched trigger is what anchors
  them). Keys are ``<Event>/<argument entity type>``.
- Arguments of an unmatched predicted event are false positives; of an unmatched gold event, false
  negatives.

Events of types outside ``event_types`` and arguments of types outside ``argument_types`` are ignored.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
import torchmetrics

from clinprompt.data.document import Document
from clinprompt.evaluation.matching import overlap, pair_documents
from clinprompt.evaluation.scoring import prf
from clinprompt.schema import EVENT_TYPES, LABELLED_ARGUMENTS, SDOH_ARGUMENT_TYPES

TRIGGER = "Trigger"


class EventArgument(NamedTuple):
    role: str
    type: str
    start: int
    end: int
    value: str | None = None


class EventMention(NamedTuple):
    type: str
    start: int
    end: int
    args: tuple[EventArgument, ...] = ()


def events_of(doc: Document, event_types: Sequence[str], argument_types: Sequence[str]) -> list[EventMention]:
    """The document's events as trigger spans with resolved arguments (dangling ids are skipped: the brat
    reader reports them as input issues)."""
    values = {(a.target, a.name): a.value for a in doc.attributes.values()}
    out = []
    for ev in doc.events.values():
        trig = doc.entities.get(ev.trigger)
        if ev.type not in event_types or trig is None:
            continue
        args = []
        for role, eid in ev.args:
            ent = doc.entities.get(eid)
            if ent is not None and ent.type in argument_types:
                args.append(EventArgument(role, ent.type, ent.start, ent.end, values.get((eid, f"{ent.type}Val"))))
        out.append(EventMention(ev.type, trig.start, trig.end, tuple(args)))
    return out


def _trigger_score(g: EventMention, p: EventMention) -> int:
    return overlap((g.start, g.end), (p.start, p.end)) if g.type == p.type else 0


def _argument_score(labelled: frozenset[str]):
    def score(g: EventArgument, p: EventArgument) -> int:
        if (g.role, g.type) != (p.role, p.type):
            return 0
        if g.type in labelled:
            return int(g.value == p.value)
        return int((g.start, g.end) == (p.start, p.end))

    return score


def first_free(gold: Sequence, pred: Sequence, score) -> list[tuple[int, int]]:
    """(gold index, pred index) pairs: each gold item in order takes the first free pred with score > 0."""
    used: set[int] = set()
    pairs = []
    for i, g in enumerate(gold):
        j = next((j for j, p in enumerate(pred) if j not in used and score(g, p) > 0), None)
        if j is not None:
            used.add(j)
            pairs.append((i, j))
    return pairs


def event_counts(gold: Sequence[EventMention], pred: Sequence[EventMention],
                 labelled: Sequence[str] = LABELLED_ARGUMENTS) -> dict[tuple[str, str], list[int]]:
    """{(event type, argument type or 'Trigger'): [tp, fp, fn]} for one document."""
    counts: dict[tuple[str, str], list[int]] = {}

    def add(key: tuple[str, str], i: int) -> None:
        counts.setdefault(key, [0, 0, 0])[i] += 1

    for ev in pred:  # every predicted item starts as a fp, every gold one as a fn; matches move them to tp
        add((ev.type, TRIGGER), 1)
        for a in ev.args:
            add((ev.type, a.type), 1)
    for ev in gold:
        add((ev.type, TRIGGER), 2)
        for a in ev.args:
            add((ev.type, a.type), 2)
    arg_score = _argument_score(frozenset(labelled))
    for i, j in first_free(gold, pred, _trigger_score):
        g, p = gold[i], pred[j]
        hits = [(g.type, TRIGGER)]
        hits += [(g.type, g.args[a].type) for a, _ in first_free(g.args, p.args, arg_score)]
        for key in hits:
            c = counts[key]
            c[0], c[1], c[2] = c[0] + 1, c[1] - 1, c[2] - 1
    return counts


class EventScore(torchmetrics.Metric):
    """Micro P/R/F1 of SDoH events overall, per event type and per (event type, argument type).

    Documents are paired by ``doc_id`` as in :class:`~clinprompt.evaluation.scoring.ExtractionScore`.
    """

    full_state_update = False
    higher_is_better = True
    is_differentiable = False

    def __init__(self, event_types: Sequence[str] = EVENT_TYPES,
                 argument_types: Sequence[str] = SDOH_ARGUMENT_TYPES,
                 labelled_arguments: Sequence[str] = LABELLED_ARGUMENTS, **kwargs):
        super().__init__(**kwargs)
        self.event_types = tuple(event_types)
        self.columns = (TRIGGER, *argument_types)
        self.labelled = tuple(labelled_arguments)
        for c in ("tp", "fp", "fn"):
            self.add_state(c, default=torch.zeros(len(self.event_types), len(self.columns), dtype=torch.long),
                           dist_reduce_fx="sum")

    def update(self, gold: Sequence[Document], pred: Sequence[Document]) -> None:
        rows = {t: i for i, t in enumerate(self.event_types)}
        cols = {t: i for i, t in enumerate(self.columns)}
        counts = torch.zeros(3, len(self.event_types), len(self.columns), dtype=torch.long)
        args = self.columns[1:]
        for g, p in pair_documents(gold, pred):
            ge = events_of(g, self.event_types, args) if g is not None else []
            pe = events_of(p, self.event_types, args) if p is not None else []
            for (etype, col), c in event_counts(ge, pe, self.labelled).items():
                counts[:, rows[etype], cols[col]] += torch.tensor(c)
        self.tp += counts[0].to(self.tp.device)
        self.fp += counts[1].to(self.fp.device)
        self.fn += counts[2].to(self.fn.device)

    def compute(self) -> dict:
        tp, fp, fn = self.tp, self.fp, self.fn
        per_event = {e: prf(int(tp[i].sum()), int(fp[i].sum()), int(fn[i].sum()))
                     for i, e in enumerate(self.event_types)}
        # every trigger key is reported; argument keys only when seen in gold or predictions
        per_argument = {f"{e}/{a}": prf(int(tp[i, j]), int(fp[i, j]), int(fn[i, j]))
                        for i, e in enumerate(self.event_types) for j, a in enumerate(self.columns)
                        if j == 0 or int(tp[i, j] + fp[i, j] + fn[i, j]) > 0}
        return {"micro": prf(int(tp.sum()), int(fp.sum()), int(fn.sum())), "per_event": per_event,
                "per_argument": per_argument}


def score_events(gold: Sequence[Document], pred: Sequence[Document],
                 event_types: Sequence[str] = EVENT_TYPES, **kwargs) -> dict:
    """One-shot event scores (see :class:`EventScore`; kwargs go to its constructor)."""
    metric = EventScore(event_types, **kwargs)
    metric.update(gold, pred)
    return metric.compute()
