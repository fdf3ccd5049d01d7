"""The conversation modes as a `transitions` state machine.

One Machine is built per flow at load time and shared by every conversation
(`model=None`): an event is fired on a small per-event model object, so a
conversation costs no memory between events. Firing a trigger that is not
allowed in the current mode raises: the engine never moves to a mode it did
not mean to.
"""
from __future__ import annotations

from transitions import Machine

MODES = ["new", "asking", "confirming", "idle"]

TRANSITIONS = [
    {"trigger": "begin", "source": ["new", "asking", "idle", "confirming"], "dest": "asking"},
    {"trigger": "finish", "source": ["new", "asking", "idle", "confirming"], "dest": "idle"},
    {"trigger": "ask_confirmation", "source": ["asking", "idle", "confirming"], "dest": "confirming"},
    {"trigger": "confirm", "source": "confirming", "dest": "idle"},
]


class ModeModel:
    """The per-event model the shared machine moves."""
    __slots__ = ("state",)

    def __init__(self, state: str) -> None:
        self.state = state


class Modes:
    def __init__(self) -> None:
        self._machine = Machine(model=None, states=MODES, transitions=TRANSITIONS,
                                initial="new", auto_transitions=False)
        self._events = self._machine.events

    def fire(self, mode: str, trigger: str) -> str:
        model = ModeModel(mode)
        self._events[trigger].trigger(model)
        return model.state


_shared: Modes | None = None


def modes() -> Modes:
    """The one shared mode machine (its transitions are the same for every flow)."""
    global _shared
    if _shared is None:
        _shared = Modes()
    return _shared
