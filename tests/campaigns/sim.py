"""Drive a campaign through time: tick the scheduler, let the relay send."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from tnlbot.core.events import Outgoing
from tnlbot.store import tables as T

PARIS = ZoneInfo("Europe/Paris")


@dataclass(frozen=True)
class Delivered:
    at: datetime          # when the relay sent it
    chat: str
    key: str              # the outbox dedup key ("" for plain replies)
    item: Outgoing

    @property
    def local(self) -> str:
        return self.at.astimezone(PARIS).strftime("%a %d %b %H:%M")

    @property
    def slot(self) -> str:
        return self.key.split(":", 3)[3] if self.key.startswith("remind:") else self.key


def flush(app) -> None:
    async def _all() -> None:
        for name in app.transports:
            while await app.relay.flush(name):
                pass
    asyncio.run(_all())


def run(app, clock, until: datetime, step: timedelta = timedelta(hours=1)) -> None:
    """Tick every `step` from the clock's instant to `until`, sending as the bot would."""
    while clock.now() <= until:
        report = app.scheduler.tick()
        if report.sent or report.closed:
            flush(app)
        clock.advance(step.total_seconds())
    clock.set(until)


def delivered(app) -> list[Delivered]:
    """Everything the relay sent, oldest first, with its dedup key."""
    rows = [(at, row) for t in app.transports.values() for at, row in t.sent]
    o = T.outbox
    with app.store.begin() as conn:
        keys = dict(conn.execute(select(o.c.id, o.c.dedup_key).where(
            o.c.id.in_([row.id for _, row in rows]))).all()) if rows else {}
    out = [Delivered(at, row.chat_id, keys.get(row.id) or "", row.item) for at, row in rows]
    return sorted(out, key=lambda d: (d.at, d.chat, d.key))


def reminders(app, chat: str = "") -> list[Delivered]:
    return [d for d in delivered(app) if d.key.startswith("remind:") and (not chat or d.chat == chat)]
