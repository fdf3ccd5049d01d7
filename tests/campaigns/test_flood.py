"""One chat's flood cannot hold up the others (fake clock: nothing sleeps for real).

Telegram's limits apply (1 message a second to one chat, 30 to all): one person
sends 150 messages as fast as they can, another then says one word; that
other person's reply leaves within 2 seconds, and the flooding person is
told once to slow down, the rest of their flood dropped unstored.
"""
from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from tnlbot.core.events import Inbound, InboundKind
from tnlbot.runtime.ratelimit import RateLimiter
from tnlbot.store import tables as T


def text(chat: str, n: int, words: str) -> Inbound:
    return Inbound("telegram", f"{n}:{chat}/{n}", chat, chat, InboundKind.TEXT, text=words)


def test_a_flooding_chat_does_not_delay_another_chats_reply(camp, clock):
    app = camp
    app.relay.limiters = {"telegram": RateLimiter(clock, per_chat=1.0, overall=30.0)}
    sent = app.transports["telegram"].sent

    async def scenario() -> float:
        for n in range(150):                      # the flood, faster than any reply can leave
            await app.dispatcher.submit(text("1001", n, f"message {n}"))
            if n % 10 == 0:
                await app.relay.flush("telegram")
        start = clock.now()
        await app.dispatcher.submit(text("2002", 999, "bonjour"))
        while not any(row.chat_id == "2002" for _, row in sent):
            await app.relay.flush("telegram")
            clock.advance(0.1)
        at = next(when for when, row in sent if row.chat_id == "2002")
        return (at - start).total_seconds()

    waited = asyncio.run(scenario())
    assert waited <= 2.0, waited
    o, seen = T.outbox, T.inbound_seen
    with app.store.begin() as conn:
        told = conn.execute(select(o.c.payload).where(o.c.chat_id == "1001",
                                                      o.c.payload.like("%plus vite que je ne peux%"))).all()
        stored = conn.execute(select(func.count()).select_from(seen).where(
            seen.c.external_id.like("%:1001/%"))).scalar()
    assert len(told) == 1                          # told once, politely
    assert stored < 40                             # the rest of the flood was not stored


def test_hundreds_queued_for_one_chat_do_not_hide_the_others(camp, clock):
    app = camp
    app.relay.limiters = {"telegram": RateLimiter(clock, per_chat=1.0, overall=30.0)}
    app.dispatcher.backlog_limit = 0               # no inbound limit: only the relay's fairness
    sent = app.transports["telegram"].sent

    async def scenario() -> float:
        for n in range(150):
            await app.dispatcher.submit(text("1001", n, f"message {n}"))
        start = clock.now()
        await app.dispatcher.submit(text("2002", 999, "bonjour"))
        while not any(row.chat_id == "2002" for _, row in sent):
            await app.relay.flush("telegram")
            clock.advance(0.1)
        return (next(when for when, row in sent if row.chat_id == "2002") - start).total_seconds()

    assert asyncio.run(scenario()) <= 2.0
    with app.store.begin() as conn:
        queued = conn.execute(select(func.count()).select_from(T.outbox).where(
            T.outbox.c.chat_id == "1001", T.outbox.c.status == "pending")).scalar()
    assert queued > 100                            # the flood's replies still wait their turn
