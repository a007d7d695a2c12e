"""SDoH end to end: the value head, events decoded from a (scripted) model and scored by hand, and a
cross-site training run through train.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import torch
from torch import nn

from clinprompt.data.brat import format_ann, parse_ann
from clinprompt.data.document import Attribute, Document, Entity, Event
from clinprompt.data.events import as_event_document
from clinprompt.data.mrc import ExampleBuilder
from clinprompt.data.windows import tokenize_document
from clinprompt.decoding import Predictor
from clinprompt.evaluation.events import events_of, score_events
from clinprompt.models.span_heads import SpanValueHead, _top_per_group
from clinprompt.schema import EVENT_ARGUMENTS, VALUE_LABELS, Schema

TEXT = "Former smoker, quit 2005. Denies EtOH."
RTYPES = ("StatusTime-Alcohol", "StatusTime-Tobacco", "History-Tobacco")
SCHEMA = Schema("sdoh", ("Alcohol", "Tobacco"), RTYPES, {r: tuple(r.split("-")) for r in RTYPES},
                {"StatusTime": VALUE_LABELS["StatusTime"]}, events=True)


def at(sub: str) -> tuple[int, int]:
    s = TEXT.index(sub)
    return s, s + len(sub)


def test_value_head_restricts_to_the_span_type_and_learns():
    torch.manual_seed(0)
    head = SpanValueHead(8, {"StatusTime": ("none", "current"), "TypeLiving": ("alone", "with_family", "homeless")})
    assert head.labels[head.index("TypeLiving", "homeless")] == ("TypeLiving", "homeless")
    mask = head.type_mask(torch.tensor([head.index("StatusTime", "current"), head.index("TypeLiving", "alone")]))
    assert mask.tolist() == [[True, True, False, False, False], [False, False, True, True, True]]
    h = torch.randn(2, 6, 8)
    spans = torch.tensor([[0, 0, 1, 2], [1, 0, 3, 3], [1, 0, 4, 5]])
    values = torch.tensor([head.index("StatusTime", "current"), -1, head.index("TypeLiving", "homeless")])
    opt = torch.optim.Adam(head.parameters(), lr=1e-2)
    for _ in range(60):
        opt.zero_grad()
        loss = head.loss(h, spans, values)
        loss.backward()
        opt.step()
    head.eval()
    assert head.predict(h, [(0, 1, 2), (1, 4, 5)], ["StatusTime", "TypeLiving"]) == ["current", "homeless"]
    # a span of one type can only get that type's values, whatever the other logits say
    assert head.predict(h, [(1, 4, 5)], ["StatusTime"])[0] in ("none", "current")


def test_top_per_group_keeps_the_best_k_of_each_group():
    rows = torch.arange(7)
    ch = torch.zeros(7, dtype=torch.long)
    group = torch.tensor([0, 1, 0, 0, 1, 2, 0])
    score = torch.tensor([0.1, 0.9, 0.7, 0.3, 0.2, 0.5, 0.8])
    kept, _ = _top_per_group(rows, ch, group, score, 2)
    # group 0: items 6 (0.8), 2 (0.7); group 1: both; group 2: its only item
    assert kept.tolist() == [1, 2, 4, 5, 6]


class Scripted(nn.Module):
    """Concepts: fixed trigger spans on their type's channel. Relations: the token before the marked
    trigger is its StatusTime (channel 0). Values: a real value head biased to say 'past'."""

    def __init__(self, triggers: list[tuple[int, int, int]]):
        super().__init__()
        self.triggers = triggers
        self.value_head = SpanValueHead(1, SCHEMA.value_labels, dropout=0.0)
        with torch.no_grad():
            last = self.value_head.net[-1]
            last.weight.zero_()
            last.bias.zero_()
            last.bias[self.value_head.index("StatusTime", "past")] = 5.0

    def encode(self, batch: dict) -> torch.Tensor:
        return batch["head_mask"].gather(1, batch["ctx_index"]).unsqueeze(-1).float()

    def heads_for(self, task: str):
        model = self

        class Heads:
            def __call__(self, h):
                return {"h": h}

            def decode(self, out, ctx_mask, max_spans=None, flat=False):
                h = out["h"]
                if task == "concepts":
                    return [(b, ch, f, t) for b in range(h.shape[0]) for ch, f, t in model.triggers]
                return [(b, 0, int(h[b, :, 0].nonzero().min()) - 1, int(h[b, :, 0].nonzero().min()) - 1)
                        for b in range(h.shape[0])]

        return Heads()


def gold_doc() -> Document:
    ents = {"T1": Entity("T1", "StatusTime", (at("Former"),)), "T2": Entity("T2", "Tobacco", (at("smoker"),)),
            "T3": Entity("T3", "History", (at("quit 2005"),)), "T4": Entity("T4", "StatusTime", (at("Denies"),)),
            "T5": Entity("T5", "Alcohol", (at("EtOH"),))}
    events = {"E1": Event("E1", "Tobacco", "T2", (("Status", "T1"), ("History", "T3"))),
              "E2": Event("E2", "Alcohol", "T5", (("Status", "T4"),))}
    attrs = {"A1": Attribute("A1", "StatusTimeVal", "T1", "past"), "A2": Attribute("A2", "StatusTimeVal", "T4", "none")}
    return Document("n1", TEXT, ents, {}, events, attrs, sentences=[(0, 25), (26, 38)])


def test_events_from_predicted_triggers_scored_by_hand(tokenizer):
    gold = gold_doc()
    tdoc = tokenize_document(gold, tokenizer)
    triggers = [(1, *tdoc.char_to_tokens(*at("smoker"))), (0, *tdoc.char_to_tokens(*at("EtOH")))]
    builder = ExampleBuilder(tokenizer, SCHEMA, "none", 64, 48, 8, 512)
    pred = Predictor(Scripted(triggers), builder, tokenizer.pad_token_id).predict([gold], {"n1": tdoc},
                                                                                  "end_to_end")[0]
    got = sorted((ev.type, pred.full.span_text(pred.full.entities[ev.trigger]),
                  tuple((role, pred.full.span_text(pred.full.entities[i])) for role, i in ev.args))
                 for ev in pred.full.events.values())
    assert got == [("Alcohol", "EtOH", (("Status", "Denies"),)), ("Tobacco", "smoker", (("Status", "Former"),))]
    res = score_events([gold], [pred.full])
    # triggers 2 tp; Tobacco/StatusTime tp (past = past); Tobacco/History fn; Alcohol/StatusTime past != none
    assert (res["micro"]["tp"], res["micro"]["fp"], res["micro"]["fn"]) == (3, 1, 2)
    assert res["per_argument"]["Alcohol/StatusTime"]["fp"] == res["per_argument"]["Alcohol/StatusTime"]["fn"] == 1
    # the brat file written for the official scorer reads back to the same events
    ann = format_ann(as_event_document(pred.full))
    again = parse_ann(ann, TEXT, "n1")
    assert not again.relations
    assert events_of(again, EVENT_ARGUMENTS, ("StatusTime", "History")) == events_of(
        pred.full, EVENT_ARGUMENTS, ("StatusTime", "History"))


def test_cross_site_training_run_reports_events_and_site(repo_root, tmp_path):
    run_dir = tmp_path / "run"
    args = ["dataset=sdoh_synthetic", "dataset.train_site=mimic", "dataset.test_site=uw", "model=tiny_bert",
            "trainer=fast", "task=end_to_end", "logger=csv_only", "dataset.loader.n_train=6",
            "dataset.loader.n_dev=2", "dataset.loader.n_test=3", "trainer.limit_val_batches=1",
            "module.lightning_module.heads.max_spans=4", "module.lightning_module.heads.max_tails=2",
            f"hydra.run.dir={run_dir}"]
    env = {**os.environ, "WANDB_MODE": "offline", "CLINPROMPT_CACHE_DIR": str(tmp_path / "cache")}
    proc = subprocess.run([sys.executable, str(repo_root / "train.py"), *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads((run_dir / "results.json").read_text())
    assert res["run"]["status"] == "finished" and res["grid"]["site"] == "mimic->uw"
    test = res["metrics"]["test"]
    assert set(test["events"]["per_event"]) == set(EVENT_ARGUMENTS)
    assert test["events"]["micro"]["tp"] + test["events"]["micro"]["fn"] > 0  # the uw gold was scored
    assert "StatusTime-Alcohol" in test["relations"]["strict"]["per_type"]
    written = sorted((run_dir / "predictions" / "test").glob("*.ann"))
    assert [p.stem for p in written] == ["uw_test_0000", "uw_test_0001", "uw_test_0002"]
    assert all(line[0] in "TEA" for p in written for line in p.read_text().splitlines())
