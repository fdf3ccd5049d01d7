"""The transport contract: what every transport offers the runner, and what it gets back.

A transport turns native updates into `Inbound` events and hands each one to
the `Sink` the runner gives it at `start`; the sink returns once the event is
committed (a `Handled`), and only then may the transport acknowledge the
platform. What a transport needs from the store to read an event (whom a pressed
button was for, a chat that moved, which question a reaction answers) it gets through the `Lookup` the dispatcher
hands its `Step`, inside the event's transaction. The relay calls `send` with one committed outbox row and acts on
the `SendResult`.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Awaitable, Callable, Protocol

from ..core.events import Addressed, Inbound, Outgoing
from ..core.frozen import quick_init
from ..store import OutboxRow


class SendStatus(str, Enum):
    SENT = "sent"
    RETRY = "retry"              # try again after `retry_after` seconds (429, network)
    UNREACHABLE = "unreachable"  # blocked, kicked, forbidden: never again for this chat
    UNCERTAIN = "uncertain"      # may or may not have arrived (timeout): never resent
    FAILED = "failed"            # refused for good (bad request)


@dataclass(frozen=True, slots=True)
class SendResult:
    status: SendStatus
    ref: str = ""                # platform id of what was sent (message id, event id)
    retry_after: float = 0.0
    error: str = ""
    moved_to: str = ""           # the chat moved (Telegram group -> supergroup)


@quick_init
@dataclass(frozen=True, slots=True)
class Handled:
    """What the dispatcher did with one inbound event (committed when returned)."""
    duplicate: bool = False
    outbox_ids: tuple[int, ...] = ()
    refused: str = ""            # why nothing was done (e.g. "flood": too many events held back)
    # what was queued, in order (the committed outbox rows hold the same): a transport
    # may render these at once instead of reading its rows back
    messages: tuple[Addressed, ...] = ()
    conversation: int = 0        # ids for logs and metrics (0: none, e.g. a duplicate)
    candidature: int = 0
    answers: int = 0             # answers stored (or cleared) by this event
    answer: str = ""             # refused="transport": the transport's own answer (a press's)


class Lookup(Protocol):
    """The store as a transport's `Step` sees it: one transport's rows, inside the
    transaction (and savepoint) of the event being handled."""

    def prompt_sent_as(self, chat_id: str, sent_ref: str) -> tuple[str, Outgoing] | None:
        """Whom the prompt sent as `sent_ref` was for, and its latest rendering."""

    def last_prompt_message(self, chat_id: str, user_id: str) -> str:
        """The platform id of the last prompt sent to one person in a chat ("" if none)."""

    def conversation_locale(self, chat_id: str, user_id: str) -> str:
        """The language one person speaks with the bot in a chat."""

    def person_name(self, user_id: str) -> str:
        """The name of the person behind an account ("" if unknown)."""

    def move_chat(self, old_chat: str, new_chat: str) -> int:
        """The chat got a new id: its conversations and unsent messages follow it."""

    def was_handled(self, external_id: str) -> bool:
        """Whether an event of this transport was handled already (an edit's original)."""


# A transport's last step in reading an event, run by the dispatcher first thing in the
# event's transaction: the event to handle, or (a str) it is settled here and nothing is
# stored, the str being what the transport answers the platform with ("" for nothing).
Step = Callable[[Lookup, Inbound], "Inbound | str"]


# Called by a transport for each inbound event; returns once it is committed. The
# runner's sink also has `batch(inbounds, then=None) -> list[Handled | Exception]`: what the
# platform delivered together, committed in one transaction (an event that failed: its
# exception), with `then(conn)` written in it after them when none failed (the transport's
# acknowledgement), and `committed(chats)`: those chats' replies may leave now.
# A transport's `Step` for the event, if any, goes with it.
class Sink(Protocol):
    def __call__(self, inbound: Inbound, step: "Step | None" = None) -> Awaitable[Handled]: ...


class Unreachable(Exception):
    """The platform cannot be reached now: the runner waits and connects again."""


class Refused(Exception):
    """The platform refuses the bot for good (bad token, bad login): the runner stops."""


class Transport(Protocol):
    """`start`, `send`, `stop`; see runtime/runner.py for the optional attributes."""
    name: str

    async def start(self, sink: Sink) -> None:
        """Start receiving; hand each inbound to `sink`, acknowledge after it returns."""

    async def send(self, row: OutboxRow) -> SendResult:
        """Deliver one outbox row."""

    async def stop(self) -> None:
        """Stop receiving (finishing the batch in hand) and release connections."""
