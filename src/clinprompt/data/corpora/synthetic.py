"""The embedded default corpus: synthetic, n2c2-2018-track-2-shaped discharge summaries.

Notes are built from sentence templates and vocabulary tables with a seeded ``random.Random``, so the same
parameters always give the same bytes. They carry all 9 entity types and the 8 ``X-Drug`` relations (Arg1 =
attribute, Arg2 = Drug), nested spans (a Drug inside an ADE or Reason phrase; Strength and Form inside a
Dosage like "two 500 mg tablets"), attributes in the sentence after their drug, wrapped lines, CRLF line
ends in some notes, and lengths from one to several 128-token windows. The notes are written as brat and
read back through :func:`clinprompt.data.brat.read_dir`, the path users' data takes.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import shutil
import tempfile
from bisect import bisect_left
from dataclasses import dataclass, field
from pathlib import Path

from clinprompt.data.brat import read_dir, write_document
from clinprompt.data.corpora.base import (
    N2C2_2018_ENTITY_TYPES,
    N2C2_2018_RELATION_HEADS,
    N2C2_2018_RELATION_TYPES,
    SPLITS,
    Corpus,
    fill_sentences,
)
from clinprompt.data.document import Document, Entity, Relation

VERSION = 2  # bump when the generator changes: the cache folder name includes it


# ---- vocabulary ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Kind:
    """How a class of products is given: routes, forms, and dosages (empty when none is written)."""

    routes: tuple[str, ...]
    forms: tuple[str, ...]
    dosages: tuple[str, ...]


KINDS = {
    "oral": Kind(("p.o.", "PO", "po", "by mouth", "orally"), ("tablet", "tab", "capsule"),
                 ("1", "one", "2", "two", "1-2", "one-half")),
    "liquid": Kind(("p.o.", "by mouth", "via G-tube", "per NG tube"), ("oral solution", "suspension", "syrup"),
                   ("5 mL", "10 mL", "15 mL", "30 mL", "one teaspoon")),
    "subq": Kind(("subcutaneously", "SC", "subcut", "SQ", "s.c."), ("injection", "pen", "prefilled syringe"),
                 ("4 units", "6 units", "10 units", "12 units", "20 units", "1 injection")),
    "iv": Kind(("IV", "intravenously", "i.v.", "IVPB"), ("injection", "infusion", "premixed bag"), ()),
    "inhaled": Kind(("inhaled", "INH", "via nebulizer", "by inhalation"), ("inhaler", "MDI", "nebulizer solution"),
                    ("2 puffs", "1 puff", "one puff", "two puffs", "1 vial")),
    "topical": Kind(("topically", "transdermally", "to affected area", "TP"), ("patch", "cream", "ointment", "gel"),
                    ("1 patch", "a thin layer", "one application")),
}
COUNT_KINDS = {"oral"}  # dosage is a count followed by the form ("2 tablets")
PLURAL = {"tablet": "tablets", "tab": "tabs", "capsule": "capsules"}


@dataclass(frozen=True)
class Drug:
    names: tuple[str, ...]  # generic first, then brand names
    kind: str
    strengths: tuple[str, ...]
    reasons: tuple[str, ...]
    ades: tuple[str, ...]


def _d(names: str, kind: str, strengths: str, reasons: str, ades: str) -> Drug:
    def split(s: str) -> tuple[str, ...]:
        return tuple(x.strip() for x in s.split(";"))

    return Drug(split(names), kind, split(strengths), split(reasons), split(ades))


DRUGS = (
    _d("metoprolol tartrate; Lopressor", "oral", "12.5 mg; 25 mg; 50 mg",
       "hypertension; atrial fibrillation; rate control", "bradycardia; hypotension; fatigue"),
    _d("lisinopril; Zestril", "oral", "5 mg; 10 mg; 20 mg; 40 mg", "hypertension; heart failure; proteinuria",
       "angioedema; cough; hyperkalemia; acute kidney injury"),
    _d("amlodipine; Norvasc", "oral", "5 mg; 10 mg", "hypertension; coronary artery disease",
       "lower extremity edema; flushing"),
    _d("atorvastatin; Lipitor", "oral", "10 mg; 40 mg; 80 mg", "hyperlipidemia; coronary artery disease",
       "myalgias; transaminitis"),
    _d("aspirin; ASA", "oral", "81 mg; 325 mg", "coronary artery disease; stroke prevention", "GI bleed; gastritis"),
    _d("clopidogrel; Plavix", "oral", "75 mg", "NSTEMI; recent stent placement", "bleeding; epistaxis"),
    _d("warfarin; Coumadin", "oral", "1 mg; 2.5 mg; 5 mg", "atrial fibrillation; DVT; pulmonary embolism",
       "supratherapeutic INR; hematuria; bleeding"),
    _d("apixaban; Eliquis", "oral", "2.5 mg; 5 mg", "atrial fibrillation; DVT", "bleeding; hematoma"),
    _d("furosemide; Lasix", "oral", "20 mg; 40 mg; 80 mg", "volume overload; heart failure; lower extremity edema",
       "hypokalemia; acute kidney injury; hypotension"),
    _d("metformin; Glucophage", "oral", "500 mg; 850 mg; 1000 mg", "type 2 diabetes; diabetes mellitus",
       "diarrhea; lactic acidosis; nausea"),
    _d("glipizide", "oral", "5 mg; 10 mg", "type 2 diabetes", "hypoglycemia"),
    _d("levothyroxine; Synthroid", "oral", "25 mcg; 50 mcg; 88 mcg; 112 mcg", "hypothyroidism",
       "palpitations; tremor"),
    _d("amiodarone", "oral", "200 mg; 400 mg", "atrial fibrillation; ventricular tachycardia",
       "hypothyroidism; QT prolongation; pulmonary toxicity"),
    _d("digoxin", "oral", "0.125 mg; 0.25 mg", "atrial fibrillation; heart failure",
       "nausea; visual changes; bradycardia"),
    _d("prednisone", "oral", "5 mg; 10 mg; 20 mg; 40 mg; 60 mg",
       "COPD exacerbation; gout flare; asthma exacerbation; rheumatoid arthritis",
       "hyperglycemia; insomnia; mood changes"),
    _d("acetaminophen; Tylenol", "oral", "325 mg; 500 mg; 650 mg", "pain; fever; headache", "transaminitis"),
    _d("oxycodone; OxyContin", "oral", "5 mg; 10 mg", "pain; postoperative pain",
       "constipation; sedation; respiratory depression"),
    _d("tramadol; Ultram", "oral", "50 mg", "pain; back pain", "nausea; dizziness; seizure"),
    _d("ibuprofen; Motrin", "oral", "400 mg; 600 mg; 800 mg", "pain; fever; knee pain",
       "GI upset; acute kidney injury"),
    _d("gabapentin; Neurontin", "oral", "100 mg; 300 mg; 600 mg",
       "neuropathic pain; diabetic neuropathy; postherpetic neuralgia", "dizziness; somnolence"),
    _d("sertraline; Zoloft", "oral", "25 mg; 50 mg; 100 mg", "depression; anxiety", "nausea; insomnia; hyponatremia"),
    _d("citalopram; Celexa", "oral", "10 mg; 20 mg", "depression", "QT prolongation; hyponatremia"),
    _d("quetiapine; Seroquel", "oral", "25 mg; 50 mg; 100 mg", "agitation; insomnia; bipolar disorder",
       "sedation; orthostatic hypotension"),
    _d("lorazepam; Ativan", "oral", "0.5 mg; 1 mg", "anxiety; alcohol withdrawal; insomnia",
       "confusion; sedation; delirium"),
    _d("omeprazole; Prilosec", "oral", "20 mg; 40 mg", "GERD; gastritis; GI prophylaxis",
       "C. difficile infection; hypomagnesemia"),
    _d("ciprofloxacin; Cipro", "oral", "250 mg; 500 mg", "urinary tract infection; pyelonephritis",
       "tendinitis; QT prolongation; C. difficile colitis"),
    _d("amoxicillin", "oral", "500 mg; 875 mg", "otitis media; sinusitis; strep throat", "rash; diarrhea; hives"),
    _d("cephalexin; Keflex", "oral", "500 mg", "cellulitis; UTI", "rash; diarrhea"),
    _d("doxycycline", "oral", "100 mg", "cellulitis; community-acquired pneumonia; Lyme disease",
       "photosensitivity; esophagitis"),
    _d("levofloxacin; Levaquin", "oral", "500 mg; 750 mg", "pneumonia; UTI", "tendon rupture; QT prolongation"),
    _d("Bactrim DS; trimethoprim-sulfamethoxazole", "oral", "800-160 mg", "UTI; PCP prophylaxis",
       "hyperkalemia; rash; Stevens-Johnson syndrome"),
    _d("potassium chloride; KCl", "oral", "20 mEq; 40 mEq", "hypokalemia", "GI upset; hyperkalemia"),
    _d("allopurinol", "oral", "100 mg; 300 mg", "gout", "rash; Stevens-Johnson syndrome"),
    _d("tamsulosin; Flomax", "oral", "0.4 mg", "BPH; urinary retention", "orthostatic hypotension; dizziness"),
    _d("donepezil; Aricept", "oral", "5 mg; 10 mg", "dementia", "bradycardia; nausea"),
    _d("metronidazole; Flagyl", "oral", "500 mg", "C. difficile colitis; bacterial vaginosis",
       "metallic taste; nausea; peripheral neuropathy"),
    _d("spironolactone", "oral", "25 mg; 50 mg", "heart failure; ascites", "hyperkalemia; gynecomastia"),
    _d("hydrochlorothiazide; HCTZ", "oral", "12.5 mg; 25 mg", "hypertension", "hyponatremia; hypokalemia"),
    _d("carvedilol; Coreg", "oral", "3.125 mg; 6.25 mg; 12.5 mg; 25 mg", "heart failure; hypertension",
       "bradycardia; dizziness"),
    _d("diltiazem", "oral", "30 mg; 120 mg", "atrial fibrillation; hypertension", "bradycardia; hypotension"),
    _d("ondansetron; Zofran", "oral", "4 mg; 8 mg", "nausea; vomiting", "QT prolongation; constipation; headache"),
    _d("senna; Senokot", "oral", "8.6 mg", "constipation", "diarrhea; abdominal cramping"),
    _d("docusate; Colace", "oral", "100 mg", "constipation", "diarrhea"),
    _d("fluconazole; Diflucan", "oral", "150 mg; 200 mg", "oral thrush; candidiasis", "QT prolongation; transaminitis"),
    _d("nitrofurantoin; Macrobid", "oral", "100 mg", "UTI; cystitis", "nausea; pulmonary toxicity"),
    _d("levetiracetam; Keppra", "oral", "500 mg; 750 mg", "seizures; seizure prophylaxis", "irritability; somnolence"),
    _d("lactulose", "liquid", "10 g/15 mL", "hepatic encephalopathy; constipation", "diarrhea; bloating"),
    _d("nystatin", "liquid", "100,000 units/mL", "oral thrush", "nausea"),
    _d("guaifenesin; Robitussin", "liquid", "100 mg/5 mL", "cough", "nausea"),
    _d("insulin glargine; Lantus", "subq", "100 units/mL", "type 2 diabetes; hyperglycemia", "hypoglycemia"),
    _d("insulin lispro; Humalog", "subq", "100 units/mL", "hyperglycemia; diabetes mellitus", "hypoglycemia"),
    _d("enoxaparin; Lovenox", "subq", "40 mg; 60 mg; 80 mg", "DVT prophylaxis; pulmonary embolism",
       "bleeding; thrombocytopenia"),
    _d("heparin", "subq", "5000 units", "DVT prophylaxis", "thrombocytopenia; bleeding"),
    _d("vancomycin", "iv", "1 gram; 1.25 g; 750 mg", "MRSA bacteremia; cellulitis; osteomyelitis",
       "acute kidney injury; red man syndrome; nephrotoxicity"),
    _d("ceftriaxone; Rocephin", "iv", "1 gram; 2 g", "pneumonia; meningitis; pyelonephritis",
       "rash; C. difficile colitis"),
    _d("piperacillin-tazobactam; Zosyn", "iv", "3.375 g; 4.5 g", "sepsis; aspiration pneumonia",
       "thrombocytopenia; diarrhea"),
    _d("morphine", "iv", "2 mg; 4 mg", "pain", "respiratory depression; pruritus; hypotension"),
    _d("pantoprazole; Protonix", "iv", "40 mg", "GI bleed; GERD", "C. difficile infection"),
    _d("cefepime", "iv", "1 g; 2 g", "neutropenic fever; pneumonia", "encephalopathy"),
    _d("magnesium sulfate", "iv", "2 g", "hypomagnesemia", "flushing"),
    _d("albuterol; ProAir", "inhaled", "90 mcg; 2.5 mg", "wheezing; asthma; COPD", "tachycardia; tremor"),
    _d("ipratropium; Atrovent", "inhaled", "0.5 mg; 17 mcg", "COPD", "dry mouth"),
    _d("fluticasone; Flovent", "inhaled", "110 mcg; 220 mcg", "asthma", "oral thrush; hoarseness"),
    _d("tiotropium; Spiriva", "inhaled", "18 mcg", "COPD", "dry mouth; urinary retention"),
    _d("lidocaine; Lidoderm", "topical", "5%", "back pain; postherpetic neuralgia", "skin irritation"),
    _d("nicotine", "topical", "14 mg/24 hr; 21 mg/24 hr", "tobacco use; smoking cessation",
       "skin irritation; vivid dreams"),
    _d("clotrimazole", "topical", "1%", "tinea; fungal rash", "skin irritation"),
    _d("hydrocortisone", "topical", "1%; 2.5%", "eczema; pruritus", "skin atrophy"),
    _d("fentanyl; Duragesic", "topical", "25 mcg/hr; 50 mcg/hr", "chronic pain; cancer pain",
       "respiratory depression; sedation"),
)

# a Reason phrase that names the drug (class) that caused it: "steroid-induced hyperglycemia" treated by insulin
INDUCED_REASONS = {
    "insulin lispro": (("steroid", "hyperglycemia"), ("prednisone", "hyperglycemia")),
    "insulin glargine": (("steroid", "hyperglycemia"),),
    "senna": (("opioid", "constipation"), ("narcotic", "constipation")),
    "docusate": (("opioid", "constipation"),),
    "pantoprazole": (("NSAID", "gastritis"), ("aspirin", "gastropathy")),
    "omeprazole": (("NSAID", "gastropathy"),),
    "ondansetron": (("chemotherapy", "nausea"), ("opioid", "nausea")),
    "potassium chloride": (("diuretic", "hypokalemia"), ("furosemide", "hypokalemia")),
    "metronidazole": (("antibiotic", "colitis"),),
}
INDUCED_LINKS = ("-induced ", "-associated ", "-related ")

FREQUENCIES = (
    "daily", "once daily", "once a day", "q.d.", "qd", "QD", "every morning", "q.a.m.", "at bedtime", "q.h.s.",
    "qhs", "nightly", "b.i.d.", "BID", "bid", "twice daily", "twice a day", "t.i.d.", "TID", "three times a day",
    "q.i.d.", "four times daily", "q.6h.", "q6h", "every 6 hours", "q8h", "q.8h.", "every 8 hours", "q12h",
    "every 12 hours", "every other day", "weekly", "once a week", "with meals", "q4-6h p.r.n.",
    "every 4 to 6 hours as needed", "p.r.n.", "PRN", "as needed",
)
PRN = re.compile(r"p\.r\.n\.|PRN|as needed")
# (words before the span, the Duration span): n2c2 marks "2 weeks", not "for 2 weeks"
DURATIONS = (
    ("for", "7 days"), ("for", "10 days"), ("for", "2 weeks"), ("x", "5 days"), ("for a total of", "14 days"),
    ("for", "3 more days"), ("for", "one month"), ("for the next", "48 hours"), ("x", "1 week"),
    ("for", "six weeks"), ("for", "4 weeks"), ("for another", "5 days"),
)
COUNT_WORDS = ("two", "2", "three")  # "two 500 mg tablets": a Dosage holding a Strength and a Form

# ---- templates ---------------------------------------------------------------------------------------------
# {slot} or {slot2}: the digit picks the drug group (one drug each). Every attribute slot becomes an entity
# related to its group's {drug}; {ade_induced} / {reason_induced} hold a nested Drug of their own.
# Slots without a type ({he}, {His}, {age}, {n}, ...) are plain words.
ALL, COUNT, UNIT = "all", "count", "unit"
NARRATIVE = (
    ("The patient is {a} {age} with a history of {reason} on {drug} {strength} {frequency}.", ALL),
    ("{He} was started on {drug} for {reason}.", ALL),
    ("{He} was started on {drug} {strength} {route} {frequency} for {reason}.", ALL),
    ("{He} takes {drug} {dosage} {forms} {route} {frequency} for {reason}.", COUNT),
    ("{drug} was stopped after {he} developed {ade}.", ALL),
    ("{His} {drug} was held because of {ade}.", ALL),
    ("{He} reports {ade} since starting {drug} last month.", ALL),
    ("Hospital course was complicated by {ade_induced}.", ALL),
    ("{He} developed {ade_induced} on hospital day {n}, and the drug was discontinued.", ALL),
    ("{He} received {drug} {strength} {route} in the emergency department. "
     "It was continued {frequency} {duration}.", ALL),
    ("We started {drug} {strength} for {reason}. {He} will take it {frequency} {duration}.", ALL),
    ("{drug} was increased to {strength} {frequency} given persistent {reason}.", ALL),
    ("Given concern for {ade} from {drug}, {he} was switched to {drug2} {strength2} {route2} {frequency2}.", ALL),
    ("{reason_induced} was treated with {drug} {route} {frequency}.", ALL),
    ("{He} was given {drug} {route} for {reason_induced}.", ALL),
    ("{His} home {drug} was resumed at discharge. Dose is {strength} {route} {frequency}.", ALL),
    ("{drug} {strength} {route} was given for {reason}, with good effect.", ALL),
    ("{He} was instructed to take {dose_form} of {drug} {route} {frequency} as needed for {reason}.", COUNT),
    ("{drug} was started for {reason}. {He} tolerated it well and will continue {dosage} {route} {frequency}.",
     UNIT),
)
MED_LINES = (
    ("{drug} {strength} {route} {frequency}", ALL),
    ("{drug} {strength} {form} {route} {frequency}", ALL),
    ("{drug} {strength} {route} {frequency} {duration}", ALL),
    ("{drug} {strength} {form} Sig: {dosage} {forms} {route} {frequency}", COUNT),
    ("{drug} {strength} {form} Sig: {dosage} {route} {frequency}", UNIT),
    ("{drug} {strength} {route} {frequency} as needed for {reason}", ALL),
    ("{drug}: take {dose_form} {route} {frequency} {duration}", COUNT),
    ("{drug} {dosage} {route} {frequency}", UNIT),
    ("{drug} ({strength}) {dosage} {forms} {route} {frequency} for {reason}", COUNT),
    ("{drug} {strength} {frequency}", ALL),
)
FILLERS = (
    "Vital signs: T {temp} BP {bp} HR {hr} RR 16 SpO2 97% on room air.",
    "Labs were notable for creatinine {cr} mg/dL and potassium {k} mEq/L.",
    "{He} denies fevers, chills, or chest pain.",
    "{He} was seen by physical therapy and cleared for discharge home.",
    "{He} tolerated a regular diet and ambulated without assistance.",
    "CT of the chest showed no acute process.",
    "Echocardiogram showed an ejection fraction of {ef}%.",
    "Social history is notable for a 20 pack-year smoking history.",
)
INSTRUCTIONS = (
    "Follow up with {his} primary care physician in 1-2 weeks.",
    "Please call your doctor if you develop fever or shortness of breath.",
    "Please take all medications as prescribed and keep your appointments.",
)
HEADINGS = {
    "hpi": ("HISTORY OF PRESENT ILLNESS:", "History of Present Illness:", "HPI:"),
    "course": ("HOSPITAL COURSE:", "Brief Hospital Course:", "Hospital Course:"),
    "meds": ("DISCHARGE MEDICATIONS:", "Discharge Medications:", "Medications on Discharge:"),
    "plan": ("DISCHARGE INSTRUCTIONS:", "Followup Instructions:"),
}
TYPE_OF_SLOT = {"drug": "Drug", "strength": "Strength", "dosage": "Dosage", "duration": "Duration",
                "frequency": "Frequency", "form": "Form", "forms": "Form", "route": "Route", "reason": "Reason",
                "ade": "ADE", "dose_form": "Dosage", "ade_induced": "ADE", "reason_induced": "Reason"}
SLOT = re.compile(r"\{([A-Za-z_]+?)(\d?)\}")


# ---- rendering ---------------------------------------------------------------------------------------------
@dataclass
class _Span:
    start: int
    end: int
    type: str
    group: str  # the drug group: "1", "2", or a slot-local one for the Drug nested in an induced phrase
    head: bool  # the group's Drug; every other span of the group relates to it


@dataclass
class _Group:
    """One drug and its attribute values, picked once so repeated slots agree ("1 tablet ... tablets")."""

    drug: Drug
    rng: random.Random
    values: dict[str, str] = field(default_factory=dict)

    def pick(self, key: str, options: tuple[str, ...]) -> str:
        if key not in self.values:
            self.values[key] = self.rng.choice(options)
        return self.values[key]

    @property
    def kind(self) -> Kind:
        return KINDS[self.drug.kind]

    def name(self) -> str:
        if "name" not in self.values:
            name = self.rng.choice(self.drug.names)
            capitalise = name.islower() and self.rng.random() < 0.15
            self.values["name"] = name[0].upper() + name[1:] if capitalise else name
        return self.values["name"]

    def strength(self) -> str:
        if "strength" not in self.values:
            s = self.rng.choice(self.drug.strengths)
            self.values["strength"] = s.replace(" mg", "mg") if self.rng.random() < 0.2 else s  # "25mg"
        return self.values["strength"]

    def plural(self) -> bool:
        return self.pick("dosage", self.kind.dosages) in ("2", "two", "1-2")


def _usable(template: str, kinds: str, drug: Drug) -> bool:
    if kinds == COUNT and drug.kind not in COUNT_KINDS:
        return False
    if kinds == UNIT and (drug.kind in COUNT_KINDS or not KINDS[drug.kind].dosages):
        return False
    return "{reason_induced" not in template or drug.names[0] in INDUCED_REASONS


# an entity inside a slot: (start, end, type, is_head, local) -- local: its group is the slot itself
SlotEntity = tuple[int, int, str, bool, bool]


def _slot(slot: str, g: _Group, template: str) -> tuple[str, list[SlotEntity]]:
    """Text for one typed slot and the entities it holds, offsets relative to the slot."""
    rng, etype = g.rng, TYPE_OF_SLOT[slot]
    if slot == "drug":
        text = g.name()
        return text, [(0, len(text), etype, True, False)]
    if slot == "duration":
        before, span = rng.choice(DURATIONS)
        text = f"{before} {span}"
        return text, [(len(text) - len(span), len(text), etype, False, False)]
    if slot == "dose_form":  # "two 500 mg tablets": a Dosage holding a Strength and a Form
        count, strength, form = rng.choice(COUNT_WORDS), g.strength(), rng.choice(tuple(PLURAL.values()))
        text = f"{count} {strength} {form}"
        s0 = len(count) + 1
        return text, [(0, len(text), "Dosage", False, False), (s0, s0 + len(strength), "Strength", False, False),
                      (len(text) - len(form), len(text), "Form", False, False)]
    if slot == "ade_induced":  # "heparin-induced thrombocytopenia": the ADE of the Drug named inside it
        cause = g.drug.names[0]
        text = f"{cause}{rng.choice(INDUCED_LINKS)}{g.pick('ade', g.drug.ades)}"
        return text, [(0, len(text), etype, False, True), (0, len(cause), "Drug", True, True)]
    if slot == "reason_induced":  # "steroid-induced hyperglycemia": the Reason for this group's drug
        cause, effect = rng.choice(INDUCED_REASONS[g.drug.names[0]])
        text = f"{cause}{rng.choice(INDUCED_LINKS)}{effect}"
        return text, [(0, len(text), etype, False, False), (0, len(cause), "Drug", True, True)]
    if slot in ("form", "forms"):
        form = g.pick("form", g.kind.forms)
        text = PLURAL.get(form, form) if slot == "forms" and g.plural() else form
    elif slot == "frequency":
        options = tuple(f for f in FREQUENCIES if not PRN.search(f)) if PRN.search(template) else FREQUENCIES
        text = g.pick("frequency", options)
    elif slot == "strength":
        text = g.strength()
    else:
        options = {"route": g.kind.routes, "dosage": g.kind.dosages, "reason": g.drug.reasons, "ade": g.drug.ades}
        text = g.pick(slot, options[slot])
    return text, [(0, len(text), etype, False, False)]


def _render(template: str, groups: dict[str, _Group], words: dict[str, str]) -> tuple[str, list[_Span]]:
    """Fill a template. A typed slot that opens it is capitalised, as clinicians write list items."""
    out, spans, pos = "", [], 0
    for k, m in enumerate(SLOT.finditer(template)):
        out += template[pos:m.start()]
        pos = m.end()
        name, gid = m.group(1), m.group(2) or "1"
        if name not in TYPE_OF_SLOT:
            out += words[name]
            continue
        text, ents = _slot(name, groups[gid], template)
        if not out:
            text = text[0].upper() + text[1:]
        spans += [_Span(len(out) + s, len(out) + e, etype, f"slot{k}" if local else gid, head)
                  for s, e, etype, head, local in ents]
        out += text
    return out + template[pos:], spans


# ---- notes ----------------------------------------------------------------------------------------------------
class _NoteWriter:
    """Appends rendered text and keeps entity offsets; relations link the spans of one template's groups."""

    def __init__(self) -> None:
        self.text = ""
        self.entities: list[tuple[int, int, str, str]] = []  # start, end, type, surface as generated
        self.relations: list[tuple[str, int, int]] = []  # type, arg1 (attribute) index, arg2 (Drug) index

    def add(self, rendered: str, spans: list[_Span] | None = None) -> None:
        spans = spans or []
        base, first = len(self.text), len(self.entities)
        self.text += rendered
        self.entities += [(base + sp.start, base + sp.end, sp.type, rendered[sp.start:sp.end]) for sp in spans]
        heads = {sp.group: first + i for i, sp in enumerate(spans) if sp.head}
        self.relations += [(f"{sp.type}-Drug", first + i, heads[sp.group])
                           for i, sp in enumerate(spans) if not sp.head]

    def wrap_from(self, start: int, rng: random.Random) -> None:
        """Hard-wrap the text after ``start`` near 70-80 columns by turning spaces into newlines: offsets do
        not move, but some entities now span a line break, as in real notes."""
        chars, col, limit = list(self.text[start:]), 0, rng.randint(70, 80)
        for i, ch in enumerate(chars):
            col = 0 if ch == "\n" else col + 1
            if ch == " " and col >= limit:
                chars[i], col = "\n", 0
        self.text = self.text[:start] + "".join(chars)


