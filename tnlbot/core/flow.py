"""The typed, frozen questionnaire model and the conditions between answers.

A `Flow` is built once (by `tnlbot.flows` from YAML) and shared by every
conversation. Conditions are evaluated against a read-only view of answers.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any, Callable, Mapping, Union

JSON = Union[None, bool, int, str, list[Any], dict[str, Any]]


class Kind(str, Enum):
    """The kinds of question; each is declared with its parser, form and export in `core.kinds`."""
    YES_NO = "yes_no"
    SINGLE = "single_choice"
    MULTI = "multiple_choice"
    SHORT_TEXT = "short_text"
    LONG_TEXT = "long_text"
    INTEGER = "integer"
    DECIMAL = "decimal"
    PERCENT = "percentage"
    DATE = "date"
    EMAIL = "email"
    URL = "url"
    PHONE = "phone"
    SIREN = "siren"
    SIRET = "siret"
    DEPARTEMENT = "departement"
    FILE = "file"
    REPEAT = "repeat"
    NOTICE = "notice"



# ---------------------------------------------------------------- conditions

Lookup = Callable[[str], JSON]


@dataclass(frozen=True, slots=True)
class Equals:
    question: str
    value: JSON

    def holds(self, get: Lookup) -> bool:
        answer = get(self.question)
        if answer is None:
            return False
        if isinstance(self.value, (int, float)) and not isinstance(self.value, bool):
            return _number(answer) == Decimal(str(self.value))
        return answer == self.value

    def refs(self) -> tuple[str, ...]:
        return (self.question,)


@dataclass(frozen=True, slots=True)
class OneOf:
    question: str
    values: tuple[str, ...]

    def holds(self, get: Lookup) -> bool:
        answer = get(self.question)
        if isinstance(answer, list):
            return any(v in self.values for v in answer)
        return answer in self.values

    def refs(self) -> tuple[str, ...]:
        return (self.question,)


@dataclass(frozen=True, slots=True)
class Compare:
    question: str
    value: Decimal
    greater: bool

    def holds(self, get: Lookup) -> bool:
        number = _number(get(self.question))
        if number is None:
            return False
        return number > self.value if self.greater else number < self.value

    def refs(self) -> tuple[str, ...]:
        return (self.question,)


@dataclass(frozen=True, slots=True)
class Answered:
    question: str

    def holds(self, get: Lookup) -> bool:
        answer = get(self.question)
        return answer is not None and answer != [] and answer != ""

    def refs(self) -> tuple[str, ...]:
        return (self.question,)


@dataclass(frozen=True, slots=True)
class All:
    items: tuple["Condition", ...]

    def holds(self, get: Lookup) -> bool:
        return all(c.holds(get) for c in self.items)

    def refs(self) -> tuple[str, ...]:
        return tuple(r for c in self.items for r in c.refs())


@dataclass(frozen=True, slots=True)
class AnyOf:
    items: tuple["Condition", ...]

    def holds(self, get: Lookup) -> bool:
        return any(c.holds(get) for c in self.items)

    def refs(self) -> tuple[str, ...]:
        return tuple(r for c in self.items for r in c.refs())


@dataclass(frozen=True, slots=True)
class Not:
    item: "Condition"

    def holds(self, get: Lookup) -> bool:
        return not self.item.holds(get)

    def refs(self) -> tuple[str, ...]:
        return self.item.refs()


Condition = Union[Equals, OneOf, Compare, Answered, All, AnyOf, Not]


def _number(value: JSON) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, str)):
        try:
            return Decimal(value)
        except InvalidOperation:
            return None
    return None


# ---------------------------------------------------------------- questions


@dataclass(frozen=True, slots=True)
class QuestionText:
    text: str
    help: str = ""
    unit: str = ""
    other: str = ""
    item: str = ""
    choices: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Question:
    id: str
    kind: Kind
    volet: str
    required: bool = False
    when: Condition | None = None
    choices: tuple[str, ...] = ()
    other: str = ""                 # the choice id that asks for a free text
    min_length: int = 1
    max_length: int = 200
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    min_date: str = ""
    max_date: str = ""
    min_choices: int = 0
    max_choices: int = 0
    formats: tuple[str, ...] = ()
    max_size: int = 0               # bytes
    unit: bool = False
    min_items: int = 0
    max_items: int = 50
    questions: tuple["Question", ...] = ()   # repeat: sub-questions
    parent: str = ""                         # sub-question: the repeat id


@dataclass(frozen=True, slots=True)
class VoletText:
    title: str
    intro: str = ""


@dataclass(frozen=True, slots=True)
class Volet:
    id: str
    questions: tuple[Question, ...]
    optional: bool = False
    when: Condition | None = None


@dataclass(frozen=True, slots=True)
class FlowTexts:
    title: str
    intro: str
    volets: Mapping[str, VoletText]
    questions: Mapping[str, QuestionText]


@dataclass(frozen=True, slots=True)
class Flow:
    id: str
    version: int
    edition: int
    track: str
    grading_kind: str
    grading_values: tuple[str, ...]
    volets: tuple[Volet, ...]
    texts: Mapping[str, FlowTexts]          # locale -> texts
    questions: Mapping[str, Question]       # every question, sub-questions too

    def volet(self, volet_id: str) -> Volet | None:
        for volet in self.volets:
            if volet.id == volet_id:
                return volet
        return None

    def text(self, locale: str) -> FlowTexts:
        return self.texts.get(locale) or self.texts["fr"]
