"""The Matrix transport (matrix-nio): direct and group rooms, answers in m.notice.

How this file works:
- `connect` logs in once with the password and keeps the access token and
  device id in SQL (checkpoint "matrix.login"); later starts restore them,
  so the device, and with it every transaction id, survives restarts.
- `Matrix.send` delivers one outbox row. The row's txn_id is the Matrix
  transaction id: a resend (retry after 429 or network error, restart after
  a crash) gets the first event id back, never a second message. 429 ->
  RETRY with retry_after (no sleeping in nio: the outbox reschedules);
  M_FORBIDDEN -> UNREACHABLE. The event id is the row's ref: replies,
  reactions and edits find their question by it.
- A question with choices gets its reactions right after it (transaction
  ids derived from the row's). SETTLED edits the question (m.replace) to
  show the answer; a PROMPT with update=True re-renders it in place and
  keeps the original event id as its ref.
- Receiving is matrix_sync.Receiver; the pure mapping is matrix_render.
"""
from __future__ import annotations

import asyncio
import base64
import binascii
import io
import json
import logging
from collections import OrderedDict
from dataclasses import replace
from typing import Any, Callable

from aiohttp import ClientError
from nio import (AsyncClient, AsyncClientConfig, ContentRepositoryConfigResponse, LoginError,
                 RoomSendResponse, UploadResponse, WhoamiResponse)

from ..core.events import OutKind
from ..i18n import Catalog
from ..runtime.clock import Clock
from ..store import OutboxRow, Store
from ..runtime.transport import Refused, SendResult, SendStatus, Sink, Unreachable
from .matrix_render import (NAME, Allow, SentPrompt, bang, command_names, document_mime, file_content,
                            for_matrix, hint_key, reaction, reaction_keys, render, render_settled,
                            render_update)
from .matrix_sync import Members, Receiver

log = logging.getLogger(__name__)
LOGIN = "matrix.login"
MAX_UPLOAD = 50 * 1024 * 1024
SHORTCUT_WAIT = 10.0      # seconds a question's reactions may wait for the homeserver's 429s
DEVICE_NAME = "tnlbot"


class LoginFailed(Exception):
    pass


def client_config() -> AsyncClientConfig:
    """No sleeping inside nio on 429 or timeouts: the outbox and the sync loop retry."""
    return AsyncClientConfig(max_limit_exceeded=0, max_timeouts=0, request_timeout=60)


def _same_user(configured: str, user_id: str) -> bool:
    return configured == user_id or (not configured.startswith("@")
                                     and user_id[1:].split(":", 1)[0] == configured)


async def connect(homeserver: str, user: str, password: str, store: Store,
                  config: AsyncClientConfig | None = None) -> AsyncClient:
    """A logged-in client: the stored login when it still works, else a password login."""
    homeserver = homeserver.rstrip("/")
    client = AsyncClient(homeserver, user, config=config or client_config())
    raw = store.checkpoint(LOGIN)
    saved = json.loads(raw) if raw else {}
    if saved.get("homeserver") == homeserver and _same_user(user, saved.get("user_id", "")):
        client.restore_login(saved["user_id"], saved["device_id"], saved["access_token"])
        who = await client.whoami()
        if isinstance(who, WhoamiResponse):
            return client
        if who.status_code not in ("M_UNKNOWN_TOKEN", "M_FORBIDDEN"):
            await client.close()
            raise ConnectionError(f"homeserver not ready: {who}")
        log.warning("the stored Matrix login was refused (%s): logging in again", who.status_code)
    if not password:
        await client.close()
        raise LoginFailed("no Matrix password and no valid stored login")
    answer = await client.login(password, device_name=DEVICE_NAME)
    if isinstance(answer, LoginError):
        await client.close()
        raise LoginFailed(f"Matrix login refused: {answer}")
    with store.begin() as conn:
        store.set_checkpoint(conn, LOGIN, json.dumps({
            "homeserver": homeserver, "user_id": answer.user_id, "device_id": answer.device_id,
            "access_token": answer.access_token}))
    return client


def _failure(answer: Any) -> SendResult:
    code = getattr(answer, "status_code", None)
    error = str(answer)
    if code == "M_LIMIT_EXCEEDED":
        return SendResult(SendStatus.RETRY, retry_after=(answer.retry_after_ms or 1000) / 1000,
                          error=error)
    if code == "M_FORBIDDEN":
        return SendResult(SendStatus.UNREACHABLE, error=error)
    if code in (None, "M_UNKNOWN", "M_UNKNOWN_TOKEN"):
        return SendResult(SendStatus.RETRY, retry_after=5, error=error)
    return SendResult(SendStatus.FAILED, error=error)


