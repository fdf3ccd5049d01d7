"""Files a transport could not fetch when their answer was saved, fetched again when due.

The answer holds the platform's handle meanwhile (store/fetches records it). Each round
takes the due rows of one transport and tries each once: fetched, the content is kept
and the answer holds it, in one transaction; failed, it is tried again after a longer
pause, and after the last try its sender is told, once, in their language, to send the
file again.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable

from ..core.events import Addressed, Outgoing, OutKind
from ..i18n import Catalog
from ..store import Store, fetches
from .clock import Clock

log = logging.getLogger(__name__)
EVERY = 15.0          # seconds between two rounds

Fetch = Callable[[fetches.Fetch], Awaitable[bytes]]   # a file's bytes, from its handle (raises if it cannot)


async def refetch_due(store: Store, catalog: Catalog, clock: Clock, transport: str, fetch: Fetch) -> int:
    """One round for one transport; how many files were fetched."""
    now = clock.now()
    with store.begin() as conn:
        due = fetches.due(conn, transport, now)
    got = 0
    for row in due:
        data: bytes | None
        try:
            data = await fetch(row)
        except Exception as exc:  # noqa: BLE001 - any failure is one more try, logged
            log.warning("file %s of candidature %s still not fetched (try %d): %r",
                        row.key, row.candidature_id, row.attempts + 2, exc)
            data = None
        with store.begin() as conn:
            if data is not None:
                fetches.fetched(conn, row, data, now)
                got += 1
            elif fetches.failed(conn, row, now):
                locale = store.conversation_locale(transport, row.chat_id, row.user_id, conn=conn)
                text = catalog(locale, "file.fetch_failed", name=row.name)
                store.enqueue(conn, [Addressed(transport, row.chat_id, Outgoing(OutKind.NOTICE, text),
                                               row.user_id, f"file-fetch:{row.id}", locale=locale)], now)
    return got


async def every(seconds: float, round_: Callable[[], Awaitable[int]]) -> None:
    """A transport's rounds, beside receiving, until cancelled (a failed round is logged)."""
    while True:
        await asyncio.sleep(seconds)
        try:
            await round_()
        except Exception:  # logged; tried again at the next round
            log.warning("files to fetch again could not be read", exc_info=True)
