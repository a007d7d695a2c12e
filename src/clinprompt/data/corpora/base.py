"""The contract every corpus loader returns, and the small helpers the loaders share."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from clinprompt.data.brat import BratIssue
from clinprompt.data.document import Document
from clinprompt.data.sentences import split_sentences

SPLITS = ("train", "dev", "test")

# n2c2 2018 track 2: relations link an attribute (Arg1, the tail) to a Drug (Arg2, the head)
N2C2_2018_ENTITY_TYPES = ("Drug", "Strength", "Dosage", "Duration", "Frequency", "Form", "Route", "Reason", "ADE")
N2C2_2018_RELATION_TYPES = tuple(f"{t}-Drug" for t in N2C2_2018_ENTITY_TYPES[1:])
N2C2_2018_RELATION_HEADS = {f"{t}-Drug": (t, "Drug") for t in N2C2_2018_ENTITY_TYPES[1:]}


@dataclass
class Corpus:
    name: str
    splits: dict[str, list[Document]]  # "train", "dev" (may be empty), "test"
    entity_types: tuple[str, ...]
    relation_types: tuple[str, ...] = ()
    # rel -> (tail/arg1, head/arg2), or a tuple of such pairs when one relation type links several
    relation_heads: dict[str, tuple] = field(default_factory=dict)
    issues: list[BratIssue] = field(default_factory=list)  # reader problems kept in lenient mode

    def documents(self) -> list[Document]:
        return [d for split in SPLITS for d in self.splits.get(split, [])]

    def counts(self) -> dict[str, dict[str, int]]:
        """Documents, entities and relations per split: what results and logs may show (no text)."""
        return {name: {"documents": len(docs), "entities": sum(len(d.entities) for d in docs),
                       "relations": sum(len(d.relations) for d in docs)}
                for name, docs in self.splits.items()}


def require_dir(path: str | Path, key: str, what: str) -> Path:
    """The folder, or a one-line error naming the config key (and env var) that points at it."""
    path = Path(path).expanduser()
    if not path.is_dir():
        raise FileNotFoundError(f"{what} not found at {path}: set {key}")
    return path


def fill_sentences(docs: list[Document]) -> list[Document]:
    """Sentence boundaries from the clinical splitter for documents whose source gave none."""
    for d in docs:
        if not d.sentences:
            d.sentences = split_sentences(d.text)
    return docs


def bucket(key: str, buckets: int = 100) -> int:
    """A stable bucket for a document key (sha1, not ``hash()``, which Python salts per process)."""
    return int.from_bytes(hashlib.sha1(key.encode("utf-8")).digest()[:8], "big") % buckets


def split_of(key: str, dev_pct: int = 10, test_pct: int = 10) -> str:
    """train / dev / test by hash bucket: the same key always lands in the same split."""
    b = bucket(key)
    if b < test_pct:
        return "test"
    return "dev" if b < test_pct + dev_pct else "train"


def relation_heads_seen(docs: list[Document]) -> dict[str, tuple]:
    """relation type -> (arg1 type, arg2 type) as annotated; a type annotated between several pairs maps to
    all of them, most frequent first (ties by name)."""
    seen: dict[str, dict[tuple[str, str], int]] = {}
    for d in docs:
        for r in d.relations.values():
            a1, a2 = d.entities.get(r.arg1), d.entities.get(r.arg2)
            if a1 is None or a2 is None:  # an event argument: not an entity pair
                continue
            pairs = seen.setdefault(r.type, {})
            pairs[(a1.type, a2.type)] = pairs.get((a1.type, a2.type), 0) + 1
    out: dict[str, tuple] = {}
    for rel, pairs in sorted(seen.items()):
        ranked = tuple(sorted(pairs, key=lambda p: (-pairs[p], p)))
        out[rel] = ranked[0] if len(ranked) == 1 else ranked
    return out
