"""A choice is recorded atop the next question, so the edit that settles the answered
question is cosmetic: under Telegram's send limits it goes out only from spare budget,
and one still waiting when the person answers again is dropped (settled `superseded`),
never sent. An old keyboard whose edit was dropped still works: pressing it changes that
answer."""
from __future__ import annotations

import json

from sqlalchemy import select

from tnlbot.store import tables as T

from .conftest import labels


def settling_rows(session, chat: int) -> list[tuple[str, str]]:
    """(status, answer shown) of the chat's settling edits, oldest first."""
    o = T.outbox
    with session.app.store.begin() as conn:
        rows = conn.execute(select(o.c.status, o.c.payload).where(o.c.chat_id == str(chat))
                            .order_by(o.c.id)).all()
    found = [(status, json.loads(payload)) for status, payload in rows]
    return [(status, item["text"]) for status, item in found if item["kind"] == "settled"]


def keyboard_edits(session, chat: int, since: int) -> list[list[str]]:
    return [labels(e[2]) for e in session.fake.seen_by(chat, since) if e[0] == "keyboard"]


async def answers_at_once(session, person, text: str | None = None, press: str = "") -> list[tuple]:
    """The person answers and the relay sends what it can, no time passing: what they saw."""
    fake = session.fake
    mark = len(fake.events)
    if press:
        message = person.last_keyboard()
        fake.press(person.user, message, person.button(press, message))
    else:
        fake.push({"message": fake.user_message(person.chat_id, person.user, text)})
    await session.telegram.poll_once(session.sink, 0)
    await session.app.relay.flush("telegram")
    return fake.seen_by(person.chat_id, mark)


async def test_a_choice_heads_the_next_question_and_a_typed_text_does_not(bot_session):
    session = await bot_session("tnl-2025-badge")
    alice = session.person(131, "Alice")
    await alice.says("/start")

    bot = await alice.says("Mairie de Testbourg")        # typed: the person sees it already
    assert not bot.messages[-1]["text"].startswith("✓")

    bot = await alice.presses("Commune")
    question = bot.messages[-1]["text"]
    assert question.startswith("✓ Commune\nIdentification de la collectivité · volet 1/2 · question 3")
    assert "numéro SIREN" in question
    assert [labels(m) for m in bot.keyboard_edits] == [["✅ Commune ✎"]]   # budget to spare: sent too

    for text in ("732829320", "34"):
        await alice.says(text)
    bot = await alice.says("dsi@testbourg.fr")
    assert "stratégie" in bot and not bot.messages[-1]["text"].startswith("✓")
    bot = await alice.says("Pas de démarche pour l'instant")    # typed, to a question with buttons
    assert bot.messages[-1]["text"].startswith("✓ Pas de démarche pour l'instant\n")


async def test_the_record_is_in_the_persons_language(bot_session):
    session = await bot_session("tnl-2025-badge")
    bob = session.person(132, "Bob", language="en")
    await bob.says("/start")
    await bob.says("Testbourg town hall")

    bot = await bob.presses("Commune (municipality)")

    assert bot.messages[-1]["text"].startswith("✓ Commune (municipality)\n")
    assert "SIREN number" in bot.messages[-1]["text"]


async def test_an_edit_still_waiting_when_the_person_answers_again_is_dropped(bot_session):
    session = await bot_session("tnl-2025-badge")
    alice = session.person(133, "Alice")
    clock = session.app.clock
    await alice.says("/start")                            # greeting atop the question: 1 of 3 tokens

    seen = await answers_at_once(session, alice, "Mairie de Testbourg")
    assert [kind for kind, _, _ in seen] == ["message"]   # the next question; its edit waits
    assert await session.app.relay.flush("telegram") == 0  # one token: kept for a question
    seen = await answers_at_once(session, alice, press="Commune")

    assert [kind for kind, _, _ in seen] == ["toast", "message"]
    assert seen[-1][2]["text"].startswith("✓ Commune\n")
    assert settling_rows(session, 133) == [("superseded", "Mairie de Testbourg"), ("deferred", "Commune")]

    clock.advance(5)                                      # the budget refills: the latest edit only
    mark = len(session.fake.events)
    await session.flush()
    assert keyboard_edits(session, 133, mark) == [["✅ Commune ✎"]]
    assert settling_rows(session, 133) == [("superseded", "Mairie de Testbourg"), ("sent", "Commune")]
    first = min((m for (chat, _), m in session.fake.messages.items()
                 if chat == 133 and "nom de votre collectivité" in (m.get("text") or "")),
                key=lambda m: m["message_id"])
    assert labels(first) == ["Passer ▶"], "the first question's keyboard was never edited"


