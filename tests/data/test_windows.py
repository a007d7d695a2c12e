"""Windowing: every token owned once, and every gold span recoverable at document level."""

from __future__ import annotations

import random

import pytest

from clinprompt.data.document import Document, Entity
from clinprompt.data.mrc import ExampleBuilder
from clinprompt.data.windows import make_windows, tokenize_document
from clinprompt.decoding import examples_to_spans
from clinprompt.schema import Schema


@pytest.mark.parametrize("n,size,stride", [(5, 8, 6), (100, 16, 12), (101, 16, 16), (57, 10, 3), (64, 32, 1)])
def test_windows_cover_and_own_each_token_once(n, size, stride):
    windows = make_windows(n, size, stride)
    owners = [sum(w.owns(t) for w in windows) for t in range(n)]
    assert owners == [1] * n
    for w in windows:
        assert 0 <= w.start <= w.own_start <= w.own_end <= w.end <= n
        assert w.end - w.start == min(size, n)


def _long_doc(n_words: int = 220, seed: int = 3) -> Document:
    rng = random.Random(seed)
    words = [rng.choice(["aspirin", "takes", "daily", "pain", "mg", "the", "for", "tablet"]) for _ in range(n_words)]
    text, starts = "", []
    for w in words:
        starts.append(len(text))
        text += w + " "
    ents = {}
    for i in range(0, n_words - 3, 7):  # spans of 1-3 words, some nested inside longer ones
        width = 1 + i % 3
        s, e = starts[i], starts[i + width - 1] + len(words[i + width - 1])
        ents[f"T{len(ents) + 1}"] = Entity(f"T{len(ents) + 1}", "A", ((s, e),), text[s:e])
        if width == 3:
            e2 = starts[i] + len(words[i])
            ents[f"T{len(ents) + 1}"] = Entity(f"T{len(ents) + 1}", "B", ((s, e2),), text[s:e2])
    return Document("long", text, ents)


@pytest.mark.parametrize("query", ["none", "hard", "soft"])
def test_gold_spans_round_trip_through_windows(tokenizer, query):
    doc = _long_doc()
    tdoc = tokenize_document(doc, tokenizer)
    builder = ExampleBuilder(tokenizer, Schema("generic", ("A", "B")), query, window_size=24, stride=16,
                             max_span_width=8, position_limit=512, prompt_len=4)
    examples = builder.concept_examples(tdoc, doc)
    assert len({e.window.index for e in examples}) > 5  # really several windows
    # decode the labels as if the model were perfect, then merge the windows back
    decoded = [(i, c, s, t) for i, ex in enumerate(examples) for c, s, t in ex.spans]
    spans = {(t, s, e) for _, t, s, e in examples_to_spans(examples, decoded, {"long": tdoc})}
    gold = {(e.type, e.start, e.end) for e in doc.entities.values()}
    assert spans == gold


def test_context_tokens_and_labels_line_up(tokenizer):
    doc = _long_doc(60)
    tdoc = tokenize_document(doc, tokenizer)
    for query in ("none", "hard", "soft"):
        builder = ExampleBuilder(tokenizer, Schema("generic", ("A", "B")), query, 24, 16, 8, 512, 4)
        for ex in builder.concept_examples(tdoc, doc):
            ctx = ex.input_ids[ex.ctx_offset: ex.ctx_offset + ex.ctx_len]
            assert ctx == tdoc.input_ids[ex.window.start: ex.window.end]
            for c, s, t in ex.spans:
                chars = tdoc.tokens_to_char(ex.window.start + s, ex.window.start + t)
                assert any(e.span == chars and e.type == ex.channels[c] for e in doc.entities.values())


def test_window_too_long_for_prompt_is_shrunk_or_refused(tokenizer):
    schema = Schema("generic", ("A",))
    b = ExampleBuilder(tokenizer, schema, "soft", 500, 400, 8, position_limit=512, prompt_len=64)
    assert b.window_size + 64 + 2 <= 512
    with pytest.raises(ValueError, match="exceeds the model's 512 positions"):
        ExampleBuilder(tokenizer, schema, "soft", 500, 400, 8, 512, 64, shrink_windows=False)
