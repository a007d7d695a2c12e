"""ADE corpus v2 (Gurulingappa et al. 2012): drugs, adverse effects and doses in MEDLINE case reports.

The .rel files give one relation per line with DOCUMENT-level offsets into "PMID\\n\\nTitle\\n\\nAbstract", a
document that is not shipped. Each sentence's start in that document is recovered as the one value ``s``
for which ``sentence[begin - s:end - s]`` is the mention for every relation of the sentence, so a mention
that occurs twice in its sentence gets the occurrence the annotators marked (``str.find`` would not).
A Document is one PMID: its sentences in document order, joined by "\\n". Splits are by PMID hash, so
no abstract crosses splits and adding the negative sentences moves no document.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from clinprompt.data.brat import BratError, BratIssue, read_text
from clinprompt.data.corpora.base import Corpus, apply_split_file, require_dir, split_of
from clinprompt.data.document import Document, Entity, Relation

FOLDER = "ade-corpus-v2"
FIELDS = ("PMID", "sentence", "arg1_text", "arg1_begin", "arg1_end", "drug_text", "drug_begin", "drug_end")
FILES = {"DRUG-AE.rel": "AdverseEffect", "DRUG-DOSE.rel": "Dose"}  # file -> type of Arg1


@dataclass(frozen=True)
class _RelLine:
    path: str
    line: int
    pmid: str
    sentence: str
    arg1_type: str
    arg1: tuple[str, int, int]  # mention, document begin, end
    drug: tuple[str, int, int]

    def starts(self) -> set[int]:
        """Sentence starts in the document that put both mentions at their document offsets."""
        def at(mention: str, begin: int) -> set[int]:
            found, i = set(), self.sentence.find(mention)
            while i >= 0:
                if begin - i >= 0:
                    found.add(begin - i)
                i = self.sentence.find(mention, i + 1)
            return found
        return at(self.arg1[0], self.arg1[1]) & at(self.drug[0], self.drug[1])


class _Reporter:
    """Strict: raise on the first problem. Lenient: collect it and skip the line."""

    def __init__(self, strict: bool):
        self.strict, self.issues = strict, []

    def __call__(self, path: str, line: int, field: str, reason: str) -> None:
        issue = BratIssue(path, line, field, reason)
        if self.strict:
            raise BratError(issue)
        self.issues.append(issue)


def _parse(path: Path, arg1_type: str, report: _Reporter) -> list[_RelLine]:
    out = []
    for no, raw in enumerate(read_text(path).split("\n"), 1):
        line = raw.rstrip("\r")
        if not line.strip():
            continue
        parts = line.split("|")
        if len(parts) != len(FIELDS):
            report(str(path), no, "line", f"expected {len(FIELDS)} '|'-separated fields "
                                          f"({'|'.join(FIELDS)}), got {len(parts)}")
            continue
        values = dict(zip(FIELDS, parts, strict=True))
        bad = next((f for f in FIELDS if f.endswith(("begin", "end")) and not values[f].isdigit()), None)
        if not values["PMID"].isdigit():
            report(str(path), no, "PMID", f"expected digits, got {values['PMID']!r}")
        elif bad:
            report(str(path), no, bad, f"expected a character offset, got {values[bad]!r}")
        elif not values["sentence"].strip():
            report(str(path), no, "sentence", "empty sentence")
        else:
            a1 = (values["arg1_text"], int(values["arg1_begin"]), int(values["arg1_end"]))
            drug = (values["drug_text"], int(values["drug_begin"]), int(values["drug_end"]))
            wrong = next((name for name, (text, b, e) in (("arg1", a1), ("drug", drug)) if e - b != len(text)), None)
            if wrong:
                mention = values[f"{wrong}_text"]
                report(str(path), no, f"{wrong}_end", f"end - begin != length of the mention {mention!r}")
                continue
            out.append(_RelLine(str(path), no, values["PMID"], values["sentence"], arg1_type, a1, drug))
    return out


def _place(lines: list[_RelLine], report: _Reporter) -> list[tuple[int, list[_RelLine]]]:
    """Occurrences of one (PMID, sentence) text: (document start, its relation lines). Usually one; a
    sentence repeated in the abstract gets one occurrence per start its lines agree on."""
    cands = {ln: ln.starts() for ln in lines}
    for ln in lines:
        if not cands[ln]:
            report(ln.path, ln.line, "arg1_begin", "the mentions do not occur in the sentence at their document "
                                                   "offsets for any sentence start")
    todo = [ln for ln in lines if cands[ln]]
    placed = []
    while todo:
        votes = Counter(s for ln in todo for s in cands[ln])
        start = min(votes, key=lambda s: (-votes[s], s))
        placed.append((start, [ln for ln in todo if start in cands[ln]]))
        todo = [ln for ln in todo if start not in cands[ln]]
    return placed


def _negatives(path: Path, report: _Reporter) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    for no, raw in enumerate(read_text(path).split("\n"), 1):
        line = raw.rstrip("\r")
        if not line.strip():
            continue
        pmid, tag, sentence = (line.split(" ", 2) + ["", ""])[:3]
        if not pmid.isdigit() or tag != "NEG" or not sentence.strip():
            report(str(path), no, "line", "expected 'PMID NEG sentence'")
            continue
        out[pmid].append(sentence)  # repeated lines ("Iron was absent.") are repeated sentences: keep them
    return out


def _document(pmid: str, occurrences: list[tuple[int, str, list[_RelLine]]], negatives: list[str]) -> Document:
    sentences, spans, entities, relations = [], [], {}, {}
    keys: dict[tuple[str, int, int], str] = {}  # (type, start, end) -> entity id: one entity per span
    seen: set[tuple[str, str, str]] = set()
    pos = 0
    # negative sentences have no offsets: they follow the annotated ones, in file order
    parts = sorted(occurrences, key=lambda o: o[0]) + [(-1, text, []) for text in negatives]
    for start, text, lines in parts:
        sentences.append(text)
        spans.append((pos, pos + len(text)))
        for ln in lines:
            ids = []
            for etype, (mention, begin, end) in ((ln.arg1_type, ln.arg1), ("Drug", ln.drug)):
                key = (etype, pos + begin - start, pos + end - start)
                if key not in keys:
                    keys[key] = f"T{len(keys) + 1}"
                    entities[keys[key]] = Entity(keys[key], etype, ((key[1], key[2]),), mention)
                ids.append(keys[key])
            rtype = f"{ln.arg1_type}-Drug"
            if (rtype, *ids) not in seen:
                seen.add((rtype, *ids))
                rid = f"R{len(relations) + 1}"
                relations[rid] = Relation(rid, rtype, ids[0], ids[1])
        pos += len(text) + 1
    return Document(pmid, "\n".join(sentences), entities, relations, sentences=spans)


def load_ade(data_dir: str | Path, include_dose: bool = True, include_negative: bool = False,
             strict: bool = True, split_file: str | Path | None = None) -> Corpus:
    """Drug, AdverseEffect (+ Dose) with AdverseEffect-Drug (+ Dose-Drug); Arg1 = effect/dose, Arg2 = Drug.

    ``include_negative`` adds the ADE-NEG sentences to their PMID's document (and PMIDs that have only
    negative sentences); those sentences carry no annotation even where they name a drug.
    ``split_file`` (JSON: split -> PMIDs) replaces the hash split (see :func:`apply_split_file`).
    """
    key = "paths.data_dir (or the CLINPROMPT_DATA_DIR environment variable) to the folder holding ade-corpus-v2/"
    root = require_dir(Path(data_dir) / FOLDER, key, "ADE corpus v2")
    report = _Reporter(strict)
    files = {f: t for f, t in FILES.items() if include_dose or t != "Dose"}
    for name in [*files, *(["ADE-NEG.txt"] if include_negative else [])]:
        if not (root / name).is_file():
            raise FileNotFoundError(f"ADE corpus file {root / name} is missing: set {key}")
    lines = [ln for name, arg1_type in files.items() for ln in _parse(root / name, arg1_type, report)]
    by_sentence: dict[tuple[str, str], list[_RelLine]] = defaultdict(list)
    for ln in lines:
        by_sentence[(ln.pmid, ln.sentence)].append(ln)
    by_pmid: dict[str, list[tuple[int, str, list[_RelLine]]]] = defaultdict(list)
    for (pmid, text), group in by_sentence.items():
        for start, placed in _place(group, report):  # a PMID whose every line was skipped gets no document
            by_pmid[pmid].append((start, text, placed))
    negatives = _negatives(root / "ADE-NEG.txt", report) if include_negative else {}
    splits: dict[str, list[Document]] = {"train": [], "dev": [], "test": []}
    for pmid in sorted(by_pmid.keys() | negatives.keys(), key=int):
        splits[split_of(pmid)].append(_document(pmid, by_pmid.get(pmid, []), negatives.get(pmid, [])))
    types = ("Drug", "AdverseEffect", "Dose") if include_dose else ("Drug", "AdverseEffect")
    relations = tuple(f"{t}-Drug" for t in types[1:])
    corpus = Corpus("ade", splits, types, relations, {r: (r.split("-")[0], "Drug") for r in relations},
                    report.issues)
    return apply_split_file(corpus, split_file) if split_file else corpus