def _words(rng: random.Random, female: bool) -> dict[str, str]:
    he, his = ("she", "her") if female else ("he", "his")
    age = rng.randint(24, 91)
    sex = rng.choice(("woman", "female", "F") if female else ("man", "male", "M"))
    return {"he": he, "He": he.capitalize(), "his": his, "His": his.capitalize(),
            "age": f"{age}{rng.choice(('-year-old ', ' y/o ', ' yo '))}{sex}",
            "a": "an" if str(age).startswith("8") or age in (11, 18) else "a",
            "n": str(rng.randint(2, 9)), "temp": f"{rng.uniform(97.5, 101.5):.1f}",
            "bp": f"{rng.randint(95, 175)}/{rng.randint(55, 100)}", "hr": str(rng.randint(55, 118)),
            "cr": f"{rng.uniform(0.6, 2.8):.1f}", "k": f"{rng.uniform(3.1, 5.6):.1f}", "ef": str(rng.randint(20, 65))}


def _fact(rng: random.Random, words: dict[str, str], templates: tuple[tuple[str, str], ...]
          ) -> tuple[str, list[_Span]]:
    template, kinds = rng.choice(templates)
    while True:
        first, second = rng.sample(DRUGS, 2)
        if _usable(template, kinds, first):
            return _render(template, {"1": _Group(first, rng), "2": _Group(second, rng)}, words)