class Matrix:
    name = NAME
    idempotent_resend = True   # a resend reuses the row's transaction id: never a second event

    def __init__(self, client: AsyncClient, store: Store, catalog: Catalog, allow: Allow = Allow(),
                 clock: Clock | None = None, *, timeline_limit: int = 10, poll_ms: int = 30_000,
                 wake: Callable[[], None] = lambda: None):
        self.client = client
        self.store = store
        self.catalog = catalog
        self.allow = allow
        self.clock = clock or Clock()
        self.timeline_limit = timeline_limit
        self.poll_ms = poll_ms
        self.max_upload = MAX_UPLOAD
        self.members = Members(client)
        self.commands = command_names(catalog(code, key) for code in catalog.locales
                                      for key in catalog.keys(code))
        self.wake = wake                  # wakes the outbox relay
        self.receiver: Receiver | None = None
        self._task: asyncio.Task | None = None
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
                                 recent=self.recent)
        self._task = asyncio.create_task(self.receiver.run())

    async def stop(self) -> None:
        if self.receiver is not None and self._task is not None:
            self.receiver.stopping.set()
            done, _ = await asyncio.wait({self._task}, timeout=30)
            if not done:
                self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.client.close()

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
        addressee = await self._addressee(row)
        hint = bang(self._hint(row), self.commands)
        if item.kind is OutKind.PROMPT and item.update:
            found = self.store.sent_prompt(NAME, row.chat_id, row.user_id, item.ref)
            if found is not None:
                content = render_update(item, found[0], addressee=addressee, hint=hint)
                result = await self._put(row.chat_id, "m.room.message", content, row.txn_id)
                if result.status is not SendStatus.SENT:
                    return result
                self._remember(found[0], row)
                return replace(result, ref=found[0])
        result = await self._put(row.chat_id, "m.room.message",
                                 render(item, addressee=addressee, hint=hint), row.txn_id)
        if result.status is SendStatus.SENT and item.kind is OutKind.PROMPT:
            self._remember(result.ref, row)
            await self._shortcuts(row, result.ref)
        return result

    async def _shortcuts(self, row: OutboxRow, event_id: str) -> None:
        """The reactions under a question: best effort, paced by the homeserver's 429s;
        the question itself is delivered whatever happens to them."""
        budget = SHORTCUT_WAIT
        for index, key in enumerate(reaction_keys(row.item)):
            while True:
                done = await self._put(row.chat_id, "m.reaction", reaction(event_id, key),
                                       f"{row.txn_id}.{index}")
                if done.status is not SendStatus.RETRY or done.retry_after > budget:
                    break
                budget -= done.retry_after
                await asyncio.sleep(done.retry_after)   # the homeserver's own pace, in real time
            if done.status is not SendStatus.SENT:
                log.warning("shortcuts under %s left out from %s: %s", event_id, key, done.error)
                return

    def _remember(self, event_id: str, row: OutboxRow) -> None:
        """A question's event id, known before its row is settled: replies to it match at once."""
        self.recent[event_id] = SentPrompt(event_id, row.user_id, row.item)
        while len(self.recent) > 1000:
            self.recent.popitem(last=False)

    async def _settle(self, row: OutboxRow) -> SendResult:
        found = self.store.sent_prompt(NAME, row.chat_id, row.user_id, row.item.ref)
        if found is None:
            return SendResult(SendStatus.SENT)     # the question never reached the room
        event_id, prompt = found
        content = render_settled(for_matrix(prompt, self.commands), row.item, event_id,
                                 addressee=await self._addressee(row))
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
            answer = await self.client.room_send(room_id, event_type, content, tx_id=txn_id)
        finally:
            self._inflight -= 1
            if not self._inflight:
                self._idle.set()
        if isinstance(answer, RoomSendResponse):
            return SendResult(SendStatus.SENT, ref=answer.event_id)
        if event_type == "m.reaction" and getattr(answer, "status_code", "") == "M_DUPLICATE_ANNOTATION":
            return SendResult(SendStatus.SENT)
        return _failure(answer)

    async def _addressee(self, row: OutboxRow) -> str:
        """In a group room each message names the person it is for (plain text, no mention)."""
        if not row.user_id:
            return ""
        members = await self.members.of(row.chat_id)
        return members.get(row.user_id, row.user_id) if len(members) > 2 else ""

    def _hint(self, row: OutboxRow) -> str:
        key = hint_key(row.item)
        if not key:
            return ""
        locale = self.store.conversation_locale(NAME, row.chat_id, row.user_id) if row.user_id else "fr"
        return self.catalog(locale, key)


# ------------------------------------------------------------------ running

async def open_matrix(homeserver: str, user: str, password: str, store: Store, catalog: Catalog,
                      allow: Allow, clock: Clock, wake: Callable[[], None]) -> Matrix:
    """A logged-in Matrix transport, for the runner (which retries while `Unreachable`)."""
    try:
        client = await connect(homeserver, user, password, store)
    except (ConnectionError, ClientError, asyncio.TimeoutError, OSError) as exc:
        raise Unreachable(f"Matrix homeserver unreachable ({exc})") from exc
    except LoginFailed as exc:
        raise Refused(f"Matrix: {exc}") from exc
    log.info("Matrix: logged in as %s (device %s)", client.user_id, client.device_id)
    return Matrix(client, store, catalog, allow, clock, wake=wake)
