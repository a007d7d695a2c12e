"""One relation type between several (Arg1 type, Arg2 type) pairs: ``Has_value`` links Measurement -> Value
and Condition -> Value. Schema, example building, decoding and scoring handle both pairs; a tiny model
trains and decodes such a corpus end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from clinprompt.cli.score import main as score_main
from clinprompt.data.corpora.brat_corpus import load_brat_corpus
from clinprompt.data.document import Document, Entity
from clinprompt.data.mrc import ExampleBuilder
from clinprompt.data.windows import tokenize_document
from clinprompt.decoding import Predictor
from clinprompt.schema import Schema

REPO = Path(__file__).resolve().parents[2]
NOTE = "Pulse 88 today. Fever 39 at night. Weight 70 stable."
# Pulse 0-5, 88 6-8, Fever 16-21, 39 22-24, Weight 35-41, 70 42-44
ANN = """T1\tMeasurement 0 5\tPulse
T2\tValue 6 8\t88
T3\tCondition 16 21\tFever
T4\tValue 22 24\t39
T5\tMeasurement 35 41\tWeight
T6\tValue 42 44\t70
R1\tHas_value Arg1:T1 Arg2:T2
R2\tHas_value Arg1:T3 Arg2:T4
R3\tHas_value Arg1:T5 Arg2:T6
"""


def _corpus(root: Path, n: int = 6) -> Path:
    for split in ("train", "dev", "test"):
        (root / split).mkdir(parents=True)
        for i in range(n if split == "train" else 2):
            (root / split / f"{split}{i}.txt").write_text(NOTE)
            (root / split / f"{split}{i}.ann").write_text(ANN)
    return root


def test_pairs_are_discovered_and_every_relation_becomes_a_training_tail(tmp_path, tokenizer):
    corpus = load_brat_corpus(_corpus(tmp_path / "c"))
    # Measurement -> Value twice per note, Condition -> Value once: most frequent first
    assert corpus.relation_heads["Has_value"] == (("Measurement", "Value"), ("Condition", "Value"))
    schema = Schema("generic", corpus.entity_types, ("Has_value",), dict(corpus.relation_heads))
    assert schema.head_types == ("Value",) and schema.tail_types("Has_value", "Value") == ("Measurement", "Condition")
    listed = load_brat_corpus(tmp_path / "c", relation_heads={"Has_value": [["Condition", "Value"],
                                                                            ["Measurement", "Value"]]})
    assert listed.relation_heads["Has_value"] == (("Condition", "Value"), ("Measurement", "Value"))
    doc = corpus.splits["train"][0]
    builder = ExampleBuilder(tokenizer, schema, "none", 64, 48, 8, 512)
    heads = [e for e in doc.entities.values() if e.type == "Value"]
    examples = builder.relation_examples(tokenize_document(doc, tokenizer), doc, heads)
    # all 3 relations are labelled tails (a single pair per type kept only the 2 Measurement ones)
    assert sum(len(ex.spans) for ex in examples) == 3


def test_decoded_tails_take_the_type_the_concept_stage_predicted(tokenizer):
    schema = Schema("generic", ("Measurement", "Condition", "Value"), ("Has_value",),
                    {"Has_value": (("Measurement", "Value"), ("Condition", "Value"))})
    doc = Document("d", NOTE, {"T1": Entity("T1", "Condition", ((16, 21),)), "T2": Entity("T2", "Value", ((22, 24),)),
                               "T3": Entity("T3", "Value", ((6, 8),))}, sentences=[(0, 15), (16, 34), (35, 51)])
    builder = ExampleBuilder(tokenizer, schema, "none", 64, 48, 8, 512)
    predictor = Predictor(None, builder, tokenizer.pad_token_id)
    tdoc = tokenize_document(doc, tokenizer)
    examples = builder.relation_examples(tdoc, doc, [doc.entities["T2"], doc.entities["T3"]])
    by_head = {ex.head_id: i for i, ex in enumerate(examples)}
    # scripted relation spans: Fever (a predicted Condition) for 39; Pulse (no concept) for 88
    predictor._run = lambda exs, tdocs: [(by_head["T2"], "Has_value", 16, 21, None),
                                         (by_head["T3"], "Has_value", 0, 5, None)]
    full = {"d": Document("d", NOTE, dict(doc.entities))}
    predictor._add_relations(examples, {"d": tdoc}, full)
    got = sorted((full["d"].entities[r.arg1].type, full["d"].entities[r.arg1].span, full["d"].entities[r.arg2].span)
                 for r in full["d"].relations.values())
    assert got == [("Condition", (16, 21), (22, 24)), ("Measurement", (0, 5), (6, 8))]


def test_multi_pair_corpus_trains_and_decodes_end_to_end(tmp_path):
    root = _corpus(tmp_path / "c")
    run_dir = tmp_path / "run"
    env = {**os.environ, "WANDB_MODE": "offline", "CLINPROMPT_CACHE_DIR": str(tmp_path / "cache")}
    args = ["model=tiny_bert", "trainer=fast", "logger=csv_only", "dataset=brat", f"dataset.root={root}",
            "task=end_to_end", "strategy=no_prompt", f"hydra.run.dir={run_dir}"]
    proc = subprocess.run([sys.executable, str(REPO / "train.py"), *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads((run_dir / "results.json").read_text())
    assert res["run"]["status"] == "finished"
    rel = res["metrics"]["test"]["relations"]["strict"]
    assert set(rel["per_type"]) == {"Has_value"}
    assert rel["per_type"]["Has_value"]["tp"] + rel["per_type"]["Has_value"]["fn"] == 6  # 2 test notes x 3
    assert sorted(p.name for p in (run_dir / "predictions" / "test").glob("*.ann")) == ["test0.ann", "test1.ann"]
    # the run's own prediction folder (.ann files alone) scores as results.json says
    assert score_main([str(root / "test"), str(run_dir / "predictions" / "test"), "--relations", "Has_value",
                       "--json", str(tmp_path / "s.json")]) == 0
    scored = json.loads((tmp_path / "s.json").read_text())["scores"]
    assert scored["relations"] == res["metrics"]["test"]["relations"]
