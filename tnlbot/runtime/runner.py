"""The runner: the one loop every transport plugs into.

How this file works:
- `run(open_transport)` is a whole bot process: SIGTERM and SIGINT set the
  stop event; `open_transport()` is called until it returns a connected
  transport, waiting 1, 2, 4... up to 60 s while it raises `Unreachable`
  (the one back-off loop); `Refused` ends the run with status 1.
- `serve(transport, stop)` runs a connected transport until `stop` is set:
  rows a crash left `sending` are settled (`Relay.recover`; a transport whose
  resends are idempotent gets them back as pending), what is due is sent
  first, then the transport starts with the runner's sink, the relay and the
  scheduler (when there is one) run beside it. A transport that has a
  `task` (its receiving loop) ends the run when that task ends.
- The sink: `dispatcher.submit` (one transaction; committed when it returns),
  then wake the relay. A transport with `inline_send = True` (the terminal)
  has its replies sent before the sink returns, so they come before the next
  input. Stopping: the relay and the scheduler end their current round,
  then the transport stops (the batch in hand is committed).

Optional transport attributes: `task` (an asyncio task that receives),
`inline_send` (send replies inside the sink), `idempotent_resend` (a resend
cannot duplicate: Matrix transaction ids), `rate_limit` (messages per second
per chat and overall, for the relay).

Seams for operations (health, metrics): `Runner.status` is a `RunnerStatus`
(started/stopping instants, last committed receive, counts), updated in
place; `on_change(what, status)` is called on "started", "received",
"stopping" and "stopped".
"""
from __future__ import annotations

import asyncio
import logging
import signal
from dataclasses import dataclass, field
from datetime import datetime
from typing import Awaitable, Callable, Protocol

from ..core.events import Inbound
from .clock import Clock
from .dispatcher import Dispatcher
from .relay import Relay
from .transport import Handled, Refused, Transport, Unreachable

log = logging.getLogger(__name__)
FIRST_PAUSE = 1.0
LONGEST_PAUSE = 60.0


class Ticking(Protocol):
    """A periodic job run beside the transport (the campaigns' scheduler)."""

    async def run(self, stop: asyncio.Event) -> None: ...


@dataclass
class RunnerStatus:
    transport: str = ""
    started_at: datetime | None = None
    stopping_at: datetime | None = None
    last_receive: datetime | None = None    # the last inbound event committed
    received: int = 0
    duplicates: int = 0


@dataclass
class Backoff:
    """Pauses of 1, 2, 4... seconds up to `longest`, back to `first` after a success."""
    first: float = FIRST_PAUSE
    longest: float = LONGEST_PAUSE
    _next: float = 0.0

    def pause(self) -> float:
        current = self._next or self.first
        self._next = min(current * 2, self.longest)
        return current

    def reset(self) -> None:
        self._next = 0.0


async def wait_for_stop(stop: asyncio.Event, seconds: float) -> bool:
    """Wait `seconds` (real time) or until `stop` is set; True when stopped."""
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except asyncio.TimeoutError:
        return False
    return True


@dataclass
class Runner:
    dispatcher: Dispatcher
    relay: Relay
    clock: Clock
    scheduler: Ticking | None = None
    on_change: Callable[[str, RunnerStatus], None] | None = None
    status: RunnerStatus = field(default_factory=RunnerStatus)

    async def run(self, open_transport: Callable[[], Awaitable[Transport]],
                  stop: asyncio.Event | None = None, *, signals: bool = True) -> int:
        """A whole process: connect with back-off, then serve until a signal; the exit status."""
        stop = stop or asyncio.Event()
        if signals:
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, stop.set)
        try:
            transport = await self.connect(open_transport, stop)
        except Refused as exc:
            log.critical("%s", exc)
            return 1
        if transport is None:
            return 0
        return await self.serve(transport, stop)

    async def connect(self, open_transport: Callable[[], Awaitable[Transport]],
                      stop: asyncio.Event) -> Transport | None:
        """`open_transport()` until it works (None if stopped first); `Refused` goes up."""
        backoff = Backoff()
        while not stop.is_set():
            try:
                return await open_transport()
            except Unreachable as exc:
                pause = backoff.pause()
                log.warning("%s; trying again in %.0f s", exc, pause)
                await wait_for_stop(stop, pause)
        return None

    async def serve(self, transport: Transport, stop: asyncio.Event, *, schedule: bool = True) -> int:
        """Receive and send until `stop` is set (or the transport's task ends)."""
        self.relay.add(transport)
        if getattr(transport, "idempotent_resend", False):
            self.relay.store.resume_interrupted(transport.name)
        self.relay.recover()
        await self.relay.flush(transport.name)   # resends first: replies to them can then match
        inline = getattr(transport, "inline_send", False)
        await transport.start(self._sink(transport.name) if inline else self.sink)
        self._changed("started", transport.name)
        tasks = [asyncio.create_task(self.relay.run(stop))]
        if schedule and self.scheduler is not None:
            tasks.append(asyncio.create_task(self.scheduler.run(stop)))
        receiving = getattr(transport, "task", None)
        waiting = {asyncio.create_task(stop.wait()), *tasks}
        if receiving is not None:
            waiting.add(receiving)
        done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        failed = receiving in done and not receiving.cancelled() and receiving.exception() is not None
        stop.set()
        self._changed("stopping")
        await asyncio.gather(*(waiting - {receiving}), return_exceptions=True)
        await transport.stop()       # after the relay's last round: no send is cut short
        self._changed("stopped")
        return 1 if failed else 0

    async def sink(self, inbound: Inbound) -> Handled:
        """Commit one inbound event, then wake the relay."""
        handled = await self.dispatcher.submit(inbound)
        self.relay.wake.set()
        self._received(handled)
        return handled

    def _sink(self, name: str) -> Callable[[Inbound], Awaitable[Handled]]:
        async def sink_and_send(inbound: Inbound) -> Handled:
            handled = await self.dispatcher.submit(inbound)
            self._received(handled)
            await self.relay.flush(name)
            return handled
        return sink_and_send

    def _received(self, handled: Handled) -> None:
        self.status.received += 1
        self.status.duplicates += handled.duplicate
        self.status.last_receive = self.clock.now()
        if self.on_change is not None:
            self.on_change("received", self.status)

    def _changed(self, what: str, transport: str = "") -> None:
        if what == "started":
            self.status.transport, self.status.started_at = transport, self.clock.now()
        elif what == "stopping":
            self.status.stopping_at = self.clock.now()
        if self.on_change is not None:
            self.on_change(what, self.status)