async def test_an_old_keyboard_whose_edit_was_dropped_changes_that_answer(bot_session):
    session = await bot_session("tnl-2025-badge")
    alice = session.person(134, "Alice")
    clock = session.app.clock
    await alice.says("/start")
    await alice.says("Mairie de Testbourg")
    clock.advance(5)                                      # a full budget: 3 tokens
    kinds = alice.last_keyboard()                         # "type of body?", Commune, EPCI...
    await answers_at_once(session, alice, press="Commune")          # 2 left: edit deferred
    await answers_at_once(session, alice, "732829320")               # 1 left: superseded
    assert ("superseded", "Commune") in settling_rows(session, 134)
    assert "1. Commune" in labels(kinds), "that keyboard still shows the choices"

    bot = await alice.presses("Région", kinds)            # pressed later, on the old keyboard

    assert bot.toasts == [""] and "Votre réponse a été modifiée." in bot.text
    assert [labels(m) for m in bot.keyboard_edits] == [["✅ Région ✎"]]
    assert bot.keyboard_edits[0]["message_id"] == kinds["message_id"]
    session.app.clock.advance(5)
    await session.flush()
    stored = {status for status, _ in settling_rows(session, 134)}
    assert stored <= {"sent", "superseded"}, "every edit is accounted for"


async def test_without_limits_every_edit_is_sent(bot_session):
    session = await bot_session("tnl-2025-badge")
    limiter = session.app.relay.limiters["telegram"]
    limiter.per_chat = limiter.overall = 0               # TNLBOT_TELEGRAM_RATE_* = 0
    alice = session.person(135, "Alice")
    await alice.says("/start")

    await answers_at_once(session, alice, "Mairie de Testbourg")
    await answers_at_once(session, alice, press="Commune")
    seen = await answers_at_once(session, alice, "732829320")
    assert seen[-1][2]["text"].startswith("Identification")          # typed: no record line

    mark = len(session.fake.events)
    await session.flush()                                 # nothing else to send: the edits go
    assert keyboard_edits(session, 135, mark) == [["✅ Mairie de Testbourg ✎"], ["✅ Commune ✎"], ["✅ 732829320 ✎"]]
    assert {status for status, _ in settling_rows(session, 135)} == {"sent"}


async def test_draining_before_an_exit_sends_questions_not_edits(bot_session):
    session = await bot_session("tnl-2025-badge")
    alice = session.person(136, "Alice")
    await alice.says("/start")
    session.app.clock.advance(5)
    mark = len(session.fake.events)
    session.fake.push({"message": session.fake.user_message(136, alice.user, "Mairie de Testbourg")})
    await session.telegram.poll_once(session.sink, 0)

    assert await session.app.relay.flush("telegram", edits=False) == 1
    assert await session.app.relay.flush("telegram", edits=False) == 0
    assert [kind for kind, _, _ in session.fake.seen_by(136, mark)] == ["message"]
    assert settling_rows(session, 136) == [("deferred", "Mairie de Testbourg")]   # for the next start


async def test_a_notice_and_the_question_after_it_are_one_message(bot_session):
    session = await bot_session("tnl-2025-badge")
    alice = session.person(137, "Alice")
    bot = await alice.says("/start")
    assert len(bot.messages) == 1 and "Bonjour" in bot.text and "Quel est le nom" in bot.text
    await alice.says("Mairie de Testbourg")
    await alice.presses("Commune")

    bot = await alice.says("732829320")

    assert len(bot.messages) == 1, "the body's link is told atop the next question"
    text = bot.messages[0]["text"]
    assert "cette candidature représente Mairie de Testbourg (SIREN 732829320)" in text
    assert text.index("SIREN 732829320") < text.index("Dans quel département")
    assert labels(bot.messages[0]) == ["◀ Retour", "Passer ▶"]
    o = T.outbox
    with session.app.store.begin() as conn:
        rows = conn.execute(select(o.c.status, o.c.sent_ref, o.c.payload).where(o.c.chat_id == "137")
                            .order_by(o.c.id)).all()
    last = {json.loads(r.payload)["kind"]: r for r in rows}
    told, asked = last["notice"], last["prompt"]
    assert told.status == asked.status == "sent" and told.sent_ref == asked.sent_ref, \
        "both rows are accounted for by the one message"
    assert told.sent_ref == str(bot.messages[0]["message_id"])
