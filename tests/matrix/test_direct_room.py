"""A person fills a candidature with the bot in a direct Matrix room (real Synapse)."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from tnlbot.store import tables as T

from .conftest import direct_room

pytestmark = pytest.mark.synapse

IDENTIFICATION = [
    ("Mairie de Saint-Libre", "De quel type de structure"),
    ("1", "numéro SIREN"),
    ("213105554", "Dans quel département"),
    ("31", "Combien d'habitants"),
    ("1200", "Combien d'agents"),
    ("15", "postes de travail"),
    ("10", "nom de l'élu référent"),
    ("Jean Dupont", "mandat"),
    ("Maire", "adresse électronique de l'élu"),
    ("jean.dupont@saint-libre.fr", "son numéro de téléphone"),
    ("/passer", "nom du référent technique"),
    ("Marie Curie", "Quelle est sa fonction"),
    ("DSI", "adresse électronique du référent"),
    ("marie.curie@saint-libre.fr", "numéro de téléphone du référent"),
    ("01 23 45 67 89", "déjà obtenu le label"),
]


def candidature(store) -> tuple[str, dict]:
    k, a = T.candidatures, T.answers
    with store.begin() as conn:
        status = conn.execute(select(k.c.status)).scalar()
        rows = conn.execute(select(a.c.key, a.c.value)).all()
    return status, {key: json.loads(value) for key, value in rows}


async def test_a_whole_candidature_in_a_direct_room(bot, agents):
    await bot.start()
    agent = await agents("agent")
    room, greeting = await direct_room(agent, bot)
    assert "Bonjour" in greeting[0] and "Quel est le nom de votre collectivité" in greeting[1]

    for answer, next_question in IDENTIFICATION:
        question = await room.answer(answer)
        assert next_question in question, (answer, question)

    # yes/no questions carry ✅ ❌ shortcuts: one tap answers
    shortcuts = await agent.until(lambda: len(agent.reactions_on(room.id, question.event_id, bot.user_id)) == 2
                                  and agent.reactions_on(room.id, question.event_id, bot.user_id))
    assert shortcuts == ["✅", "❌"]
    volet = await room.tap(question, "❌")
    assert "Stratégie et mutualisation" in volet
    assert "✅ Non" in room.shown(question)
    volet = await room.answer("Non", reply_to=volet.event_id)           # by reply
    volet = await room.tap(volet, "❌")                                  # by reaction
    volet = await room.answer("non")                                     # by text
    volet = await room.answer("2")                                       # by number
    (done,) = await room.say("non")
    assert "Toutes les questions ont une réponse" in done

    (recap,) = await room.say("/deposer")
    if "/elu" in recap:    # the campaign asks for the elected official's confirmation first
        (noted,) = await room.say("/elu declarer")
        assert "/deposer" in noted
        (recap,) = await room.say("/deposer")
    (confirm,) = await room.read()
    assert "Récapitulatif" in recap and "Mairie de Saint-Libre" in recap
    assert "Confirmez-vous le dépôt" in confirm
    (receipt,) = await room.react(confirm, "✅")
    assert "Votre candidature est déposée" in receipt

    status, answers = candidature(bot.app.store)
    assert status == "submitted"
    assert answers["nom_collectivite"] == "Mairie de Saint-Libre"
    assert answers["type_collectivite"] == "commune"
    assert answers["referent_telephone"] == "+33123456789"
    assert answers["deja_labellise"] is False
    assert all(answers[f"volet:{v}"] is False for v in
               ("strategie", "bonnes_pratiques", "logiciels", "communication", "donnees"))
    for said in room.all():   # every message of the bot: a notice that mentions no one
        assert said.content["msgtype"] == "m.notice"
    for event in agent.from_bot(room.id, bot.user_id):
        if event["type"] == "m.room.message":
            assert event["content"]["m.mentions"] == {}
