"""From span-head outputs to predicted Documents: concepts first, then relations asked of the
predicted heads (end-to-end), with windows merged back to document character offsets."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch

from clinprompt.data.collate import collate
from clinprompt.data.document import Attribute, Document, Entity, Relation
from clinprompt.data.events import relations_to_events
from clinprompt.data.mrc import ExampleBuilder, MRCExample
from clinprompt.data.windows import TokenizedDoc


def examples_to_spans(examples: Sequence[MRCExample], decoded: list[tuple[int, int, int, int]],
                      tdocs: dict[str, TokenizedDoc]) -> list[tuple[int, str, int, int]]:
    """Map decoded (example, channel, first, last) to (example, type, char_start, char_end), keeping a
    span only in the window that owns its first token (one copy across overlapping windows)."""
    out = []
    for ex_i, ch, first, last in decoded:
        ex = examples[ex_i]
        if ch >= len(ex.channels) or first >= ex.ctx_len or last >= ex.ctx_len:
            continue
        tok_first, tok_last = ex.window.start + first, ex.window.start + last
        if not ex.window.owns(tok_first):
            continue
        s, e = tdocs[ex.doc_id].tokens_to_char(tok_first, tok_last)
        out.append((ex_i, ex.channels[ch], s, e))
    return out


@dataclass
class Prediction:
    concepts: Document  # concept stage only: what concept scores are computed on
    full: Document  # concepts + relations (and relation tails), what relation scores use


class Predictor:
    """Runs a trained MRCModel over documents. All type queries of a window go in one batch and each
    document is tokenized once (the caller passes the cached TokenizedDocs). ``max_spans`` caps the spans
    kept per (window, type) and ``max_tails`` the tails per (head, relation type): an untrained model
    otherwise predicts hundreds of spans per window, each one a head to question. ``flat`` lets no two spans of one
    type overlap within a window (see :meth:`SpanHeads.decode`)."""

    def __init__(self, model, builder: ExampleBuilder, pad_id: int, batch_size: int = 32, max_spans: int = 16,
                 max_tails: int = 4, flat: bool = False):
        self.model, self.builder, self.pad_id, self.batch_size = model, builder, pad_id, batch_size
        self.max_spans, self.max_tails, self.flat = max_spans, max_tails, flat

    @classmethod
    def from_heads(cls, model, builder: ExampleBuilder, pad_id: int, batch_size: int, heads: dict) -> Predictor:
        """A predictor that decodes as the run's ``heads`` config says (``max_spans``, ``max_tails``, ``flat``)."""
        return cls(model, builder, pad_id, batch_size, heads.get("max_spans", 16), heads.get("max_tails", 4),
                   heads.get("flat", False))

    def batches(self, examples: list[MRCExample]) -> Iterator[tuple[list[int], list[MRCExample]]]:
        """(indices into ``examples``, those examples) per forward pass, in length order so a batch pads
        to its own examples' length (predictions do not depend on the order)."""
        order = sorted(range(len(examples)), key=lambda i: len(examples[i].input_ids))
        for i in range(0, len(order), self.batch_size):
            index = order[i:i + self.batch_size]
            yield index, [examples[k] for k in index]

    @torch.no_grad()
    def _run(self, examples: list[MRCExample], tdocs: dict[str, TokenizedDoc]) -> list[tuple]:
        """(example, type, char_start, char_end, value or None) for every span predicted in ``examples``."""
        device = next(self.model.parameters()).device
        schema = self.builder.schema
        value_head = getattr(self.model, "value_head", None)
        spans = []
        for index, chunk in self.batches(examples):
            batch = collate(chunk, self.pad_id)
            batch = {k: (v.to(device) if torch.is_tensor(v) else v) for k, v in batch.items()}
            heads = self.model.heads_for(batch["task"])
            h = self.model.encode(batch)
            cap = self.max_tails if batch["task"] == "relations" else self.max_spans
            decoded = heads.decode(heads(h), batch["ctx_mask"], cap, flat=self.flat)
            kept = [(d, k) for d, k in zip(decoded, _kept(chunk, decoded, tdocs), strict=True) if k[0] is not None]
            # labelled tails (SDoH StatusTime, ...) get a value, all of a batch in one pass of the value head
            tails = [_value_tail(schema, k[1]) if batch["task"] == "relations" else None for _, k in kept]
            labelled = [n for n, t in enumerate(tails) if value_head is not None and t in schema.value_labels]
            values: dict[int, str] = {}
            if labelled:
                where = [(kept[n][0][0], kept[n][0][2], kept[n][0][3]) for n in labelled]  # (example, first, last)
                values = dict(zip(labelled, value_head.predict(h, where, [tails[n] for n in labelled]), strict=True))
            spans += [(index[e], t, s, x, values.get(n)) for n, (_, (e, t, s, x)) in enumerate(kept)]
        return spans

    def predict(self, docs: Sequence[Document], tdocs: dict[str, TokenizedDoc], task: str = "concepts",
                gold_heads: bool = False) -> list[Prediction]:
        """``task``: concepts | relations (gold entities given) | end_to_end (relations from predicted
        heads). ``gold_heads`` uses gold entities as the concept stage (oracle)."""
        schema = self.builder.schema
        concept_docs = {d.doc_id: d.without_annotations() for d in docs}
        if task == "relations" or gold_heads:
            for d in docs:
                concept_docs[d.doc_id].entities = {k: e for k, e in d.entities.items()
                                                   if e.type in schema.entity_types}
        else:
            examples = [ex for d in docs for ex in self.builder.concept_examples(tdocs[d.doc_id])]
            found: dict[str, set[tuple[str, int, int]]] = {d.doc_id: set() for d in docs}
            for ex_i, etype, s, e, _ in self._run(examples, tdocs):
                found[examples[ex_i].doc_id].add((etype, s, e))
            for doc_id, spans in found.items():
                target = concept_docs[doc_id]
                for n, (etype, s, e) in enumerate(sorted(spans, key=lambda x: (x[1], x[2], x[0])), 1):
                    target.entities[f"T{n}"] = Entity(f"T{n}", etype, ((s, e),), target.text[s:e])
        rel_examples: list[MRCExample] = []
        full_docs = {}
        for d in docs:
            full = concept_docs[d.doc_id]
            full = Document(full.doc_id, full.text, dict(full.entities), sentences=list(full.sentences))
            full_docs[d.doc_id] = full
            if task != "concepts" and schema.relation_types:
                # the relation stage sees only the concept stage's output: heads are predicted end to end
                heads = [e for e in full.entities.values() if e.type in schema.head_types]
                rel_examples += self.builder.relation_examples(tdocs[d.doc_id], full, heads,
                                                               gold=Document(d.doc_id, d.text))
        if rel_examples:
            self._add_relations(rel_examples, tdocs, full_docs)
        if schema.events and task != "concepts":
            for doc_id, full in full_docs.items():
                full_docs[doc_id] = relations_to_events(full, schema.head_types)
        return [Prediction(concept_docs[d.doc_id], full_docs[d.doc_id]) for d in docs]

    def _add_relations(self, examples: list[MRCExample], tdocs: dict[str, TokenizedDoc],
                       full_docs: dict[str, Document]) -> None:
        index = {doc_id: {(e.type, e.span): k for k, e in doc.entities.items()} for doc_id, doc in full_docs.items()}
        seen: set[tuple[str, str, str, str]] = set()
        for ex_i, rel, s, e, value in sorted(self._run(examples, tdocs), key=lambda x: (x[0], x[2], x[3], x[1])):
            ex = examples[ex_i]
            doc, ids = full_docs[ex.doc_id], index[ex.doc_id]
            tail_type = _tail_type(self.builder.schema, rel, doc.entities[ex.head_id].type, ids, (s, e))
            tail_id = ids.get((tail_type, (s, e)))
            if tail_id is None:  # a tail the concept stage does not predict becomes an entity of the full doc
                tail_id = _free_id(doc.entities, "T")
                doc.entities[tail_id] = Entity(tail_id, tail_type, ((s, e),), doc.text[s:e])
                ids[(tail_type, (s, e))] = tail_id
            if (ex.doc_id, rel, tail_id, ex.head_id) in seen:
                continue
            seen.add((ex.doc_id, rel, tail_id, ex.head_id))
            rid = _free_id(doc.relations, "R")
            doc.relations[rid] = Relation(rid, rel, tail_id, ex.head_id)
            name = f"{tail_type}Val"
            if value is not None and not any(a.target == tail_id and a.name == name for a in doc.attributes.values()):
                aid = _free_id(doc.attributes, "A")
                doc.attributes[aid] = Attribute(aid, name, tail_id, value)


