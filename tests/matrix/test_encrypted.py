"""Tchap: end-to-end encrypted direct and group rooms (real Synapse, matrix-nio's E2E)."""
from __future__ import annotations

import stat

import pytest

from .conftest import Room, direct_room
from .test_direct_room import IDENTIFICATION, candidature

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
