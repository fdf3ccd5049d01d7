"""Matrix, the receiving side: /sync batches handed to the dispatcher, then acknowledged.

How this file works:
- One long-polling /sync at a time. Each batch: accept or refuse invitations
  (allow-list), then for each joined room turn its timeline events into
  Inbound values and hand them, in order, to the sink (which returns after
  the commit). Only when the whole batch is committed is the sync token
  stored in SQL; a crash before that replays the batch, and the dispatcher's
  processed-events table (external id = event id) drops what was done.
- First start (no stored token): timeline limit 0, so old history is never
  answered; invitations still arrive.
- A room's history from before the bot joined is skipped: events up to the
  bot's own join are ignored (and the join itself greets).
- A timeline that comes back limited after downtime is back-filled with
  /messages from `prev_batch` back to the previous token, so no answer is
  missed.
- A batch that fails (network, store) is not acknowledged: it is fetched
  again after a pause.
"""
from __future__ import annotations

import asyncio
from datetime import datetime
import hashlib
import logging
import mimetypes
from collections import OrderedDict
from dataclasses import replace
from typing import Any, Awaitable, Callable, Mapping

from aiohttp import ClientError
from nio import AsyncClient, JoinedMembersResponse, RoomMessagesError, SyncError, SyncResponse
from sqlalchemy.exc import DBAPIError

from ..core.events import Addressed, FileRef, Inbound, InboundKind, Outgoing, OutKind
from ..i18n import Catalog
from ..runtime.attachments import Keep
from ..runtime.clock import Clock
from ..runtime.transport import Sink
from ..store import Store
from . import matrix_crypto as crypto
from .matrix_render import NAME, Allow, SentPrompt, Skip, inbound_from_event

log = logging.getLogger(__name__)
TOKEN = "matrix.sync_token"
QUIET = {"types": []}
MAX_PAGES = 50
EVENT_ATTEMPTS = 3
BACKLOG = 8             # replies queued for a room before its next event waits for them


def sync_filter(timeline_limit: int) -> dict[str, Any]:
    return {"presence": QUIET, "account_data": QUIET,
            "room": {"timeline": {"limit": timeline_limit}, "ephemeral": QUIET,
                     "account_data": QUIET}}


class BatchFailed(Exception):
    """A batch could not be fully handled: it is not acknowledged."""


class StoreLookups:
    """Which prompt an event id is (from the outbox), which toggle a reaction made."""

    def __init__(self, store: Store, recent: Mapping[str, SentPrompt], keep: int = 5000):
        self.store = store
        self.recent = recent           # questions just sent, before their rows are settled
        self.keep = keep
        self.toggles: OrderedDict[str, Inbound] = OrderedDict()

    def prompt(self, room_id: str, event_id: str) -> SentPrompt | None:
        if event_id in self.recent:
            return self.recent[event_id]
        found = self.store.prompt_sent_as(NAME, room_id, event_id) if event_id else None
        return SentPrompt(event_id, found[0], found[1], room_id) if found else None

    def toggle(self, event_id: str) -> Inbound | None:
        return self.toggles.pop(event_id, None)

    def current(self, room_id: str, user_id: str) -> str:
        """Questions sent by this process are newer than any in the store."""
        for sent in reversed(list(self.recent.values())):
            if sent.room_id == room_id and sent.user_id == user_id:
                return sent.event_id
        return self.store.last_prompt_message(NAME, room_id, user_id)

    def remember(self, inbound: Inbound) -> None:
        if inbound.kind is InboundKind.TOGGLE:
            self.toggles[inbound.external_id] = inbound
            while len(self.toggles) > self.keep:
                self.toggles.popitem(last=False)


class Members:
    """Joined members of each room and their display names, fetched once, dropped on change."""

    def __init__(self, client: AsyncClient):
        self.client = client
        self.rooms: dict[str, dict[str, str]] = {}

    async def of(self, room_id: str) -> dict[str, str]:
        if room_id not in self.rooms:
            answer = await self.client.joined_members(room_id)
            if not isinstance(answer, JoinedMembersResponse):
                return {}
            self.rooms[room_id] = {m.user_id: m.display_name or m.user_id for m in answer.members}
        return self.rooms[room_id]

    def changed(self, room_id: str) -> None:
        self.rooms.pop(room_id, None)


