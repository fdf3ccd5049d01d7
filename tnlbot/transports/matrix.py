"""The Matrix transport (matrix-nio): direct and group rooms, encrypted or not.

How this file works:
- `connect` (matrix_login) logs in once and keeps the device across restarts,
  so every transaction id survives them.
- `Matrix.send` delivers one outbox row. The row's txn_id is the Matrix
  transaction id: a resend (retry after 429 or network error, restart after
  a crash) gets the first event id back, never a second message. 429 ->
  RETRY with retry_after (no sleeping in nio: the outbox reschedules);
  M_FORBIDDEN -> UNREACHABLE. The event id is the row's ref: replies,
  reactions and edits find their question by it.
- One event per question: its choices are a numbered list, answered by
  number, label, reply or a keycap reaction (no reactions are pre-set: they
  would cost one call each, and stay tappable under old questions).
  SETTLED edits the question (m.replace) to show the answer, once the relay
  has nothing more pressing and the room had no question for a second
  (`settle_later`: a quick answer never queues behind it); a PROMPT with
  update=True re-renders it in place, keeping the first event id as its ref.
- Encrypted rooms (Tchap): nio encrypts every event sent there (see
  matrix_crypto); whether a room is encrypted is checked before its first
  send, and a send that cannot be encrypted is retried, never sent clear.
- Receiving: matrix_sync (rooms: matrix_rooms, events: matrix_events); the
  pure mapping is matrix_render. An attachment the homeserver did not hand over
  when it arrived is answered with its mxc:// handle and fetched again later
  (`refetch_due`, runtime/refetch), or its sender told to send it again.
"""
from __future__ import annotations

import asyncio
import base64
import binascii
import io
import logging
from collections import OrderedDict
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from aiohttp import ClientError
from nio.exceptions import (EncryptionError, GroupEncryptionError, LocalProtocolError, OlmTrustError,
                            SendRetryError)
from nio import AsyncClient, ContentRepositoryConfigResponse, RoomSendResponse, UploadResponse

from ..core.events import OutKind
from ..i18n import Catalog
from ..runtime import refetch
from ..runtime.attachments import Keep
from ..runtime.clock import Clock
from ..store import OutboxRow, Store
from . import matrix_crypto as crypto
from ..runtime.transport import SendResult, SendStatus, Sink
from .matrix_events import MAX_DOWNLOAD
from .matrix_login import connect, open_client
from .matrix_render import (NAME, Addressee, Allow, Look, SentPrompt, bang, command_names, document_mime,
                            file_content, for_matrix, hint_key, render, render_settled, render_update)
from .matrix_rooms import Members
from .matrix_sync import Receiver

log = logging.getLogger(__name__)
MAX_UPLOAD = 50 * 1024 * 1024


def _failure(answer: Any) -> SendResult:
    code = getattr(answer, "status_code", None)
    error = str(answer)
    if code == "M_LIMIT_EXCEEDED":
        return SendResult(SendStatus.RETRY, retry_after=(answer.retry_after_ms or 1000) / 1000, error=error)
    if code == "M_FORBIDDEN":
        return SendResult(SendStatus.UNREACHABLE, error=error)
    if code in (None, "M_UNKNOWN", "M_UNKNOWN_TOKEN"):
        return SendResult(SendStatus.RETRY, retry_after=5, error=error)
    return SendResult(SendStatus.FAILED, error=error)


