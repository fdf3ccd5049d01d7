"""The per-event working state of the engine and what it returns."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Mapping, Protocol

from .events import Outgoing, OutKind
from .frozen import quick_init
from .flow import JSON, Flow
from .machine import MODE_OF, NEW, PLAIN, RESTART, Condition, Mode, Refused, Trigger, fire
from .walk import Slot, View, missing, reads, view

# Enum members read on every event, as module constants: reading one through its class
# goes through the Enum metaclass's __getattr__ hook, a Python-level call each time
_NOTICE = OutKind.NOTICE


class Messages(Protocol):
    locales: tuple[str, ...]

    def __call__(self, locale: str, key: str, **params: str) -> str: ...


@quick_init
@dataclass(frozen=True, slots=True)
class State:
    """One person's conversation: where they are, in which language."""
    mode: Mode = NEW               # changed only by the machine (Turn.fire, restarted)
    cursor: str = ""
    locale: str = "fr"
    pending: tuple[str, ...] = ()   # multiple choice toggled, not yet validated
    skipped: tuple[str, ...] = ()   # slots put off with /passer

    def to_json(self) -> dict[str, Any]:
        # the plain text: orjson reads an Enum member through its `value` property, a Python call
        return {"mode": self.mode._value_, "cursor": self.cursor, "locale": self.locale,
                "pending": list(self.pending), "skipped": list(self.skipped)}

    @staticmethod
    def from_json(raw: Mapping[str, Any]) -> "State":
        text = raw.get("mode", "new")
        try:
            mode = MODE_OF[text]
        except KeyError:
            mode = Mode(text)       # raises ValueError: not a mode
        return State(mode, raw.get("cursor", ""), raw.get("locale", "fr"),
                     tuple(raw.get("pending", ())), tuple(raw.get("skipped", ())))

    def restarted(self, locale: str = "") -> "State":
        """The conversation starting over (it now serves another candidature): only the
        language is kept, `locale` when given."""
        mode = fire(self.mode, RESTART)
        assert not isinstance(mode, Refused), mode    # restart applies in every mode
        return State(mode, "", locale or self.locale)


@quick_init
@dataclass(frozen=True, slots=True)
class Dossier:
    """The candidature as the engine sees it; times already in local text."""
    status: str = "draft"          # draft | submitted | frozen
    version: int = 0
    submitted_at: str = ""
    amended: bool = False          # answers changed since the last submission
    accepting: bool = True         # the campaign takes answers now
    closed_text: str = ""          # why not, in the person's language
    is_responsible: bool = True
    now_local: str = ""            # this event's instant, in local text (when confirming a submission)
    allowed_volets: tuple[str, ...] = ()  # volets assigned to this member; empty: all
    elu_confirmed: bool = True     # the élu référent confirmed (checked at submission)
    to_check: int = 0              # answers copied from last year, not yet checked
    campaign_dates: tuple[str, str] = ("", "")   # the campaign's opening and closing days (ISO)
    claim_verified: bool = True    # the body's claim is verified (checked at submission)


@quick_init
@dataclass(frozen=True, slots=True)
class Outcome:
    state: State
    dossier: Dossier
    changes: tuple[tuple[str, JSON], ...] = ()
    messages: tuple[Outgoing, ...] = ()
    submission: Mapping[str, JSON] | None = None
    # the slot list for the answers after this event, when the engine computed it (a caller
    # that keeps those answers may hand it back with them to the next event)
    view: View | None = None

    def applied(self, answers: Mapping[str, JSON]) -> dict[str, JSON]:
        """A copy of `answers` as this event's changes leave them (None: removed)."""
        after = dict(answers)
        for key, value in self.changes:
            if value is None:
                after.pop(key, None)
            else:
                after[key] = value
        return after


@dataclass
class Turn:
    """Working copies for one event; frozen into an Outcome at the end."""
    flow: Flow
    t: Messages
    state: State
    dossier: Dossier
    answers: dict[str, JSON]
    changes: dict[str, JSON] = field(default_factory=dict)
    out: list[Outgoing] = field(default_factory=list)
    submission: dict[str, JSON] | None = None
    transport: str = ""          # where the event came from: a few words depend on it
    _view: View | None = None

    # ------------------------------------------------------------ helpers
    def say(self, key: str, **params: str) -> None:
        self.out.append(Outgoing(_NOTICE, self.t(self.state.locale, key, **params)))

    def say_text(self, text: str) -> None:
        self.out.append(Outgoing(_NOTICE, text))

    def tr(self, key: str, **params: str) -> str:
        return self.t(self.state.locale, key, **params)

    def set(self, key: str, value: JSON) -> None:
        if self.answers.get(key) == value:
            return
        if self._view is not None and reads(self.flow, key):
            self._view = None
        if value is None:
            self.answers.pop(key, None)
        else:
            self.answers[key] = value
        self.changes[key] = value
        if self.dossier.status == "submitted":
            self.dossier = replace(self.dossier, amended=True)

    def fire(self, trigger: Trigger) -> Refused | None:
        """Ask the machine to move; None when it did, else its refusal (the mode stays)."""
        s = self.state
        mode = PLAIN[trigger._value_].get(s.mode._value_)    # a transition without conditions
        if mode is None:
            moved = fire(s.mode, trigger, self.holds)
            if isinstance(moved, Refused):
                return moved
            mode = moved
        if mode is not s.mode:
            self.state = State(mode, s.cursor, s.locale, s.pending, s.skipped)
        return None

    def holds(self, condition: Condition) -> bool:
        """A condition of the machine's transitions, for this event."""
        d = self.dossier
        if condition is Condition.ACCEPTING:
            return d.accepting
        if condition is Condition.RESPONSIBLE:
            return d.is_responsible
        if condition is Condition.COMPLETE:
            return not missing(self.flow, self.answers)
        if condition is Condition.CHECKED:
            return not d.to_check
        if condition is Condition.CLAIM_VERIFIED:
            return d.claim_verified
        if condition is Condition.ELU_CONFIRMED:
            return d.elu_confirmed
        return not (d.status == "submitted" and not d.amended)    # SOMETHING_NEW

    def view(self) -> View:
        """The applicable slots and their positions, computed once per change of the answers."""
        if self._view is None:
            self._view = view(self.flow, self.answers)
        return self._view

    def slots(self) -> list[Slot]:
        """The applicable slots (shared: read them, never change the list)."""
        return self.view().slots

    def position(self, key: str) -> int | None:
        return self.view().index.get(key)

    def current(self) -> tuple[int, Slot] | None:
        view = self.view()
        found = view.index.get(self.state.cursor)
        return None if found is None else (found, view.slots[found])

    def outcome(self) -> Outcome:
        return Outcome(self.state, self.dossier, tuple(self.changes.items()),
                       tuple(self.out), self.submission, self._view)
