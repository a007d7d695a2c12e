"""PubMedQA (PQA-L): loading, label sets, splits and the input template.

Label sets: ``yes_no`` drops "maybe" questions (the reference study), ``yes_no_maybe`` keeps all three.
Splits:
  ``official``   test = the 500 PMIDs of ``test_ground_truth.json``; train/dev = the other 500, dev drawn
                 stratified by label (``dev_fraction``); pool questions duplicating a test one are dropped.
  ``stratified`` de-duplicate by question + context, then 80/10/10 stratified by label with a seed.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

LABEL_SETS: dict[str, tuple[str, ...]] = {"yes_no": ("yes", "no"), "yes_no_maybe": ("yes", "no", "maybe")}
INVALID = "invalid"  # a generated answer outside the label set: counted as its own column, never dropped
DATA_FILE, TEST_FILE = "ori_pqal.json", "test_ground_truth.json"


@dataclass(frozen=True)
class QAExample:
    pmid: str
    question: str
    contexts: tuple[str, ...]
    label: str

    @property
    def context(self) -> str:
        return " ".join(self.contexts)

    def key(self) -> tuple[str, str]:
        """Identity for de-duplication: the same question on the same abstract, whitespace/case folded."""
        fold = lambda s: re.sub(r"\s+", " ", s).strip().lower()
        return fold(self.question), fold(self.context)


class PubMedQAFormatError(ValueError):
    pass


def labels_of(label_set: str) -> tuple[str, ...]:
    if label_set not in LABEL_SETS:
        raise ValueError(f"dataset.label_set={label_set!r}: use one of {sorted(LABEL_SETS)}")
    return LABEL_SETS[label_set]


def _line_of(raw: str, pmid: str, field: str | None = None) -> int:
    """1-based line of a record's key (or of ``field`` inside it) in the raw JSON text; 0 if not found."""
    at = raw.find(f'"{pmid}"')
    if at >= 0 and field is not None:
        inner = raw.find(f'"{field}"', at)
        at = inner if inner >= 0 else at
    return raw.count("\n", 0, at) + 1 if at >= 0 else 0


def _parse_record(path: Path, raw: str, pmid: str, rec: object) -> QAExample:
    def bad(field: str, why: str) -> PubMedQAFormatError:
        return PubMedQAFormatError(f"{path}:{_line_of(raw, pmid, field)}: record {pmid} field {field!r} {why}")

    if not isinstance(rec, dict):
        raise bad("<record>", "is not an object")
    q, ctx, label = rec.get("QUESTION"), rec.get("CONTEXTS"), rec.get("final_decision")
    if not isinstance(q, str) or not q.strip():
        raise bad("QUESTION", "is missing or empty")
    if not isinstance(ctx, list) or not all(isinstance(c, str) for c in ctx):
        raise bad("CONTEXTS", "must be a list of strings")
    if label not in LABEL_SETS["yes_no_maybe"]:
        raise bad("final_decision", f"is {label!r}, expected yes/no/maybe")
    return QAExample(str(pmid), q.strip(), tuple(c.strip() for c in ctx), label)


def load_pubmedqa(root: str | Path) -> tuple[list[QAExample], dict[str, str]]:
    """All 1,000 labelled questions and the official test key {pmid: label}."""
    root = Path(root)
    path, test_path = root / DATA_FILE, root / TEST_FILE
    for p in (path, test_path):
        if not p.is_file():
            raise FileNotFoundError(f"PubMedQA file {p} not found: set paths.data_dir (CLINPROMPT_DATA_DIR) "
                                    "to the folder holding pubmedqa/")
    raw = path.read_text(encoding="utf-8")
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as err:
        raise PubMedQAFormatError(f"{path}:{err.lineno}: invalid JSON ({err.msg})") from err
    examples = [_parse_record(path, raw, pmid, rec) for pmid, rec in data.items()]
    test_raw = test_path.read_text(encoding="utf-8")
    try:
        test_key = {str(k): v for k, v in json.loads(test_raw).items()}
    except json.JSONDecodeError as err:
        raise PubMedQAFormatError(f"{test_path}:{err.lineno}: invalid JSON ({err.msg})") from err
    known = {e.pmid for e in examples}
    for pmid, label in test_key.items():
        if pmid not in known:
            raise PubMedQAFormatError(f"{test_path}:{_line_of(test_raw, pmid)}: test PMID {pmid} is not in {path}")
        if label not in LABEL_SETS["yes_no_maybe"]:
            raise PubMedQAFormatError(f"{test_path}:{_line_of(test_raw, pmid)}: PMID {pmid} label {label!r} "
                                      "is not yes/no/maybe")
    return examples, test_key


