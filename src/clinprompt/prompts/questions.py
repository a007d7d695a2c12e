"""The question registry for ``hard_prompt``: one natural-language question per entity type and one
template per relation type (``{head}`` is replaced by the head entity's text), per dataset."""

from __future__ import annotations

from clinprompt.data.corpora.sdoh import EVENT_ARGUMENTS

QUESTIONS: dict[str, dict[str, str]] = {
    "n2c2_2018": {
        "Drug": "Which medications, drugs or drug classes are mentioned?",
        "Strength": "What is the strength (amount of active ingredient per unit) of a medication?",
        "Dosage": "What is the dosage (number of units taken) of a medication?",
        "Duration": "For how long is a medication taken?",
        "Frequency": "How often is a medication taken?",
        "Form": "What is the form of a medication, such as tablet, capsule or solution?",
        "Route": "By which route is a medication given?",
        "Reason": "What is the reason or indication for giving a medication?",
        "ADE": "Which adverse drug events or side effects of a medication are mentioned?",
        "Strength-Drug": "What is the strength of {head}?",
        "Dosage-Drug": "What is the dosage of {head}?",
        "Duration-Drug": "For how long is {head} taken?",
        "Frequency-Drug": "How often is {head} taken?",
        "Form-Drug": "What is the form of {head}?",
        "Route-Drug": "By which route is {head} given?",
        "Reason-Drug": "What is the reason for giving {head}?",
        "ADE-Drug": "Which adverse events were caused by {head}?",
    },
    "ade": {
        "Drug": "Which drugs are mentioned?",
        "AdverseEffect": "Which adverse effects of a drug are mentioned?",
        "Dose": "Which doses of a drug are mentioned?",
        "AdverseEffect-Drug": "Which adverse effects were caused by {head}?",
        "Dose-Drug": "What dose of {head} was given?",
    },
    "sdoh": {
        "Alcohol": "Where is alcohol use mentioned?",
        "Drug": "Where is recreational drug use mentioned?",
        "Tobacco": "Where is tobacco use mentioned?",
        "Employment": "Where is employment mentioned?",
        "LivingStatus": "Where is the living situation mentioned?",
        "StatusTime": "Is the behaviour current, past, future or none?",
        "StatusEmploy": "What is the employment status?",
        "TypeLiving": "Who does the patient live with?",
        "Amount": "What amount is used?",
        "Duration": "For how long?",
        "Frequency": "How often?",
        "History": "Since when or how long ago?",
        "Method": "By which method?",
        "Type": "Which type?",
    },
}
# SDoH relations ask for one argument of one event, naming the trigger: "<Argument>-<Event>"
_SDOH_ARGUMENTS = {
    "StatusTime": "Is the {head} current, past, future or none?",
    "StatusEmploy": "What is the employment status in {head}?",
    "TypeLiving": "Who does the patient live with, per {head}?",
    "Amount": "How much {head}?",
    "Duration": "For how long {head}?",
    "Frequency": "How often {head}?",
    "History": "Since when or how long ago {head}?",
    "Method": "By which method {head}?",
    "Type": "Which type of {head}?",
}
QUESTIONS["sdoh"].update({f"{a}-{e}": _SDOH_ARGUMENTS[a] for e, args in EVENT_ARGUMENTS.items() for a in args})


def question_for(dataset: str, label: str, head: str | None = None) -> str:
    """The question for an entity type or, with ``head``, a relation type."""
    table = QUESTIONS.get(dataset)
    if table is None:
        # generic corpora: a neutral question still lets hard_prompt name the type
        text = f"Find {{head}} {label}." if head is not None else f"Find all {label} mentions."
    else:
        if label not in table:
            raise KeyError(f"no question for type {label!r} in the '{dataset}' question registry "
                           f"(clinprompt/prompts/questions.py); add one")
        text = table[label]
    return text.format(head=head) if head is not None else text
