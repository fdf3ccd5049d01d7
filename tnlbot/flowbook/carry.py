"""Which answers of a draft stay, which are set aside, after its flow changed (pure).

An answer stays when its question is still in the flow and the question, as
it is now, accepts it. It is set aside when its question (or volet) left the
flow (`withdrawn`), when the option it chose left the question
(`choice_withdrawn`; a multiple choice keeps its other options), or when it
no longer fits the question's kind or limits (`to_check`: the question is
asked again). Bookkeeping keys (a volet's "not concerned", a repeat block's
count and "done") follow their question silently.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..core.flow import JSON, Flow, Kind, Question
from ..core.kinds import CHOICE_KINDS
from ..core.refit import still_valid

_ITEM = re.compile(r"^(?P<repeat>[^\[\]]+)\[(?P<index>\d+)\]\.(?P<sub>.+)$")
WITHDRAWN, CHOICE_WITHDRAWN, TO_CHECK = "withdrawn", "choice_withdrawn", "to_check"


@dataclass(frozen=True, slots=True)
class Aside:
    key: str
    value: JSON          # the part of the answer set aside
    reason: str          # withdrawn | choice_withdrawn | to_check
    question: str        # the question id (for its text)


@dataclass(frozen=True, slots=True)
class Plan:
    changes: tuple[tuple[str, JSON], ...]    # key -> new value (None: removed)
    aside: tuple[Aside, ...]

    @property
    def to_check(self) -> tuple[str, ...]:
        return tuple(a.key for a in self.aside if a.reason == TO_CHECK)


def _target(flow: Flow, key: str) -> tuple[Question | None, str, bool]:
    """(question, part, silent): the question an answer key belongs to, now."""
    if key.startswith("volet:"):
        return None, "concerned", True
    match = _ITEM.match(key)
    if match:
        repeat, sub_id = flow.questions.get(match["repeat"]), match["sub"]
        sub = flow.questions.get(sub_id.removesuffix(".other"))
        fits = repeat is not None and sub is not None and sub.parent == repeat.id
        return (sub if fits else None), ("other" if sub_id.endswith(".other") else ""), False
    if key.endswith(".done"):
        q = flow.questions.get(key[:-5])
        return (q if q is not None and q.kind is Kind.REPEAT else None), "done", True
    q = flow.questions.get(key.removesuffix(".other"))
    if q is not None and q.parent:
        q = None
    return q, ("other" if key.endswith(".other") else ""), q is not None and q.kind is Kind.REPEAT


def _bookkeeping(flow: Flow, key: str, value: JSON) -> bool:
    """Does a silent key still belong (a volet flag to an existing volet, a count to a repeat)?"""
    if key.startswith("volet:"):
        return flow.volet(key[6:]) is not None and isinstance(value, bool)
    return True


def _choice_answer(q: Question, key: str, value: JSON) -> tuple[list[tuple[str, JSON]], list[Aside]]:
    chosen = value if isinstance(value, list) else [value]
    gone = [c for c in chosen if c not in q.choices]
    kept = [c for c in chosen if c in q.choices]
    aside: list[Aside] = []
    if gone:
        aside.append(Aside(key, gone if isinstance(value, list) else value, CHOICE_WITHDRAWN, q.id))
    if not gone:
        kept_value: JSON = value
    elif isinstance(value, list) and kept:
        kept_value = kept
    else:
        return [(key, None)], aside
    if not still_valid(q, kept_value):
        return [(key, None)], aside + [Aside(key, kept_value, TO_CHECK, q.id)]
    return ([(key, kept_value)] if kept_value != value else []), aside


def _one(flow: Flow, key: str, value: JSON) -> tuple[list[tuple[str, JSON]], list[Aside]]:
    q, part, silent = _target(flow, key)
    if silent:
        keep = (q is not None or part == "concerned") and _bookkeeping(flow, key, value)
        return ([] if keep else [(key, None)]), []
    base = key.removesuffix(".other").split(".")[-1] if _ITEM.match(key) else key.removesuffix(".other")
    if q is None:
        return [(key, None)], [Aside(key, value, WITHDRAWN, base)]
    if part == "other":
        if q.other and isinstance(value, str):
            return [], []
        return [(key, None)], [Aside(key, value, CHOICE_WITHDRAWN, q.id)]
    if q.kind is Kind.NOTICE:
        return [], []
    if q.kind in CHOICE_KINDS:
        return _choice_answer(q, key, value)
    if still_valid(q, value):
        return [], []
    return [(key, None)], [Aside(key, value, TO_CHECK, q.id)]


def plan(flow: Flow, answers: dict[str, JSON]) -> Plan:
    """What to change in a draft's answers for it to fit `flow`, in the answers' key order."""
    changes: list[tuple[str, JSON]] = []
    aside: list[Aside] = []
    for key in sorted(answers):
        more_changes, more_aside = _one(flow, key, answers[key])
        changes += more_changes
        aside += more_aside
    return Plan(tuple(changes), tuple(aside))