def _paragraph(w: _NoteWriter, rng: random.Random, words: dict[str, str], n_facts: int, n_fillers: int,
               wrap: bool) -> None:
    """Narrative sentences (and entity-free fillers) on one line, optionally hard-wrapped."""
    parts = [_fact(rng, words, NARRATIVE) for _ in range(n_facts)]
    for _ in range(n_fillers):
        parts.insert(rng.randint(0, len(parts)), (rng.choice(FILLERS).format(**words), []))
    start = len(w.text)
    for i, (text, spans) in enumerate(parts):
        sep = " " if i else ""
        w.add(sep + text, [_Span(s.start + len(sep), s.end + len(sep), s.type, s.group, s.head) for s in spans])
    if wrap:
        w.wrap_from(start, rng)
    w.add("\n")


def _note(rng: random.Random, doc_id: str) -> Document:
    female = rng.random() < 0.5
    words = _words(rng, female)
    wrap, crlf = rng.random() < 0.2, rng.random() < 0.15
    w = _NoteWriter()
    month, day = rng.randint(1, 12), rng.randint(1, 20)
    w.add(f"Admission Date: [**2150-{month}-{day}**]     Discharge Date: [**2150-{month}-{day + rng.randint(2, 8)}**]"
          f"\n\nSex: {'F' if female else 'M'}\nService: {rng.choice(('MEDICINE', 'CARDIOLOGY', 'SURGERY'))}\n\n")
    w.add(rng.choice(HEADINGS["hpi"]) + "\n")
    _paragraph(w, rng, words, rng.randint(1, 4), rng.randint(0, 2), wrap)
    if rng.random() < 0.75:
        w.add("\n" + rng.choice(HEADINGS["course"]) + "\n")
        _paragraph(w, rng, words, rng.randint(1, 4), rng.randint(0, 2), wrap)
    w.add("\n" + rng.choice(HEADINGS["meds"]) + "\n")
    bullet = rng.choice(("{i}. ", "{i}) ", "- "))
    for i in range(1, rng.randint(1, 8) + 1):
        text, spans = _fact(rng, words, MED_LINES)
        prefix = bullet.format(i=i)
        w.add(prefix + text + "\n", [_Span(s.start + len(prefix), s.end + len(prefix), s.type, s.group, s.head)
                                      for s in spans])
    if rng.random() < 0.6:
        w.add("\n" + rng.choice(HEADINGS["plan"]) + "\n" + rng.choice(INSTRUCTIONS).format(**words) + "\n")
    return _document(doc_id, w, crlf)


