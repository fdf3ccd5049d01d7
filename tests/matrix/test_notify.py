"""What a person must act on rings under Synapse's default push rules; the rest stays quiet.

Read from the unread-notification counts Synapse reports to the agent's client (unencrypted
rooms: there the homeserver reads msgtype and mentions; in encrypted ones every message
counts on the server and the client decides)."""
from __future__ import annotations

import pytest

from tnlbot.core.events import Addressed, Outgoing, OutKind

from .conftest import Room, direct_room

pytestmark = pytest.mark.synapse


async def read_up_to(agent, room_id: str, event_id: str) -> None:
    """The agent reads the room up to `event_id` (a read receipt): its counts drop to 0."""
    await agent.client.room_read_markers(room_id, event_id, event_id)
    await agent.until(lambda: agent.notifications.get(room_id) == 0)


async def test_questions_and_reminders_notify_acknowledgements_do_not(bot, agents):
    await bot.start()
    agent = await agents("agent")
    room, (greeting, first) = await direct_room(agent, bot)
    assert greeting.content["msgtype"] == "m.notice" and first.content["msgtype"] == "m.text"
    await agent.until(lambda: agent.notifications.get(room.id) == 1)   # the question, not the greeting
    await read_up_to(agent, room.id, first.event_id)

    kind = await room.answer("Mairie de Saint-Libre")
    await agent.until(lambda: agent.notifications.get(room.id) == 1)   # the next question (the edit is quiet)
    await read_up_to(agent, room.id, kind.event_id)

    store = bot.app.store                    # a confirmation, queued as the dispatcher queues replies
    with store.begin() as conn:
        store.enqueue(conn, [Addressed("matrix", room.id, Outgoing(
            OutKind.NOTICE, "Votre réponse est enregistrée."), agent.user_id)], bot.app.clock.now())
    bot.app.relay.wake.set()
    (noted,) = await room.read()
    assert noted.content["msgtype"] == "m.notice"
    assert agent.notifications.get(room.id) == 0       # quiet (the sync that brought it counted it)

    bot.app.clock.advance(days=12)      # idle for 12 days, a Monday morning: an inactivity reminder
    assert sum(wave.sent for wave in bot.app.scheduler.tick().reminders.values()) == 1
    bot.app.relay.wake.set()
    reminder = await next_reminder(room)
    assert reminder.content["msgtype"] == "m.text"
    await agent.until(lambda: agent.notifications.get(room.id) == 1)   # the reminder rings


async def next_reminder(room: Room):
    before = len(room.all())
    await room.agent.until(lambda: len(room.all()) > before)
    return room.all()[before]


async def test_in_a_group_room_only_the_person_asked_is_pinged(bot, agents):
    await bot.start()
    alice, bruno = await agents("alice"), await agents("bruno")
    room_id = await alice.group_room(bot.user_id, bruno.user_id)
    room = Room(alice, bot.user_id, room_id)
    await room.read()
    await alice.until(lambda: bruno.user_id in alice.client.rooms[room_id].users
                      and not alice.client.rooms[room_id].users[bruno.user_id].invited)
    await alice.say(room_id, "bonjour")
    _, question = await room.read(2)
    assert question.content["m.mentions"] == {"user_ids": [alice.user_id]}
    await alice.until(lambda: alice.highlights.get(room_id) == 1)     # a mention: highlighted
    await bruno.until(lambda: room_id in bruno.notifications)
    await bruno.until(lambda: any(e["event_id"] == question.event_id for e in bruno.events[room_id]))
    assert bruno.highlights.get(room_id) == 0                         # Bruno is not pinged
