"""Tchap: end-to-end encrypted direct and group rooms (real Synapse, matrix-nio's E2E)."""
from __future__ import annotations

import stat

import pytest


from .conftest import Room, direct_room
from .test_direct_room import IDENTIFICATION, candidature, stored_file

pytestmark = pytest.mark.synapse


def wire_types(room: Room) -> set[str]:
    """The types of the bot's events as the homeserver carried them."""
    return {room.agent.wire[e["event_id"]] for e in room.agent.from_bot(room.id, room.bot_id)
            if e.get("type") != "m.room.member"}


async def test_a_whole_identification_in_an_encrypted_direct_room(bot, agents):
    await bot.start()
    agent = await agents("agent")
    room, greeting = await direct_room(agent, bot, encrypted=True)
    assert "Bonjour" in greeting[0] and "Quel est le nom de votre collectivité" in greeting[1]

    for answer, next_question in IDENTIFICATION:
        question = await room.answer(answer)
        assert next_question in question, (answer, question)
    await room.answer("non")
    assert "Stratégie et mutualisation" in room.all()[-1]

    status, answers = candidature(bot.app.store)
    assert status == "draft"
    assert answers["nom_collectivite"] == "Mairie de Saint-Libre"
    assert answers["referent_telephone"] == "+33123456789" and answers["deja_labellise"] is False
    assert wire_types(room) == {"m.room.encrypted"}        # never a clear-text event
    assert "✅ Non" in (await room.until_shown(question, "✅")).body   # edits are encrypted too

    folder = bot.crypto
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    files = list(folder.iterdir())
    assert files and all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)


def session_of(agent, event_id: str) -> str:
    return agent.sessions.get(event_id, "")


async def second_device(agent, synapse, tmp_path):
    """The same person signs in on another device (a phone beside the desktop)."""
    from nio import AsyncClient, LoginResponse

    from .agent import Agent
    from .synapse import User
    login = AsyncClient(synapse.url, agent.user_id)
    answer = await login.login(agent.user.password, device_name="phone")
    await login.close()
    assert isinstance(answer, LoginResponse), answer
    user = User(agent.user_id, agent.user.password, answer.device_id, answer.access_token)
    return await Agent(synapse.url, user, tmp_path / f"phone-{answer.device_id}").start()


async def test_an_encrypted_group_room_follows_its_members(bot, agents, synapse, tmp_path):
    await bot.start()
    alice, bruno = await agents("alice"), await agents("bruno")
    room_id = await alice.group_room(bot.user_id, bruno.user_id, encrypted=True)
    room = Room(alice, bot.user_id, room_id)
    (hello,) = await room.read()
    assert "Bonjour à toutes et à tous" in hello
    await alice.until(lambda: bruno.user_id in alice.client.rooms[room_id].users
                      and not alice.client.rooms[room_id].users[bruno.user_id].invited)
    await alice.say(room_id, "bonjour")
    _, first = await room.read(2)
    assert first.body.startswith("alice") and first.content["m.mentions"] == {"user_ids": [alice.user_id]}
    before = session_of(alice, first.event_id)

    carol = await agents("carol")                        # joins mid-way: reads what follows
    await alice.client.room_invite(room_id, carol.user_id)
    await alice.until(lambda: carol.user_id in alice.client.rooms[room_id].users
                      and not alice.client.rooms[room_id].users[carol.user_id].invited)
    kind = await room.answer("Mairie de Saint-Libre")
    assert "De quel type" in kind
    seen_by_carol = await carol.until(lambda: carol.current(room_id, kind.event_id).get("body"))
    assert "De quel type" in seen_by_carol
    assert session_of(alice, kind.event_id) != before    # a member joined: a new session

    phone = await second_device(alice, synapse, tmp_path)   # alice's second device reads too
    await bruno.client.room_leave(room_id)                  # and a member who leaves is rotated out
    await alice.until(lambda: bruno.user_id not in alice.client.rooms[room_id].users)
    siren = await room.answer("2")
    assert "SIREN" in siren
    assert "SIREN" in await phone.until(lambda: phone.current(room_id, siren.event_id).get("body"))
    assert session_of(alice, siren.event_id) != session_of(alice, kind.event_id)
    await phone.close()
    for agent in (alice, carol):
        assert {agent.wire[e["event_id"]] for e in agent.from_bot(room_id, bot.user_id)
                if e["type"] != "m.room.member"} == {"m.room.encrypted"}


