"""clinprompt-predict: one frozen backbone, many prompt sets.

Loads the backbone once and applies several ``soft_frozen`` checkpoints (prompts + heads only, a few
MB each) to a folder of notes, writing brat predictions per checkpoint. This is the deployment win of
frozen prompt tuning: N tasks cost one backbone in memory, not N.

    clinprompt-predict --notes NOTES_DIR --out OUT_DIR CKPT [CKPT ...]
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import torch

from clinprompt.data.brat import describe_issues, issue_summary, read_dir, write_document
from clinprompt.data.corpora.sdoh import as_event_document
from clinprompt.data.mrc import ExampleBuilder, Schema
from clinprompt.data.sentences import split_sentences
from clinprompt.data.windows import tokenize_document
from clinprompt.decoding import Predictor
from clinprompt.models.backbone import (
    backbone_fingerprint,
    load_backbone,
    load_tokenizer,
    position_limit,
    weights_hash,
)
from clinprompt.models.mrc_model import MRCModel

log = logging.getLogger("clinprompt.predict")


def load_prompt_checkpoint(path: Path) -> dict:
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    if not ckpt.get("prompt_only"):
        raise ValueError(f"{path}: not a soft_frozen (prompt-only) checkpoint; use trainer.test for full models")
    return ckpt


def attach(backbone, fingerprint: dict, ckpt: dict, path: Path) -> tuple[MRCModel, dict]:
    """A task model sharing ``backbone``; refuses prompts trained on another backbone."""
    if ckpt.get("backbone_fingerprint") != fingerprint:
        raise ValueError(f"{path}: trained on backbone {ckpt.get('backbone_fingerprint')}, "
                         f"not the loaded {fingerprint}")
    hp = ckpt["hyper_parameters"]
    s = hp["schema"]
    schema = Schema.from_dict(s)
    heads = hp.get("heads", {})
    model = MRCModel(backbone, schema, "soft", hp["prompt_len"], hp["strategy"].get("prompt"),
                     heads.get("max_span_width", 16), 0.0)
    state = {k.removeprefix("net."): v for k, v in ckpt["state_dict"].items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.startswith("backbone.")]
    if missing or unexpected:
        raise ValueError(f"{path}: checkpoint does not fit its own config (missing {missing}, unexpected {unexpected})")
    return model.eval(), hp


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="clinprompt-predict", description=__doc__.splitlines()[0])
    ap.add_argument("checkpoints", nargs="+", type=Path, help="soft_frozen checkpoints (best.ckpt)")
    ap.add_argument("--notes", required=True, type=Path, help="folder of .txt notes")
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--batch-size", type=int, default=64)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    ckpts = [(p, load_prompt_checkpoint(p)) for p in args.checkpoints]
    model_cfg = ckpts[0][1]["hyper_parameters"]["model"]
    t0 = time.perf_counter()
    backbone = load_backbone(model_cfg).eval()
    tokenizer = load_tokenizer(model_cfg)
    fingerprint = {**backbone_fingerprint(backbone.config, model_cfg.get("name", "")),
                   "weights": weights_hash(backbone)}
    log.info("backbone %s loaded once in %.1fs", model_cfg.get("name"), time.perf_counter() - t0)
    docs, issues = read_dir(args.notes, strict=False)
    for line in describe_issues(str(args.notes), issue_summary(issues)):  # file:line: field: reason, no text
        log.warning(line)
    for d in docs:
        d.sentences = d.sentences or split_sentences(d.text)
    tdocs = {d.doc_id: tokenize_document(d, tokenizer) for d in docs}  # shared by every prompt set
    limit = position_limit(backbone.config)
    for path, ckpt in ckpts:
        model, hp = attach(backbone, fingerprint, ckpt, path)
        b = ckpt.get("mrc_builder", {})
        builder = ExampleBuilder(tokenizer, model.schema, "soft", b.get("window_size", 128), b.get("stride", 96),
                                 b.get("max_span_width", 16), limit, hp["prompt_len"],
                                 b.get("context_sentences", 1))
        # decode as the run that trained the prompts did
        predictor = Predictor.from_heads(model, builder, tokenizer.pad_token_id or 0, args.batch_size,
                                         hp.get("heads") or {})
        preds = predictor.predict(docs, tdocs, hp.get("task", "concepts"))
        out = args.out / path.parent.parent.name if path.parent.name == "checkpoints" else args.out / path.stem
        out.mkdir(parents=True, exist_ok=True)
        for p in preds:
            write_document(as_event_document(p.full) if model.schema.events else p.full, out, write_text=False)
        n_ent = sum(len(p.full.entities) for p in preds)
        log.info("%s: %d documents, %d entities -> %s", path, len(preds), n_ent, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
