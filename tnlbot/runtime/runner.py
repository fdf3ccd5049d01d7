"""The runner: the one loop every transport plugs into (terminal, Telegram, Matrix).

How this file works:
- `run(open_transport, service=...)` is a whole bot process: the service
  installs its signal handlers (by default SIGTERM and SIGINT set `stop`)
  and opens (the operator endpoint); `open_transport()` is called until it
  returns a connected transport, waiting 1, 2, 4... up to 60 s while it
  raises `Unreachable` (the one back-off loop); `Refused` ends the run with
  status 1.
- `serve(transport, stop)` runs a connected transport until `stop` is set:
  rows a crash left `sending` are settled (`Relay.recover`: `uncertain`, never
  resent; a transport whose resends are idempotent gets them all back as
  pending, one with `resend_questions` its questions only: a person waiting
  for a question must get it, even twice), what is due is sent
  first (replies to it can then be matched), then the transport starts with
  the runner's sink, and the relay and the scheduler run beside it. A
  transport that has a `task` (its receiving loop) ends the run when that
  task ends; status 1 if it failed.
- The sink: `dispatcher.submit` (one transaction; committed when it
  returns), then wake the relay; `sink.batch(inbounds)` takes what the
  platform delivered together in one transaction (`submit_batch`: a
  savepoint per event), and `sink.committed(chats)` sends those chats'
  replies at once, beside the relay's loop. A transport with
  `inline_send = True` (the terminal) has its replies sent before the sink
  returns, so they come before the next input.
- Stopping, in this order: receiving stops (`stop_receiving`: the batch in
  hand is committed), the relay and the scheduler end their round, the
  service drains what is still due (bounded), the transport closes.

Optional transport attributes: `task`, `inline_send`, `idempotent_resend`,
`resend_questions` (questions a crash left `sending` are sent again),
`rate_limit` (per chat and overall, for the relay), `settle_later` (the relay
defers an edit settling an answered question while its chat was asked a
question within the last `settle_quiet` seconds, 1 by default; with 0, only
behind a question sent in the same flush), `stop_receiving()`.

Seams for operations: a `Service` (ops/service.py) around `run`; the
dispatcher's, relay's and scheduler's `observers` for metrics; a
transport's `received_at` and `connected` for health.
"""
from __future__ import annotations

import asyncio
import logging
import signal
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Protocol, Sequence

from sqlalchemy import Connection

from ..core.events import Inbound
from .clock import Clock
from .dispatcher import Dispatcher
from .relay import Relay
from .transport import Handled, Refused, Step, Transport, Unreachable
from .warm import warm_in_background

log = logging.getLogger(__name__)
FIRST_PAUSE = 1.0
LONGEST_PAUSE = 60.0
SETTLE_SECONDS = 10.0    # at most, for a batch's replies already on their way at a stop
Opener = Callable[[], Awaitable[Transport]]


class Ticking(Protocol):
    """A periodic job run beside the transport (the campaigns' scheduler)."""

    async def run(self, stop: asyncio.Event) -> None: ...


class Service(Protocol):
    """What operations add around a running bot (signals, health endpoint, draining)."""

    def install(self, stop: asyncio.Event) -> None: ...

    async def open(self) -> None: ...

    async def started(self, transport: Transport) -> None: ...

    async def drain(self) -> None: ...

    async def close(self, status: int) -> None: ...


class Signals:
    """The plain service: SIGTERM and SIGINT set `stop`; nothing else."""

    def install(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)

    async def open(self) -> None:
        return None

    async def started(self, transport: Transport) -> None:
        log.info("%s started", transport.name)

    async def drain(self) -> None:
        return None

    async def close(self, status: int) -> None:
        return None


