"""Group commit: a getUpdates batch is one transaction, each update in a savepoint.

Fifty people write at once and one message is poisoned (a hook fails on it):
the other 49 are committed together, in one transaction, before anything is
confirmed to Telegram; the poisoned one is rolled back alone, fetched again
with its batch, and set aside after the usual number of failures, when the
whole batch is confirmed. Nothing of the 49 is stored twice.
"""
from __future__ import annotations

from contextlib import contextmanager

import pytest
from sqlalchemy import func, select

from tnlbot.store import tables as T
from tnlbot.runtime.receiver import MAX_FAILURES

PEOPLE = 50
POISONED = 17


class Poison:
    def before(self, conn, inbound, conv, now):
        if inbound.text == "poison":
            raise RuntimeError("a poisoned message")


def count(store, table) -> int:
    with store.begin() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar())


async def test_one_poisoned_update_in_a_batch_of_50_leaves_49_committed_and_acknowledged(
        bot_session, monkeypatch):
    session = await bot_session("tnl-2025-badge")
    app, fake, telegram = session.app, session.fake, session.telegram
    app.dispatcher.hooks.insert(0, Poison())
    transactions = []
    begin = app.store.begin

    @contextmanager
    def counted():
        transactions.append(1)
        with begin() as conn:
            yield conn
    monkeypatch.setattr(app.store, "begin", counted)

    async def sink(inbound, step=None):
        return await app.dispatcher.submit(inbound, step)

    async def batch(inbounds, steps=()):
        return await app.dispatcher.submit_batch(inbounds, steps=steps)
    sink.batch = batch
    people = [session.person(9000 + n, f"Agent {n}") for n in range(PEOPLE)]
    ids = [fake.push({"message": fake.user_message(p.chat_id, p.user, "poison" if n == POISONED
                                                    else "/start")}) for n, p in enumerate(people)]

    with pytest.raises(RuntimeError):                  # the poisoned update fails: not confirmed
        await telegram.poll_once(sink, 0)
    assert len(transactions) == 2                      # the backlog read, then one for 50 updates
    assert count(app.store, T.inbound_seen) == PEOPLE - 1
    assert count(app.store, T.conversations) == PEOPLE - 1
    assert not fake.confirmed

    for _ in range(MAX_FAILURES - 2):                  # fetched again: the 49 are duplicates now
        with pytest.raises(RuntimeError):
            await telegram.poll_once(sink, 0)
    assert await telegram.poll_once(sink, 0) == PEOPLE  # the last failure sets it aside
    await telegram.poll_once(sink, 0)                  # the next call confirms the batch
    assert sorted(fake.confirmed) == sorted(ids)
    assert count(app.store, T.inbound_seen) == PEOPLE - 1
    assert count(app.store, T.conversations) == PEOPLE - 1


async def test_a_batch_keeps_each_persons_order_and_rolls_back_only_the_failed_event(make_app, any_store):
    """The dispatcher alone, on SQLite and PostgreSQL: savepoints, order per conversation."""
    from tnlbot.core.events import Inbound, InboundKind
    app = make_app(any_store)
    app.dispatcher.hooks.insert(0, Poison())

    def said(user: str, n: int, text: str) -> Inbound:
        if text.startswith("/"):
            return Inbound("console", f"{user}-{n}", user, user, InboundKind.COMMAND,
                           command=text[1:], display_name=user)
        return Inbound("console", f"{user}-{n}", user, user, InboundKind.TEXT, text=text)
    batch = [said("ana", 1, "/start"), said("bob", 1, "/start"), said("ana", 2, "poison"),
             said("ana", 3, "Mairie d'Anaville"), said("bob", 2, "Mairie de Bobville")]
    results = await app.dispatcher.submit_batch(batch)

    assert [type(r).__name__ for r in results] == ["Handled", "Handled", "RuntimeError",
                                                   "Handled", "Handled"]
    assert count(any_store, T.inbound_seen) == 4
    with any_store.begin() as conn:
        names = dict(conn.execute(select(T.conversations.c.user_id, T.answers.c.value).join(
            T.answers, T.answers.c.candidature_id == T.conversations.c.candidature_id)
            .where(T.answers.c.key == "nom_collectivite")).all())
    assert names == {"ana": '"Mairie d\'Anaville"', "bob": '"Mairie de Bobville"'}
