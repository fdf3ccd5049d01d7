"""What every transport offers the runtime."""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Awaitable, Callable, Protocol

from ..core.events import Inbound
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


# Called by a transport for each inbound event; returns once it is committed.
Sink = Callable[[Inbound], Awaitable[object]]


class Transport(Protocol):
    name: str

    async def start(self, sink: Sink) -> None:
        """Start receiving; hand each inbound to `sink`, acknowledge after it returns."""

    async def send(self, row: OutboxRow) -> SendResult:
        """Deliver one outbox row."""

    async def stop(self) -> None:
        """Stop receiving and release connections."""
