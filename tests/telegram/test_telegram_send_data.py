"""What sending a row needs (the addressee's language and name) is queued with the row.

The relay sends what the row carries; a row queued without them (before the
outbox had those columns) is sent with the language and name looked up, as
before.
"""
from sqlalchemy import select, update

from tnlbot.core.events import Addressed, Outgoing, OutKind
from tnlbot.store import tables as T

from .conftest import Screen


def rows_for(session, user: str) -> list:
    o = T.outbox
    with session.app.store.begin() as conn:
        return conn.execute(select(o.c.locale, o.c.display_name).where(
            o.c.user_id == user).order_by(o.c.id)).all()


async def test_a_group_message_carries_the_name_and_language_it_is_sent_with(bot_session):
    session = await bot_session("tnl-2025-badge")
    group = -5002
    alice = session.person(211, "Alice", chat_id=group)
    await alice.says("/start")
    bot = await alice.says("Mairie d'Alice", reply_to=alice.last_keyboard())
    assert "Pour Alice" in bot.messages[-1]["text"]
    assert rows_for(session, "211")[-1] == ("fr", "Alice")

    # the store now knows her by another name: the rows queued with "Alice" still say Alice,
    # so nothing was looked up when they were sent
    with session.app.store.begin() as conn:
        conn.execute(update(T.people).values(display_name="Zoé"))
    bot = await alice.presses("Commune")
    assert bot.messages and all("Pour Alice" in m["text"] for m in bot.messages if m.get("text"))
    assert "Zoé" not in bot

    # a row queued without them (as before the migration) is sent with what the store says
    note = Outgoing(OutKind.NOTICE, "Un rappel")
    with session.app.store.begin() as conn:
        session.app.store.enqueue(conn, [Addressed("telegram", str(group), note, "211")],
                                  session.app.clock.now())
    assert rows_for(session, "211")[-1] == (None, None)
    mark = len(session.fake.events)
    await session.flush()
    sent = [m for m in Screen(session.fake.seen_by(group, mark)).messages if "Un rappel" in m.get("text", "")]
    assert len(sent) == 1 and "Pour Zoé" in sent[0]["text"]
