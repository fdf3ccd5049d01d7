"""Nothing lost, nothing twice: restarts, a lost sync token, resends, a forbidden room."""
from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy import delete, func, select

from tnlbot.core.events import Addressed, Outgoing, OutKind
from tnlbot.store import tables as T
from tnlbot.transports.matrix import Matrix, connect
from tnlbot.transports.matrix_sync import TOKEN

from .conftest import QUESTION, direct_room

pytestmark = pytest.mark.synapse

# 25 answers in a row, each valid for the question it meets, and what each then asks
TWENTY_FIVE = [
    ("Mairie de Saint-Libre", "nom_collectivite", "Mairie de Saint-Libre"),
    ("1", "type_collectivite", "commune"),
    ("213105554", "siren", "213105554"),
    ("31", "departement", "31"),
    ("1200", "population", 1200),
    ("15", "nombre_agents", 15),
    ("10", "nombre_postes", 10),
    ("Jean Dupont", "elu_nom", "Jean Dupont"),
    ("Maire", "elu_mandat", "Maire"),
    ("jean@saint-libre.fr", "elu_email", "jean@saint-libre.fr"),
    ("01 02 03 04 05", "elu_telephone", "+33102030405"),
    ("Marie Curie", "referent_nom", "Marie Curie"),
    ("DSI", "referent_fonction", "DSI"),
    ("marie@saint-libre.fr", "referent_email", "marie@saint-libre.fr"),
    ("01 23 45 67 89", "referent_telephone", "+33123456789"),
    ("oui", "deja_labellise", True),
    ("6, 7", "annees_label", ["2021", "2022"]),
    ("3", "dernier_niveau", "3"),
    ("oui", "volet:strategie", True),
    ("oui", "strategie_existe", True),
    ("Une politique du Libre votée en 2021.", "strategie_description", "Une politique du Libre votée en 2021."),
    ("non", "deliberation_votee", False),
    ("1, 2", "strategie_enjeux", ["souverainete", "economies"]),
    ("3", "strategie_portage", ["dsi"]),
    ("8", "freins_rencontres", ["aucun"]),
]


def stored(store) -> tuple[dict, dict]:
    """The answers, and how many times each was written."""
    a, h = T.answers, T.answer_history
    with store.begin() as conn:
        values = {k: json.loads(v) for k, v in conn.execute(select(a.c.key, a.c.value))}
        writes = dict(conn.execute(select(h.c.key, func.count()).group_by(h.c.key)).all())
    return values, writes


def questions(room) -> list[str]:
    return [m.body for m in room.all() if QUESTION.search(m.body)]


async def test_answers_sent_while_the_bot_was_down_are_back_filled_and_handled_once(bot, agents):
    await bot.start()
    agent = await agents("agent")
    room, _ = await direct_room(agent, bot)
    await bot.stop()

    for text, _, _ in TWENTY_FIVE:      # more than one timeline (10 events): it comes back limited
        await agent.say(room.id, text)
    await bot.start()

    expected = {key: value for _, key, value in TWENTY_FIVE}
    await agent.until(lambda: len(questions(room)) >= 1 + 25, timeout=300)
    values, writes = stored(bot.app.store)
    assert values == expected
    assert set(writes.values()) == {1}
    asked = questions(room)
    assert len(asked) == 1 + 25                       # the first question, then one per answer
    assert len(set(asked)) == len(asked)


async def test_a_lost_sync_token_answers_nothing_twice_and_skips_old_events(bot, agents):
    await bot.start()
    agent = await agents("agent")
    room, _ = await direct_room(agent, bot)
    await room.answer("Mairie de Saint-Libre")
    await bot.stop()
    with bot.app.store.begin() as conn:
        conn.execute(delete(T.checkpoints).where(T.checkpoints.c.name == TOKEN))

    await agent.say(room.id, "1")       # said while the bot is down, and it lost its place: old
    await bot.start()
    seen = len(room.all())
    siren = await room.answer("2")      # said after the restart: answered, once
    assert "SIREN" in siren
    assert len(room.all()) == seen + 1
    values, writes = stored(bot.app.store)
    assert values == {"nom_collectivite": "Mairie de Saint-Libre", "type_collectivite": "epci"}
    assert set(writes.values()) == {1}


