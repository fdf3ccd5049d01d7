"""Receiving by polling: a platform that hands updates in batches and takes the next
request as the acknowledgement of the last one (Telegram's getUpdates and its offset).

How this file works:
- One loop polls while this process holds the poller lease (if any), stands
  by otherwise, and backs off on failures (`Unreachable` from the source:
  its message is logged; `Refused` ends the loop).
- A batch goes to the sink's `batch` in ONE transaction (a savepoint per
  update: group commit), or update by update (one commit each, updates of
  one sender in order, different senders side by side) to a plain sink.
  Only when every update of a batch is committed (or set aside after
  MAX_FAILURES attempts) is the batch acknowledged: the next fetch carries
  offset = highest id + 1. A crash before that gets the batch again; the
  store's processed-events set drops what was already done.
- Stopping waits for the batch in hand to be committed; only a fetch
  waiting for news (or a pause before a retry) is cancelled.

The source (the transport's I/O adapter) says how to fetch, how to turn an
update into an event (`prepare`: None when there is nothing to store), what
the dispatcher runs first in the event's transaction (`within`, optional: its
`Step`, given the raw update) and what to do once it is committed (`after`:
answer a button press).
"""
from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any, Callable, Protocol

from ..core.events import Inbound
from .clock import Clock
from .lease import Lease
from .runner import Backoff
from .transport import Handled, Lookup, Refused, Sink, Step, Unreachable

log = logging.getLogger(__name__)
MAX_FAILURES = 5


class Source(Protocol):
    clock: Clock

    async def fetch(self, offset: int | None, timeout: float) -> list[dict[str, Any]]: ...

    async def prepare(self, raw: dict[str, Any]) -> tuple[Inbound | None, Any]: ...

    async def after(self, raw: dict[str, Any], inbound: Inbound, handled: Handled,
                    extra: Any) -> None: ...

    def sender(self, raw: dict[str, Any]) -> tuple[str, str]: ...


Within = Callable[[Lookup, Inbound, dict[str, Any]], "Inbound | str"]