def _value_tail(schema, rel: str) -> str:
    """The tail type whose value a relation span gets: the first of ``rel``'s tail types with labelled values."""
    tails = schema.tail_types(rel)
    return next((t for t in tails if t in schema.value_labels), tails[0])


def _tail_type(schema, rel: str, head_type: str, ids: dict, span: tuple[int, int]) -> str:
    """A relation type may link several tail types to one head type (Has_value: Measurement or Condition ->
    Value): the tail takes the type the concept stage predicted at that span, else the first listed pair's."""
    tails = schema.tail_types(rel, head_type) or schema.tail_types(rel)
    return next((t for t in tails if (t, span) in ids), tails[0])


def _kept(examples: Sequence[MRCExample], decoded: list[tuple[int, int, int, int]],
          tdocs: dict[str, TokenizedDoc]) -> list[tuple]:
    """:func:`examples_to_spans` aligned with ``decoded`` (None where a span is dropped)."""
    out = []
    for item in decoded:
        kept = examples_to_spans(examples, [item], tdocs)
        out.append(kept[0] if kept else (None, None, None, None))
    return out


def _free_id(table: dict, prefix: str) -> str:
    n = len(table) + 1
    while f"{prefix}{n}" in table:
        n += 1
    return f"{prefix}{n}"
