"""The adaptation strategy as typed values, built once from the ``strategy`` config (+ the top-level ``prompt_len``).

Two families share one option vocabulary (``prompt.{reparam, reparam_hidden, init, init_text, dropout, mlp_lr}``,
``lr.{backbone, prompt, head}``, ``weight_decay``):

- :class:`MRCStrategy` (concept/relation extraction): how the type is asked (:class:`Query`) and whether the
  backbone trains.
- :class:`QAStrategy` (the PubMedQA study): a ``method`` (finetune, prompt tuning, prefix tuning, ...).

Every value derived from a strategy is computed here and nowhere else: the effective prompt length, the question
budget and the window room it leaves, whether the backbone trains, each parameter group's learning rate and weight
decay, and whether a checkpoint holds only what trained. The dataclass defaults are the only code defaults; a key a
strategy file leaves out means the default here. This module is the bottom layer: it imports nothing of clinprompt.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

QUESTION_TOKENS = 48  # a hard prompt's question is cut to this many tokens (its budget in every window)
SPECIAL_TOKENS = 2  # [CLS] ... [SEP] around every input
DEFAULT_FINETUNE_LR = 5e-5  # a backbone's fine-tuning rate when neither the strategy nor the model sets one


class StrategyError(ValueError):
    """A strategy config that cannot work; the message names the key, the value and the choices."""


class Query(StrEnum):
    """How an MRC example names the type it asks about."""

    NONE = "none"  # no query: the window alone, one output channel per type
    HARD = "hard"  # a natural-language question per type before the window
    SOFT = "soft"  # a deep prompt block per type (key/value prefixes at every layer)

    @property
    def asks_question(self) -> bool:
        return self is Query.HARD

    @property
    def deep_prompt(self) -> bool:
        return self is Query.SOFT

    @property
    def per_type(self) -> bool:
        """One example (and one output channel) per type; without a query one example holds every type."""
        return self is not Query.NONE

    def effective_prompt_len(self, prompt_len: int) -> int:
        """Deep-prompt positions every layer attends to: ``prompt_len`` for a soft query, else none."""
        return int(prompt_len) if self.deep_prompt else 0

    @property
    def question_tokens(self) -> int:
        return QUESTION_TOKENS if self.asks_question else 0

    @property
    def query_budget(self) -> int:
        """Input positions a query may take: the question and the [SEP] after it (hard), else none."""
        return self.question_tokens + 1 if self.asks_question else 0

    @property
    def non_window_tokens(self) -> int:
        """Tokens of the longest input that are not window tokens: special tokens and the query budget."""
        return SPECIAL_TOKENS + self.query_budget

    def window_room(self, prompt_len: int, position_limit: int) -> int:
        """The longest window that fits the model's positions next to the prompt and the query."""
        return position_limit - self.effective_prompt_len(prompt_len) - self.non_window_tokens


PromptInit = Literal["random", "vocab", "text"]
QA_METHODS = ("base", "finetune", "deep_prompt", "prompt_tuning", "prefix_tuning", "prefix_tuning_full")


@dataclass(frozen=True)
class PromptOptions:
    """How a learned prompt is parameterised and started."""

    reparam: bool = True  # an MLP maps prompt embeddings to the prefixes (P-tuning v2 / Li & Liang)
    reparam_hidden: int = 256  # the MLP's hidden width
    init: PromptInit = "random"  # random | vocab (MRC deep prompt: embeddings of vocabulary tokens) | text (peft)
    init_text: str | None = None  # init=text: the text whose embeddings start the prompt (peft prompt tuning)
    dropout: float = 0.0
    # fan_in: the reparameterization MLP's weight matrices learn at the prompt rate / their fan-in, so a step
    # moves each prefix by ~lr whatever the model or MLP width (experiments/cpu_full_ade); null: the prompt rate
    mlp_lr: Literal["fan_in"] | None = "fan_in"


