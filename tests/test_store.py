"""The store, the same suite on SQLite and on the PostgreSQL at 127.0.0.1:5432."""
import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tnlbot.core.events import Addressed, Outgoing, OutKind
from tnlbot.runtime.relay import Relay
from tnlbot.store import tables as T
from tnlbot.runtime.transport import SendResult, SendStatus

from .conftest import START
from .harness import Chat


def notice(text):
    return Outgoing(OutKind.NOTICE, text)


def count(store, table, *where):
    with store.begin() as conn:
        return conn.execute(select(func.count()).select_from(table).where(*where)).scalar()


def test_inbound_ids_are_recorded_once(any_store):
    with any_store.begin() as conn:
        assert any_store.mark_seen(conn, "telegram", "1001", START)
        assert not any_store.mark_seen(conn, "telegram", "1001", START)
        assert any_store.mark_seen(conn, "matrix", "1001", START)


def test_a_conversation_answers_and_history_round_trip(any_store, make_app):
    app = make_app(any_store)
    chat = Chat(app, "alice")
    chat.say("/start")
    chat.say("Testbourg")
    chat.say("/retour")
    chat.say("Testbourg-les-Bains")
    assert chat.answers() == {"nom_collectivite": "Testbourg-les-Bains"}
    assert count(any_store, T.answer_history) == 2
    with any_store.begin() as conn:
        conv = any_store.conversation(conn, "console", "chat-alice", "alice")
    assert conv.state.cursor == "type_collectivite" and conv.is_responsible
    assert conv.opens_at.tzinfo is not None


def test_unicode_and_long_texts_are_stored_exactly(any_store, make_app):
    app = make_app(any_store)
    chat = Chat(app, "zoé")
    chat.say("/start")
    name = "Saint-Étienne-du-Grès 🌻 « ça » <b>&amp;</b> ' OR 1=1 --"
    chat.say(name)
    assert chat.answers()["nom_collectivite"] == name


def test_outbox_rows_claimed_once_and_settled(any_store):
    with any_store.begin() as conn:
        ids = any_store.enqueue(conn, [Addressed("console", "c1", notice("un")),
                                       Addressed("console", "c1", notice("deux"))], START)
    due = any_store.due_messages("console", START)
    assert [r.item.text for r in due] == ["un", "deux"]
    assert any_store.claim_message(ids[0], START)
    assert not any_store.claim_message(ids[0], START)     # a second worker gets nothing
    any_store.settle_message(ids[0], "sent", START, ref="m-1")
    assert [r.id for r in any_store.due_messages("console", START)] == [ids[1]]


def test_the_ids_of_queued_messages_name_their_rows_in_order(any_store):
    """Plain messages go in one INSERT; a keyed one in between keeps its place."""
    items = [Addressed("console", "c2", notice("un")), Addressed("console", "c2", notice("deux")),
             Addressed("console", "c2", notice("clé"), dedup_key="k:1"),
             Addressed("console", "c2", notice("trois"))]
    with any_store.begin() as conn:
        any_store.enqueue(conn, [Addressed("console", "c0", notice("avant"))], START)
        ids = any_store.enqueue(conn, items, START)
    assert ids == sorted(ids) and len(set(ids)) == 4
    assert [r.item.text for r in any_store.outbox_items(ids)] == ["un", "deux", "clé", "trois"]


def test_scheduled_sends_are_unique_by_key(any_store):
    item = Addressed("telegram", "c9", notice("rappel"), dedup_key="reminder:1:2:J-7")
    with any_store.begin() as conn:
        first = any_store.enqueue(conn, [item], START)
    with any_store.begin() as conn:
        second = any_store.enqueue(conn, [item], START)
    assert len(first) == 1 and second == []
    assert count(any_store, T.outbox) == 1


def test_checkpoints(any_store):
    assert any_store.checkpoint("matrix:since") is None
    with any_store.begin() as conn:
        any_store.set_checkpoint(conn, "matrix:since", "s1")
    with any_store.begin() as conn:
        any_store.set_checkpoint(conn, "matrix:since", "s2")
    assert any_store.checkpoint("matrix:since") == "s2"


def test_a_failed_transaction_leaves_nothing(any_store):
    with pytest.raises(RuntimeError):
        with any_store.begin() as conn:
            any_store.mark_seen(conn, "telegram", "77", START)
            raise RuntimeError("crash before commit")
    with any_store.begin() as conn:
        assert any_store.mark_seen(conn, "telegram", "77", START)


class Flaky:
    """A transport whose answers are scripted, recording what it delivered."""
    name = "fake"

    def __init__(self, *results):
        self.results = list(results)
        self.delivered = []

    async def send(self, row):
        result = self.results.pop(0) if self.results else SendResult(SendStatus.SENT, ref=f"m{row.id}")
        if result.status is SendStatus.SENT:
            self.delivered.append(row.item.text)
        return result


def run_relay(store, clock, transport):
    relay = Relay(store, {"fake": transport}, clock)
    return relay, asyncio.run(relay.flush("fake"))


