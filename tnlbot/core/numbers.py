"""The number each answer carries in /recap, /manquant and /modifier N.

Numbers belong to questions, not to positions: every question of the flow (and
every volet's "concerned?" question) gets one, in flow order, once per flow. A
condition that opens a follow-up never renumbers what comes after it; a
question that does not apply leaves its number unused. An answer inside a
repeat block is `number.item` (`14.2`: question 14 of the second item); the
free text behind an "other" choice is the question's number followed by `a`.
"""
from __future__ import annotations

from .flow import Flow, Kind
from .walk import Slot, concerned_key, remember


def _table(flow: Flow) -> dict[str, int]:
    table: dict[str, int] = {}
    for volet in flow.volets:
        if volet.optional:
            table[concerned_key(volet.id)] = len(table) + 1
        for q in volet.questions:
            if q.kind is Kind.REPEAT:
                for sub in q.questions:
                    table[sub.id] = len(table) + 1
            elif q.kind is not Kind.NOTICE:
                table[q.id] = len(table) + 1
    return table


def numbers(flow: Flow) -> dict[str, int]:
    """Question id (or `volet:ID`) -> its number, built once per flow."""
    return remember(flow, ("numbers",), lambda: _table(flow))


def label(flow: Flow, slot: Slot) -> str:
    """The number shown for a slot ('' for "add an item?" and notices)."""
    if slot.part == "adder":
        return ""
    own = numbers(flow).get(slot.key if slot.part == "concerned" else slot.question.id if slot.question else "")
    if own is None:
        return ""
    text = str(own) if slot.item < 0 else f"{own}.{slot.item + 1}"
    return text + "a" if slot.part == "other" else text


def find(flow: Flow, all_slots: list[Slot], typed: str) -> int | None:
    """The position of the slot whose number is `typed` (as shown in the recap)."""
    wanted = typed.strip().lower().removesuffix(".")   # "12." as the recap shows it
    if not wanted or len(wanted) > 16:
        return None
    return next((i for i, s in enumerate(all_slots) if label(flow, s) == wanted), None)


def highest(flow: Flow) -> int:
    return len(numbers(flow))