# The QA study's prompts learn at the prompt rate (its figures were measured so); prefix tuning of a seq2seq model
# (peft's PrefixTuning, Li & Liang's full prefix) trains the prefixes directly unless told otherwise, and its MLP,
# when asked for, is peft's / Li & Liang's 512 wide.
QA_PROMPT = PromptOptions(mlp_lr=None)
PREFIX_PROMPT = PromptOptions(reparam=False, reparam_hidden=512, mlp_lr=None)


def prompt_defaults(method: str | None = None) -> PromptOptions:
    """The prompt options a strategy gets for every option its file leaves out: MRC (``method`` None), a QA method."""
    if method is None:
        return PromptOptions()
    return PREFIX_PROMPT if method.startswith("prefix_tuning") else QA_PROMPT


@dataclass(frozen=True)
class LearningRates:
    backbone: float | None = None  # null: the model's own fine-tuning rate (model.finetune_lr)
    prompt: float = 1e-2  # deep prompt, its MLP, the relation head marker, peft prompts
    head: float = 3e-3


@dataclass(frozen=True)
class GroupSpec:
    """Learning rate and weight decay of one parameter role."""

    lr: float
    weight_decay: float


@dataclass(frozen=True, kw_only=True)
class _Common:
    name: str
    train: bool = True  # false: nothing trains (the untuned model is scored)
    prompt: PromptOptions | None = None
    lr: LearningRates = field(default_factory=LearningRates)
    weight_decay: float = 0.01  # backbone and heads (never biases, norms or prompts)
    prompt_len: int = 0  # the top-level prompt_len (prompt tokens per layer), carried here

    @property
    def frozen_backbone(self) -> bool:
        raise NotImplementedError

    @property
    def trains_backbone(self) -> bool:
        return self.train and not self.frozen_backbone

    @property
    def saves_only_trained(self) -> bool:
        """A checkpoint of a frozen backbone holds only what trained; the backbone is re-loaded from its source."""
        return self.frozen_backbone

    @property
    def prompt_options(self) -> PromptOptions:
        return self.prompt or prompt_defaults(getattr(self, "method", None))

    def backbone_lr(self, model_cfg: Mapping[str, Any]) -> float:
        """``lr.backbone`` when set, else the model's own fine-tuning rate (larger models take smaller steps)."""
        if self.lr.backbone is not None:
            return float(self.lr.backbone)
        return float(model_cfg.get("finetune_lr") or DEFAULT_FINETUNE_LR)

    def groups(self, model_cfg: Mapping[str, Any]) -> dict[str, GroupSpec]:
        """Learning rate and weight decay per parameter role; prompts never decay (they have no scale to keep)."""
        return {"backbone": GroupSpec(self.backbone_lr(model_cfg), self.weight_decay),
                "prompt": GroupSpec(self.lr.prompt, 0.0),
                "head": GroupSpec(self.lr.head, self.weight_decay)}

    @property
    def fan_in_prompt_mlp(self) -> bool:
        return self.prompt is not None and self.prompt.reparam and self.prompt.mlp_lr == "fan_in"

    def to_config(self) -> dict[str, Any]:
        """The strategy config as plain values (what hyper-parameters and checkpoints record)."""
        out = dataclasses.asdict(self)
        out.pop("prompt_len")
        return {k: (str(v) if isinstance(v, StrEnum) else v) for k, v in out.items()}


@dataclass(frozen=True, kw_only=True)
class MRCStrategy(_Common):
    """One of no_prompt / hard_prompt / soft_unfrozen / soft_frozen (or any mix the config spells out)."""

    query: Query
    freeze_backbone: bool = False

    def __post_init__(self) -> None:
        if self.query.deep_prompt and self.prompt is None:
            object.__setattr__(self, "prompt", PromptOptions())  # a soft query always has prompt options

    @property
    def frozen_backbone(self) -> bool:
        return self.freeze_backbone

    @property
    def uses_prompt_len(self) -> bool:
        return self.query.deep_prompt

    @property
    def effective_prompt_len(self) -> int:
        return self.query.effective_prompt_len(self.prompt_len)

    @property
    def non_window_tokens(self) -> int:
        return self.query.non_window_tokens

    def window_room(self, position_limit: int) -> int:
        return self.query.window_room(self.prompt_len, position_limit)


