"""Two agents of one body answer in turn in a group room; each has their own questionnaire."""
from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from tnlbot.store import tables as T

from .conftest import Room

pytestmark = pytest.mark.synapse


def answers_of(store, user_id: str) -> dict:
    c, a = T.conversations, T.answers
    with store.begin() as conn:
        candidature = conn.execute(select(c.c.candidature_id).where(c.c.user_id == user_id)).scalar()
        rows = conn.execute(select(a.c.key, a.c.value).where(a.c.candidature_id == candidature)).all()
    return {key: json.loads(value) for key, value in rows}


async def test_two_agents_answer_in_turn_in_a_group_room(bot, agents):
    await bot.start()
    alice, bruno = await agents("alice"), await agents("bruno")
    await alice.client.set_displayname("Alice <i>DSI</i>")
    room_id = await alice.group_room(bot.user_id, bruno.user_id)
    room = Room(alice, bot.user_id, room_id)          # what everyone sees in the room
    (hello,) = await room.read()
    assert "Bonjour à toutes et à tous" in hello

    await alice.until(lambda: bruno.user_id in alice.client.rooms[room_id].users
                      and not alice.client.rooms[room_id].users[bruno.user_id].invited)
    await alice.say(room_id, "bonjour")
    welcome, alice_name = await room.read(2)
    assert "Bonjour" in welcome
    assert alice_name.body.startswith("Alice <i>DSI</i> · Identification")
    assert f'<b><a href="https://matrix.to/#/{alice.user_id}">Alice &lt;i&gt;DSI&lt;/i&gt;</a> · Identification' \
        in alice_name.html                                 # a pill: Alice, and only Alice, is pinged
    assert alice_name.content["m.mentions"] == {"user_ids": [alice.user_id]}
    assert alice_name.content["msgtype"] == "m.text"

    await bruno.say(room_id, "bonjour")
    _, bruno_name = await room.read(2)
    assert bruno_name.body.startswith(bruno.user.localpart + " · Identification")

    await alice.say(room_id, "Mairie de Saint-Libre")
    alice_kind = await room.next_question()
    assert alice_kind.body.startswith("Alice") and "De quel type" in alice_kind
    await bruno.say(room_id, "Communauté de communes du Libre")
    bruno_kind = await room.next_question()
    assert bruno_kind.body.startswith(bruno.user.localpart) and "De quel type" in bruno_kind

    await bruno.react(room_id, alice_kind.event_id, "1️⃣")     # not his question: ignored
    await bruno.react(room_id, bruno_kind.event_id, "2️⃣")
    bruno_siren = await room.next_question()
    assert bruno_siren.body.startswith(bruno.user.localpart) and "SIREN" in bruno_siren
    await alice.say(room_id, "3", reply_to=alice_kind.event_id)
    alice_siren = await room.next_question()
    assert alice_siren.body.startswith("Alice") and "SIREN" in alice_siren

    assert answers_of(bot.app.store, alice.user_id) == {
        "nom_collectivite": "Mairie de Saint-Libre", "type_collectivite": "departement"}
    assert answers_of(bot.app.store, bruno.user_id) == {
        "nom_collectivite": "Communauté de communes du Libre", "type_collectivite": "epci"}
    assert [m.body.split(" · ")[0] for m in room.all()[-2:]] == [bruno.user.localpart, "Alice <i>DSI</i>"]


async def test_text_typed_right_after_joining_a_team_is_refused_and_who_is_on_the_question_told(bot, agents):
    await bot.start()
    alice, bruno = await agents("alice"), await agents("bruno")
    room_id = await alice.group_room(bot.user_id, bruno.user_id, encrypted=True)
    room = Room(alice, bot.user_id, room_id)
    await room.read()
    await alice.until(lambda: bruno.user_id in alice.client.rooms[room_id].users
                      and not alice.client.rooms[room_id].users[bruno.user_id].invited)
    await alice.say(room_id, "bonjour")
    await room.read(2)
    await room.answer("Mairie de Saint-Libre")
    await room.answer("1")
    await room.answer("213105554")
    (invitation, *_) = await room.say("!inviter")
    code = re.search(r"[A-Z0-9]{4}-[A-Z0-9]{4}", invitation.body).group(0)

    await bruno.say(room_id, f"!rejoindre {code}")
    welcome, told_alice = await room.read(2)
    assert "Bienvenue dans l'équipe" in welcome and "a rejoint l'équipe" in told_alice
    await bruno.say(room_id, "31")                      # before any question was put to him
    hello, on_it, question, refused = await room.read(4)
    assert "Bonjour" in hello and "département" in question and question.body.startswith("bruno")
    # alice is on that very question: bruno is told who, and how to go on to the next one
    assert on_it.body.startswith("bruno") and alice.user.localpart in on_it
    assert "est en train de répondre à cette question" in on_it and "!passer" in on_it
    assert "n'a pas été enregistré comme réponse" in refused and refused.body.startswith("bruno")
    assert "departement" not in answers_of(bot.app.store, alice.user_id)
    await bruno.say(room_id, "31")                      # now it answers the question shown
    await room.next_question()
    assert answers_of(bot.app.store, alice.user_id)["departement"] == "31"
