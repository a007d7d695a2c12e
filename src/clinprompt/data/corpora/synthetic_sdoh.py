"""A deterministic synthetic two-site SDoH corpus shaped like n2c2 2022 (SHAC): social-history sections with
substance, employment and living-status events, their arguments and labelled values.

The two sites write differently, as MIMIC and UW notes do: ``mimic`` is terse discharge-summary shorthand
("Current smoker, 1 ppd x 20 yrs. EtOH: denies."), ``uw`` uses headed fields and fuller wording ("Tobacco
use: former smoker, quit in 2008."). Training on one site and testing on the other is a transfer gap by
construction. Notes are written as brat (T, E and A lines) and read back through :func:`load_sdoh`, the
path real SHAC data takes.

Templates mark spans inline: ``{Slot:alt|alt}`` where Slot is an event type (the trigger) or an argument
type; labelled arguments give ``value=text`` alternatives (``{StatusTime:past=Former|past=Ex-}``). Every
argument of a sentence belongs to every trigger of that sentence ("Denies tobacco, EtOH or drugs").
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import shutil
import tempfile
from pathlib import Path

from clinprompt.data.brat import write_document
from clinprompt.data.corpora.sdoh import SITES, EventCorpus, load_sdoh
from clinprompt.data.document import Attribute, Document, Entity, Event
from clinprompt.schema import EVENT_TYPES, ROLE_OF_ARGUMENT

VERSION = 1  # bump when the generator changes: the cache folder name includes it
_SLOT = re.compile(r"\{(\w+):([^}]*)\}")

TEMPLATES: dict[str, tuple[str, ...]] = {
    "mimic": (
        "{StatusTime:current=Current|current=Active} {Tobacco:smoker}, {Amount:1 ppd|1/2 ppd|2 ppd} x "
        "{Duration:20 yrs|30 years|10 yrs}.",
        "{StatusTime:past=Former|past=Ex-} {Tobacco:smoker|tobacco user}, {History:quit 10 yrs ago|quit 2005}.",
        "{StatusTime:none=Never} {Tobacco:smoker|smoked}.",
        "{Alcohol:EtOH|ETOH}: {StatusTime:current=drinks} {Amount:2-3 beers|1-2 drinks|a pint of vodka} "
        "{Frequency:daily|qd|on weekends}.",
        "{StatusTime:none=Denies|none=denies} {Alcohol:EtOH}.",
        "{Alcohol:EtOH}: {StatusTime:past=hx of heavy use}, {History:sober x 5 yrs|quit 2 yrs ago}.",
        "{StatusTime:none=Denies} {Drug:IVDU|illicits}.",
        "{StatusTime:past=Hx of} {Type:cocaine|heroin} {Drug:abuse}, {History:clean since 2012|last use 2015}.",
        "{StatusTime:current=Smokes} {Type:marijuana|MJ} {Frequency:occasionally|daily} ({Drug:drug use}).",
        "{Employment:Works} as {Type:a carpenter|a bus driver|a nurse}, {StatusEmploy:employed=FT|employed=PT}.",
        "{StatusEmploy:retired=Retired} {Type:machinist|teacher} ({Employment:occupation}).",
        "{StatusEmploy:unemployed=Unemployed}, {Employment:not working} {Duration:x 2 yrs|since 2019}.",
        "{StatusTime:current=Lives} {TypeLiving:with_family=w/ wife|with_family=w/ daughter} ({LivingStatus:home}).",
        "{StatusTime:current=Currently} {LivingStatus:lives} {TypeLiving:alone=alone}.",
        "{StatusTime:none=Denies} {Tobacco:tobacco}, {Alcohol:EtOH} or {Drug:drug use}.",
    ),
    "uw": (
        "Tobacco use: {StatusTime:current=current} {Tobacco:cigarette smoker}, {Amount:one pack per day|"
        "half a pack daily}.",
        "Tobacco use: {StatusTime:past=former} {Tobacco:smoker}, {History:quit in 2008|stopped 15 years ago}, "
        "smoked for {Duration:25 years|a decade}.",
        "Tobacco use: {StatusTime:none=never} {Tobacco:smoker}.",
        "Alcohol: {StatusTime:current=drinks} {Amount:a glass of wine|two beers|one cocktail} "
        "{Frequency:most evenings|twice a week|socially} ({Alcohol:alcohol use}).",
        "Alcohol: {StatusTime:none=does not drink} {Alcohol:alcohol}.",
        "Alcohol: {StatusTime:past=history of} {Alcohol:alcohol use disorder}, {History:in remission since 2016}.",
        "Drug use: {StatusTime:none=denies} {Drug:recreational drug use}.",
        "Drug use: {StatusTime:current=uses} {Type:cannabis|methamphetamine} {Method:by smoking|intravenously} "
        "({Drug:substance use}).",
        "Drug use: {StatusTime:past=remote} {Drug:injection drug use} of {Type:heroin}.",
        "Employment: {StatusEmploy:employed=employed} as {Type:an accountant|a warehouse worker} "
        "({Employment:job}).",
        "Employment: {StatusEmploy:retired=retired} from {Type:the postal service|teaching} "
        "({Employment:work history}).",
        "Employment: {StatusEmploy:on_disability=on disability|student=full-time student} "
        "({Employment:occupation}).",
        "Living situation: {StatusTime:current=lives} {TypeLiving:with_family=with her husband|"
        "with_others=with roommates} ({LivingStatus:housing}).",
        "Living situation: {StatusTime:current=currently} {TypeLiving:homeless=homeless} "
        "({LivingStatus:housing}), for {Duration:six months}.",
        "She {StatusTime:none=denies} use of {Tobacco:tobacco}, {Alcohol:alcohol}, or {Drug:illicit drugs}.",
    ),
}
FILLERS = {
    "mimic": ("Pt is a 67 yo M w/ CHF.", "Originally from Boston.", "Has 2 children.", "Pt ambulates w/ cane."),
    "uw": ("The patient is a 54-year-old woman seen in clinic.", "She is originally from Spokane.",
           "She enjoys gardening.", "Family history is noncontributory."),
}
HEADER = {"mimic": "SOCIAL HISTORY:\n", "uw": "Social History:\n"}


def _fill(template: str, rng: random.Random) -> tuple[str, list[tuple[str, int, int, str | None]]]:
    """Text of one sentence and its marked spans as (slot, start, end, value)."""
    out, spans, pos = [], [], 0
    for m in _SLOT.finditer(template):
        out.append(template[pos:m.start()])
        choice = rng.choice(m.group(2).split("|"))
        value, _, text = choice.rpartition("=") if m.group(1) in ("StatusTime", "StatusEmploy", "TypeLiving") \
            else (None, "", choice)
        start = sum(len(x) for x in out)
        out.append(text)
        spans.append((m.group(1), start, start + len(text), value or None))
        pos = m.end()
    out.append(template[pos:])
    return "".join(out), spans


def generate_note(doc_id: str, site: str, rng: random.Random) -> Document:
    """One social-history note: fillers and 2-5 event sentences in the site's style."""
    parts = [rng.choice(FILLERS[site]), HEADER[site].rstrip("\n")]
    sentences = rng.sample(TEMPLATES[site], rng.randint(2, 5))
    if rng.random() < 0.5:
        sentences.insert(rng.randrange(len(sentences) + 1), rng.choice(FILLERS[site]))
    text, marked = parts[0] + "\n" + parts[1] + "\n", []
    sep = " " if site == "mimic" else "\n"
    for k, tpl in enumerate(sentences):
        sentence, spans = _fill(tpl, rng)
        marked.append([(slot, s + len(text), e + len(text), v) for slot, s, e, v in spans])
        text += sentence + (sep if k < len(sentences) - 1 else "\n")
    doc = Document(doc_id, text)
    for spans in marked:
        ids = []
        for slot, s, e, value in spans:
            tid = f"T{len(doc.entities) + 1}"
            doc.entities[tid] = Entity(tid, slot, ((s, e),), text[s:e])
            ids.append((slot, tid))
            if value is not None:
                aid = f"A{len(doc.attributes) + 1}"
                doc.attributes[aid] = Attribute(aid, f"{slot}Val", tid, value)
        args = tuple((ROLE_OF_ARGUMENT.get(slot, slot), tid) for slot, tid in ids if slot not in EVENT_TYPES)
        for slot, tid in ids:
            if slot in EVENT_TYPES:
                eid = f"E{len(doc.events) + 1}"
                doc.events[eid] = Event(eid, slot, tid, args)
    return doc


