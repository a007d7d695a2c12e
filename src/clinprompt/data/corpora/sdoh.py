"""n2c2 2022 track 2 (SDoH, SHAC) brat events as an MRC problem, and predictions back to brat events.

SHAC notes annotate events: a trigger (``T1 Alcohol 10 14``), arguments (``T2 StatusTime 0 6``) and an
``E1 Alcohol:T1 Status:T2 Amount:T3`` line; labelled arguments carry their value on an attribute
(``A1 StatusTimeVal T2 past``). The MRC formulation:

- concepts = triggers (the five event types), found first;
- relations ``<ArgumentType>-<EventType>`` (e.g. ``StatusTime-Alcohol``) are asked per predicted trigger, the
  trigger being the head (Arg2) and the argument the tail (Arg1), as for n2c2 2018 medications;
- labelled arguments (StatusTime, StatusEmploy, TypeLiving) get their value from a value head on the tail span.

Predicted relations become events again: one event per predicted trigger, its arguments the predicted tails
with the role SHAC uses (``Status`` for StatusTime/StatusEmploy, ``Type`` for TypeLiving), plus ``<Type>Val``
attribute lines: the T, E and A lines the official scorer reads. The conversions both ways are in
``data/events.py``, the event schema in ``schema.py``: this module only reads the corpus.

Layout: ``<root>/<site>/{train,dev?,test}/*.txt|ann`` for site in mimic and uw; training (and dev) come from
``train_site``, test from ``test_site``, so cross-site transfer is one config override.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from clinprompt.data.brat import read_dir
from clinprompt.data.corpora.base import Corpus, fill_sentences, require_dir
from clinprompt.data.document import Document
from clinprompt.data.events import events_to_relations
from clinprompt.schema import EVENT_TYPES, RELATION_HEADS, RELATION_TYPES, VALUE_LABELS

SITES = ("mimic", "uw")


@dataclass
class EventCorpus(Corpus):
    """A corpus whose relations are event arguments, some with labelled values."""

    value_labels: dict[str, tuple[str, ...]] = field(default_factory=dict)
    events: bool = True


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
