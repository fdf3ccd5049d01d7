"""The Telegram transport: the I/O adapter around its pure pair (telegram_codec parses
updates, telegram_render renders outbox items), python-telegram-bot as the API client.

How this file works:
- Receiving: runtime.receiver.Polling runs the loop (getUpdates, group commit,
  acknowledgement by offset, lease, back-off; webhook mode: telegram_webhook);
  this adapter fetches; telegram_receive turns an update into an event
  (`prepare`, then `within` inside the event's transaction: presses verified,
  a group's move followed) and answers a button press once it is committed.
- Sending (called by the outbox relay, which settles the row): render, deliver
  (telegram_send maps the Bot API's answers to a SendResult). The message id of
  each question sent is kept for the edit that settles it; that edit never goes
  right after the next question (`settle_later`: the relay sends it once nothing
  more pressing is due). A group upgraded to a supergroup is followed.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any

from telegram import Bot
from telegram.error import Conflict, InvalidToken, NetworkError

from ..core.commands import REGISTRY
from ..core.events import OutKind
from ..i18n import Catalog
from ..runtime.attachments import Keep, Wants
from ..runtime.clock import Clock
from ..runtime import refetch
from ..runtime.receiver import Polling
from ..runtime.transport import Refused, SendResult, SendStatus, Sink, Unreachable
from ..store import OutboxRow, Store
from .telegram_codec import TRANSPORT, inbound_from_update
from .telegram_hook import MAX_DOWNLOAD
from .telegram_http import callback_secret, make_bot
from .telegram_receive import Receiving
from .telegram_render import render
from .telegram_send import deliver

__all__ = ["Telegram", "inbound_from_update", "render", "make_bot", "callback_secret"]
log = logging.getLogger(__name__)

ALLOWED_UPDATES = ["message", "callback_query"]
REMEMBERED = 50_000     # questions whose message id is kept for their edits
# The commands shown in Telegram's menu, in the order of the menu: (French, English).
MENU = tuple((command.fr, command.en) for command in REGISTRY if command.menu)


class Telegram(Receiving):
    name = TRANSPORT
    settle_later = True     # the edit settling an answered question waits until the relay is free
    settle_quiet = 0.0      # behind the question sent with it only: the rate limiter paces the rest
    resend_questions = True  # a question a crash left half-sent is sent again at start-up
    fold_notices = True     # a plain notice and the question after it: one message (send budget)
    fold_answers = True     # a choice just made is shown atop the next question (OutboxRow.answered)

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
        self.polling = Polling(self, poll_timeout=poll_timeout, lease=lease,
                               role="receives from Telegram")
        self.username = ""
        self._server: Any = None
        # (chat, user, question) -> (outbox id, message id, offered choices) of the last question sent
        self._prompts: dict[tuple[str, str, str], tuple[int, str, bool]] = {}
        self._refetching: asyncio.Task[None] | None = None

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
        if self.keep is not None:
            self._refetching = asyncio.create_task(refetch.every(refetch.EVERY, self.refetch_due))
        if self.webhook is not None:
            from .telegram_webhook import start_webhook
            self._server = await start_webhook(self, sink, self.webhook)
            return
        self.polling.start(sink)

    async def stop(self) -> None:
        await self.stop_receiving()
        await self.bot.shutdown()

    async def stop_receiving(self) -> None:
        """The batch in hand is committed; no update is fetched after it (sending still works)."""
        await self.polling.stop()
        if self._refetching is not None:
            self._refetching.cancel()
            await asyncio.gather(self._refetching, return_exceptions=True)
            self._refetching = None
        if self._server is not None:
            await self._server.cleanup()
            self._server = None

    # the runner's and the health endpoint's view of receiving
    task = property(lambda self: self.polling.task)
    lease = property(lambda self: self.polling.lease)
    received_at = property(lambda self: self.polling.received_at,
                           lambda self, at: setattr(self.polling, "received_at", at))
    connected = property(lambda self: self.polling.connected,
                         lambda self, up: setattr(self.polling, "connected", up))

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
        except Exception:  # logged; a missing menu must not stop the bot
            log.warning("could not register the bot's commands", exc_info=True)

    # ------------------------------------------------------------ receiving (runtime.receiver)
    async def fetch(self, offset: int | None, timeout: float) -> list[dict]:
        """One getUpdates (the offset acknowledges the batch before)."""
        params = {"offset": offset, "timeout": int(timeout), "allowed_updates": ALLOWED_UPDATES}
        try:
            return list(await self.call("getUpdates", params, read_timeout=timeout + 10))
        except InvalidToken as exc:
            raise Refused("Telegram refused the bot token") from exc
        except Conflict as exc:
            raise Unreachable("another process is receiving this bot's updates (Telegram "
                              "answered 409 Conflict)") from exc

    async def poll_once(self, sink: Sink, timeout: float = 0) -> int:
        return await self.polling.poll_once(sink, timeout)

    async def process(self, raw: dict, sink: Sink) -> None:
        await self.polling.process(raw, sink)

    # ------------------------------------------------------------ sending
    async def send(self, row: OutboxRow) -> SendResult:
        item = row.item
        message_id = ""
        if item.kind is OutKind.SETTLED or (item.kind is OutKind.PROMPT and item.update):
            message_id = self._prompt_message(row)
            if not message_id and item.kind is OutKind.SETTLED:
                return SendResult(SendStatus.SENT)
        group = row.chat_id.startswith("-")
        # the translated words serve a multiple choice's "validate", a group's mention and the
        # line recording a choice (as queued with the row; looked up only for rows queued without)
        answered = row.answered if row.answered and self._offered_choices(row) else ""
        words = (self.words(self.store.locale_for(row)) if group or answered or (item.multi and item.ref)
                 else None)
        name = self.store.name_for(row) if group else ""

        def calls(chat_id: str, edit: str) -> list[dict]:
            return render(item, chat_id, user_id=row.user_id, secret=self.secret,
                          message_id=edit, words=words, mention=name, answered=answered)
        result = await deliver(self, row.chat_id, calls, message_id)
        if result.moved_to:
            self.store.move_chat(self.name, row.chat_id, result.moved_to)
        elif item.kind is OutKind.PROMPT and item.ref and result.status is SendStatus.SENT:
            self._remember(row, result.ref)
        return result

    def _prompt_message(self, row: OutboxRow) -> str:
        """The message id of the question an edit is for: the last one this process sent
        with that ref (for a settling edit: queued before it), else looked up in the store."""
        settling = row.item.kind is OutKind.SETTLED
        known = self._prompts.get((row.chat_id, row.user_id, row.item.ref))
        if known is not None and (not settling or known[0] < row.id):
            return known[1]
        found = self.store.sent_prompt(self.name, row.chat_id, row.user_id, row.item.ref,
                                       before=row.id if settling else None)
        return found[0] if found else ""

    def _offered_choices(self, row: OutboxRow) -> bool:
        """Whether the question answered just before this one (`row.answered_ref`) was shown
        with choice buttons: then its answer, pressed or typed, heads this question. (A typed
        free text is in the chat already.)"""
        known = self._prompts.get((row.chat_id, row.user_id, row.answered_ref))
        if known is not None:
            return known[2]
        found = self.store.sent_prompt(self.name, row.chat_id, row.user_id, row.answered_ref, before=row.id)
        return found is not None and bool(found[1].options)

    def _remember(self, row: OutboxRow, message_id: str) -> None:
        key = (row.chat_id, row.user_id, row.item.ref)
        known = self._prompts.pop(key, None)
        if known is not None and known[0] > row.id:
            message_id, row_id = known[1], known[0]     # a later rendering already went out
        else:
            row_id = row.id
        self._prompts[key] = (row_id, message_id, bool(row.item.options))
        if len(self._prompts) > REMEMBERED:
            del self._prompts[next(iter(self._prompts))]      # the oldest

    def words(self, locale: str) -> dict[str, str]:
        return {"validate": self.catalog(locale, "telegram.validate"),
                "for_member": self.catalog(locale, "telegram.for_member"),
                "answered": self.catalog(locale, "telegram.answered")}

    async def fetch_file(self, ref: str, size: int) -> bytes:
        """The bytes of a document a person sent (refused above Telegram's 20 MB)."""
        if size > MAX_DOWNLOAD:
            raise ValueError("Telegram does not let bots download files over 20 MB")
        file = await self.bot.get_file(ref)
        return bytes(await file.download_as_bytearray())

