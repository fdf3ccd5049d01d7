"""The walk: which places to answer ("slots") a flow has, given the answers.

A slot is one thing the bot can ask. Its key is also the answer's key:

- `q`              a top-level question
- `q.other`        the free text behind the "other" choice of `q`
- `r[2].s`         sub-question `s` of item 2 (from 0) of repeat block `r`
- `r+`             "add an item to `r`?" (answered: `r.done` is true)
- `volet:v`        "is the body concerned by optional volet `v`?"

Answers of repeat blocks are stored flat: `r` holds the number of items and
`r[i].s` each sub-answer. The slot list is computed from the flow and the
answers each time; only applicable slots are listed, so an answer whose
condition no longer holds is never shown, asked or submitted.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, TypeVar

from .flow import JSON, Flow, Kind, Question, Volet

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Slot:
    key: str
    volet: Volet
    question: Question | None   # None for a volet's "concerned?" slot
    part: str = ""              # "", "other", "adder", "concerned"
    item: int = -1


def concerned_key(volet_id: str) -> str:
    return f"volet:{volet_id}"


def _selected(value: JSON, choice: str) -> bool:
    return value == choice or (isinstance(value, list) and choice in value)


def _lookup(answers: Mapping[str, JSON], prefix: str) -> Callable[[str], JSON]:
    if not prefix:
        return answers.get

    def get(question_id: str) -> JSON:
        inner = answers.get(prefix + question_id)
        return inner if inner is not None else answers.get(question_id)
    return get


def _repeat_slots(q: Question, volet: Volet, answers: Mapping[str, JSON], out: list[Slot]) -> None:
    count = item_count(answers, q.id)
    for index in range(count):
        prefix = f"{q.id}[{index}]."
        get = _lookup(answers, prefix)
        for sub in q.questions:
            if sub.when is not None and not sub.when.holds(get):
                continue
            key = prefix + sub.id
            out.append(Slot(key, volet, sub, "", index))
            if sub.other and _selected(answers.get(key), sub.other):
                out.append(Slot(key + ".other", volet, sub, "other", index))
    if count < q.max_items:
        out.append(Slot(q.id + "+", volet, q, "adder"))


def item_count(answers: Mapping[str, JSON], repeat_id: str) -> int:
    value = answers.get(repeat_id)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def volet_applies(volet: Volet, answers: Mapping[str, JSON]) -> bool:
    return volet.when is None or volet.when.holds(answers.get)


@dataclass(frozen=True, slots=True)
class _Entry:
    question: Question
    slot: Slot            # built once per flow
    other: Slot | None


@dataclass(frozen=True, slots=True)
class View:
    """The applicable slots for some answers, with what the engine asks of them often.

    Shared between candidatures at the same point: never change it."""
    slots: list[Slot]
    index: dict[str, int]                      # slot key -> position in `slots`
    place: dict[str, tuple[int, int, int]]     # slot key -> (volet number, position in it, its slots)

    @staticmethod
    def of(flow: Flow, found: list[Slot]) -> "View":
        numbers = {v.id: n for n, v in enumerate(flow.volets, 1)}
        totals: dict[str, int] = {}
        for s in found:
            totals[s.volet.id] = totals.get(s.volet.id, 0) + 1
        index, place, seen = {}, {}, dict.fromkeys(totals, 0)
        for i, s in enumerate(found):
            index[s.key] = i
            seen[s.volet.id] += 1
            place[s.key] = (numbers[s.volet.id], seen[s.volet.id], totals[s.volet.id])
        return View(found, index, place)


@dataclass(slots=True)
class _Plan:
    """What never changes for a flow, and the slot lists already computed for it."""
    flow: Flow
    volets: list[tuple[Volet, Slot | None, list[_Entry]]]
    watch: tuple[str, ...]                           # answers the walk reads (top level)
    repeats: tuple[tuple[str, tuple[str, ...]], ...]  # repeat id, sub-answers read per item
    known: dict[tuple[Any, ...], View]                          # signature of the read answers -> view
    read: frozenset[str] = frozenset()                # every answer key the walk may read
    memo: dict[Any, Any] = field(default_factory=dict)          # texts built from this flow (see prompts.py)


_PLANS: dict[int, _Plan] = {}
_KNOWN_MAX = 1024   # slot lists kept per flow (a few KB each); the table is emptied when full


def _plan(flow: Flow) -> _Plan:
    """The flow's slots that never change, built once per flow (Slot objects are reused)."""
    cached = _PLANS.get(id(flow))
    if cached is not None and cached.flow is flow:
        return cached
    volets = []
    watch: dict[str, None] = {}
    repeats = []
    for volet in flow.volets:
        concerned = Slot(concerned_key(volet.id), volet, None, "concerned") if volet.optional else None
        if volet.when is not None:
            watch.update(dict.fromkeys(volet.when.refs()))
        if concerned is not None:
            watch[concerned.key] = None
        entries = [_Entry(q, Slot(q.id, volet, q), Slot(q.id + ".other", volet, q, "other") if q.other else None)
                   for q in volet.questions]
        for q in volet.questions:
            if q.when is not None:
                watch.update(dict.fromkeys(q.when.refs()))
            if q.other:
                watch[q.id] = None
            if q.kind is Kind.REPEAT:
                watch[q.id] = None
                inner: dict[str, None] = {}
                for sub in q.questions:
                    if sub.when is not None:
                        refs = sub.when.refs()
                        inner.update(dict.fromkeys(refs))
                        watch.update(dict.fromkeys(refs))   # a sub-condition may read the top level
                    if sub.other:
                        inner[sub.id] = None
                repeats.append((q.id, tuple(inner)))
        volets.append((volet, concerned, entries))
    plan = _Plan(flow, volets, tuple(watch), tuple(repeats), {}, frozenset(watch))
    _PLANS[id(flow)] = plan
    return plan


