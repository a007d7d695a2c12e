"""From span-head outputs to predicted Documents: concepts first, then relations asked of the
predicted heads (end-to-end), with windows merged back to document character offsets."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch

from clinprompt.data.collate import collate
from clinprompt.data.document import Document, Entity, Relation
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
    document is tokenized once (the caller passes the cached TokenizedDocs)."""

    def __init__(self, model, builder: ExampleBuilder, pad_id: int, batch_size: int = 32):
        self.model, self.builder, self.pad_id, self.batch_size = model, builder, pad_id, batch_size

    def _batches(self, examples: list[MRCExample]) -> Iterator[tuple[int, list[MRCExample]]]:
        for i in range(0, len(examples), self.batch_size):
            yield i, examples[i:i + self.batch_size]

    @torch.no_grad()
    def _run(self, examples: list[MRCExample], tdocs: dict[str, TokenizedDoc]) -> list[tuple[int, str, int, int]]:
        device = next(self.model.parameters()).device
        spans = []
        for offset, chunk in self._batches(examples):
            batch = collate(chunk, self.pad_id)
            batch = {k: (v.to(device) if torch.is_tensor(v) else v) for k, v in batch.items()}
            heads = self.model.heads_for(batch["task"])
            out = heads(self.model.encode(batch))
            decoded = heads.decode(out, batch["ctx_mask"])
            spans += [(offset + e, t, s, x) for e, t, s, x in examples_to_spans(chunk, decoded, tdocs)]
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
            for ex_i, etype, s, e in self._run(examples, tdocs):
                found[examples[ex_i].doc_id].add((etype, s, e))
            for doc_id, spans in found.items():
                target = concept_docs[doc_id]
                for n, (etype, s, e) in enumerate(sorted(spans, key=lambda x: (x[1], x[2], x[0])), 1):
                    target.entities[f"T{n}"] = Entity(f"T{n}", etype, ((s, e),), target.text[s:e])
        results = []
        rel_examples: list[MRCExample] = []
        full_docs = {}
        for d in docs:
            full = concept_docs[d.doc_id]
            full = Document(full.doc_id, full.text, dict(full.entities), sentences=list(full.sentences))
            full_docs[d.doc_id] = full
            if task != "concepts" and schema.relation_types:
                heads = [e for e in full.entities.values() if e.type in schema.head_types]
                rel_examples += self.builder.relation_examples(tdocs[d.doc_id], full, heads,
                                                               gold=Document(d.doc_id, d.text))
        if rel_examples:
            self._add_relations(rel_examples, tdocs, full_docs)
        for d in docs:
            results.append(Prediction(concept_docs[d.doc_id], full_docs[d.doc_id]))
        return results

    def _add_relations(self, examples, tdocs, full_docs) -> None:
        tails = self._run(examples, tdocs)
        for ex_i, rel, s, e in sorted(tails, key=lambda x: (x[0], x[2], x[3], x[1])):
            ex = examples[ex_i]
            doc = full_docs[ex.doc_id]
            tail_type = self.builder.schema.relation_heads[rel][0]
            tail_id = next((k for k, ent in doc.entities.items() if ent.type == tail_type and ent.span == (s, e)),
                           None)
            if tail_id is None:  # a tail the concept stage missed becomes an entity of the full doc
                tail_id = f"T{len(doc.entities) + 1}"
                while tail_id in doc.entities:
                    tail_id = f"T{int(tail_id[1:]) + 1}"
                doc.entities[tail_id] = Entity(tail_id, tail_type, ((s, e),), doc.text[s:e])
            rid = f"R{len(doc.relations) + 1}"
            doc.relations[rid] = Relation(rid, rel, tail_id, ex.head_id)
