"""MRC examples: (query, window) pairs with span labels, for concepts and for relations.

How the query is presented is the only thing a strategy changes here:
- ``none`` (no_prompt): no query; one output channel per type.
- ``hard`` (hard_prompt): a natural-language question precedes the window; one channel.
- ``soft`` (soft_*): no text query; the type is a prompt block id; one channel.
Relations add a marked head entity (token positions the model adds a learned marker to).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass

from clinprompt.data.document import Document, Entity
from clinprompt.data.windows import TokenizedDoc, Window, make_windows
from clinprompt.schema import Schema
from clinprompt.strategy import QUESTION_TOKENS, Query

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MRCExample:
    doc_id: str
    task: str  # "concepts" | "relations"
    window: Window  # token range of the context in the document
    input_ids: tuple[int, ...]  # [CLS] (query [SEP])? context [SEP]
    ctx_offset: int  # position of the first context token in input_ids
    block_id: int  # prompt block (soft) or -1
    channels: tuple[str, ...]  # the type predicted by each output channel
    spans: tuple[tuple[int, int, int], ...] = ()  # (channel, first, last) tokens relative to the context
    head: tuple[int, int] | None = None  # marked head tokens relative to the context (relations)
    head_id: str | None = None
    values: tuple[int, ...] = ()  # per span: index into Schema.value_pairs, or -1 (no labelled value)

    @property
    def ctx_len(self) -> int:
        return self.window.end - self.window.start


class ExampleBuilder:
    """Builds every example from a tokenized document: nothing is tokenized twice."""

    def __init__(self, tokenizer, schema: Schema, query: Query | str, window_size: int, stride: int,
                 max_span_width: int, position_limit: int, prompt_len: int = 0,
                 context_sentences: int = 1, shrink_windows: bool = True):
        try:
            query = Query(query)
        except ValueError as err:
            raise ValueError(f"query kind {query!r}: expected one of {tuple(q.value for q in Query)}") from err
        self.schema, self.query, self.max_span_width = schema, query, max_span_width
        self.context_sentences = context_sentences
        self.cls = tokenizer.cls_token_id if tokenizer.cls_token_id is not None else tokenizer.bos_token_id
        self.sep = tokenizer.sep_token_id if tokenizer.sep_token_id is not None else tokenizer.eos_token_id
        self.tokenizer = tokenizer
        self._questions: dict[str, tuple[int, ...]] = {}
        if query.asks_question:
            for label in schema.entity_types:
                self._questions[label] = self._encode(schema.question(label))
        room = query.window_room(prompt_len, position_limit)
        if window_size > room:
            msg = (f"window_size {window_size} + prompt_len {query.effective_prompt_len(prompt_len)} + query "
                   f"{query.query_budget} + 2 special tokens exceeds the model's {position_limit} positions")
            if not shrink_windows or room < 16:
                raise ValueError(msg + "; lower dataset.window.size or prompt_len")
            log.warning("%s: windows shrink to %d tokens", msg, room)
            stride = max(1, min(stride, room - (window_size - stride)))
            window_size = room
        self.window_size, self.stride = window_size, stride

    def _encode(self, text: str) -> tuple[int, ...]:
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        return tuple(ids[:QUESTION_TOKENS])

    def _inputs(self, tdoc: TokenizedDoc, w: Window, question: tuple[int, ...]) -> tuple[tuple[int, ...], int]:
        ctx = tdoc.input_ids[w.start:w.end]
        if question:
            return (self.cls, *question, self.sep, *ctx, self.sep), len(question) + 2
        return (self.cls, *ctx, self.sep), 1

    def _spans_in(self, tdoc: TokenizedDoc, w: Window, ents: list[Entity], channel: int) -> list:
        out = []
        for ent in ents:
            toks = tdoc.char_to_tokens(ent.start, ent.end)
            if toks is None or toks[0] < w.start or toks[1] >= w.end:
                continue  # a span cut by this window is labelled in the window that holds it whole
            if toks[1] - toks[0] >= self.max_span_width:
                continue
            out.append((channel, toks[0] - w.start, toks[1] - w.start))
        return out

    def concept_examples(self, tdoc: TokenizedDoc, doc: Document | None = None) -> list[MRCExample]:
        by_type = {t: (doc.entities_of(t) if doc else []) for t in self.schema.entity_types}
        out: list[MRCExample] = []
        for w in make_windows(len(tdoc), self.window_size, self.stride):
            if not self.query.per_type:
                ids, off = self._inputs(tdoc, w, ())
                spans = [s for c, t in enumerate(self.schema.entity_types)
                         for s in self._spans_in(tdoc, w, by_type[t], c)]
                out.append(MRCExample(tdoc.doc_id, "concepts", w, ids, off, -1, self.schema.entity_types,
                                      tuple(spans)))
                continue
            for t in self.schema.entity_types:
                ids, off = self._inputs(tdoc, w, self._questions.get(t, ()))
                block = self.schema.block_id(t) if self.query.deep_prompt else -1
                out.append(MRCExample(tdoc.doc_id, "concepts", w, ids, off, block, (t,),
                                      tuple(self._spans_in(tdoc, w, by_type[t], 0))))
        return out

    def _context(self, tdoc: TokenizedDoc, doc: Document, head: tuple[int, int]) -> Window:
        """The head's sentence plus ``context_sentences`` neighbours each side, in tokens."""
        first, last = head
        sents = doc.sentences or [(0, len(doc.text))]
        idx = [i for i, (s, e) in enumerate(sents) if s < tdoc.offsets[last][1] and e > tdoc.offsets[first][0]]
        lo = max(0, min(idx, default=0) - self.context_sentences)
        hi = min(len(sents) - 1, max(idx, default=0) + self.context_sentences)
        span = tdoc.char_to_tokens(sents[lo][0], sents[hi][1]) or (first, last)
        start, end = min(span[0], first), max(span[1], last) + 1
        if end - start > self.window_size:  # centre the window on the head
            mid = (first + last) // 2
            start = max(0, min(mid - self.window_size // 2, len(tdoc) - self.window_size))
            end = start + self.window_size
        return Window(0, start, end, start, end)

    def relation_examples(self, tdoc: TokenizedDoc, doc: Document, heads: list[Entity],
                          gold: Document | None = None) -> list[MRCExample]:
        """One example per head (no_prompt) or per head and relation type; tails from ``gold``."""
        gold = gold or doc
        values = self._values(gold) if self.schema.value_labels else {}
        out: list[MRCExample] = []
        for head in heads:
            rels = self.schema.relations_for_head(head.type)
            toks = tdoc.char_to_tokens(head.start, head.end)
            if not rels or toks is None:
                continue
            w = self._context(tdoc, doc, toks)
            rel_head = (toks[0] - w.start, toks[1] - w.start)

            def tails(rel: str, ch: int, head=head, w=w) -> list[tuple[tuple[int, int, int], int]]:
                ok = self.schema.tail_types(rel, head.type)
                ents = [gold.entities[r.arg1] for r in gold.relations.values()
                        if r.type == rel and r.arg2 == head.id and r.arg1 in gold.entities
                        and gold.entities[r.arg1].type in ok]
                return [(s, values.get(e.id, -1)) for e in ents for s in self._spans_in(tdoc, w, [e], ch)]

            if not self.query.per_type:
                ids, off = self._inputs(tdoc, w, ())
                found = [t for c, r in enumerate(rels) for t in tails(r, c)]
                out.append(MRCExample(tdoc.doc_id, "relations", w, ids, off, -1, rels, tuple(s for s, _ in found),
                                      rel_head, head.id, tuple(v for _, v in found)))
                continue
            head_text = doc.span_text(head)
            for r in rels:
                asks = self.query.asks_question
                q = self._encode(self.schema.question(r, head=head_text)) if asks else ()
                ids, off = self._inputs(tdoc, w, q)
                block = self.schema.block_id(r) if self.query.deep_prompt else -1
                found = tails(r, 0)
                out.append(MRCExample(tdoc.doc_id, "relations", w, ids, off, block, (r,), tuple(s for s, _ in found),
                                      rel_head, head.id, tuple(v for _, v in found)))
        return out

    def _values(self, doc: Document) -> dict[str, int]:
        """Entity id -> index of its labelled value (``<Type>Val`` attribute) in ``Schema.value_pairs``."""
        pairs = {p: n for n, p in enumerate(self.schema.value_pairs)}
        out = {}
        for a in doc.attributes.values():
            ent = doc.entities.get(a.target)
            if ent is not None and a.name == f"{ent.type}Val" and (ent.type, a.value) in pairs:
                out[a.target] = pairs[(ent.type, a.value)]
        return out


@dataclass(frozen=True)
class EvalData:
    """What predicting needs from the data side, handed to the LightningModule explicitly
    (``MRCDataModule.eval_data``): documents per split (``train``, ``dev``, ``test``), their tokenized forms, the
    example builder and the pad id. ``use_predicted_heads`` is set when the data side trains relations on the
    concept stage's predicted heads too: the module calls it with each epoch's predicted heads."""

    builder: ExampleBuilder
    pad_id: int
    tdocs: dict[str, TokenizedDoc]
    docs: dict[str, list[Document]]
    use_predicted_heads: Callable[[dict[str, list[Entity]]], int] | None = None


def predicted_head_examples(builder: ExampleBuilder, tdoc: TokenizedDoc, doc: Document,
                            predicted: list[Entity]) -> list[MRCExample]:
    """Relation examples (training) for heads the concept stage predicted that are not gold heads: one that
    overlaps a gold head of its type gets that head's gold tails (a boundary error should still find
    them); one that overlaps none gets no tails (a spurious head should find nothing)."""
    gold = [e for e in doc.entities.values() if e.type in builder.schema.head_types]
    heads = []
    for n, p in enumerate(predicted):
        same = [g for g in gold if g.type == p.type]
        if any(g.span == p.span for g in same):
            continue  # already a gold-head example
        shared = {g.id: min(g.end, p.end) - max(g.start, p.start) for g in same}
        best = max(shared, key=lambda k: (shared[k], k), default=None)
        head_id = best if best is not None and shared[best] > 0 else f"predicted-{n}"
        heads.append(Entity(head_id, p.type, p.fragments, p.text))
    return builder.relation_examples(tdoc, doc, heads)


def swap_in(examples: list[MRCExample], extra: list[MRCExample], seed: int) -> tuple[list[MRCExample], int]:
    """Replace span-less relation examples by ``extra`` ones, one for one (seeded), so the number of
    training examples, and the learning-rate schedule planned from it, stays the same."""
    rng = random.Random(seed)
    negatives = [i for i, e in enumerate(examples) if e.task == "relations" and not e.spans]
    n = min(len(extra), len(negatives))
    drop = set(rng.sample(negatives, n))
    return [e for i, e in enumerate(examples) if i not in drop] + rng.sample(extra, n), n