_MEMO_MAX = 8192    # texts kept per flow; the table is emptied when full


def _keep(table: dict[Any, Any], key: object, value: object, limit: int) -> None:
    """Store in a bounded table: when it is full, it starts again empty."""
    if len(table) >= limit:
        table.clear()
    table[key] = value


def remember(flow: Flow, key: tuple[Any, ...], make: Callable[[], T]) -> T:
    """What `make` builds from the flow alone (and the key), built once while the flow's plan
    lives."""
    table = _plan(flow).memo
    found = table.get(key)
    if found is None:
        found = make()
        _keep(table, key, found, _MEMO_MAX)
    return found


def reads(flow: Flow, key: str) -> bool:
    """Whether the slot list may change when the answer `key` changes."""
    return key in _plan(flow).read or "[" in key     # repeat items: read per item


def _tag(value: JSON) -> object:
    """A hashable image of an answer that keeps True, 1 and "1" apart."""
    kind = type(value)
    if isinstance(value, list):
        return (list, tuple(_tag(v) for v in value))
    if isinstance(value, dict):
        return (dict, tuple(sorted((k, _tag(v)) for k, v in value.items())))
    return (kind, value)


def _signature(plan: _Plan, answers: Mapping[str, JSON]) -> tuple[Any, ...]:
    get = answers.get
    # text and absent answers stand for themselves; anything else carries its type
    signature = [v if v is None or v.__class__ is str else _tag(v) for v in map(get, plan.watch)]
    for repeat_id, inner in plan.repeats:
        if inner:
            for index in range(item_count(answers, repeat_id)):
                prefix = f"{repeat_id}[{index}]."
                signature += [_tag(get(prefix + key)) for key in inner]
    return tuple(signature)


def slots(flow: Flow, answers: Mapping[str, JSON]) -> list[Slot]:
    """The applicable slots, in order (a list of the caller's own)."""
    return list(view(flow, answers).slots)


def view(flow: Flow, answers: Mapping[str, JSON]) -> View:
    """The applicable slots and their positions. The walk reads only a few answers (those
    conditions, "other" choices, optional volets and repeat counts look at), so views are
    kept per flow by the values of those answers: candidatures at the same point share one."""
    plan = _plan(flow)
    try:
        signature = _signature(plan, answers)
        known = plan.known.get(signature)
    except TypeError:       # an unhashable odd value: walk without the table
        return View.of(flow, _walk(plan, answers))
    if known is None:
        known = View.of(flow, _walk(plan, answers))
        _keep(plan.known, signature, known, _KNOWN_MAX)
    return known


def _walk(plan: _Plan, answers: Mapping[str, JSON]) -> list[Slot]:
    out: list[Slot] = []
    get = answers.get
    for volet, concerned, entries in plan.volets:
        if volet.when is not None and not volet.when.holds(get):
            continue
        if concerned is not None:
            out.append(concerned)
            if get(concerned.key) is False:
                continue
        for entry in entries:
            q = entry.question
            if q.when is not None and not q.when.holds(get):
                continue
            if q.kind is Kind.REPEAT:
                _repeat_slots(q, volet, answers, out)
                continue
            out.append(entry.slot)
            if entry.other is not None and _selected(get(q.id), q.other):
                out.append(entry.other)
    return out


def is_answered(slot: Slot, answers: Mapping[str, JSON]) -> bool:
    if slot.part == "adder":
        assert slot.question is not None
        return answers.get(slot.question.id + ".done") is True
    return answers.get(slot.key) is not None


def is_required(slot: Slot, answers: Mapping[str, JSON]) -> bool:
    if slot.part in ("concerned", "other"):
        return True
    assert slot.question is not None
    if slot.part == "adder":
        return item_count(answers, slot.question.id) < slot.question.min_items
    return slot.question.required


def missing(flow: Flow, answers: Mapping[str, JSON]) -> list[tuple[int, Slot]]:
    """Required slots without an answer, with their number (from 1)."""
    return [(number, slot) for number, slot in enumerate(slots(flow, answers), 1)
            if is_required(slot, answers) and not is_answered(slot, answers)]


def applicable_answers(flow: Flow, answers: Mapping[str, JSON]) -> dict[str, JSON]:
    """The answers that count: those of applicable slots, in flow order."""
    kept: dict[str, JSON] = {}
    for slot in slots(flow, answers):
        if slot.part == "adder":
            assert slot.question is not None
            kept[slot.question.id] = item_count(answers, slot.question.id)
        elif slot.key in answers:
            kept[slot.key] = answers[slot.key]
    for volet in flow.volets:  # repeat blocks that are full have no adder slot
        for q in volet.questions:
            if q.kind is Kind.REPEAT and q.id not in kept and any(k.startswith(q.id + "[") for k in kept):
                kept[q.id] = item_count(answers, q.id)
    return kept