class Receiver:
    def __init__(self, client: AsyncClient, store: Store, catalog: Catalog, allow: Allow,
                 sink: Sink, wake: Callable[[], None], clock: Clock, members: Members,
                 quiet: Callable[[], Awaitable[None]], *, timeline_limit: int = 10,
                 poll_ms: int = 30_000, recent: Mapping[str, SentPrompt] | None = None,
                 keep: Keep | None = None):
        self.client = client
        self.keep = keep          # holds an attachment's bytes until its answer is saved with them
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
        self.lookups = StoreLookups(store, recent if recent is not None else {})
        self.authors: OrderedDict[str, str] = OrderedDict()   # event id -> sender, for edits
        self.stopping = asyncio.Event()
        self.batches = 0
        self.received_at: datetime | None = None     # the last /sync that answered (health)
        self.connected = False
        self.max_download = 50 * 1024 * 1024

    @property
    def me(self) -> str:
        return self.client.user_id

    # ------------------------------------------------------------ the loop
    async def run(self) -> None:
        pause = 1.0
        while not self.stopping.is_set():
            response: SyncResponse | SyncError | None = None
            try:
                token = self.store.checkpoint(TOKEN)
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
            await self._invited(room_id, info.invite_state)
        for room_id, info in response.rooms.join.items():
            timeline = info.timeline
            events = [e.source for e in timeline.events]
            if any(e.source.get("type") == "m.room.member" for e in [*info.state, *timeline.events]):
                self.members.changed(room_id)
            joined = self._own_join(events)
            if timeline.limited and since and joined < 0 and timeline.prev_batch:
                events = await self._backfill(room_id, timeline.prev_batch, since) + events
                joined = self._own_join(events)
            if joined >= 0:
                await self._greet(room_id, events[joined])
            for event in _unique(events[joined + 1:]):
                await self._event(room_id, event)
        with self.store.begin() as conn:
            self.store.set_checkpoint(conn, TOKEN, response.next_batch)
        self.batches += 1

    def _own_join(self, events: list[dict]) -> int:
        """Index of the bot's latest join in these events, -1 if it is not among them."""
        for index in range(len(events) - 1, -1, -1):
            event = events[index]
            if event.get("type") == "m.room.member" and event.get("state_key") == self.me:
                content = event.get("content") or {}
                before = ((event.get("unsigned") or {}).get("prev_content") or {}).get("membership")
                if content.get("membership") == "join" and before != "join":
                    return index
        return -1

    async def _backfill(self, room_id: str, start: str, since: str) -> list[dict]:
        """The events a limited timeline left out, oldest first."""
        events: list[dict] = []
        for _ in range(MAX_PAGES):
            page = await self.client.room_messages(room_id, start=start, end=since, limit=100)
            if isinstance(page, RoomMessagesError):
                raise BatchFailed(f"back-fill of {room_id}: {page}")
            events += [e.source for e in page.chunk]
            if not page.chunk or not page.end or page.end == start:
                break
            start = page.end
        else:
            log.warning("back-fill of %s stopped at %d events: older ones are skipped", room_id, len(events))
        log.info("back-filled %d events in %s", len(events), room_id)
        return list(reversed(events))

    async def _invited(self, room_id: str, invite_state: list) -> None:
        inviter = next((e.source.get("sender", "") for e in invite_state
                        if e.source.get("type") == "m.room.member"
                        and e.source.get("state_key") == self.me), "")
        if self.allow.empty:
            log.warning("invitation to %s from %s refused: the allow-list is empty. Set matrix_allow "
                        "(TNLBOT_MATRIX_ALLOW) to the homeservers or user ids allowed to use the bot, "
                        "e.g. agent.tchap.gouv.fr,@marie:exemple.org", room_id, inviter)
            answer = await self.client.room_leave(room_id)
        elif self.allow(inviter):
            answer = await self.client.join(room_id)
        else:
            log.info("invitation to %s from %s refused (not in the allow-list)", room_id, inviter)
            answer = await self.client.room_leave(room_id)
        if hasattr(answer, "status_code"):
            log.warning("invitation to %s: %s", room_id, answer)

    async def _greet(self, room_id: str, join: dict) -> None:
        """Direct room: start the questionnaire of the other person; group room: one notice."""
        room = self.client.rooms.get(room_id)
        others = [u for u in (room.users if room else {}) if u != self.me]
        if len(others) == 1 and self.allow(others[0]):
            user = others[0]
            await self._submit(Inbound(NAME, str(join.get("event_id", "")), room_id, user,
                                       InboundKind.COMMAND, command="start",
                                       display_name=room.user_name(user) or user if room else user))
        elif len(others) > 1:
            self.notify(room_id, "", "matrix.greet_group", f"matrix:greet:{join.get('event_id')}")

    # ------------------------------------------------------------ one event
    async def _event(self, room_id: str, event: dict) -> None:
        sender = event.get("sender", "")
        if sender != self.me and not self.allow(sender):
            return
        joined = await self.members.of(room_id) if sender != self.me else {}
        name = joined.get(sender, sender) if sender != self.me else sender
        result = inbound_from_event(room_id, event, self.me, self.lookups, name)
        if isinstance(result, Inbound) and len(joined) > 2:
            result = replace(result, group=True)      # personal data never answered in this room
        event_id = str(event.get("event_id", ""))
        if result is Skip.EDIT:
            return self._edited(room_id, event, event_id)
        if result is Skip.ENCRYPTED:
            return await self._undecryptable(room_id, event)
        if result is Skip.STALE:
            return self.notify(room_id, sender, "matrix.reaction_old", f"matrix:stale:{event_id}")
        if not isinstance(result, Inbound) or not event_id:
            return
        if result.kind is InboundKind.FILE:
            result = await self._checked_file(result, event.get("content") or {})
        if result.kind in (InboundKind.TEXT, InboundKind.COMMAND, InboundKind.CHOICE):
            self._remember_author(event_id, sender)
        self.lookups.remember(result)
        await self._submit(result)

    async def _undecryptable(self, room_id: str, event: dict) -> None:
        """Told once per sender and session, with what to do; the keys are requested."""
        found = await crypto.request_keys(self.client, room_id, event)
        if found is None or found.sender == self.me or not self.allow(found.sender):
            return
        digest = hashlib.sha256(f"{room_id} {found.sender} {found.session_id}".encode()).hexdigest()
        self.notify(room_id, found.sender, "matrix.undecryptable", f"matrix:undecryptable:{digest}")

    async def _checked_file(self, inbound: Inbound, content: dict) -> Inbound:
        """An encrypted attachment: downloaded, decrypted, its real size and type kept. Its
        bytes, like those of a clear one, are held so that the answer is saved with the file
        itself (the jury's exports and dossiers hold it), not a handle on the homeserver."""
        found = crypto.encrypted_file(content)
        if inbound.file is None:
            return inbound
        if found is None:
            return await self._clear_file(inbound)
        plain = None
        answer = await self.client.download(found["url"])
        body = getattr(answer, "body", None)
        if isinstance(body, bytes) and len(body) <= self.max_download:
            plain = crypto.decrypt_file(found, body)
        if plain is None:
            log.warning("encrypted attachment %s could not be read: %s", inbound.external_id, answer)
            return replace(inbound, file=replace(inbound.file, size=0, ref=""))
        mime = crypto.sniff(plain) or inbound.file.mime
        name = real_name(inbound.file.name, mime)
        if self.keep is not None:
            return replace(inbound, file=replace(self.keep(plain, name), mime=mime))
        return replace(inbound, file=FileRef(name, mime, len(plain), crypto.file_handle(found)))

    async def _clear_file(self, inbound: Inbound) -> Inbound:
        """A clear attachment's bytes, held; one the homeserver cannot give keeps its handle."""
        file = inbound.file
        if self.keep is None or file is None or file.size > self.max_download or not file.ref.startswith("mxc://"):
            return inbound
        answer = await self.client.download(file.ref)
        body = getattr(answer, "body", None)
        if not isinstance(body, bytes) or len(body) > self.max_download:
            log.warning("attachment %s could not be downloaded: %s", inbound.external_id, answer)
            return inbound
        return replace(inbound, file=self.keep(body, file.name))

    def _remember_author(self, event_id: str, sender: str) -> None:
        self.authors[event_id] = sender
        while len(self.authors) > 5000:
            self.authors.popitem(last=False)

    def _edited(self, room_id: str, event: dict, event_id: str) -> None:
        """An edit never changes an answer; its author is told so, anyone else is ignored.
        After a restart the edited message is found among the events handled (SQL)."""
        target = ((event.get("content") or {}).get("m.relates_to") or {}).get("event_id", "")
        sender = event.get("sender", "")
        author = self.authors.get(target) if target else None
        if author == sender or (target and author is None and self.store.was_handled(NAME, target)):
            self.notify(room_id, sender, "matrix.edit_ignored", f"matrix:edit:{event_id}")

    async def _caught_up(self, room_id: str) -> None:
        """Back-pressure: the room's history is kept by the homeserver, so a long batch (a
        back-fill after downtime) waits for the replies already queued for a room to leave
        instead of outrunning them (the dispatcher would drop what comes too fast)."""
        while self.store.pending_for(NAME, room_id, BACKLOG) >= BACKLOG:
            if self.stopping.is_set():
                raise BatchFailed("stopping: the rest of the batch is fetched again")
            self.wake()
            await self._sleep(0.05)

    async def _submit(self, inbound: Inbound) -> None:
        await self._caught_up(inbound.chat_id)
        for attempt in range(1, EVENT_ATTEMPTS + 1):
            try:
                handled = await self.sink(inbound)
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

    def notify(self, room_id: str, user_id: str, key: str, dedup_key: str) -> None:
        """A notice of the transport itself, through the outbox, once per key."""
        locale = self.store.conversation_locale(NAME, room_id, user_id) if user_id else "fr"
        item = Outgoing(OutKind.NOTICE, self.catalog(locale, key))
        with self.store.begin() as conn:
            self.store.enqueue(conn, [Addressed(NAME, room_id, item, user_id, dedup_key[:255])],
                               self.clock.now())
        self.wake()


def real_name(name: str, mime: str) -> str:
    """A file name whose extension says what the bytes are (a PNG sent as "x.pdf" is "x.png")."""
    claimed = mimetypes.guess_type(name)[0]
    if not mime or claimed == mime:
        return name
    extension = mimetypes.guess_extension(mime)
    if not extension or mime == "application/zip":    # docx, xlsx... are zips too: kept
        return name
    return (name.rsplit(".", 1)[0] if "." in name else name) + extension


def _unique(events: list[dict]) -> list[dict]:
    seen: set[str] = set()
    out = []
    for event in events:
        event_id = event.get("event_id", "")
        if event_id and event_id in seen:
            continue
        seen.add(event_id)
        out.append(event)
    return out


__all__ = ["Members", "Receiver", "StoreLookups", "TOKEN", "sync_filter"]
