"""Matrix, the receiving side: /sync batches handed to the dispatcher, then acknowledged.

How this file works:
- One long-polling /sync at a time. Each batch: accept or refuse invitations
  (allow-list), then for each joined room read its timeline (matrix_rooms)
  into Inbound values and the transport's own notices (matrix_events).
- Nothing here reads the store about an event before its transaction: what
  needs it (which question a reaction answers, whether an edited message was
  handled, the language of a notice) is the event's `Step`, run by the
  dispatcher first thing in the event's savepoint, through its `Lookup`. A
  notice goes as a stand-in event whose step settles it (nothing is stored
  for it) and queues its text, written with the sync token.
- The sink takes the batch's events together (group commit: one transaction,
  a savepoint per event, `sink.batch`), and the same transaction stores the
  notices and the sync token after them (`then`); then the relay is woken
  (its one loop sends them: a second flush beside it could pass a row held by
  a 429 and break the order of a room). A crash before that commit replays the batch, and
  the dispatcher's processed-events table (external id = event id) drops
  what was done. A long batch (a back-fill) goes in chunks, each waiting for
  the replies already queued for its rooms. A sink without `batch` gets the
  events one by one.
- A batch with nothing to handle (the echo of the bot's own messages) stores
  its token only every TOKEN_EVERY: a replay of it changes nothing.
- First start (no stored token): timeline limit 0, so old history is never
  answered; invitations still arrive.
- A batch that fails (network, store) is not acknowledged: it is fetched
  again after a pause; an event that fails is tried again alone, then set
  aside.
"""
from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Awaitable, Callable, Mapping

from aiohttp import ClientError
from nio import AsyncClient, SyncError, SyncResponse
from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from ..core.events import Addressed, Inbound, InboundKind, Outgoing, OutKind
from ..i18n import Catalog
from ..runtime.attachments import Keep
from ..runtime.clock import Clock
from ..runtime.transport import Lookup, Sink, Step
from ..store import Store
from . import matrix_crypto as crypto
from .matrix_events import Deferred, EventReader, Notice
from .matrix_rooms import BatchFailed, Members, answer_invitation, timeline
from .matrix_render import NAME, Allow, SentPrompt

log = logging.getLogger(__name__)
TOKEN = "matrix.sync_token"
QUIET = {"types": []}
EVENT_ATTEMPTS = 3
BACKLOG = 8             # replies queued for a room before its next event waits for them
CHUNK = 4               # events committed together (a back-fill goes in several commits)
TOKEN_EVERY = timedelta(seconds=30)   # a batch with nothing to handle stores its token this often


def sync_filter(timeline_limit: int) -> dict[str, Any]:
    return {"presence": QUIET, "account_data": QUIET,
            "room": {"timeline": {"limit": timeline_limit}, "ephemeral": QUIET,
                     "account_data": QUIET}}


