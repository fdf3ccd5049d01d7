"""The process's copy of a candidature's answers (store.AnswersCache) against the store.

Two workers share one database (two Stores, each with its own copy, as two
processes would have): what one writes, through its dispatcher or as plain
SQL, the other's next read must show. A copy is taken again when the
candidature's `answers_rev` moved; a transaction or savepoint that rolls back
leaves the copy as it was.
"""
from __future__ import annotations

import pytest
from sqlalchemy import text

from tnlbot.core.events import Inbound, InboundKind
from tnlbot.store import Store

from .conftest import _pg_store
from .harness import Chat

KEY = ("console", "chat-alice", "alice")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def two_stores(request, tmp_path):
    """Two Stores on one database: two workers."""
    if request.param == "sqlite":
        url = Store.sqlite_url(tmp_path / "shared.db")
        first = Store(url)
    else:
        first = _pg_store(request.getfixturevalue("pg_url"))
        url = first.url
    second = Store(url)
    yield first, second
    second.close()
    first.close()


def read(store: Store) -> tuple[dict, dict]:
    """(the answers the hot path reads, with the copy; the answers in the database)."""
    with store.begin() as conn:
        conv = store.conversation(conn, *KEY, with_answers=True)
        assert conv is not None and conv.answers is not None
        return conv.answers, store.answers(conn, conv.candidature_id)


def test_what_another_worker_writes_is_read_by_this_one(two_stores, make_app):
    a_store, b_store = two_stores
    a = Chat(make_app(a_store), "alice")
    b = Chat(make_app(b_store, campaign=False), "alice")
    a.say("/start")
    a.say("Testbourg")                     # A's copy: written through at the commit
    assert a_store.answers_cache.get(KEY) is not None
    assert read(a_store)[0] == {"nom_collectivite": "Testbourg"}

    b.say("Commune")                       # worker B answers the next question
    seen, stored = read(a_store)
    assert seen == stored and seen["type_collectivite"] == stored["type_collectivite"]

    with b_store.begin() as conn:          # someone else again, as plain SQL
        conn.execute(text("UPDATE answers SET value = '\"Testville\"' WHERE key = 'nom_collectivite'"))
    seen, stored = read(a_store)
    assert seen == stored and seen["nom_collectivite"] == "Testville"

    with b_store.begin() as conn:
        conn.execute(text("DELETE FROM answers WHERE key = 'nom_collectivite'"))
    seen, stored = read(a_store)
    assert seen == stored and "nom_collectivite" not in seen

    a.say("/retour")                       # A goes on from what is stored, not from its copy
    a.say("Testbourg-les-Bains")
    seen, stored = read(a_store)
    assert seen == stored
    assert read(b_store)[0] == stored


def test_a_copy_is_written_through_only_when_its_transaction_commits(two_stores, make_app):
    store, _ = two_stores
    chat = Chat(make_app(store), "alice")
    chat.say("/start")
    chat.say("Testbourg")
    before = store.answers_cache.get(KEY)
    dispatcher = chat.app.dispatcher

    def refuse(*args, **kwargs):
        raise RuntimeError("the commit never happens")
    hooks = list(dispatcher.hooks)

    class Boom:
        def before(self, conn, inbound, conv, now):
            return None

        def after(self, conn, inbound, conv, outcome, now, answers):
            if outcome.changes:
                store.stage(conn, (refuse,))  # would fail the test if published
                raise RuntimeError("rolled back after the answer was written")
            return outcome

    dispatcher.hooks = hooks + [Boom()]
    with pytest.raises(RuntimeError, match="rolled back"):
        chat.say("Commune")
    assert store.answers_cache.get(KEY) == before
    bob = Chat(chat.app, "bob")
    bob.say("/start")
    # a batch (PostgreSQL: first tried read ahead, rolled back, then one savepoint per event)
    results = dispatcher.handle_batch([Inbound(kind=InboundKind.TEXT, text="Commune", **chat._base()),
                                       Inbound(kind=InboundKind.COMMAND, command="aide", **bob._base())])
    assert isinstance(results[0], RuntimeError) and not isinstance(results[1], Exception)
    assert store.answers_cache.get(KEY) == before
    dispatcher.hooks = hooks
    chat.say("Commune")
    seen, stored = read(store)
    assert seen == stored and "type_collectivite" in seen



def test_batches_keep_the_copies_current(two_stores, make_app):
    """The same through group commit (PostgreSQL: the batch read ahead, its writes held)."""
    a_store, b_store = two_stores
    a = Chat(make_app(a_store), "alice")
    b = Chat(make_app(b_store, campaign=False), "alice")
    bob = Chat(a.app, "bob")

    def batch(chat: Chat, *pairs: tuple[Chat, str]) -> None:
        inbounds = [Inbound(kind=InboundKind.TEXT, text=words, **who._base()) for who, words in pairs]
        results = chat.app.dispatcher.handle_batch(inbounds)
        assert not [r for r in results if isinstance(r, Exception)]

    a.say("/start")
    bob.say("/start")
    batch(a, (a, "Testbourg"), (bob, "Bobville"))
    batch(b, (b, "Commune"))                         # the other worker
    batch(a, (bob, "Commune"), (a, "732829320"))
    seen, stored = read(a_store)
    assert seen == stored and stored["type_collectivite"] == "commune" and len(stored) >= 3
    assert read(b_store) == (stored, stored)