class Matrix:
    name = NAME
    idempotent_resend = True   # a resend reuses the row's transaction id: never a second event
    settle_later = True        # the settling edit waits: a quick answer does not queue behind it

    def __init__(self, client: AsyncClient, store: Store, catalog: Catalog, allow: Allow = Allow(),
                 clock: Clock | None = None, *, timeline_limit: int = 10, poll_ms: int = 30_000,
                 wake: Callable[[], None] = lambda: None, keep: Keep | None = None):
        self.client, self.store, self.catalog, self.allow = client, store, catalog, allow
        self.keep = keep                  # holds attachments' bytes (runtime.attachments)
        self.clock = clock or Clock()
        self.timeline_limit, self.poll_ms = timeline_limit, poll_ms
        self.max_upload = MAX_UPLOAD
        self.members = Members(client)
        self.rooms = crypto.Rooms(client)
        self.commands = command_names(catalog(code, key) for code in catalog.locales
                                      for key in catalog.keys(code))
        self.wake = wake                  # wakes the outbox relay
        self.receiver: Receiver | None = None
        self._task: asyncio.Task | None = None
        self._refetching: asyncio.Task | None = None
        self.recent: OrderedDict[str, SentPrompt] = OrderedDict()
        self._inflight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    # ------------------------------------------------------------ Transport
    async def start(self, sink: Sink) -> None:
        try:
            limits = await self.client.content_repository_config()
            if isinstance(limits, ContentRepositoryConfigResponse) and limits.upload_size:
                self.max_upload = min(self.max_upload, int(limits.upload_size))
        except (ClientError, asyncio.TimeoutError, OSError):
            pass
        self.receiver = Receiver(self.client, self.store, self.catalog, self.allow, sink,
                                 lambda: self.wake(), self.clock, self.members, self.quiet,
                                 timeline_limit=self.timeline_limit, poll_ms=self.poll_ms,
                                 recent=self.recent, keep=self.keep)
        self._task = asyncio.create_task(self.receiver.run())
        if self.keep is not None:
            self._refetching = asyncio.create_task(refetch.every(refetch.EVERY, self.refetch_due))

    async def stop(self) -> None:
        await self.stop_receiving()
        await self.client.close()

    async def stop_receiving(self) -> None:
        """The batch in hand is committed and its token stored; sending still works."""
        if self.receiver is not None and self._task is not None:
            self.receiver.stopping.set()
            done, _ = await asyncio.wait({self._task}, timeout=30)
            if not done:
                self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._refetching is not None:
            self._refetching.cancel()
            await asyncio.gather(self._refetching, return_exceptions=True)
            self._refetching = None

    async def refetch_due(self) -> int:
        """Attachments not handed over on receipt whose next try is due (runtime/refetch)."""
        async def fetch(row: Any) -> bytes:
            answer = await self.client.download(row.handle)
            body = getattr(answer, "body", None)
            if not isinstance(body, bytes) or len(body) > MAX_DOWNLOAD:
                raise OSError(f"the homeserver did not hand it over: {answer}")
            return body
        return await refetch.refetch_due(self.store, self.catalog, self.clock, NAME, fetch)

    @property
    def received_at(self) -> datetime | None:
        return self.receiver.received_at if self.receiver is not None else None

    @property
    def connected(self) -> bool:
        return self.receiver is not None and self._task is not None and self.receiver.connected

    async def send(self, row: OutboxRow) -> SendResult:
        try:
            return await self._deliver(row)
        except (ClientError, asyncio.TimeoutError, OSError) as exc:
            return SendResult(SendStatus.RETRY, retry_after=2, error=f"network: {exc!r}")

    async def quiet(self) -> None:
        """Wait while a message is on its way: once it is, its event id is known (see
        `_remember`), so a reply or reaction to it can be matched to its question."""
        await self._idle.wait()

    # ------------------------------------------------------------ sending
    async def _deliver(self, row: OutboxRow) -> SendResult:
        row = replace(row, item=for_matrix(row.item, self.commands))
        item = row.item
        if item.kind is OutKind.SETTLED:
            return await self._settle(row)
        if item.kind is OutKind.DOCUMENT:
            return await self._document(row)
        look = Look(loud=item.kind is OutKind.PROMPT or bool(row.dedup_key),
                    to=await self._addressee(row), hint=bang(self._hint(row), self.commands))
        if item.kind is OutKind.PROMPT and item.update:
            found = self.store.sent_prompt(NAME, row.chat_id, row.user_id, item.ref)
            if found is not None:
                content = render_update(item, found[0], look)
                result = await self._put(row.chat_id, "m.room.message", content, row.txn_id)
                if result.status is not SendStatus.SENT:
                    return result
                self._remember(found[0], row)
                return replace(result, ref=found[0])
        result = await self._put(row.chat_id, "m.room.message",
                                 render(item, look), row.txn_id)
        if result.status is SendStatus.SENT and item.kind is OutKind.PROMPT:
            self._remember(result.ref, row)
        return result

    def _remember(self, event_id: str, row: OutboxRow) -> None:
        """A question's event id, known before its row is settled: replies to it match at once."""
        self.recent[event_id] = SentPrompt(event_id, row.user_id, row.item, row.chat_id)
        self.recent.move_to_end(event_id)
        while len(self.recent) > 1000:
            self.recent.popitem(last=False)

    async def _settle(self, row: OutboxRow) -> SendResult:
        found = self.store.sent_prompt(NAME, row.chat_id, row.user_id, row.item.ref)
        if found is None:
            return SendResult(SendStatus.SENT)     # the question never reached the room
        event_id, prompt = found
        content = render_settled(for_matrix(prompt, self.commands), row.item, event_id,
                                 Look(loud=True, to=await self._addressee(row)))
        return await self._put(row.chat_id, "m.room.message", content, row.txn_id)

    async def _document(self, row: OutboxRow) -> SendResult:
        item = row.item
        try:
            data = base64.b64decode(item.data, validate=True)
        except (binascii.Error, ValueError):
            return SendResult(SendStatus.FAILED, error="document data is not base64")
        if not data or len(data) > self.max_upload:
            return SendResult(SendStatus.FAILED, error=f"document of {len(data)} bytes refused")
        if item.text:
            caption = await self._put(row.chat_id, "m.room.message",
                                      render(replace(item, kind=OutKind.NOTICE)), f"{row.txn_id}.text")
            if caption.status is not SendStatus.SENT:
                return caption
        mime = document_mime(item)
        upload, _ = await self.client.upload(io.BytesIO(data), content_type=mime,
                                             filename=file_content(item, "", 0, mime)["filename"],
                                             filesize=len(data))
        if not isinstance(upload, UploadResponse):
            return _failure(upload)
        content = file_content(item, upload.content_uri, len(data), mime)
        return await self._put(row.chat_id, "m.room.message", content, row.txn_id)

    async def _put(self, room_id: str, event_type: str, content: dict, txn_id: str) -> SendResult:
        self._inflight += 1
        self._idle.clear()
        try:
            if await self.rooms.encrypted(room_id) and self.client.olm is None:
                return SendResult(SendStatus.FAILED, error="encrypted room and no crypto store")
            answer = await self.client.room_send(room_id, event_type, content, tx_id=txn_id,
                                                 ignore_unverified_devices=True)
        except (crypto.RoomStateUnknown, LocalProtocolError, OlmTrustError, SendRetryError,
                EncryptionError, GroupEncryptionError) as exc:
            return SendResult(SendStatus.RETRY, retry_after=2, error=f"encryption: {exc!r}")
        finally:
            self._inflight -= 1
            if not self._inflight:
                self._idle.set()
        if isinstance(answer, RoomSendResponse):
            return SendResult(SendStatus.SENT, ref=answer.event_id)
        if event_type == "m.reaction" and getattr(answer, "status_code", "") == "M_DUPLICATE_ANNOTATION":
            return SendResult(SendStatus.SENT)
        return _failure(answer)

    async def _addressee(self, row: OutboxRow) -> Addressee:
        """In a group room each message names the person it is for (a mention when loud)."""
        if not row.user_id:
            return Addressee()
        members = await self.members.of(row.chat_id)
        if len(members) <= 2:
            return Addressee(row.user_id)
        return Addressee(row.user_id, members.get(row.user_id, row.user_id))

    def _hint(self, row: OutboxRow) -> str:
        key = hint_key(row.item)
        if not key:
            return ""
        return self.catalog(self.store.locale_for(row), key)


# ------------------------------------------------------------------ running

async def open_matrix(homeserver: str, user: str, password: str, store: Store, store_path: Path,
                      catalog: Catalog, allow: Allow, clock: Clock, wake: Callable[[], None],
                      keep: Keep | None = None) -> Matrix:
    """A logged-in Matrix transport, for the runner (which retries while `Unreachable`)."""
    client = await open_client(homeserver, user, password, store, store_path)
    return Matrix(client, store, catalog, allow, clock, wake=wake, keep=keep)


__all__ = ["Matrix", "connect", "open_matrix"]
