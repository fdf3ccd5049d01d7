"""The conversation modes: the one place where a mode changes.

How this file works:
- `Mode` and `Trigger` name the four modes and what moves between them; they
  are `str` enums, so the stored state keeps its JSON text (`"mode": "asking"`).
- `MACHINE` is a `transitions` Machine: its transitions say, for each trigger,
  from which modes it applies, where it leads, and under which conditions
  (`Condition`, what the engine checked by hand before firing). It is the
  source of truth.
- Callers fire; the machine decides. `fire(mode, trigger, facts)` returns the
  new mode, or a `Refused` naming the condition that failed first (or none:
  the trigger does not apply in that mode). Nothing raises; the engine turns a
  refusal into what it says (/deposer with answers missing lists them).
- `facts` answers a condition for this event (`Turn.holds`), asked only when a
  transition has that condition, in the Machine's order.
- Speed: firing through `transitions` builds event objects and walks its
  callbacks on every call. At import, the Machine's transitions are read into
  `TABLE` ((mode, trigger) -> the candidate transitions, in order), and from it
  `PLAIN` (the transitions without conditions, which `Turn.fire` reads first)
  and `_GUARDED`, keyed by the members' texts; `fire` reads those.
  tests/test_machine_table.py fires every trigger in every mode,
  with every condition true or false, through the table and through the
  Machine itself, against a table written by hand.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Callable, Final, Mapping

from transitions import Machine


class Mode(StrEnum):
    NEW = "new"                  # nothing said yet: the first message gets the welcome
    ASKING = "asking"            # a question is put (the cursor)
    CONFIRMING = "confirming"    # /deposer showed the recap and asks "submit?"
    IDLE = "idle"                # no question left to put


class Trigger(StrEnum):
    BEGIN = "begin"                          # a question is put
    FINISH = "finish"                        # no open question is left
    ASK_CONFIRMATION = "ask_confirmation"    # /deposer: recap, then "submit?"
    CONFIRM = "confirm"                      # "yes" to that question: submitted
    LEAVE = "leave"                          # another command, or a refused "yes", leaves the confirmation
    CANCEL = "cancel"                        # /annuler (or "no") while confirming
    RESTART = "restart"                      # the conversation now serves another candidature


class Condition(StrEnum):
    ACCEPTING = "accepting"              # the campaign takes answers now
    RESPONSIBLE = "responsible"          # the sender is the candidature's responsible
    COMPLETE = "complete"                # no required answer is missing
    CHECKED = "checked"                  # no answer copied from last year is left to check
    CLAIM_VERIFIED = "claim_verified"    # the body's claim is verified
    ELU_CONFIRMED = "elu_confirmed"      # the élu référent confirmed
    SOMETHING_NEW = "something_new"      # never submitted, or changed since


# The members bound once, for the code that runs on every answer: on Python 3.11 reading a
# member off its Enum class (`Mode.ASKING`) goes through the metaclass's __getattr__ hook,
# about ten times the cost of a module global.
NEW: Final = Mode.NEW
ASKING: Final = Mode.ASKING
CONFIRMING: Final = Mode.CONFIRMING
IDLE: Final = Mode.IDLE
BEGIN: Final = Trigger.BEGIN
FINISH: Final = Trigger.FINISH
ASK_CONFIRMATION: Final = Trigger.ASK_CONFIRMATION
CONFIRM: Final = Trigger.CONFIRM
LEAVE: Final = Trigger.LEAVE
CANCEL: Final = Trigger.CANCEL
RESTART: Final = Trigger.RESTART

_ALL = [m.value for m in Mode]
_READY = [Condition.ACCEPTING, Condition.COMPLETE, Condition.CHECKED,
          Condition.CLAIM_VERIFIED, Condition.ELU_CONFIRMED]

TRANSITIONS: list[dict[str, Any]] = [
    {"trigger": Trigger.BEGIN, "source": _ALL, "dest": Mode.ASKING},
    {"trigger": Trigger.FINISH, "source": _ALL, "dest": Mode.IDLE},
    {"trigger": Trigger.ASK_CONFIRMATION, "source": [Mode.ASKING, Mode.IDLE, Mode.CONFIRMING],
     "dest": Mode.CONFIRMING,
     # in the order the person is told what stands in the way
     "conditions": [Condition.ACCEPTING, Condition.RESPONSIBLE, Condition.COMPLETE, Condition.CHECKED,
                    Condition.CLAIM_VERIFIED, Condition.ELU_CONFIRMED, Condition.SOMETHING_NEW]},
    # checked again at the "yes": the campaign may have closed, a colleague changed an answer
    {"trigger": Trigger.CONFIRM, "source": Mode.CONFIRMING, "dest": Mode.IDLE, "conditions": _READY},
    {"trigger": Trigger.LEAVE, "source": Mode.CONFIRMING, "dest": Mode.ASKING},
    {"trigger": Trigger.CANCEL, "source": Mode.CONFIRMING, "dest": Mode.ASKING},
    {"trigger": Trigger.RESTART, "source": _ALL, "dest": Mode.NEW},
]


def _plain(transitions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The transitions with plain strings: `transitions` names states and callbacks by text."""
    def text(value: Any) -> Any:
        return [str(v) for v in value] if isinstance(value, list) else str(value)
    return [{k: text(v) for k, v in t.items()} for t in transitions]