async def test_a_resend_after_a_crash_reuses_the_transaction_id(any_bot, agents):
    bot = any_bot
    await bot.start()
    agent = await agents("agent")
    room, _ = await direct_room(agent, bot)
    await bot.stop()
    store = bot.app.store
    notice = Outgoing(OutKind.NOTICE, "Rappel : la campagne ferme dans 7 jours.")
    with store.begin() as conn:
        (row_id,) = store.enqueue(conn, [Addressed("matrix", room.id, notice, agent.user_id)],
                                  bot.app.clock.now())
    (row,) = [r for r in store.due_messages("matrix", bot.app.clock.now()) if r.id == row_id]
    assert store.claim_message(row.id, bot.app.clock.now())

    # the bot sent it, then died before writing down that it did: the row is left `sending`
    client = await connect(bot.url, bot.user_id, bot.user.password, store, bot.crypto)
    first = await Matrix(client, store, bot.app.catalog).send(row)
    await client.close()
    await agent.until(lambda: any("Rappel" in m for m in room.all()))

    await bot.start()                    # resent with the same transaction id, on the same device
    await agent.until(lambda: sent_ref(store, row.id))
    assert sent_ref(store, row.id) == first.ref
    siren_asked = await room.answer("Mairie de Saint-Libre")   # later traffic is through
    assert "De quel type" in siren_asked
    assert sum("Rappel" in m for m in room.all()) == 1


async def test_a_room_that_removed_the_bot_becomes_unreachable(bot, agents):
    await bot.start()
    agent = await agents("agent")
    room, _ = await direct_room(agent, bot)
    await agent.client.room_kick(room.id, bot.user_id)
    store = bot.app.store
    with store.begin() as conn:
        (row_id,) = store.enqueue(conn, [Addressed("matrix", room.id, Outgoing(
            OutKind.NOTICE, "Rappel"), agent.user_id)], bot.app.clock.now())
    bot.app.relay.wake.set()
    await wait_for(lambda: status(store, row_id) == "failed")
    a = T.accounts
    with store.begin() as conn:
        reachable = conn.execute(select(a.c.reachable).where(a.c.chat_id == room.id)).scalar()
    assert reachable is False


async def test_a_rate_limited_bot_waits_as_told_and_sends_each_message_once(bot, agents, synapse, register):
    synapse.limit_messages(register("admin", admin=True), bot.user_id, per_second=4, burst=1)
    await bot.start()
    agent = await agents("agent")
    clock, relay = bot.app.clock, bot.app.relay

    async def time_passes() -> None:       # the fake clock follows the homeserver's real one
        while True:
            await asyncio.sleep(0.1)
            clock.advance(0.1)
            relay.wake.set()
    ticking = asyncio.create_task(time_passes())
    try:
        room, greeting = await direct_room(agent, bot)
        first = greeting[1]
        kind = await room.answer("Mairie de Saint-Libre")
        await room.until_shown(first, "✅ Mairie de Saint-Libre")     # the first question, settled
    finally:
        ticking.cancel()
    assert "Bonjour" in greeting[0] and "De quel type" in kind
    o = T.outbox
    with bot.app.store.begin() as conn:
        rows = conn.execute(select(o.c.status, o.c.attempts)).all()
    assert {status for status, _ in rows} == {"sent"}
    assert max(attempts for _, attempts in rows) > 1          # some were refused with a 429 first
    assert len(room.all()) == 3 and len({m.event_id for m in room.all()}) == 3
    assert len(agent.edits_of(room.id, first.event_id)) == 1


def sent_ref(store, row_id: int) -> str:
    with store.begin() as conn:
        return conn.execute(select(T.outbox.c.sent_ref).where(T.outbox.c.id == row_id)).scalar() or ""


def status(store, row_id: int) -> str:
    with store.begin() as conn:
        return conn.execute(select(T.outbox.c.status).where(T.outbox.c.id == row_id)).scalar()


async def wait_for(check, timeout: float = 120.0) -> None:
    async def poll() -> None:
        while not check():
            await asyncio.sleep(0.05)
    await asyncio.wait_for(poll(), timeout)