def deduplicate(examples: Sequence[QAExample]) -> list[QAExample]:
    """First occurrence of each question + context (order kept)."""
    seen: set[tuple[str, str]] = set()
    out = []
    for e in examples:
        if e.key() not in seen:
            seen.add(e.key())
            out.append(e)
    return out


def stratified_split(examples: Sequence[QAExample], fractions: Sequence[float], seed: int) -> list[list[QAExample]]:
    """Split into len(fractions) parts with each label's share kept; rounding remainders go to the first part."""
    rng = random.Random(seed)
    parts: list[list[QAExample]] = [[] for _ in fractions]
    by_label: dict[str, list[QAExample]] = {}
    for e in sorted(examples, key=lambda e: e.pmid):  # independent of file order
        by_label.setdefault(e.label, []).append(e)
    for label in sorted(by_label):
        group = by_label[label]
        rng.shuffle(group)
        sizes = [round(len(group) * f) for f in fractions[1:]]
        sizes.insert(0, len(group) - sum(sizes))
        start = 0
        for part, size in zip(parts, sizes, strict=True):
            part.extend(group[start:start + size])
            start += size
    for part in parts:
        rng.shuffle(part)
    return parts


def make_splits(examples: Sequence[QAExample], test_key: dict[str, str], label_set: str, split: str,
                seed: int, dev_fraction: float = 0.1) -> dict[str, list[QAExample]]:
    labels = labels_of(label_set)
    kept = [e for e in examples if e.label in labels]
    if split == "stratified":
        train, dev, test = stratified_split(deduplicate(kept), (0.8, 0.1, 0.1), seed)
    elif split == "official":
        test = deduplicate([e for e in kept if e.pmid in test_key])
        test_keys = {e.key() for e in test}
        pool = [e for e in deduplicate([e for e in kept if e.pmid not in test_key]) if e.key() not in test_keys]
        train, dev = stratified_split(pool, (1.0 - dev_fraction, dev_fraction), seed)
    else:
        raise ValueError(f"dataset.split={split!r}: use 'official' or 'stratified'")
    return {"train": train, "dev": dev, "test": test}


def balanced_class_weights(examples: Sequence[QAExample], labels: Sequence[str]) -> list[float]:
    """n / (n_labels * count) per label (sklearn's "balanced"): each class weighs the same in the loss."""
    counts = Counter(e.label for e in examples)
    if any(counts[lab] == 0 for lab in labels):
        raise ValueError(f"class weights: a label of {tuple(labels)} has no training example ({dict(counts)})")
    return [len(examples) / (len(labels) * counts[lab]) for lab in labels]


def split_stats(splits: dict[str, list[QAExample]]) -> dict[str, dict[str, int]]:
    return {name: {"n": len(exs), **dict(Counter(e.label for e in exs))} for name, exs in splits.items()}


def truncate_to_tokens(tokenizer, text: str, max_tokens: int) -> str:
    """The longest prefix of ``text`` that the tokenizer turns into at most ``max_tokens`` tokens (no text
    round-trip through decode, so the kept prefix is exactly the original characters)."""
    if max_tokens <= 0:
        return ""
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    offsets = enc["offset_mapping"]
    if len(offsets) <= max_tokens:
        return text
    return text[: offsets[max_tokens - 1][1]]


def options_text(labels: Sequence[str]) -> str:
    """("yes", "no", "maybe") -> "yes, no or maybe": the answer choices an instruction template names."""
    return labels[0] if len(labels) == 1 else f"{', '.join(labels[:-1])} or {labels[-1]}"


def render_input(tokenizer, template: str, example: QAExample, max_length: int, labels: Sequence[str]) -> str:
    """The model input: ``template`` with {question}, {context} and {options}, the context cut so that the
    whole input (special tokens included) fits ``max_length`` tokens; question and instructions are kept."""
    fields = {"question": example.question, "options": options_text(labels)}
    fixed = len(tokenizer(template.format(context="", **fields), add_special_tokens=True)["input_ids"])
    context = truncate_to_tokens(tokenizer, example.context, max_length - fixed)
    return template.format(context=context, **fields)
