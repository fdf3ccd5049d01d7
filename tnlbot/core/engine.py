"""The questionnaire engine: handle(one inbound event) -> Outcome.

How this file works:
- `handle` is pure: the flow, the conversation state, the candidature
  (`Dossier`), the current answers and the event go in; the new state, the
  answer changes, the messages and an optional submission come out. No clock,
  no I/O: times arrive already rendered in the Dossier, texts as `Messages`.
- The cursor is a slot key (see walk.py). After an answer the cursor moves to
  the first slot after it that is neither answered nor skipped, wrapping to
  the start; with none left the conversation is idle. So an edit asks only
  what the change opened, then returns to where the person was.
- Bad input never changes anything: the reply names the problem and the
  question is asked again.
- Modes (new, asking, confirming, idle) move only through the machine of
  machine.py: the engine fires triggers, the machine applies or refuses
  them. A first message is never an answer: it gets the welcome and the
  first open question (and, when the candidature already has answers, a
  word that it was not recorded).
"""
from __future__ import annotations

from typing import Mapping

from .commands import dispatch
from .dialog import welcome
from .events import Inbound, InboundKind
from .flow import JSON, Flow
from .machine import NEW
from .turn import Dossier, Messages, Outcome, State, Turn
from .walk import View


def handle(flow: Flow, t: Messages, state: State, dossier: Dossier,
           answers: Mapping[str, JSON], event: Inbound, view: View | None = None) -> Outcome:
    """Answer one inbound event. `view`, when given, is the flow's walk for exactly these
    answers (an earlier Outcome's `view`): it is not computed again."""
    turn = Turn(flow, t, state, dossier, dict(answers), transport=event.transport, _view=view)
    if state.mode == NEW:
        welcome(turn, event.language)
        if answers and event.kind in _ANSWERS:
            # a person joining a candidature that already has answers (a team, a new chat):
            # what they typed before seeing a question is not taken as its answer, and they
            # are told so (a first "hello" in an empty one is just a greeting)
            turn.say_text(turn.tr("welcome_unused"))
    else:
        dispatch(turn, event)
    return turn.outcome()


_ANSWERS = (InboundKind.TEXT, InboundKind.CHOICE, InboundKind.FILE, InboundKind.TOGGLE)


__all__ = ["Dossier", "Messages", "Outcome", "State", "handle"]
