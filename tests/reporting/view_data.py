"""Gold/prediction folders for the error-analysis page tests: the embedded synthetic notes and a deterministic
corruption of their annotations (dropped, shifted, retyped and invented spans and relations)."""

from __future__ import annotations

import random
from pathlib import Path

from clinprompt.data.brat import write_document
from clinprompt.data.corpora.synthetic import generate
from clinprompt.data.document import Document, Entity, Relation


def corrupt(doc: Document, rng: random.Random) -> Document:
    """A prediction with every kind of error: ~10% dropped, ~8% boundary-shifted, ~6% retyped, a few invented."""
    types = sorted({e.type for e in doc.entities.values()})
    ents: dict[str, Entity] = {}
    for e in doc.entities.values():
        r = rng.random()
        if r < 0.10:
            continue
        s, t, typ = e.start, e.end, e.type
        if r < 0.18 and t - s > 2:
            s, t = (s + 1, t) if rng.random() < 0.5 else (s, t - 1)
        elif r < 0.24:
            typ = rng.choice([x for x in types if x != e.type] or [e.type])
        ents[e.id] = Entity(e.id, typ, ((s, t),))
    for k in range(rng.randint(1, 3)):  # spurious spans on arbitrary words
        s = rng.randrange(0, max(1, len(doc.text) - 8))
        while s < len(doc.text) and not doc.text[s].isalpha():
            s += 1
        t = s
        while t < len(doc.text) and doc.text[t].isalnum():
            t += 1
        if t > s:
            ents[f"T9{k:02d}"] = Entity(f"T9{k:02d}", rng.choice(types), ((s, t),))
    rels = {r.id: r for r in doc.relations.values()
            if r.arg1 in ents and r.arg2 in ents and rng.random() > 0.15}
    drugs = [e.id for e in ents.values() if e.type == "Drug"]
    others = [e.id for e in ents.values() if e.type == "Strength"]
    if drugs and others:
        rels["R900"] = Relation("R900", "Strength-Drug", rng.choice(others), rng.choice(drugs))
    return Document(doc.doc_id, doc.text, ents, rels)


def synthetic_folders(root: Path, n: int = 6, seed: int = 13, with_pred_text: bool = False) -> tuple[Path, Path]:
    """``root/gold`` (notes + .ann) and ``root/pred`` (.ann alone unless ``with_pred_text``)."""
    rng = random.Random(seed)
    gold, pred = root / "gold", root / "pred"
    for doc in generate("test", n, seed):
        write_document(doc, gold)
        write_document(corrupt(doc, rng), pred, write_text=with_pred_text)
    return gold, pred