def test_relay_keeps_order_per_chat_and_honours_retry_after(any_store, clock):
    with any_store.begin() as conn:
        any_store.enqueue(conn, [Addressed("fake", "c1", notice("1")), Addressed("fake", "c1", notice("2")),
                                 Addressed("fake", "c2", notice("autre"))], clock.now())
    transport = Flaky(SendResult(SendStatus.RETRY, retry_after=30))
    relay, sent = run_relay(any_store, clock, transport)
    assert transport.delivered == ["autre"]               # c1 waits behind its first message
    clock.advance(10)
    asyncio.run(relay.flush("fake"))
    assert transport.delivered == ["autre"]               # retry_after not over yet
    clock.advance(25)
    asyncio.run(relay.flush("fake"))
    assert transport.delivered == ["autre", "1", "2"]


def test_two_flushes_of_one_chat_keep_its_order_after_a_429(any_store, clock):
    """The relay's loop and the flush after a commit both read a chat's rows; the first
    send is refused with a retry_after: the second flush, working from the rows it read
    before, neither sends that message early nor lets the next one overtake it."""
    with any_store.begin() as conn:
        any_store.enqueue(conn, [Addressed("fake", "c1", notice("1")), Addressed("fake", "c1", notice("2"))],
                          clock.now())
    transport = Flaky(SendResult(SendStatus.RETRY, retry_after=30))
    relay = Relay(any_store, {"fake": transport}, clock)
    stale = any_store.due_messages("fake", clock.now())
    real_due = any_store.due_messages

    async def both():
        await relay.flush("fake")                       # "1" refused: retry in 30 s
        any_store.due_messages = lambda *a, **k: stale  # the other flush read before that
        try:
            await relay.flush("fake", chats=["c1"])
        finally:
            any_store.due_messages = real_due
    asyncio.run(both())
    assert transport.delivered == []                    # nothing early, nothing out of order
    clock.advance(31)
    asyncio.run(relay.flush("fake"))
    assert transport.delivered == ["1", "2"]


def test_relay_never_resends_an_uncertain_message(any_store, clock):
    with any_store.begin() as conn:
        any_store.enqueue(conn, [Addressed("fake", "c1", notice("peut-être"))], clock.now())
    transport = Flaky(SendResult(SendStatus.UNCERTAIN, error="timeout"))
    relay, _ = run_relay(any_store, clock, transport)
    clock.advance(3600)
    asyncio.run(relay.flush("fake"))
    assert transport.delivered == []
    assert count(any_store, T.outbox, T.outbox.c.status == "uncertain") == 1


def test_relay_marks_a_blocked_chat_unreachable(any_store, clock, make_app):
    with any_store.begin() as conn:
        any_store.enqueue(conn, [Addressed("fake", "c1", notice("a")), Addressed("fake", "c1", notice("b"))],
                          clock.now())
    transport = Flaky(SendResult(SendStatus.UNREACHABLE, error="blocked"))
    run_relay(any_store, clock, transport)
    clock.advance(3600)
    asyncio.run(Relay(any_store, {"fake": transport}, clock).flush("fake"))
    assert transport.delivered == []
    assert count(any_store, T.outbox, T.outbox.c.status == "failed") == 2


def test_relay_recovery_marks_interrupted_sends_uncertain(any_store, clock):
    with any_store.begin() as conn:
        [row_id] = any_store.enqueue(conn, [Addressed("fake", "c1", notice("x"))], clock.now())
    assert any_store.claim_message(row_id, clock.now())     # then the process died
    relay = Relay(any_store, {"fake": Flaky()}, clock)
    assert relay.recover() == 1
    assert asyncio.run(relay.flush("fake")) == 0


def test_questions_left_sending_by_a_crash_are_sent_again_other_rows_at_most_once(any_store, clock):
    question = Outgoing(OutKind.PROMPT, "Quel est le nom ?", ref="nom")
    with any_store.begin() as conn:
        ids = any_store.enqueue(conn, [Addressed("fake", "c1", question), Addressed("fake", "c2", notice("x")),
                                       Addressed("other", "c3", question)], clock.now())
    for row_id in ids:
        assert any_store.claim_message(row_id, clock.now())     # then the process died
    assert any_store.resume_interrupted_prompts("fake") == 1
    relay = Relay(any_store, {"fake": Flaky()}, clock)
    assert relay.recover() == 2                                  # the notice, the other transport's
    assert asyncio.run(relay.flush("fake")) == 1
    with any_store.begin() as conn:
        statuses = dict(conn.execute(select(T.outbox.c.id, T.outbox.c.status)).all())
    assert [statuses[row_id] for row_id in ids] == ["sent", "uncertain", "uncertain"]


def test_time_is_stored_in_utc(any_store, make_app, clock):
    app = make_app(any_store)
    clock.advance(timedelta(hours=5).total_seconds())
    Chat(app, "alice").say("/start")
    with any_store.begin() as conn:
        updated = conn.execute(select(T.conversations.c.updated_at)).scalar()
    assert updated == clock.now() and updated.utcoffset() == timedelta(0)