class Model:
    """The per-event model the shared Machine moves: a mode and the event's facts.

    Each condition is a method of that name asking `facts`."""

    def __init__(self, mode: Mode, facts: Callable[[Condition], bool]) -> None:
        self.state: str = mode.value
        self.facts = facts


for _condition in Condition:
    setattr(Model, _condition.value, lambda self, c=_condition: self.facts(c))


MACHINE = Machine(model=None, states=_ALL, transitions=_plain(TRANSITIONS), initial=Mode.NEW.value,
                  auto_transitions=False, ignore_invalid_triggers=False)


@dataclass(frozen=True, slots=True)
class Refused:
    """A trigger that did not apply: not from this mode (`condition` None), or a condition failed."""
    mode: Mode
    trigger: Trigger
    condition: Condition | None = None


Candidate = tuple[Mode, tuple[tuple[Condition, bool], ...]]   # destination, (condition, wanted)


def _table(machine: Machine) -> Mapping[tuple[Mode, Trigger], tuple[Candidate, ...]]:
    """(mode, trigger) -> the Machine's transitions for it, in its order, as plain values."""
    table: dict[tuple[Mode, Trigger], tuple[Candidate, ...]] = {}
    for trigger in Trigger:
        event = machine.events[trigger.value]
        for source, transitions in event.transitions.items():
            mode = Mode(source)
            table[mode, trigger] = tuple(
                (Mode(t.dest) if t.dest is not None else mode,
                 tuple((Condition(str(c.func)), bool(c.target)) for c in t.conditions))
                for t in transitions)
    return table


TABLE = _table(MACHINE)
MODE_OF: Mapping[str, Mode] = {m.value: m for m in Mode}
# The same table as `fire` reads it, keyed by the members' plain texts (hashing an Enum
# member runs its class's __hash__ lookup, a few times dearer): trigger -> source -> the
# destination when the transition has no condition, else its candidates.
PLAIN: Mapping[str, Mapping[str, Mode]] = {
    trigger.value: {mode.value: TABLE[mode, trigger][0][0] for mode in Mode
                    if (mode, trigger) in TABLE and TABLE[mode, trigger] == ((TABLE[mode, trigger][0][0], ()),)}
    for trigger in Trigger}
_GUARDED: Mapping[str, Mapping[str, tuple[Candidate, ...]]] = {
    trigger.value: {mode.value: TABLE[mode, trigger] for mode in Mode
                    if (mode, trigger) in TABLE and mode.value not in PLAIN[trigger.value]}
    for trigger in Trigger}


def _always(condition: Condition) -> bool:
    raise AssertionError(f"condition {condition} asked of a trigger that has none")


def fire(mode: Mode, trigger: Trigger, facts: Callable[[Condition], bool] = _always) -> Mode | Refused:
    """The mode after `trigger`, or why it does not apply (the Machine's rules, read from TABLE)."""
    source: str = mode._value_
    dest = PLAIN[trigger._value_].get(source)
    if dest is not None:
        return dest
    candidates = _GUARDED[trigger._value_].get(source)
    if candidates is None:
        return Refused(MODE_OF[source], trigger)
    failed: Condition | None = None
    for dest, conditions in candidates:
        for condition, wanted in conditions:
            if bool(facts(condition)) is not wanted:
                failed = condition
                break
        else:
            return dest
    return Refused(mode, trigger, failed)


def can(mode: Mode, trigger: Trigger, facts: Callable[[Condition], bool] = _always) -> bool:
    return not isinstance(fire(mode, trigger, facts), Refused)


def fire_machine(mode: Mode, trigger: Trigger, facts: Callable[[Condition], bool]) -> Mode | None:
    """The same question asked of the `transitions` Machine itself (slow; for the table test)."""
    from transitions import MachineError
    model = Model(mode, facts)
    try:
        moved = MACHINE.events[trigger.value].trigger(model)
    except MachineError:
        return None
    return Mode(model.state) if moved else None


__all__ = ["MACHINE", "MODE_OF", "PLAIN", "TABLE", "Condition", "Mode", "Refused", "Trigger", "can", "fire"]
