"""clinprompt-predict: one frozen backbone, many prompt sets.

Loads the backbone once and applies several ``soft_frozen`` checkpoints (prompts + heads only, a few
MB each) to a folder of notes, writing brat predictions per checkpoint. This is the deployment win of
frozen prompt tuning: N tasks cost one backbone in memory, not N.

    clinprompt-predict --notes NOTES_DIR --out OUT_DIR CKPT [CKPT ...]

Every input is checked before anything is written: the notes folder exists and holds .txt notes, every
checkpoint exists, loads, is prompt-only and was trained on the same backbone as the others and as the
backbone loaded. Each checkpoint writes into its own subfolder of OUT_DIR: ``<run>_<name>`` for a run's
``checkpoints/<name>.ckpt`` (so ``best`` and ``last`` of one run never share a folder), else the file's stem.
A problem is one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import torch

from clinprompt.backbone import (
    ModelUnavailableError,
    backbone_fingerprint,
    load_backbone,
    load_tokenizer,
    position_limit,
    weights_hash,
)
from clinprompt.data.brat import describe_issues, issue_summary, read_dir, write_document
from clinprompt.data.events import as_event_document
from clinprompt.data.mrc import ExampleBuilder
from clinprompt.data.sentences import split_sentences
from clinprompt.data.windows import tokenize_document
from clinprompt.decoding import Predictor
from clinprompt.models.mrc_model import MRCModel
from clinprompt.schema import Schema
from clinprompt.strategy import StrategyError, mrc_strategy

log = logging.getLogger("clinprompt.predict")


class PredictError(ValueError):
    """One line for the user: which input, what is wrong."""


def load_prompt_checkpoint(path: Path) -> dict:
    if not path.is_file():
        raise PredictError(f"{path}: no such checkpoint file")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # truncated, empty or not a torch file: whatever torch raises, one line
        raise PredictError(f"{path}: not a readable checkpoint ({type(err).__name__}); "
                           "is the file complete?") from err
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt or "hyper_parameters" not in ckpt:
        raise PredictError(f"{path}: not a clinprompt Lightning checkpoint (no state_dict / hyper_parameters)")
    if not ckpt.get("prompt_only"):
        raise PredictError(f"{path}: not a soft_frozen (prompt-only) checkpoint; use trainer.test for full models")
    return ckpt


def checkpoint_strategy(hp: dict, path: Path):
    """The strategy a checkpoint was trained with (its hyper-parameters), as the typed strategy."""
    try:
        return mrc_strategy(hp["strategy"], hp["prompt_len"])
    except (StrategyError, KeyError) as err:
        raise PredictError(f"{path}: no usable MRC strategy in its hyper-parameters ({err})") from err


def output_dirs(paths: list[Path], out: Path) -> list[Path]:
    """One subfolder per checkpoint, never shared."""
    names: list[str] = []
    for p in paths:
        name = f"{p.parent.parent.name}_{p.stem}" if p.parent.name == "checkpoints" else p.stem
        base, i = name, 2
        while name in names:
            name, i = f"{base}-{i}", i + 1
        names.append(name)
    return [out / n for n in names]


def attach(backbone, fingerprint: dict, ckpt: dict, path: Path) -> tuple[MRCModel, dict]:
    """A task model sharing ``backbone``; refuses prompts trained on another backbone."""
    if ckpt.get("backbone_fingerprint") != fingerprint:
        raise PredictError(f"{path}: trained on backbone {ckpt.get('backbone_fingerprint')}, "
                         f"not the loaded {fingerprint}")
    hp = ckpt["hyper_parameters"]
    schema = Schema.from_dict(hp["schema"])
    heads = hp.get("heads", {})
    model = MRCModel.for_strategy(backbone, schema, checkpoint_strategy(hp, path), heads.get("max_span_width", 16),
                                  0.0)
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
    try:
        return _predict(args)
    except (PredictError, ModelUnavailableError) as err:
        print(f"clinprompt-predict: {str(err).splitlines()[0]}", file=sys.stderr)
        return 2


def _predict(args: argparse.Namespace) -> int:
    if not args.notes.is_dir():
        raise PredictError(f"--notes {args.notes}: the folder does not exist")
    if not any(args.notes.glob("*.txt")):
        raise PredictError(f"--notes {args.notes}: no .txt notes in the folder")
    if args.batch_size < 1:
        raise PredictError(f"--batch-size {args.batch_size}: must be at least 1")
    ckpts = [(p, load_prompt_checkpoint(p)) for p in args.checkpoints]
    model_cfg = ckpts[0][1]["hyper_parameters"]["model"]
    for path, ckpt in ckpts[1:]:
        if ckpt["hyper_parameters"]["model"].get("name") != model_cfg.get("name"):
            raise PredictError(f"{path}: trained on backbone {ckpt['hyper_parameters']['model'].get('name')}, "
                               f"{ckpts[0][0]} on {model_cfg.get('name')}: one run serves one backbone")
    t0 = time.perf_counter()
    backbone = load_backbone(model_cfg).eval()
    tokenizer = load_tokenizer(model_cfg)
    fingerprint = {**backbone_fingerprint(backbone.config, model_cfg.get("name", "")),
                   "weights": weights_hash(backbone)}
    log.info("backbone %s loaded once in %.1fs", model_cfg.get("name"), time.perf_counter() - t0)
    attached = [(path, ckpt, *attach(backbone, fingerprint, ckpt, path)) for path, ckpt in ckpts]  # all before writing
    docs, issues = read_dir(args.notes, strict=False)
    for line in describe_issues(str(args.notes), issue_summary(issues)):  # file:line: field: reason, no text
        log.warning(line)
    for d in docs:
        d.sentences = d.sentences or split_sentences(d.text)
    tdocs = {d.doc_id: tokenize_document(d, tokenizer) for d in docs}  # shared by every prompt set
    limit = position_limit(backbone.config)
    for (path, ckpt, model, hp), out in zip(attached, output_dirs(args.checkpoints, args.out), strict=True):
        b = ckpt.get("mrc_builder", {})
        strategy = checkpoint_strategy(hp, path)
        builder = ExampleBuilder(tokenizer, model.schema, strategy.query, b.get("window_size", 128),
                                 b.get("stride", 96), b.get("max_span_width", 16), limit, strategy.prompt_len,
                                 b.get("context_sentences", 1))
        # decode as the run that trained the prompts did
        predictor = Predictor.from_heads(model, builder, tokenizer.pad_token_id or 0, args.batch_size,
                                         hp.get("heads") or {})
        preds = predictor.predict(docs, tdocs, hp.get("task", "concepts"))
        out.mkdir(parents=True, exist_ok=True)
        for p in preds:
            write_document(as_event_document(p.full) if model.schema.events else p.full, out, write_text=False)
        n_ent = sum(len(p.full.entities) for p in preds)
        log.info("%s: %d documents, %d entities -> %s", path, len(preds), n_ent, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
