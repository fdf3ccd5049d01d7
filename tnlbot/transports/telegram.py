"""The Telegram transport: python-telegram-bot as an API client, nothing more.

How this file works:
- Receiving (polling): our own loop calls getUpdates; each update becomes an
  Inbound (telegram_codec) handed to the sink, which returns after the
  dispatcher's commit. Only when every update of a batch is committed does
  the next getUpdates carry offset = highest id of that batch + 1, which is
  what confirms them to Telegram. A crash before that gets the batch again;
  the store's processed-events set (update id + message id, never a
  high-water mark) drops what was already done. Pending updates are never
  dropped at start. Webhook mode: telegram_webhook.py.
- Button presses are answered (answerCallbackQuery) after the commit. A
  press that changed nothing and produced one short notice (an old
  keyboard, a refused selection) gets that notice as the press's answer
  instead of a chat message; a press that does not verify (forged, another
  member's button in a group, Retour/Passer under an old question) is
  answered politely and changes nothing.
- Stopping waits for the batch in hand to be committed; only a getUpdates
  waiting for news (or a pause before a retry) is cancelled.
- Sending (called by the outbox relay): render, then map the Bot API's
  answer to a SendResult: 429 -> RETRY after retry_after, 403 -> UNREACHABLE,
  a timeout after the request left -> UNCERTAIN (never sent twice), a group
  upgraded to a supergroup -> sent there and the chat moved in the store.
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from dataclasses import replace
from datetime import datetime
from typing import Any

from telegram import Bot
from telegram.error import Conflict, InvalidToken, NetworkError, TelegramError
from telegram.warnings import PTBUserWarning

from ..core.commands import REGISTRY
from ..core.events import FileRef, Inbound, InboundKind, OutKind
from ..i18n import Catalog
from ..runtime.attachments import Keep, Wants
from ..runtime.clock import Clock
from ..runtime.runner import Backoff
from ..runtime.transport import Handled, Refused, SendResult, SendStatus, Sink, Unreachable
from ..store import OutboxRow, Store
from .telegram_codec import ACTION, TRANSPORT, inbound_from_update, needs_resolving, resolve_press
from .telegram_hook import MAX_DOWNLOAD, locale_of
from .telegram_render import render, units
from .telegram_send import deliver

__all__ = ["Telegram", "inbound_from_update", "render", "make_bot", "callback_secret"]
log = logging.getLogger(__name__)

ALLOWED_UPDATES = ["message", "callback_query"]
MAX_TOAST = 200
MAX_FAILURES = 5
# The commands shown in Telegram's menu, in the order of the menu: (French, English).
MENU = tuple((command.fr, command.en) for command in REGISTRY if command.menu)


class ApiBot(Bot):
    """PTB's Bot, quiet about `do_api_request` on methods it also wraps: we send
    plain dict payloads on purpose (PTB's object model is the CPU cost)."""

    @classmethod
    def _warn(cls, message: Any, category: type[Warning] = PTBUserWarning, stacklevel: int = 0) -> None:
        if str(message).startswith("Please use 'Bot."):
            return
        super()._warn(message, category, stacklevel + 1)


def make_bot(token: str, base_url: str = "", *, read_timeout: float = 10.0,
             connect_timeout: float = 5.0) -> Bot:
    """A PTB Bot on `base_url` (the API root, e.g. https://api.telegram.org)."""
    root = re.sub(r"/bot/?$", "", (base_url or "https://api.telegram.org").rstrip("/"))
    from .telegram_http import AiohttpRequest
    request = AiohttpRequest(16, read_timeout=read_timeout, connect_timeout=connect_timeout)
    updates = AiohttpRequest(2, read_timeout=read_timeout, connect_timeout=connect_timeout)
    return ApiBot(token, base_url=f"{root}/bot", base_file_url=f"{root}/file/bot",
               request=request, get_updates_request=updates)


def callback_secret(token: str) -> bytes:
    """The key that signs button data: derived from the token, never shown."""
    return hashlib.sha256(b"tnlbot telegram buttons\x00" + token.encode()).digest()


class Telegram:
    name = TRANSPORT

    def __init__(self, bot: Bot, store: Store, catalog: Catalog, clock: Clock, *,
                 secret: bytes, poll_timeout: int = 25, webhook: Any = None, lease: Any = None,
                 rate_limit: tuple[float, float] = (1.0, 30.0), keep: Keep | None = None,
                 wants: Wants = lambda file: True):
        self.bot, self.store, self.catalog, self.clock = bot, store, catalog, clock
        self.keep, self.wants = keep, wants   # a file a question may take is fetched and held
        self.rate_limit = rate_limit        # messages per second: per chat, overall (0: no limit)
        self.secret = secret
        self.poll_timeout = poll_timeout
        self.webhook = webhook
        self.lease = lease                  # runtime.lease.Lease: one poller among several processes
        self.username = ""
        self.offset: int | None = None
        self.task: asyncio.Task | None = None
        self._server: Any = None
        self._failures: dict[int, int] = {}
        self._stopping = False
        self._fetching = False
        self._processing = False
        self.received_at: datetime | None = None   # last getUpdates that answered (health)
        self.connected = False

    # ------------------------------------------------------------ lifecycle
    async def connect(self) -> "Telegram":
        """getMe, the command menu, no webhook left when polling: ready to start. The runner
        calls it again later while it raises Unreachable."""
        try:
            await self.bot.initialize()
            self.username = self.bot.username or ""
            self.received_at, self.connected = self.clock.now(), True   # getMe answered
            await self.register_commands()
            if self.webhook is None:
                await self.call("deleteWebhook", {"drop_pending_updates": False})
        except InvalidToken as exc:
            raise Refused("Telegram refused the bot token") from exc
        except NetworkError as exc:
            raise Unreachable(f"Telegram cannot be reached ({exc})") from exc
        return self

    async def start(self, sink: Sink) -> None:
        if self.webhook is not None:
            from .telegram_webhook import start_webhook
            self._server = await start_webhook(self, sink, self.webhook)
            return
        self.task = asyncio.create_task(self._poll_forever(sink))

    async def stop(self) -> None:
        await self.stop_receiving()
        await self.bot.shutdown()

    async def stop_receiving(self) -> None:
        """The batch in hand is committed; no update is fetched after it (sending still works)."""
        self._stopping = True
        self.connected = False
        if self.task is not None:
            if not self._processing:     # waiting for news or for a retry: nothing in hand
                self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
            self.task = None
        if self._server is not None:
            await self._server.cleanup()
            self._server = None
        if self.lease is not None and self.lease.held:
            try:
                self.lease.release()        # another process takes over at once
            except Exception:  # noqa: BLE001 - it expires by itself
                log.warning("could not release the poller lease; it expires in %.0f s", self.lease.ttl)

    async def call(self, method: str, params: dict | None = None, **timeouts: Any) -> Any:
        return await self.bot.do_api_request(method, api_kwargs=params or {}, **timeouts)

    async def register_commands(self) -> None:
        """setMyCommands: French by default, French and English by language."""
        try:
            for code, column in (("", 0), ("fr", 0), ("en", 1)):
                locale = code or "fr"
                commands = [{"command": names[column],
                             "description": self.catalog(locale, f"telegram.command.{names[1]}")}
                            for names in MENU]
                params: dict = {"commands": commands}
                if code:
                    params["language_code"] = code
                await self.call("setMyCommands", params)
        except Exception:  # noqa: BLE001 - a missing menu must not stop the bot
            log.warning("could not register the bot's commands", exc_info=True)

    # ------------------------------------------------------------ polling
    async def _poll_forever(self, sink: Sink) -> None:
        """The one place that polls: while this process holds the poller lease (if any),
        getUpdates, handle, confirm; stand by otherwise; back off on failures."""
        backoff = Backoff()
        while not self._stopping:
            if self.lease is not None and not await self._hold_lease():
                await self.clock.sleep(self.lease.renew_every)
                continue
            try:
                await self.poll_once(sink, self._poll_timeout())
                backoff.reset()
            except asyncio.CancelledError:
                raise
            except InvalidToken:
                log.critical("Telegram refused the bot token")
                raise
            except Conflict:
                delay = backoff.pause()
                log.warning("another process is receiving this bot's updates (Telegram answered 409 "
                            "Conflict); trying again in %.0f s", delay)
                await self.clock.sleep(delay)
            except Exception:  # noqa: BLE001 - network, database: wait and retry
                delay = backoff.pause()
                log.warning("polling failed; retrying in %.0f s", delay, exc_info=True)
                await self.clock.sleep(delay)

    def _poll_timeout(self) -> float:
        """A long poll shorter than the lease's renewal period, so the holder keeps it."""
        if self.lease is None:
            return self.poll_timeout
        return min(self.poll_timeout, max(1, int(self.lease.renew_every)))

    async def _hold_lease(self) -> bool:
        held = await self.lease.take_turn("receives from Telegram")
        if not held and not self.lease.failed:     # standing by, healthy: another one receives
            self.received_at, self.connected = self.clock.now(), True
        return held

    async def poll_once(self, sink: Sink, timeout: float = 0) -> int:
        """One getUpdates; handle the batch; confirm it on the next call if all committed."""
        params = {"offset": self.offset, "timeout": int(timeout), "allowed_updates": ALLOWED_UPDATES}
        self._fetching = True
        try:
            updates = await self.call("getUpdates", params, read_timeout=timeout + 10)
        except Exception:
            self.connected = False
            raise
        finally:
            self._fetching = False
        self.received_at, self.connected = self.clock.now(), True
        if not updates:
            return 0
        self._processing = True
        try:
            committed = await self.process_batch(updates, sink)
        finally:
            self._processing = False
        if committed:
            self.offset = max(int(u["update_id"]) for u in updates) + 1
        else:
            raise RuntimeError("an update could not be committed; the batch will come again")
        return len(updates)

    async def process_batch(self, updates: list[dict], sink: Sink) -> bool:
        """The batch in one commit when the sink takes batches (`sink.batch`); else updates
        of one person in order, different people side by side, one commit each."""
        together = getattr(sink, "batch", None)
        if together is not None:
            return await self._process_together(updates, together, getattr(sink, "committed", None))
        groups: dict[tuple[str, str], list[dict]] = {}
        for raw in updates:
            groups.setdefault(_sender(raw), []).append(raw)
        done = await asyncio.gather(*(self._process_in_order(g, sink) for g in groups.values()))
        return all(done)

    async def _process_in_order(self, updates: list[dict], sink: Sink) -> bool:
        for raw in updates:
            try:
                await self.process(raw, sink)
                self._failures.pop(int(raw.get("update_id", 0)), None)
            except Exception:  # noqa: BLE001
                update_id = int(raw.get("update_id", 0))
                failures = self._failures[update_id] = self._failures.get(update_id, 0) + 1
                log.exception("update %s failed (%d time(s))", update_id, failures)
                if failures < MAX_FAILURES:
                    return False
                log.error("update %s skipped after %d failures", update_id, failures)
        return True

    async def _process_together(self, updates: list[dict], batch: Any, committed: Any = None) -> bool:
        """Group commit: every update's event in one transaction (a savepoint each), then
        the presses answered, then `committed(chats)` (the replies may leave). False while
        a failed update is to be fetched again."""
        prepared: list[tuple[dict, Inbound, dict | None]] = []
        ok = True
        for raw in updates:
            try:
                inbound, query = await self._prepare(raw)
            except Exception as exc:  # noqa: BLE001
                ok = self._failed(raw, exc) and ok
                continue
            if inbound is not None:
                prepared.append((raw, inbound, query))
        results = await batch([inbound for _, inbound, _ in prepared]) if prepared else []
        for (raw, inbound, query), result in zip(prepared, results):
            if isinstance(result, Exception):
                ok = self._failed(raw, result) and ok
                continue
            self._failures.pop(int(raw.get("update_id", 0)), None)
            if query:
                await self._after_press(query, inbound, result)
        if committed is not None:
            committed({inbound.chat_id for (_, inbound, _), result in zip(prepared, results)
                       if not isinstance(result, Exception) and result.outbox_ids})
        return ok

    def _failed(self, raw: dict, exc: BaseException) -> bool:
        """Count a failure; True once the update is set aside (it is confirmed anyway)."""
        update_id = int(raw.get("update_id", 0))
        failures = self._failures[update_id] = self._failures.get(update_id, 0) + 1
        log.error("update %s failed (%d time(s))", update_id, failures, exc_info=exc)
        if failures < MAX_FAILURES:
            return False
        log.error("update %s skipped after %d failures", update_id, failures)
        return True

    async def process(self, raw: dict, sink: Sink) -> None:
        """One update: to the sink (commit), then answer a press."""
        inbound, query = await self._prepare(raw)
        if inbound is None:
            return
        handled = await sink(inbound)
        if query:
            await self._after_press(query, inbound, handled)

    async def _prepare(self, raw: dict) -> tuple[Inbound | None, dict | None]:
        """The update's event (None when there is nothing to store); a press that cannot
        act is answered here."""
        self._follow_migration(raw)
        inbound = inbound_from_update(raw, self.username, self.secret)
        query = raw.get("callback_query")
        if inbound is not None and needs_resolving(inbound):
            message = (query or {}).get("message") or {}
            found = self.store.prompt_sent_as(self.name, inbound.chat_id,
                                              str(message.get("message_id", "")))
            inbound = resolve_press(inbound, found[1] if found else None, self.secret)
        if query and (inbound is None or inbound.kind is InboundKind.UNRECOGNISED):
            await self.answer_press(query, self._refusal(query, foreign=True))
            return None, None
        if query and not self._still_live(query, inbound):
            await self.answer_press(query, self._refusal(query, foreign=False))
            return None, None
        if inbound is not None and inbound.file is not None:
            inbound = await self._held_file(inbound, inbound.file)
        return inbound, query

    async def _held_file(self, inbound: Inbound, file: FileRef) -> Inbound:
        """A document a file question may take (by its announced name and size) is fetched
        and held, so that its answer is saved with the file itself; any other is refused
        without a download. One Telegram does not hand over keeps its file_id."""
        if self.keep is None or file.size > MAX_DOWNLOAD or not self.wants(file):
            return inbound
        try:
            data = await self.fetch_file(file.ref, file.size)
        except (TelegramError, OSError, ValueError) as exc:
            log.warning("document %s could not be fetched: %s", inbound.external_id, exc)
            return inbound
        return replace(inbound, file=self.keep(data, file.name))

    def _follow_migration(self, raw: dict) -> None:
        message = raw.get("message") or {}
        chat = str((message.get("chat") or {}).get("id", ""))
        if message.get("migrate_to_chat_id"):
            self.store.move_chat(self.name, chat, str(message["migrate_to_chat_id"]))
        elif message.get("migrate_from_chat_id"):
            self.store.move_chat(self.name, str(message["migrate_from_chat_id"]), chat)

    # ------------------------------------------------------------ presses
    def _still_live(self, query: dict, inbound: Inbound) -> bool:
        """Retour/Passer act on the current question: only from the latest prompt."""
        if not str(query.get("data", "")).startswith(ACTION):
            return True
        message = str((query.get("message") or {}).get("message_id", ""))
        if self.store.prompt_sent_as(self.name, inbound.chat_id, message) is None:
            return True   # a notice's shortcuts (/aller 3, /langue en) are plain commands
        return self.store.last_prompt_message(self.name, inbound.chat_id, inbound.user_id) == message

    def _refusal(self, query: dict, foreign: bool) -> str:
        """Why a press changed nothing: not this member's button (groups), or no longer valid."""
        sender = query.get("from") or {}
        chat = str(((query.get("message") or {}).get("chat") or {}).get("id", ""))
        user = str(sender.get("id", ""))
        locale = (self.store.conversation_locale(self.name, chat, user)
                  if self.store.person_name(self.name, user)
                  else locale_of(sender.get("language_code", ""), self.catalog.locales))
        key = "telegram.button_not_yours" if foreign and chat.startswith("-") else "telegram.button_invalid"
        return self.catalog(locale, key)

    async def _after_press(self, query: dict, inbound: Inbound, handled: Handled) -> None:
        ids = handled.outbox_ids
        answer = inbound.kind in (InboundKind.CHOICE, InboundKind.TOGGLE)   # not a command's output
        toast = self._lone_notice(ids) if answer else None
        answered = await self.answer_press(query, toast.item.text if toast else "")
        if toast is not None:
            status = "sent" if answered else "pending"
            self.store.settle_message(toast.id, status, self.clock.now(),
                                      error="" if answered else "shown as a message instead")

    def _lone_notice(self, ids: tuple[int, ...]) -> OutboxRow | None:
        """A press that changed nothing and produced one short notice (an old button, a
        selection refused): that notice, claimed to be shown as the press's answer."""
        rows = self.store.outbox_items(ids) if len(ids) == 1 else []
        if len(rows) != 1 or rows[0].item.kind is not OutKind.NOTICE:
            return None
        notice = rows[0]
        if notice.item.actions or units(notice.item.text) > MAX_TOAST:
            return None
        return notice if self.store.claim_message(notice.id, self.clock.now()) else None

    async def answer_press(self, query: dict, text: str = "") -> bool:
        params: dict = {"callback_query_id": str(query.get("id", ""))}
        if text:
            params["text"] = text
        try:
            await self.call("answerCallbackQuery", params)
            return True
        except Exception:  # noqa: BLE001 - an expired press is not an error of ours
            log.info("could not answer a button press", exc_info=True)
            return False

    # ------------------------------------------------------------ sending
    async def send(self, row: OutboxRow) -> SendResult:
        item = row.item
        message_id = ""
        if item.kind is OutKind.SETTLED or (item.kind is OutKind.PROMPT and item.update):
            found = self.store.sent_prompt(self.name, row.chat_id, row.user_id, item.ref,
                                           before=row.id if item.kind is OutKind.SETTLED else None)
            message_id = found[0] if found else ""
            if not message_id and item.kind is OutKind.SETTLED:
                return SendResult(SendStatus.SENT)
        group = row.chat_id.startswith("-")
        # the translated button words serve a multiple choice's "validate" and a group's mention
        # (both as queued with the row; looked up only for rows queued without them)
        words = (self.words(self.store.locale_for(row)) if group or (item.multi and item.ref) else None)
        name = self.store.name_for(row) if group else ""

        def calls(chat_id: str, edit: str) -> list[dict]:
            return render(item, chat_id, user_id=row.user_id, secret=self.secret,
                          message_id=edit, words=words, mention=name)
        result = await deliver(self, row.chat_id, calls, message_id)
        if result.moved_to:
            self.store.move_chat(self.name, row.chat_id, result.moved_to)
        return result

    def words(self, locale: str) -> dict[str, str]:
        return {"validate": self.catalog(locale, "telegram.validate"),
                "for_member": self.catalog(locale, "telegram.for_member")}

    async def fetch_file(self, ref: str, size: int) -> bytes:
        """The bytes of a document a person sent (refused above Telegram's 20 MB)."""
        if size > MAX_DOWNLOAD:
            raise ValueError("Telegram does not let bots download files over 20 MB")
        file = await self.bot.get_file(ref)
        return bytes(await file.download_as_bytearray())


def _sender(raw: dict) -> tuple[str, str]:
    event = raw.get("message") or raw.get("callback_query") or {}
    message = event.get("message", event) if isinstance(event, dict) else {}
    try:
        return str(message["chat"]["id"]), str((event.get("from") or {}).get("id", ""))
    except (KeyError, TypeError, AttributeError):
        return "", ""
