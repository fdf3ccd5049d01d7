"""The Telegram transport's receiving half: an update becomes an event, a press is answered.

- `prepare` (before the event's transaction, no store read): the update parsed by
  telegram_codec, a document a question may take fetched and held. A press that
  does not parse, and a group's move to a supergroup, still become an event so that
  `within` sees them in the transaction.
- `within` (the dispatcher's step, first thing in the event's savepoint, reading
  through the `Lookup`): a group that became a supergroup is followed; a compact
  press is resolved against the prompt shown in its message; a press that does not
  verify (forged, another member's button in a group, Retour/Passer under an old
  question) is settled there with its polite refusal, and nothing is stored.
- `after` (committed): the press is answered, with its refusal, or with the lone
  short notice it produced (an old keyboard, a refused selection) instead of a chat
  message.
- `refetch_due` (beside receiving): a document Telegram did not hand over on receipt
  was answered with its file id (store/fetches records it); it is fetched again a few
  times, with growing pauses, and kept with its answer, or its sender is told to send
  it again.
"""
from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from telegram.error import TelegramError

from ..core.events import FileRef, Inbound, InboundKind, OutKind
from ..runtime.refetch import refetch_due
from ..runtime.transport import Handled, Lookup
from .telegram_codec import ACTION, TRANSPORT, inbound_from_update, needs_resolving, resolve_press
from .telegram_hook import MAX_DOWNLOAD, locale_of
from .telegram_render import units

log = logging.getLogger(__name__)
MAX_TOAST = 200


def _moved(raw: dict) -> tuple[str, str] | None:
    """(old chat, new chat) when the update says a group became a supergroup."""
    message = raw.get("message") or {}
    chat = str((message.get("chat") or {}).get("id", ""))
    if message.get("migrate_to_chat_id"):
        return chat, str(message["migrate_to_chat_id"])
    if message.get("migrate_from_chat_id"):
        return str(message["migrate_from_chat_id"]), chat
    return None


class Receiving:
    """Mixed into telegram.Telegram (its store, catalog, clock, secret, keep, wants, call,
    fetch_file)."""
    name = TRANSPORT
    catalog: Any
    clock: Any
    store: Any
    secret: bytes
    username: str
    keep: Any
    wants: Any

    @staticmethod
    def sender(raw: dict) -> tuple[str, str]:
        event = raw.get("message") or raw.get("callback_query") or {}
        message = event.get("message", event) if isinstance(event, dict) else {}
        try:
            return str(message["chat"]["id"]), str((event.get("from") or {}).get("id", ""))
        except (KeyError, TypeError, AttributeError):
            return "", ""

    async def prepare(self, raw: dict) -> tuple[Inbound | None, dict | None]:
        """The update's event (None when there is nothing to store) and its press, if any."""
        inbound = inbound_from_update(raw, self.username, self.secret)
        query = raw.get("callback_query")
        if inbound is None and (query or _moved(raw)):
            # settled by `within`, in the transaction: a refusal to answer, a chat to move
            chat, user = self.sender(raw)
            inbound = Inbound(TRANSPORT, f"{raw.get('update_id', '')}:step", chat,
                              user if query else "", InboundKind.UNRECOGNISED)
        if inbound is not None and inbound.file is not None:
            inbound = await self._held_file(inbound, inbound.file)
        return inbound, query

    def within(self, lookup: Lookup, inbound: Inbound, raw: dict) -> Inbound | str:
        """The dispatcher's step for this update (see the module's docstring)."""
        moved = _moved(raw)
        if moved is not None:
            lookup.move_chat(*moved)
            if inbound.external_id.endswith(":step"):
                return ""
        query = raw.get("callback_query")
        if query and needs_resolving(inbound):
            message = str((query.get("message") or {}).get("message_id", ""))
            found = lookup.prompt_sent_as(inbound.chat_id, message)
            inbound = resolve_press(inbound, found[1] if found else None, self.secret)
        if query and inbound.kind is InboundKind.UNRECOGNISED:
            return self._refusal(lookup, query, foreign=True)
        if query and not self._still_live(lookup, query, inbound):
            return self._refusal(lookup, query, foreign=False)
        return inbound

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

    async def refetch_due(self) -> int:
        """Documents not handed over on receipt whose next try is due (runtime/refetch)."""
        async def fetch(row: Any) -> bytes:
            return await self.fetch_file(row.handle, row.size)
        return await refetch_due(self.store, self.catalog, self.clock, TRANSPORT, fetch)

    # ------------------------------------------------------------ presses
    def _still_live(self, lookup: Lookup, query: dict, inbound: Inbound) -> bool:
        """Retour/Passer act on the current question: only from the latest prompt."""
        if not str(query.get("data", "")).startswith(ACTION):
            return True
        message = str((query.get("message") or {}).get("message_id", ""))
        if lookup.prompt_sent_as(inbound.chat_id, message) is None:
            return True   # a notice's shortcuts (/aller 3, /langue en) are plain commands
        return lookup.last_prompt_message(inbound.chat_id, inbound.user_id) == message

    def _refusal(self, lookup: Lookup, query: dict, foreign: bool) -> str:
        """Why a press changed nothing: not this member's button (groups), or no longer valid."""
        sender = query.get("from") or {}
        chat = str(((query.get("message") or {}).get("chat") or {}).get("id", ""))
        user = str(sender.get("id", ""))
        locale = (lookup.conversation_locale(chat, user) if lookup.person_name(user)
                  else locale_of(sender.get("language_code", ""), self.catalog.locales))
        key = "telegram.button_not_yours" if foreign and chat.startswith("-") else "telegram.button_invalid"
        return str(self.catalog(locale, key))

    async def after(self, raw: dict, inbound: Inbound, handled: Handled, query: dict | None) -> None:
        """Committed: a press is answered (with its refusal, or its lone short notice)."""
        if not query:
            return
        if handled.refused == "transport":
            await self.answer_press(query, handled.answer)
            return
        answer = inbound.kind in (InboundKind.CHOICE, InboundKind.TOGGLE)   # not a command's output
        toast = self._lone_notice(handled) if answer else None
        answered = await self.answer_press(query, toast[1] if toast else "")
        if toast is not None:
            status = "sent" if answered else "pending"
            self.store.settle_message(toast[0], status, self.clock.now(),
                                      error="" if answered else "shown as a message instead")

    def _lone_notice(self, handled: Handled) -> tuple[int, str] | None:
        """A press that changed nothing and produced one short notice (an old button, a
        selection refused): that notice (its outbox id and text, as queued: nothing is read
        back), claimed to be shown as the press's answer."""
        if len(handled.outbox_ids) != 1 or len(handled.messages) != 1:
            return None
        item = handled.messages[0].item
        if item.kind is not OutKind.NOTICE or item.actions or units(item.text) > MAX_TOAST:
            return None
        notice = handled.outbox_ids[0]
        return (notice, item.text) if self.store.claim_message(notice, self.clock.now()) else None

    async def answer_press(self, query: dict, text: str = "") -> bool:
        params: dict = {"callback_query_id": str(query.get("id", ""))}
        if text:
            params["text"] = text
        try:
            await self.call("answerCallbackQuery", params)
            return True
        except Exception:  # logged; an expired press is not an error of ours
            log.info("could not answer a button press", exc_info=True)
            return False
