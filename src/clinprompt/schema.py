"""The task schema, the bottom layer every other layer reads: entity and relation types with their argument
pairs, the hard-prompt questions (data from the dataset config, ``dataset.questions``), and the n2c2 2022 SDoH
event schema. Nothing here reads a corpus or imports another clinprompt module."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

Pair = tuple[str, str]  # (tail/Arg1 type, head/Arg2 type)


def as_pairs(value: Sequence) -> tuple[Pair, ...]:
    """A relation type's argument-type pairs from one ``(tail, head)`` pair or a sequence of pairs."""
    if len(value) == 2 and all(isinstance(v, str) for v in value):
        return ((value[0], value[1]),)
    return tuple((p[0], p[1]) for p in value)


@dataclass(frozen=True)
class Schema:
    """``relation_heads`` maps a relation type to its (tail, head) type pairs; one relation type may link
    several pairs (``Has_value``: Measurement -> Value and Condition -> Value). A single pair is accepted
    too and stored as a one-pair tuple.

    ``questions`` maps each type to its hard-prompt question (relation questions name the head as
    ``{head}``); it comes from ``dataset.questions`` and is saved with a checkpoint's schema, so prediction
    asks what training asked. Empty means a generic corpus: neutral questions that name the type."""

    dataset: str
    entity_types: tuple[str, ...]
    relation_types: tuple[str, ...] = ()
    relation_heads: dict[str, tuple[Pair, ...]] = field(default_factory=dict)
    # tail types whose spans also carry a labelled value (SDoH StatusTime -> none|current|past|future)
    value_labels: dict[str, tuple[str, ...]] = field(default_factory=dict)
    events: bool = False  # relations are event arguments (head = trigger): predictions are written as events
    questions: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "relation_heads", {k: as_pairs(v) for k, v in self.relation_heads.items()})
        object.__setattr__(self, "questions", {str(k): str(v) for k, v in self.questions.items()})

    @property
    def value_pairs(self) -> tuple[tuple[str, str], ...]:
        """Every (tail type, value), the index space of the value head."""
        return tuple((t, v) for t in sorted(self.value_labels) for v in self.value_labels[t])

    @classmethod
    def from_dict(cls, d: Mapping) -> Schema:
        """From its saved form (checkpoint hyper-parameters: lists instead of tuples)."""
        return cls(d["dataset"], tuple(d["entity_types"]), tuple(d.get("relation_types", ())),
                   dict(d.get("relation_heads", {})),
                   {k: tuple(v) for k, v in d.get("value_labels", {}).items()}, bool(d.get("events", False)),
                   dict(d.get("questions") or {}))

    @property
    def head_types(self) -> tuple[str, ...]:
        return tuple(sorted({h for r in self.relation_types for _, h in self.relation_heads[r]}))

    def relations_for_head(self, head_type: str) -> tuple[str, ...]:
        return tuple(r for r in self.relation_types if any(h == head_type for _, h in self.relation_heads[r]))

    def tail_types(self, rel: str, head_type: str | None = None) -> tuple[str, ...]:
        """The tail types ``rel`` links to a head of ``head_type`` (any head when None), in listed order."""
        out = [t for t, h in self.relation_heads[rel] if head_type is None or h == head_type]
        return tuple(dict.fromkeys(out))

    def block_id(self, label: str) -> int:
        """Prompt block of a type: entity types first, then relation types."""
        return (self.entity_types + self.relation_types).index(label)

    @property
    def n_blocks(self) -> int:
        return len(self.entity_types) + len(self.relation_types)

    def question(self, label: str, head: str | None = None) -> str:
        """The hard-prompt question for an entity type or, with ``head`` (the head entity's text), a relation
        type."""
        if not self.questions:
            # generic corpora: a neutral question still lets hard_prompt name the type
            return f"Find {head} {label}." if head is not None else f"Find all {label} mentions."
        if label not in self.questions:
            raise KeyError(f"no question for type {label!r} in the questions of dataset '{self.dataset}' "
                           f"(dataset.questions in its config); add one, e.g. '+dataset.questions.{label}=...'")
        text = self.questions[label]
        # replace, not str.format: a question from the command line may hold other braces
        return text.replace("{head}", head) if head is not None else text


# ---- n2c2 2022 track 2 (SDoH, SHAC) events ----
_SUBSTANCE = ("StatusTime", "Amount", "Duration", "Frequency", "History", "Method", "Type")
# the n2c2 2022 events and their arguments (annotation.conf, without Degree, which the challenge did not score)
EVENT_ARGUMENTS: dict[str, tuple[str, ...]] = {
    "Alcohol": _SUBSTANCE,
    "Drug": _SUBSTANCE,
    "Tobacco": _SUBSTANCE,
    "Employment": ("StatusEmploy", "Duration", "History", "Type"),
    "LivingStatus": ("StatusTime", "TypeLiving", "Duration", "History"),
}
EVENT_TYPES = tuple(EVENT_ARGUMENTS)
VALUE_LABELS: dict[str, tuple[str, ...]] = {
    "StatusTime": ("none", "current", "past", "future"),
    "StatusEmploy": ("employed", "unemployed", "retired", "on_disability", "student", "homemaker"),
    "TypeLiving": ("alone", "with_family", "with_others", "homeless"),
}
LABELLED_ARGUMENTS = tuple(VALUE_LABELS)
# every argument entity type of the SDoH annotation.conf (what the challenge scorer knows, Degree included)
SDOH_ARGUMENT_TYPES = ("Amount", "Degree", "Duration", "Frequency", "History", "Method", "StatusEmploy",
                       "StatusInsure", "StatusTime", "Type", "TypeGenderID", "TypeLiving", "TypeSexualOrient")
ROLE_OF_ARGUMENT = {"StatusTime": "Status", "StatusEmploy": "Status", "TypeLiving": "Type"}
RELATION_TYPES = tuple(f"{a}-{e}" for e, args in EVENT_ARGUMENTS.items() for a in args)
RELATION_HEADS = {f"{a}-{e}": (a, e) for e, args in EVENT_ARGUMENTS.items() for a in args}