@dataclass
class Backoff:
    """Pauses of 1, 2, 4... seconds up to `longest`; back to `first` after a success."""
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
    first_pause: float = FIRST_PAUSE       # of the connect back-off (tests: a few ms)

    async def run(self, open_transport: Opener, stop: asyncio.Event | None = None,
                  service: Service | None = None) -> int:
        """A whole process: connect with back-off, then serve until a signal; the exit status."""
        stop = stop or asyncio.Event()
        service = service or Signals()
        service.install(stop)
        await service.open()
        status = 0
        try:
            transport = await self.connect(open_transport, stop)
            if transport is not None:
                status = await self.serve(transport, stop, service=service)
        except Refused as exc:
            log.critical("%s", exc)
            status = 1
        finally:
            await service.close(status)
        return status

    async def connect(self, open_transport: Opener, stop: asyncio.Event) -> Transport | None:
        """`open_transport()` until it works (None if stopped first); `Refused` goes up."""
        backoff = Backoff(first=self.first_pause)
        while not stop.is_set():
            try:
                return await open_transport()
            except Unreachable as exc:
                pause = backoff.pause()
                log.warning("%s; trying again in %.0f s", exc, pause)
                await wait_for_stop(stop, pause)
        return None

    async def serve(self, transport: Transport, stop: asyncio.Event, *, schedule: bool = True,
                    service: Service | None = None) -> int:
        """Receive and send until `stop` is set (or the transport's task ends)."""
        self.relay.add(transport)
        if getattr(transport, "idempotent_resend", False):
            self.relay.store.resume_interrupted(transport.name)
        elif getattr(transport, "resend_questions", False):  # the rest: at most once
            self.relay.store.resume_interrupted_prompts(transport.name)
        self.relay.recover()
        await self.relay.flush(transport.name)
        sink = RunnerSink(self.dispatcher, self.relay, transport.name,
                          inline=getattr(transport, "inline_send", False))
        await transport.start(sink)
        if service is not None:           # a long-running runner: the first answers pay no first use
            warm_in_background(self.dispatcher.flows, self.dispatcher.catalog.locales)
            await service.started(transport)
        tasks = [asyncio.create_task(self.relay.run(stop))]
        if schedule and self.scheduler is not None:
            tasks.append(asyncio.create_task(self.scheduler.run(stop)))
        receiving = getattr(transport, "task", None)
        stopped = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait({stopped, *tasks, *([receiving] if receiving else [])},
                                     return_when=asyncio.FIRST_COMPLETED)
        failed = (receiving is not None and receiving in done and not receiving.cancelled()
                  and receiving.exception() is not None)
        stop.set()
        await self._stop(transport, sink, [stopped, *tasks], service)
        return 1 if failed else 0

    async def _stop(self, transport: Transport, sink: RunnerSink, tasks: list[asyncio.Task[Any]],
                    service: Service | None) -> None:
        stop_receiving = getattr(transport, "stop_receiving", None)
        if stop_receiving is not None:
            await stop_receiving()        # the batch in hand is committed; sending still works
        await asyncio.gather(*tasks, return_exceptions=True)
        await sink.settled(SETTLE_SECONDS)   # a batch's replies on their way land first
        if service is not None:
            await service.drain()
        await transport.stop()

    def sink(self, name: str) -> RunnerSink:
        """The sink for a transport started by hand (tests)."""
        return RunnerSink(self.dispatcher, self.relay, name)


class RunnerSink:
    """Commit, then get the replies sent: wake the relay, or (`inline`) send them before
    returning. `batch` commits what the platform delivered together; `committed(chats)`
    then sends those chats' replies at once, beside the relay's loop."""

    def __init__(self, dispatcher: Dispatcher, relay: Relay, name: str = "", inline: bool = False):
        self.dispatcher, self.relay, self.name, self.inline = dispatcher, relay, name, inline
        self.sending: set[asyncio.Task[int]] = set()

    async def __call__(self, inbound: Inbound, step: Step | None = None) -> Handled:
        handled = await self.dispatcher.submit(inbound, step)
        if self.inline:
            await self.relay.flush(self.name)
        else:
            self.relay.wake.set()
        return handled

    async def batch(self, inbounds: Sequence[Inbound],
                    then: Callable[[Connection], None] | None = None,
                    steps: Sequence[Step | None] = ()) -> list[Handled | Exception]:
        return await self.dispatcher.submit_batch(inbounds, then, steps)

    def committed(self, chats: set[str]) -> None:
        """Without send limits, those chats' replies leave at once (the relay's loop catches
        what is left, retries and deferred edits); with limits, the loop sends them oldest
        first (flushes side by side would race for the tokens, unfairly)."""
        limiter = self.relay.limiters.get(self.name)
        if limiter is not None and (limiter.per_chat or limiter.overall):
            self.relay.wake.set()
        elif chats:
            task = asyncio.create_task(self.relay.flush(self.name, chats))
            self.sending.add(task)
            task.add_done_callback(self.sending.discard)

    async def settled(self, seconds: float) -> None:
        """Wait (at most `seconds`) for replies on their way."""
        if self.sending:
            await asyncio.wait(set(self.sending), timeout=seconds)
