"""What the Telegram transport adds to the dispatch transaction (no Telegram library here).

Documents over 20 MB: Telegram will not hand them to a bot, so the person is
told at once instead of the engine waiting for bytes that never come.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection

from ..core.events import Addressed, Inbound, Outgoing, OutKind
from ..i18n import Catalog
from ..store import ConversationRow
from .telegram_codec import TRANSPORT

MAX_DOWNLOAD = 20 * 1000 * 1000       # Bot API: bots cannot download bigger files


def locale_of(language: str, known: tuple[str, ...]) -> str:
    code = language.split("-")[0].lower()
    return code if code in known else known[0]


@dataclass(frozen=True)
class FileSizeHook:
    """Documents over 20 MB: Telegram will not hand them to a bot; say so."""
    catalog: Catalog

    def before(self, conn: Connection, inbound: Inbound, conv: ConversationRow | None,
               now: datetime) -> list[Addressed] | None:
        file = inbound.file
        if inbound.transport != TRANSPORT or file is None or file.size <= MAX_DOWNLOAD:
            return None
        locale = conv.state.locale if conv else locale_of(inbound.language, self.catalog.locales)
        text = self.catalog(locale, "telegram.file_too_big")
        return [Addressed(TRANSPORT, inbound.chat_id, Outgoing(OutKind.NOTICE, text), inbound.user_id)]