class Polling:
    def __init__(self, source: Source, *, poll_timeout: float = 25, lease: Lease | None = None,
                 role: str = "receives updates"):
        self.source, self.clock = source, source.clock
        self.poll_timeout = poll_timeout
        self.lease = lease                  # one poller among several processes
        self.role = role                    # what the lease holder does, for the logs
        self.offset: int | None = None
        self.task: asyncio.Task[None] | None = None
        self.received_at: datetime | None = None   # last fetch that answered (health)
        self.connected = False
        self._failures: dict[int, int] = {}
        self._stopping = False
        self._processing = False

    def start(self, sink: Sink) -> None:
        self.task = asyncio.create_task(self.run(sink))

    async def stop(self) -> None:
        """The batch in hand is committed; nothing is fetched after it."""
        self._stopping = True
        self.connected = False
        if self.task is not None:
            if not self._processing:     # waiting for news or for a retry: nothing in hand
                self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
            self.task = None
        if self.lease is not None and self.lease.held:
            try:
                self.lease.release()        # another process takes over at once
            except Exception:  # noqa: BLE001 - it expires by itself
                log.warning("could not release the poller lease; it expires in %.0f s", self.lease.ttl)

    async def run(self, sink: Sink) -> None:
        backoff = Backoff()
        while not self._stopping:
            if self.lease is not None and not await self._hold_lease():
                await self.clock.sleep(self.lease.renew_every)
                continue
            try:
                await self.poll_once(sink, self._timeout())
                backoff.reset()
            except asyncio.CancelledError:
                raise
            except Refused as exc:
                log.critical("%s", exc)
                raise
            except Unreachable as exc:
                delay = backoff.pause()
                log.warning("%s; trying again in %.0f s", exc, delay)
                await self.clock.sleep(delay)
            except Exception:  # logged; network, database: wait and retry
                delay = backoff.pause()
                log.warning("polling failed; retrying in %.0f s", delay, exc_info=True)
                await self.clock.sleep(delay)

    def _timeout(self) -> float:
        """A long poll shorter than the lease's renewal period, so the holder keeps it."""
        if self.lease is None:
            return self.poll_timeout
        return min(self.poll_timeout, max(1, int(self.lease.renew_every)))

    async def _hold_lease(self) -> bool:
        assert self.lease is not None
        held = await self.lease.take_turn(self.role)
        if not held and not self.lease.failed:     # standing by, healthy: another one receives
            self.received_at, self.connected = self.clock.now(), True
        return held

    async def poll_once(self, sink: Sink, timeout: float = 0) -> int:
        """One fetch; handle the batch; acknowledge it on the next fetch if all committed."""
        try:
            updates = await self.source.fetch(self.offset, timeout)
        except Exception:
            self.connected = False
            raise
        self.received_at, self.connected = self.clock.now(), True
        if not updates:
            return 0
        self._processing = True
        try:
            committed = await self.process_batch(updates, sink)
        finally:
            self._processing = False
        if not committed:
            raise RuntimeError("an update could not be committed; the batch will come again")
        self.offset = max(int(u["update_id"]) for u in updates) + 1
        return len(updates)

    async def process_batch(self, updates: list[dict[str, Any]], sink: Sink) -> bool:
        """The batch in one commit when the sink takes batches (`sink.batch`); else updates
        of one sender in order, different senders side by side, one commit each."""
        together = getattr(sink, "batch", None)
        if together is not None:
            return await self._together(updates, together, getattr(sink, "committed", None))
        groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for raw in updates:
            groups.setdefault(self.source.sender(raw), []).append(raw)
        done = await asyncio.gather(*(self._in_order(g, sink) for g in groups.values()))
        return all(done)

    async def _in_order(self, updates: list[dict[str, Any]], sink: Sink) -> bool:
        for raw in updates:
            try:
                await self.process(raw, sink)
                self._failures.pop(int(raw.get("update_id", 0)), None)
            except Exception as exc:  # noqa: BLE001 - counted; the batch comes again
                if not self._failed(raw, exc):
                    return False
        return True

    def _step(self, raw: dict[str, Any]) -> Step | None:
        """The source's `within` for this update, as the dispatcher's step."""
        within: Within | None = getattr(self.source, "within", None)
        if within is None:
            return None
        return lambda lookup, inbound: within(lookup, inbound, raw)

    async def _together(self, updates: list[dict[str, Any]], batch: Any, committed: Any) -> bool:
        """Group commit: every update's event in one transaction (a savepoint each), then
        `after` each, then `committed(chats)` (the replies may leave). False while a failed
        update is to be fetched again."""
        prepared: list[tuple[dict[str, Any], Inbound, Any]] = []
        ok = True
        for raw in updates:
            try:
                inbound, extra = await self.source.prepare(raw)
            except Exception as exc:  # noqa: BLE001 - counted; the batch comes again
                ok = self._failed(raw, exc) and ok
                continue
            if inbound is not None:
                prepared.append((raw, inbound, extra))
        steps = [self._step(raw) for raw, _, _ in prepared]
        inbounds = [inbound for _, inbound, _ in prepared]
        results = (await (batch(inbounds, steps=steps) if any(steps) else batch(inbounds))
                   if prepared else [])
        chats = set()
        for (raw, inbound, extra), result in zip(prepared, results):
            if isinstance(result, Exception):
                ok = self._failed(raw, result) and ok
                continue
            self._failures.pop(int(raw.get("update_id", 0)), None)
            await self.source.after(raw, inbound, result, extra)
            if result.outbox_ids:
                chats.add(inbound.chat_id)
        if committed is not None:
            committed(chats)
        return ok

    async def process(self, raw: dict[str, Any], sink: Sink) -> None:
        """One update: to the sink (commit), then `after` (webhook mode too)."""
        inbound, extra = await self.source.prepare(raw)
        if inbound is None:
            return
        step = self._step(raw)
        handled = await (sink(inbound, step) if step is not None else sink(inbound))
        await self.source.after(raw, inbound, handled, extra)

    def _failed(self, raw: dict[str, Any], exc: BaseException) -> bool:
        """Count a failure; True once the update is set aside (it is acknowledged anyway)."""
        update_id = int(raw.get("update_id", 0))
        failures = self._failures[update_id] = self._failures.get(update_id, 0) + 1
        log.error("update %s failed (%d time(s))", update_id, failures, exc_info=exc)
        if failures < MAX_FAILURES:
            return False
        log.error("update %s skipped after %d failures", update_id, failures)
        return True