def generate(out_dir: Path, n_train: int, n_dev: int, n_test: int, seed: int) -> None:
    """Write ``<out_dir>/<site>/<split>/*.txt|ann`` for both sites."""
    for site in SITES:
        rng = random.Random(f"{seed}-{site}")
        for split, n in (("train", n_train), ("dev", n_dev), ("test", n_test)):
            for i in range(n):
                write_document(generate_note(f"{site}_{split}_{i:04d}", site, rng), out_dir / site / split)


def load_synthetic_sdoh(cache_dir: str | Path, train_site: str = "mimic", test_site: str = "mimic",
                        n_train: int = 40, n_dev: int = 8, n_test: int = 12, seed: int = 7) -> EventCorpus:
    """Generate once per parameter set (cached as brat), then read back like real SHAC data."""
    params = {"v": VERSION, "n": [n_train, n_dev, n_test], "seed": seed}
    key = hashlib.sha1(json.dumps(params, sort_keys=True).encode()).hexdigest()[:12]
    root = Path(cache_dir) / f"sdoh-v{VERSION}-{key}"
    if not root.is_dir():
        root.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=root.parent, prefix=".tmp-"))
        generate(tmp, n_train, n_dev, n_test, seed)
        try:
            tmp.rename(root)  # atomic: a concurrent run either sees the whole corpus or generates its own
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
    return load_sdoh(root, train_site, test_site, strict=True, name="sdoh_synthetic")
