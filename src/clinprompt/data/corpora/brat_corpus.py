"""Brat corpora on disk: ``root/train``, ``root/test`` and optionally ``root/dev`` folders of .txt/.ann.

``load_brat_corpus`` discovers entity and relation types from the data unless they are listed;
``load_n2c2_2018`` fixes the n2c2 2018 track 2 schema (9 entity types, 8 ``X-Drug`` relations). Without a
dev folder, a deterministic 10% of the training notes (lowest sha1 of the doc id) becomes dev.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from clinprompt.data.brat import BratIssue, read_dir
from clinprompt.data.corpora.base import (
    N2C2_2018_ENTITY_TYPES,
    N2C2_2018_RELATION_HEADS,
    N2C2_2018_RELATION_TYPES,
    Corpus,
    apply_split_file,
    bucket,
    fill_sentences,
    relation_heads_seen,
    require_dir,
)
from clinprompt.data.document import Document

log = logging.getLogger(__name__)
DEV_FRACTION = 0.1


def carve_dev(train: list[Document], fraction: float = DEV_FRACTION) -> tuple[list[Document], list[Document]]:
    """(train, dev): the ``fraction`` of notes with the lowest doc-id hash (at least one when there are two)."""
    n_dev = max(1, round(len(train) * fraction)) if len(train) >= 2 else 0
    ranked = sorted(train, key=lambda d: (bucket(d.doc_id, 2**32), d.doc_id))
    dev_ids = {d.doc_id for d in ranked[:n_dev]}
    return [d for d in train if d.doc_id not in dev_ids], [d for d in train if d.doc_id in dev_ids]


def restrict(doc: Document, entity_types: Iterable[str], relation_types: Iterable[str]) -> Document:
    """The document with only the listed types; annotations pointing at a dropped entity go too."""
    etypes, rtypes = set(entity_types), set(relation_types)
    entities = {k: e for k, e in doc.entities.items() if e.type in etypes}
    relations = {k: r for k, r in doc.relations.items()
                 if r.type in rtypes and r.arg1 in entities and r.arg2 in entities}
    events = {k: ev for k, ev in doc.events.items()
              if ev.trigger in entities and all(i in entities or i in doc.events for _, i in ev.args)}
    kept = entities.keys() | relations.keys() | events.keys()
    return replace(doc, entities=entities, relations=relations, events=events,
                   attributes={k: a for k, a in doc.attributes.items() if a.target in kept},
                   normalizations={k: n for k, n in doc.normalizations.items() if n.target in kept},
                   notes=[n for n in doc.notes if n.target in kept],
                   equivs=[(kind, ids) for kind, ids in doc.equivs if all(i in kept for i in ids)])


def _read_splits(root: Path, key: str, strict: bool) -> tuple[dict[str, list[Document]], list[BratIssue]]:
    splits, issues = {}, []
    for split in ("train", "dev", "test"):
        folder = root / split
        if not folder.is_dir():
            if split == "dev":
                continue
            raise FileNotFoundError(f"brat corpus at {root} has no {split}/ folder of .txt/.ann files: "
                                    f"set {key} to a folder holding train/ and test/ (dev/ optional)")
        docs, found = read_dir(folder, strict=strict, require_ann=True)
        splits[split], issues = docs, issues + found
    if "dev" not in splits:
        splits["train"], splits["dev"] = carve_dev(splits["train"])
    seen: dict[str, str] = {}
    for split, docs in splits.items():
        for d in docs:
            if d.doc_id in seen:
                raise ValueError(f"{root / split / d.doc_id}.txt: doc id: '{d.doc_id}' is also in "
                                 f"{seen[d.doc_id]}/; every note needs a unique file name across splits")
            seen[d.doc_id] = split
    return {s: fill_sentences(splits[s]) for s in ("train", "dev", "test")}, issues


def _discover(docs: list[Document], kind: str) -> tuple[str, ...]:
    table = "entities" if kind == "entity" else "relations"
    return tuple(sorted({a.type for d in docs for a in getattr(d, table).values()}))


def _heads(relation_types: tuple[str, ...], entity_types: tuple[str, ...], docs: list[Document]
           ) -> dict[str, tuple[str, str]]:
    seen = relation_heads_seen(docs)
    heads = {}
    for rel in relation_types:
        if rel in seen:
            heads[rel] = seen[rel]
            continue
        tail, _, head = rel.partition("-")  # the n2c2 naming "Tail-Head" when the data have no example
        if tail not in entity_types or head not in entity_types:
            raise ValueError(f"dataset.loader.relation_types: relation type '{rel}' has no annotated example and "
                             f"its name is not 'Arg1Type-Arg2Type' over the entity types {list(entity_types)}")
        heads[rel] = (tail, head)
    return heads


def _load(name: str, root: str | Path, key: str, entity_types, relation_types, strict: bool,
          fixed_heads: dict[str, tuple[str, str]] | None = None) -> Corpus:
    root = require_dir(root, key, f"{name} brat corpus")
    splits, issues = _read_splits(root, key, strict)
    docs = [d for s in splits.values() for d in s]
    etypes = tuple(entity_types) if entity_types else _discover(docs, "entity")
    rtypes = tuple(relation_types) if relation_types is not None else _discover(docs, "relation")
    if entity_types or relation_types is not None:
        before = sum(len(d.entities) + len(d.relations) for d in docs)
        splits = {s: [restrict(d, etypes, rtypes) for d in ds] for s, ds in splits.items()}
        docs = [d for s in splits.values() for d in s]
        dropped = before - sum(len(d.entities) + len(d.relations) for d in docs)
        if dropped:
            log.info("%s: %d annotations of unlisted types dropped", name, dropped)
    heads = dict(fixed_heads) if fixed_heads is not None else _heads(rtypes, etypes, docs)
    return Corpus(name, splits, etypes, rtypes, heads, issues)


def load_brat_corpus(root: str | Path, entity_types: Iterable[str] | None = None,
                     relation_types: Iterable[str] | None = None, strict: bool = False,
                     relation_heads: dict | None = None, split_file: str | Path | None = None) -> Corpus:
    """Any brat corpus. Types not listed are discovered from every split; relation heads from the argument
    types annotated (Arg1 = tail, Arg2 = head), every pair a relation type links (most frequent first).
    ``relation_heads`` lists them instead: ``{rel: [tail, head]}`` or ``{rel: [[tail, head], ...]}``.
    ``split_file`` (JSON: split -> document ids, the file names without .txt) re-splits the notes of every
    folder (see :func:`apply_split_file`)."""
    fixed = None
    if relation_heads is not None:
        fixed = {str(k): tuple(tuple(p) if not isinstance(p, str) else p for p in v) for k, v in relation_heads.items()}
    corpus = _load("brat", root, "dataset.root (e.g. dataset.root=/data/my_corpus)", entity_types,
                   tuple(relation_types) if relation_types is not None else None, strict, fixed)
    return apply_split_file(corpus, split_file) if split_file else corpus


def load_n2c2_2018(root: str | Path, strict: bool = False) -> Corpus:
    """n2c2 2018 track 2 (bring your own copy: it is under a data use agreement)."""
    key = "paths.data_dir (the corpus goes in <paths.data_dir>/n2c2_2018/{train,test}) or dataset.root"
    return _load("n2c2_2018", root, key, N2C2_2018_ENTITY_TYPES, N2C2_2018_RELATION_TYPES, strict,
                 N2C2_2018_RELATION_HEADS)