async def test_a_lost_crypto_store_is_a_new_device_that_says_so_asks_for_keys_and_goes_on(bot, agents):
    await bot.start()
    agent = await agents("agent")
    room, _ = await direct_room(agent, bot, encrypted=True)
    assert "De quel type" in await room.answer("Mairie de Saint-Libre")
    old_device = bot.matrix.client.device_id
    await bot.stop()
    for entry in bot.crypto.iterdir():                   # the crypto store is lost
        entry.unlink()
    await agent.say(room.id, "1")                        # encrypted for the old device only

    await bot.start()
    assert bot.matrix.client.device_id != old_device
    (told,) = await room.read()
    assert "Je n'ai pas pu lire votre message" in told and "envoyez à nouveau" in told
    assert told.content["msgtype"] == "m.text"          # the person has something to do
    assert bot.matrix.client.outgoing_key_requests       # the key was asked for
    assert "type_collectivite" not in candidature(bot.app.store)[1]

    assert "SIREN" in await room.answer("1")             # sent again: read by the new device
    assert candidature(bot.app.store)[1]["type_collectivite"] == "commune"
    await agent.say(room.id, "pas un SIREN")
    (again,) = await room.read()
    assert "Je n'ai pas pu lire" not in again            # told once per sender and session
    assert wire_types(room) == {"m.room.encrypted"}


PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)
PDF = b"%PDF-1.4 deliberation du conseil municipal " + bytes(300)


async def test_an_encrypted_attachment_is_checked_on_its_real_size_and_type(bot, agents):
    await bot.start()
    agent = await agents("agent")
    room, _ = await direct_room(agent, bot, encrypted=True)
    await room.answer("/aller 2")
    for answer in ("oui", "non", "oui"):
        await room.answer(answer)
    upload = await room.answer("15/03/2022")
    assert "Envoyez le fichier en pièce jointe" in upload

    await agent.send_file(room.id, "deliberation.pdf", PNG, "application/pdf", encrypted=True)
    (refused,) = await room.read()                        # a picture named .pdf
    assert "Ce type de fichier n'est pas accepté" in refused
    await agent.send_file(room.id, "délibération.pdf", PDF, "application/pdf", encrypted=True)
    await room.next_question()
    stored = candidature(bot.app.store)[1]["deliberation"]
    assert stored["name"] == "délibération.pdf" and stored["mime"] == "application/pdf"
    assert stored["size"] == len(PDF)
    assert stored_file(bot.app.store, stored["ref"]) == PDF, "the decrypted file itself, for the jury"


async def test_a_batch_not_acknowledged_brings_its_keys_and_message_again(bot, agents, monkeypatch):
    """The room key (to-device) and the message come in one batch that fails on the store:
    the token is not stored, both are delivered again, the answer is kept once."""
    from nio import AsyncClient
    from sqlalchemy.exc import OperationalError

    await bot.start()
    agent = await agents("agent")
    room, _ = await direct_room(agent, bot, encrypted=True)
    await bot.stop()
    await agent.say(room.id, "Mairie de Saint-Libre")     # its first message: a new room key

    keys_seen: list[str] = []
    handle_to_device = AsyncClient._handle_to_device

    def counting(client, response):
        if client.user_id == bot.user_id:
            keys_seen.extend(e.sender for e in response.to_device_events if e.sender == agent.user_id)
        return handle_to_device(client, response)
    monkeypatch.setattr(AsyncClient, "_handle_to_device", counting)
    submit, failed = bot.app.dispatcher.submit_batch, []

    async def flaky(inbounds, then=None, *rest):
        for inbound in inbounds:
            if inbound.text == "Mairie de Saint-Libre" and not failed:
                failed.append(inbound.external_id)
                raise OperationalError("INSERT", {}, Exception("the database is restarting"))
        return await submit(inbounds, then, *rest)
    bot.app.dispatcher.submit_batch = flaky

    await bot.start()
    assert "De quel type" in await room.next_question()
    assert failed and len(keys_seen) >= 2                  # the key came twice: not acknowledged
    assert candidature(bot.app.store)[1] == {"nom_collectivite": "Mairie de Saint-Libre"}
    assert sum("De quel type" in m.body for m in room.all()) == 1


async def test_an_edit_of_an_earlier_answer_after_a_restart_is_refused_with_a_reason(bot, agents):
    await bot.start()
    agent = await agents("agent")
    room, _ = await direct_room(agent, bot, encrypted=True)
    typed = await agent.say(room.id, "Mairie de Saint-Lbire")
    await room.next_question()
    await bot.stop()
    await bot.start()                                       # the map of answers is not in memory
    await agent.send(room.id, {"msgtype": "m.text", "body": "* Mairie de Saint-Libre",
                               "m.new_content": {"msgtype": "m.text", "body": "Mairie de Saint-Libre"},
                               "m.relates_to": {"rel_type": "m.replace", "event_id": typed}})
    (told,) = await room.read()
    assert "modifié un message" in told and "!modifier" in told
    assert candidature(bot.app.store)[1] == {"nom_collectivite": "Mairie de Saint-Lbire"}