def _document(doc_id: str, w: _NoteWriter, crlf: bool) -> Document:
    text, newlines = w.text, [i for i, ch in enumerate(w.text) if ch == "\n"]
    if crlf:  # every LF becomes CRLF: an offset moves right by the number of line ends before it
        text = text.replace("\n", "\r\n")

    def at(offset: int) -> int:
        return offset + bisect_left(newlines, offset) if crlf else offset

    order = sorted(range(len(w.entities)), key=lambda i: (w.entities[i][0], -w.entities[i][1], w.entities[i][2]))
    tid = {old: f"T{new + 1}" for new, old in enumerate(order)}
    entities = {tid[i]: Entity(tid[i], w.entities[i][2], ((at(w.entities[i][0]), at(w.entities[i][1])),),
                               w.entities[i][3]) for i in order}
    relations = {f"R{k + 1}": Relation(f"R{k + 1}", rtype, tid[a1], tid[a2])
                 for k, (rtype, a1, a2) in enumerate(w.relations)}
    return Document(doc_id, text, entities, relations)


def generate(split: str, n: int, seed: int) -> list[Document]:
    """``n`` notes of one split. ``Entity.text`` holds the surface as generated (before wrapping). Each split
    has its own random stream, so changing n_train leaves dev and test alone."""
    rng = random.Random(f"clinprompt-synthetic-v{VERSION}:{seed}:{split}")
    return [_note(rng, f"synth-{split}-{i:03d}") for i in range(n)]