def test_send_results_and_claims_share_one_transaction(any_store, clock):
    """Several chats served at once: the claims of their first rows go in one transaction,
    the results of those sends and the claims of the next rows in one more."""
    with any_store.begin() as conn:
        any_store.enqueue(conn, [Addressed("fake", f"c{n}", notice(f"{n}.{k}"))
                                 for k in (1, 2) for n in range(5)], clock.now())
    writes = []
    real = any_store.settle_and_claim

    def counted(settles, claims, now=None):
        writes.append((len(settles), len(claims)))
        return real(settles, claims, now=now)

    any_store.settle_and_claim = counted
    transport = Flaky()
    _, sent = run_relay(any_store, clock, transport)
    assert sent == 10 and sorted(transport.delivered) == sorted(f"{n}.{k}" for n in range(5) for k in (1, 2))
    assert writes == [(0, 5), (5, 5), (5, 0)]
    assert count(any_store, T.outbox, T.outbox.c.status == "sent", T.outbox.c.sent_ref != "") == 10


def test_a_claim_taken_by_another_worker_is_not_sent(any_store, clock):
    with any_store.begin() as conn:
        [first, second] = any_store.enqueue(conn, [Addressed("fake", "c1", notice("a")),
                                                   Addressed("fake", "c2", notice("b"))], clock.now())
    assert any_store.settle_and_claim([], [first]) == {first}       # the other worker
    assert any_store.settle_and_claim([], [first, second]) == {second}
    any_store.settle_and_claim([{"id": first, "status": "pending", "now": clock.now(), "error": "429",
                                 "retry_at": clock.now() + timedelta(seconds=30)}], [])
    [row] = [r for r in any_store.due_messages("fake", clock.now()) if r.id == first]
    assert row.attempts == 1 and row.not_before == clock.now() + timedelta(seconds=30)


def test_a_batch_read_ahead_holds_only_its_own_connections_writes(any_store):
    """PostgreSQL: inside a batch read ahead, the batch's deliveries and messages are held
    until its end; a transaction of its own on another connection runs as usual."""
    if any_store.is_sqlite:
        pytest.skip("the read ahead is PostgreSQL's")
    keys = [("telegram", "2001", "c1", "u1"), ("telegram", "2002", "c2", "u2")]
    with any_store.begin() as conn:
        with any_store.ahead(conn, keys) as fast:
            assert any_store.mark_seen(conn, "telegram", "2001", START)
            assert not any_store.mark_seen(conn, "telegram", "2001", START)   # twice in the batch
            assert any_store.enqueue(conn, [Addressed("console", "c1", notice("held"))], START) == []
            with any_store.begin() as own:                    # another connection: its own rows
                assert any_store.mark_seen(own, "telegram", "2002", START)
                ids = any_store.enqueue(own, [Addressed("console", "c9", notice("own"))], START)
            assert len(ids) == 1 and fast.queued == 1
            queued = fast.outbox
        assert len(any_store.outbox_ids(queued)) == 1
    with any_store.begin() as conn:
        assert not any_store.mark_seen(conn, "telegram", "2001", START)
        assert not any_store.mark_seen(conn, "telegram", "2002", START)
        assert conn.execute(select(func.count()).select_from(T.outbox)).scalar() == 2


def test_a_worker_waiting_for_a_candidature_reads_the_conversation_as_left_by_the_one_before(
        any_store, make_app):
    """PostgreSQL, two workers and one person's two messages: the second worker waits for
    the candidature's lock while the first moves the conversation on, then reads the
    conversation as the first one left it, not as it was when it began to wait."""
    if any_store.is_sqlite:
        pytest.skip("SQLite's write lock is taken before anything is read")
    import threading
    import time

    from sqlalchemy import text, update

    app = make_app(any_store)
    chat = Chat(app, "alice")
    chat.say("/start")
    key = ("console", "chat-alice", "alice")

    def saved_state():
        with any_store.begin() as conn:
            return conn.execute(select(T.conversations.c.state)).scalar_one()

    at_the_name = saved_state()
    chat.say("Testbourg")
    with any_store.begin() as conn:
        assert any_store.conversation(conn, *key).state.cursor == "type_collectivite"

    seen = {}

    def second_worker():
        with any_store.begin() as conn:
            seen["cursor"] = any_store.conversation(conn, *key).state.cursor

    with any_store.begin() as first:           # the first worker: alice goes back a question
        conv = any_store.conversation(first, *key)
        first.execute(update(T.conversations).where(T.conversations.c.id == conv.id)
                      .values(state=at_the_name))
        waiting = threading.Thread(target=second_worker)
        waiting.start()
        for _ in range(500):                   # until the second worker waits for the lock
            with any_store.begin() as probe:
                if probe.execute(text("SELECT count(*) FROM pg_stat_activity "
                                      "WHERE wait_event_type = 'Lock' "
                                      "AND datname = current_database()")).scalar():
                    break
            time.sleep(0.01)
        else:
            raise AssertionError("the second worker never waited for the candidature's lock")
    waiting.join(timeout=30)
    assert seen == {"cursor": "nom_collectivite"}
