"""End-to-end decoding: the relation stage questions the *predicted* heads, and the result is scored
against gold entities and relations together (hand-counted)."""

from __future__ import annotations

import torch
from torch import nn

from clinprompt.data.document import Document, Entity, Relation
from clinprompt.data.mrc import ExampleBuilder
from clinprompt.data.windows import tokenize_document
from clinprompt.decoding import Predictor
from clinprompt.evaluation.scoring import score_documents
from clinprompt.schema import Schema

TEXT = "Aspirin 81 mg daily. Ibuprofen 200 mg prn. Lisinopril 10 mg qd."
SCHEMA = Schema("n2c2_2018", ("Drug", "Strength"), ("Strength-Drug",), {"Strength-Drug": ("Strength", "Drug")})


def at(sub: str) -> tuple[int, int]:
    s = TEXT.index(sub)
    return s, s + len(sub)


class ScriptedHeads:
    """Stands in for SpanHeads: concept spans are fixed token ranges; a relation's tail is the two tokens
    after the marked head (so a head that is never asked about yields no tail)."""

    def __init__(self, task: str, concept_spans: list[tuple[int, int]]):
        self.task, self.concept_spans = task, concept_spans

    def __call__(self, h: torch.Tensor) -> dict:
        return {"h": h}

    def decode(self, out: dict, ctx_mask: torch.Tensor, max_spans: int | None = None, flat: bool = False) -> list:
        h = out["h"]
        if self.task == "concepts":  # channel 0 = Drug under no_prompt
            return [(b, 0, f, t) for b in range(h.shape[0]) for f, t in self.concept_spans]
        found = []
        for b in range(h.shape[0]):
            marked = h[b, :, 0].nonzero().flatten()
            last = int(marked.max())
            found.append((b, 0, last + 1, last + 2))
        return found


class ScriptedModel(nn.Module):
    def __init__(self, concept_spans: list[tuple[int, int]]):
        super().__init__()
        self.anchor = nn.Parameter(torch.zeros(1))  # gives the predictor a device
        self.concept_spans = concept_spans
        self.asked_heads: list[str] = []

    def encode(self, batch: dict) -> torch.Tensor:
        # the hidden state of each context token says whether it is marked as the head
        marked = batch["head_mask"].gather(1, batch["ctx_index"])
        return marked.unsqueeze(-1).float()

    def heads_for(self, task: str) -> ScriptedHeads:
        return ScriptedHeads(task, self.concept_spans)


def test_relations_are_asked_of_predicted_heads_and_scored_end_to_end(tokenizer):
    gold = Document("d", TEXT, {
        "T1": Entity("T1", "Drug", (at("Aspirin"),)), "T2": Entity("T2", "Strength", (at("81 mg"),)),
        "T3": Entity("T3", "Drug", (at("Lisinopril"),)), "T4": Entity("T4", "Strength", (at("10 mg"),)),
    }, {"R1": Relation("R1", "Strength-Drug", "T2", "T1"), "R2": Relation("R2", "Strength-Drug", "T4", "T3")},
        sentences=[(0, 20), (21, 42), (43, 63)])
    tdoc = tokenize_document(gold, tokenizer)
    # the concept stage finds Aspirin (right) and Ibuprofen (not a gold drug) and misses Lisinopril
    spans = [tdoc.char_to_tokens(*at("Aspirin")), tdoc.char_to_tokens(*at("Ibuprofen"))]
    builder = ExampleBuilder(tokenizer, SCHEMA, "none", 64, 48, 8, 512)
    predictor = Predictor(ScriptedModel(spans), builder, tokenizer.pad_token_id)
    pred = predictor.predict([gold], {"d": tdoc}, "end_to_end")[0]

    drugs = sorted(gold.text[e.start:e.end] for e in pred.concepts.entities.values())
    assert drugs == ["Aspirin", "Ibuprofen"]
    found = sorted((r.type, pred.full.span_text(pred.full.entities[r.arg1]), pred.full.span_text(
        pred.full.entities[r.arg2])) for r in pred.full.relations.values())
    # Lisinopril was never predicted, so never asked: its 10 mg cannot appear
    assert found == [("Strength-Drug", "200 mg", "Ibuprofen"), ("Strength-Drug", "81 mg", "Aspirin")]

    res = score_documents([gold], [pred.full], SCHEMA.entity_types, SCHEMA.relation_types)
    m = res["relations"]["strict"]["micro"]
    assert (m["tp"], m["fp"], m["fn"]) == (1, 1, 1)
    c = score_documents([gold], [pred.concepts], SCHEMA.entity_types)["concepts"]["strict"]["per_type"]
    assert (c["Drug"]["tp"], c["Drug"]["fp"], c["Drug"]["fn"]) == (1, 1, 1)
    assert (c["Strength"]["tp"], c["Strength"]["fp"], c["Strength"]["fn"]) == (0, 0, 2)

    oracle = Predictor(ScriptedModel(spans), builder, tokenizer.pad_token_id).predict([gold], {"d": tdoc},
                                                                                      "relations")[0]
    m = score_documents([gold], [oracle.full], SCHEMA.entity_types, SCHEMA.relation_types)["relations"]["strict"]
    assert (m["micro"]["tp"], m["micro"]["fp"], m["micro"]["fn"]) == (2, 0, 0)  # gold heads: both found