# ---- the corpus -------------------------------------------------------------------------------------------------
def cache_folder(cache_dir: str | Path, n_train: int, n_dev: int, n_test: int, seed: int) -> Path:
    params = {"version": VERSION, "n_train": n_train, "n_dev": n_dev, "n_test": n_test, "seed": seed}
    digest = hashlib.sha1(json.dumps(params, sort_keys=True).encode()).hexdigest()[:12]
    return Path(cache_dir).expanduser() / f"v{VERSION}-{digest}"


def _write(folder: Path, sizes: dict[str, int], seed: int) -> None:
    """Write into a temporary sibling, then rename: parallel jobs never read a half-written corpus."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        for split, n in sizes.items():
            (tmp / split).mkdir()
            for doc in generate(split, n, seed):
                write_document(doc, tmp / split)
        tmp.rename(folder)
    except OSError:
        if not folder.is_dir():  # a real failure, not another job winning the race
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def load_synthetic(cache_dir: str | Path, n_train: int = 60, n_dev: int = 12, n_test: int = 12,
                   seed: int = 13) -> Corpus:
    sizes = {"train": n_train, "dev": n_dev, "test": n_test}
    folder = cache_folder(cache_dir, n_train, n_dev, n_test, seed)
    if not folder.is_dir():
        _write(folder, sizes, seed)
    splits = {}
    for split in SPLITS:
        docs, _ = read_dir(folder / split, strict=True)  # our own files: any problem is a generator bug
        splits[split] = fill_sentences(docs)
    return Corpus("synthetic", splits, N2C2_2018_ENTITY_TYPES, N2C2_2018_RELATION_TYPES,
                  dict(N2C2_2018_RELATION_HEADS))