@dataclass(frozen=True, kw_only=True)
class QAStrategy(_Common):
    """A PubMedQA method; everything but ``finetune`` keeps the backbone frozen."""

    method: str

    def __post_init__(self) -> None:
        if self.method not in QA_METHODS:
            raise StrategyError(f"strategy.method={self.method!r}: use one of {', '.join(QA_METHODS)}")

    @property
    def frozen_backbone(self) -> bool:
        return self.method != "finetune"

    @property
    def uses_prompt_len(self) -> bool:
        return self.method not in ("base", "finetune")

    @property
    def effective_prompt_len(self) -> int:
        """Input positions the prompt takes from the model's limit (prompt methods only)."""
        return int(self.prompt_len) if self.uses_prompt_len else 0


Strategy = MRCStrategy | QAStrategy


def _options(cls: type, cfg: Mapping[str, Any] | None, where: str, base: Any = None) -> Any:
    if cfg is None:
        return None
    if isinstance(cfg, cls):
        return cfg
    known = {f.name for f in dataclasses.fields(cls)}
    if not isinstance(cfg, Mapping):
        raise StrategyError(f"{where}={cfg!r}: expected a mapping of {', '.join(sorted(known))}")
    unknown = sorted(set(cfg) - known)
    if unknown:
        raise StrategyError(f"{where}.{unknown[0]}: unknown option; {where} takes {', '.join(sorted(known))}")
    return dataclasses.replace(base, **dict(cfg)) if base is not None else cls(**dict(cfg))


def build_strategy(cfg: Mapping[str, Any] | Strategy, prompt_len: int | None = None) -> Strategy:
    """The typed strategy of a ``strategy`` config: MRC when it has a ``query``, QA when it has a ``method``.
    Unknown keys are refused (a misspelt option would otherwise be silently ignored)."""
    if isinstance(cfg, MRCStrategy | QAStrategy):
        return cfg if prompt_len is None else dataclasses.replace(cfg, prompt_len=int(prompt_len))
    cfg = dict(cfg)
    if "query" in cfg:
        cls: type = MRCStrategy
        try:
            cfg["query"] = Query(cfg["query"])
        except ValueError as err:
            raise StrategyError(f"strategy.query={cfg['query']!r}: use one of "
                                f"{', '.join(q.value for q in Query)}") from err
    elif "method" in cfg:
        cls = QAStrategy
    else:
        raise StrategyError("strategy: neither `query` (MRC extraction) nor `method` (QA) is set")
    known = {f.name for f in dataclasses.fields(cls)} - {"prompt_len"}
    unknown = sorted(set(cfg) - known)
    if unknown:
        raise StrategyError(f"strategy.{unknown[0]}: unknown key for a{' QA' if cls is QAStrategy else 'n MRC'} "
                            f"strategy; keys: {', '.join(sorted(known))}")
    method = str(cfg["method"]) if cls is QAStrategy else None
    cfg["prompt"] = _options(PromptOptions, cfg.get("prompt"), "strategy.prompt", prompt_defaults(method))
    cfg["lr"] = _options(LearningRates, cfg.get("lr"), "strategy.lr") or LearningRates()
    cfg.setdefault("name", cfg.get("method") or str(cfg["query"]))
    return cls(**cfg, prompt_len=int(prompt_len or 0))


def mrc_strategy(cfg: Mapping[str, Any] | Strategy, prompt_len: int | None = None) -> MRCStrategy:
    s = build_strategy(cfg, prompt_len)
    if not isinstance(s, MRCStrategy):
        raise StrategyError(f"strategy {s.name!r} is a QA strategy (method {s.method}); MRC needs a `query`")
    return s


def qa_strategy(cfg: Mapping[str, Any] | Strategy, prompt_len: int | None = None) -> QAStrategy:
    s = build_strategy(cfg, prompt_len)
    if not isinstance(s, QAStrategy):
        raise StrategyError(f"strategy {s.name!r} is an MRC strategy (query {s.query}); QA needs a `method`")
    return s
