"""The next question first: after an answer, what the person waits for is sent before
the edit that settles the question they answered, and that edit never spends the
chat's send budget a question needs (it waits until the budget has room for it and
for the next question of a person who answers at once)."""
from __future__ import annotations

from .conftest import labels


async def test_the_next_question_comes_before_the_edit_of_the_answered_one(bot_session):
    session = await bot_session("tnl-2025-badge")
    alice = session.person(121, "Alice")
    await alice.says("/start")
    session.app.clock.advance(5)                    # the chat's budget has refilled

    bot = await alice.says("Mairie de Testbourg")

    kinds = [kind for kind, _, _ in bot.events]
    assert kinds == ["message", "keyboard"]
    assert "De quel type de structure" in bot.messages[0]["text"]
    assert [labels(m) for m in bot.keyboard_edits] == [["✅ Mairie de Testbourg ✎"]]


async def test_an_edit_waits_for_the_budget_while_questions_do_not(bot_session):
    session = await bot_session("tnl-2025-badge")
    alice = session.person(122, "Alice")
    fake, clock = session.fake, session.app.clock
    await alice.says("/start")                      # greeting atop the question: 1 of the burst of 3
    mark = len(fake.events)
    fake.push({"message": fake.user_message(122, alice.user, "Mairie de Testbourg")})
    await session.telegram.poll_once(session.sink, 0)
    await session.app.relay.flush("telegram")       # no time passes: one token left

    assert [kind for kind, _, _ in fake.seen_by(122, mark)] == ["message"]   # the question only
    assert session.deferred() == 1
    assert await session.app.relay.flush("telegram") == 0    # one token: kept for a question
    clock.advance(1)
    assert await session.app.relay.flush("telegram") == 1    # two: the edit leaves one
    assert [kind for kind, _, _ in fake.seen_by(122, mark)] == ["message", "keyboard"]
    assert session.deferred() == 0