class Receiver:
    def __init__(self, client: AsyncClient, store: Store, catalog: Catalog, allow: Allow,
                 sink: Sink, wake: Callable[[], None], clock: Clock, members: Members,
                 quiet: Callable[[], Awaitable[None]], *, timeline_limit: int = 10,
                 poll_ms: int = 30_000, recent: Mapping[str, SentPrompt] | None = None,
                 keep: Keep | None = None):
        self.client = client
        self.quiet = quiet
        self.clock = clock
        self.members = members
        self.store = store
        self.catalog = catalog
        self.allow = allow
        self.sink = sink
        self.wake = wake
        self.timeline_limit = timeline_limit
        self.poll_ms = poll_ms
        self.reader = EventReader(client, allow, members, recent if recent is not None else {}, keep)
        self.stopping = asyncio.Event()
        self.batches = 0
        self.received_at: datetime | None = None     # the last /sync that answered (health)
        self.connected = False
        self.since: str | None = None    # where the next /sync starts: the stored token at start
        self._token_due = clock.now()    # when a batch with nothing to handle stores its token

    @property
    def me(self) -> str:
        return self.client.user_id

    # ------------------------------------------------------------ the loop
    async def run(self) -> None:
        pause = 1.0
        self.since = self.store.checkpoint(TOKEN)
        while not self.stopping.is_set():
            response: SyncResponse | SyncError | None = None
            try:
                token = self.since
                response = await self._poll(token)
                if response is None:
                    return
                self.connected = not isinstance(response, SyncError)
                if isinstance(response, SyncError):
                    raise BatchFailed(str(response))
                self.received_at = self.clock.now()
                await self.handle(response, token)
                pause = 1.0
                continue
            except (BatchFailed, ClientError, asyncio.TimeoutError, OSError) as exc:
                log.warning("Matrix batch not acknowledged (%s); fetched again in %.0f s", exc, pause)
            except Exception:  # a store outage or a bug: keep the loop, replay the batch later
                log.exception("Matrix batch not acknowledged; fetched again in %.0f s", pause)
            wait = (response.retry_after_ms or 0) / 1000 if isinstance(response, SyncError) else 0
            await self._sleep(max(wait, pause))
            pause = min(pause * 2, 30.0)

    async def _poll(self, token: str | None) -> SyncResponse | SyncError | None:
        """One /sync, cut short by stop(); a network error comes back as a value."""
        limit = self.timeline_limit if token else 0
        self.client.next_batch = token or ""   # nio would fall back on its own token: SQL rules
        poll = asyncio.ensure_future(self.client.sync(
            timeout=self.poll_ms if token else 0, since=token, sync_filter=sync_filter(limit)))
        stop = asyncio.ensure_future(self.stopping.wait())
        await asyncio.wait({poll, stop}, return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        if not poll.done():
            poll.cancel()
            return None
        try:
            return poll.result()
        except Exception as exc:  # noqa: BLE001 - network, or an answer nio could not read
            return SyncError(f"sync failed: {exc!r}")

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self.stopping.wait(), timeout=seconds)
        except asyncio.TimeoutError:
            pass

    # ------------------------------------------------------------ one batch
    async def handle(self, response: SyncResponse, since: str | None) -> None:
        """Hand every event of one batch to the sink, then store the new token."""
        await crypto.maintain(self.client)   # new devices known before anything is answered
        await self.quiet()   # replies and reactions may point at the message being sent
        for room_id, info in response.rooms.invite.items():
            await answer_invitation(self.client, self.allow, room_id, info.invite_state)
        inbounds: list[tuple[Inbound, Step | None]] = []
        notices: dict[str, Addressed] = {}     # queued by the events' steps, by dedup key
        for room_id, info in response.rooms.join.items():
            if any(e.source.get("type") == "m.room.member" for e in [*info.state, *info.timeline.events]):
                self.members.changed(room_id)
            join, events = await timeline(self.client, room_id, info.timeline, since)
            for found in [self.reader.greet(room_id, join) if join else None,
                          *[await self.reader.read(room_id, event) for event in events]]:
                if isinstance(found, Inbound):
                    inbounds.append((found, None))
                elif isinstance(found, Notice):
                    inbounds.append((stand_in(found), partial(self._noticed, notices, found)))
                elif isinstance(found, Deferred):
                    inbounds.append((found.inbound, partial(self._within, notices, found)))
        handled = bool(inbounds or response.rooms.invite) or not since
        await self._submit_all(inbounds, response.next_batch, notices, handled)
        self.since = response.next_batch
        self.batches += 1

    # ------------------------------------------------------------ committing
    async def _submit_all(self, inbounds: list[tuple[Inbound, Step | None]], token: str,
                          notices: dict[str, Addressed], handled: bool) -> None:
        """The batch's events committed (together when the sink takes batches, in chunks that
        wait for a room's queued replies), its notices and its token in the last chunk's
        transaction: a crash before that replays the batch, and what was committed is not
        done twice. A batch with nothing to handle (the echo of the bot's own messages)
        stores its token only now and then: replaying it changes nothing."""
        together = getattr(self.sink, "batch", None)
        acknowledge = handled or self.clock.now() >= self._token_due
        chunks = [inbounds[i:i + CHUNK] for i in range(0, len(inbounds), CHUNK)] or [[]]
        for number, chunk in enumerate(chunks):
            for room_id in sorted({i.chat_id for i, _ in chunk}):
                await self._caught_up(room_id)
            last = number == len(chunks) - 1
            then = partial(self._acknowledge, token, notices) if last and acknowledge else None
            if together is not None and (chunk or then is not None):
                await self._together(chunk, together, then)
            else:
                for inbound, step in chunk:
                    await self._submit(inbound, step)
                if then is not None:
                    with self.store.begin() as conn:
                        then(conn)
        if notices:
            self.wake()

    # ------------------------------------------------------------ the events' steps
    def _within(self, notices: dict[str, Addressed], deferred: Deferred, lookup: Lookup,
                inbound: Inbound) -> Inbound | str:
        """A deferred event's step: its meaning, read in its transaction."""
        found = deferred.meaning(lookup)
        if isinstance(found, Inbound):
            return found
        if isinstance(found, Notice):
            return self._noticed(notices, found, lookup, inbound)
        return ""          # nothing to handle: nothing stored

    def _noticed(self, notices: dict[str, Addressed], notice: Notice, lookup: Lookup,
                 inbound: Inbound) -> str:
        """A notice's step: its text in its addressee's language, queued with the sync token."""
        locale = lookup.conversation_locale(notice.room_id, notice.user_id) if notice.user_id else "fr"
        notices[notice.dedup_key] = Addressed(
            NAME, notice.room_id, Outgoing(OutKind.NOTICE, self.catalog(locale, notice.key)),
            notice.user_id, notice.dedup_key[:255], locale=locale)
        return ""

    def _acknowledge(self, token: str, notices: dict[str, Addressed], conn: Connection) -> None:
        """Inside the batch's transaction: the transport's notices, then the sync token."""
        rows = list(notices.values())
        if rows:
            self.store.enqueue(conn, rows, self.clock.now())
        self.store.set_checkpoint(conn, TOKEN, token)
        self._token_due = self.clock.now() + TOKEN_EVERY

    async def _together(self, chunk: list[tuple[Inbound, Step | None]], batch: Any,
                        then: Callable[[Connection], None] | None) -> None:
        """Group commit (one transaction, a savepoint per event), then the relay woken; an
        event that failed is tried again alone, then set aside."""
        inbounds, steps = [i for i, _ in chunk], [s for _, s in chunk]
        try:
            results = await (batch(inbounds, then=then, steps=steps) if any(steps)
                             else batch(inbounds, then=then))
        except DBAPIError as exc:     # the store is away: the batch is fetched again later
            raise BatchFailed(f"store unavailable: {exc.__class__.__name__}") from exc
        self.wake()       # the relay's loop sends the replies (one flush at a time: in order)
        for (inbound, step), result in zip(chunk, results):
            if isinstance(result, DBAPIError):
                raise BatchFailed(f"store unavailable: {result.__class__.__name__}")
            if isinstance(result, Exception):
                log.warning("event %s failed (%r); retrying", inbound.external_id, result)
                await self._submit(inbound, step, first=2)
            elif result.duplicate:
                log.info("event %s was already handled: skipped", inbound.external_id)
        if then is not None and any(isinstance(r, Exception) for r in results):
            with self.store.begin() as conn:     # not written with the events: one failed
                then(conn)

    async def _caught_up(self, room_id: str) -> None:
        """Back-pressure: the room's history is kept by the homeserver, so a long batch (a
        back-fill after downtime) waits for the replies already queued for a room to leave
        instead of outrunning them (the dispatcher would drop what comes too fast)."""
        while self.store.pending_for(NAME, room_id, BACKLOG) >= BACKLOG:
            if self.stopping.is_set():
                raise BatchFailed("stopping: the rest of the batch is fetched again")
            self.wake()
            await self._sleep(0.05)

    async def _submit(self, inbound: Inbound, step: Step | None = None, first: int = 1) -> None:
        for attempt in range(first, EVENT_ATTEMPTS + 1):
            try:
                handled = await (self.sink(inbound, step) if step is not None else self.sink(inbound))
                if getattr(handled, "duplicate", False):
                    log.info("event %s was already handled: skipped", inbound.external_id)
                await asyncio.sleep(0)   # let the relay send while a long batch is handled
                return
            except DBAPIError as exc:     # the store is away: the batch is fetched again later
                raise BatchFailed(f"store unavailable: {exc.__class__.__name__}") from exc
            except Exception as exc:  # a bug on one event must not stop every room
                if attempt == EVENT_ATTEMPTS:
                    log.exception("event %s dropped after %d attempts", inbound.external_id, attempt)
                    return
                log.warning("event %s failed (%r); retrying", inbound.external_id, exc)
                await asyncio.sleep(0.2 * attempt)


def stand_in(notice: Notice) -> Inbound:
    """The event a notice goes as: its step settles it, so nothing is stored for it."""
    return Inbound(NAME, notice.dedup_key, notice.room_id, notice.user_id, InboundKind.UNRECOGNISED)


__all__ = ["BatchFailed", "Members", "Receiver", "TOKEN", "sync_filter"]   # (re-exported)
