"""A person fills a candidature with the bot in a direct Matrix room (real Synapse)."""
from __future__ import annotations

import base64
import json
import sys

import pytest
from sqlalchemy import select

from tnlbot.core.events import Addressed, Outgoing, OutKind
from tnlbot.store import tables as T
from tnlbot.store.attachments import content

from .conftest import QUESTION, Room, direct_room

pytestmark = pytest.mark.synapse


@pytest.fixture(autouse=True)
def no_event_failed(caplog):
    """The bot's log: an event that failed in its batch (retried, replayed) fails the test
    with its traceback, instead of a reply that never comes."""
    caplog.set_level("WARNING")
    yield
    failed = [r for r in caplog.records if r.name.startswith("tnlbot") and (
        r.levelname in ("ERROR", "CRITICAL") or "failed" in r.getMessage())]
    assert not failed, "\n".join(caplog.text.splitlines()[-40:])

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
    assert "Passer ▶ !passer" in greeting[1]     # Element sends "!passer" as typed

    for answer, next_question in IDENTIFICATION:
        question = await room.answer(answer)
        assert next_question in question, (answer, question)

    # one event per question: no reaction is pre-set, but a ✅ ❌ tap still answers it
    assert "Répondez oui ou non." in question
    volet = await room.tap(question, "❌")
    assert "Stratégie et mutualisation" in volet
    assert "✅ Non" in (await room.until_shown(question, "✅ Non")).body   # settled after the next question
    volet = await room.answer("Non", reply_to=volet.event_id)           # by reply
    volet = await room.tap(volet, "❌")                                  # by reaction
    volet = await room.answer("non")                                     # by text
    volet = await room.answer("2")                                       # by number
    (done,) = await room.say("non")
    assert "Toutes les questions ont une réponse" in done

    (recap,) = await room.say("/deposer")
    if "!elu" in recap:    # the campaign asks for the elected official's confirmation first
        (noted,) = await room.say("!elu declarer")
        assert "!deposer" in noted
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
    for said in room.all():   # questions notify (m.text), the rest is quiet; nobody is mentioned
        asks = bool(QUESTION.search(said.body)) or "Confirmez-vous" in said.body
        assert said.content["msgtype"] == ("m.text" if asks else "m.notice"), said
    for event in agent.from_bot(room.id, bot.user_id):
        assert event["type"] != "m.reaction"
        if event["type"] == "m.room.message":
            assert event["content"]["m.mentions"] == {}


async def test_answers_by_number_text_reply_and_reaction(bot, agents):
    await bot.start()
    agent = await agents("agent")
    room, _ = await direct_room(agent, bot)
    kind = await room.answer("Mairie de Saint-Libre")
    assert "1. Commune" in kind and "7. Autre" in kind
    assert "Répondez par le numéro ou le texte d'un choix." in kind

    siren = await room.tap(kind, "2️⃣")                                   # by reaction
    assert "SIREN" in siren
    assert "✅ EPCI" in (await room.until_shown(kind, "✅")).body        # the question shows the answer
    assert answers(bot)["type_collectivite"] == "epci"
    (told,) = await room.react(kind, "4️⃣")                            # a tap under an old question
    assert "question précédente" in told and "ne change pas" in told
    assert answers(bot)["type_collectivite"] == "epci"

    (changed,) = await room.say("3", reply_to=kind.event_id)             # by reply, to an earlier question
    assert "Votre réponse a été modifiée" in changed
    assert "✅ Département" in (await room.until_shown(kind, "✅ Département")).body
    assert answers(bot)["type_collectivite"] == "departement"

    again = await room.answer("/retour")
    assert "De quel type de structure" in again and again.event_id != kind.event_id
    assert "SIREN" in await room.answer("Région")                        # by text
    assert answers(bot)["type_collectivite"] == "region"
    await room.answer("/retour")
    assert "SIREN" in await room.answer("5")                             # by number
    assert answers(bot)["type_collectivite"] == "syndicat"

    labelled = await room.answer("/modifier 16")
    assert "déjà obtenu le label" in labelled
    years = await room.tap(labelled, "✅")
    assert "1. ☐ 2016" in years and "Tapez les numéros de vos choix" in years
    await agent.react(room.id, years.event_id, "3️⃣")                  # ticks 2018 (the question is re-rendered)
    assert "3. ☑ 2018" in (await room.until_shown(years, "3. ☑ 2018")).body
    await agent.react(room.id, years.event_id, "5️⃣")
    assert "5. ☑ 2020" in (await room.until_shown(years, "5. ☑ 2020")).body
    level = await room.tap(years, "✅")                                  # confirms the ticked years
    assert "niveau" in level
    assert answers(bot)["annees_label"] == ["2018", "2020"]
    assert "✅ 2018, 2020" in (await room.until_shown(years, "✅ 2018")).body


async def test_html_and_mentions_in_answers_are_shown_as_text(bot, agents):
    await bot.start()
    agent = await agents("agent")
    room, _ = await direct_room(agent, bot)
    name = f"<b>Mairie</b> & <script>alert(1)</script> @room {agent.user_id}"
    first = room.all()[-1]
    await room.answer(name)
    shown = await room.until_shown(first, "✅")
    assert name in shown.body
    assert "&lt;b&gt;Mairie&lt;/b&gt; &amp; &lt;script&gt;alert(1)&lt;/script&gt; @room" in shown.html
    assert "<b>Mairie" not in shown.html and "<script>" not in shown.html
    (recap,) = await room.say("/recap")
    assert name in recap and "&lt;script&gt;" in recap.html and "<script>" not in recap.html
    for event in agent.from_bot(room.id, bot.user_id):
        if event["type"] == "m.room.message":
            assert event["content"]["m.mentions"] == {}
            assert "matrix.to" not in event["content"].get("formatted_body", "")
    assert agent.highlights.get(room.id, 0) == 0


async def test_a_file_answer_and_a_file_sent_by_the_bot(bot, agents):
    await bot.start()
    agent = await agents("agent")
    room, _ = await direct_room(agent, bot)
    concerned = await room.answer("/aller 2")
    assert "Stratégie et mutualisation" in concerned
    await room.answer("oui")
    await room.answer("non")
    await room.answer("oui")
    upload = await room.answer("15/03/2022")
    assert "Envoyez le fichier en pièce jointe" in upload and "pdf, odt" in upload

    await agent.send_file(room.id, "photo.png", b"\x89PNG...", "image/png")
    (refused,) = await room.read()
    assert "Ce type de fichier n'est pas accepté" in refused
    assert "deliberation" not in answers(bot)

    pdf = b"%PDF-1.4 deliberation du conseil municipal"
    await agent.send_file(room.id, "délibération.pdf", pdf, "application/pdf")
    await room.next_question()
    stored = answers(bot)["deliberation"]
    assert stored["name"] == "délibération.pdf" and stored["size"] == len(pdf)
    assert stored["mime"] == "application/pdf" and stored["ref"].startswith("sha256:")
    assert stored_file(bot.app.store, stored["ref"]) == pdf, "the file itself, for the jury"
    assert "✅ fichier « délibération.pdf »" in (await room.until_shown(upload, "✅ fichier")).body

    receipt = Outgoing(OutKind.DOCUMENT, "Votre accusé de réception", filename="accuse.pdf",
                       mime="application/pdf", data=base64.b64encode(b"%PDF receipt").decode())
    store = bot.app.store
    with store.begin() as conn:
        store.enqueue(conn, [Addressed("matrix", room.id, receipt, agent.user_id)], bot.app.clock.now())
    bot.app.relay.wake.set()
    caption, sent = await room.read(2)
    assert "Votre accusé de réception" in caption
    assert sent.content["msgtype"] == "m.file" and sent.content["filename"] == "accuse.pdf"
    assert sent.content["info"] == {"mimetype": "application/pdf", "size": 12}
    downloaded = await agent.client.download(sent.content["url"])
    assert downloaded.body == b"%PDF receipt"


async def test_history_from_before_the_bot_joined_is_not_answered_and_an_edit_changes_nothing(bot, agents):
    await bot.start()
    agent = await agents("agent")
    created = await agent.client.room_create(is_direct=True)
    await agent.say(created.room_id, "Mairie d'avant")                 # the bot is not there yet
    await agent.client.room_invite(created.room_id, bot.user_id)
    room = Room(agent, bot.user_id, created.room_id)
    welcome, first = await room.read(2)
    assert "Bonjour" in welcome and "Quel est le nom de votre collectivité" in first

    typed = await agent.say(room.id, "Mairie de Saint-Lbire")
    await room.next_question()
    await agent.send(room.id, {"msgtype": "m.text", "body": "* Mairie de Saint-Libre",
                               "m.new_content": {"msgtype": "m.text", "body": "Mairie de Saint-Libre"},
                               "m.relates_to": {"rel_type": "m.replace", "event_id": typed}})
    (told,) = await room.read()
    assert "modifié un message" in told and "!modifier" in told
    assert answers(bot) == {"nom_collectivite": "Mairie de Saint-Lbire"}


def stored_file(store, ref: str) -> bytes | None:
    with store.begin() as conn:
        return content(conn, ref)


def answers(bot) -> dict:
    return candidature(bot.app.store)[1]


RECEIVE_READS = ("prompt_sent_as", "last_prompt_message", "conversation_locale", "was_handled")


def spy_reads(store, monkeypatch) -> list[tuple[str, str, bool]]:
    """Record each store read the receiving side could make: (method, calling module, whether
    it ran in the caller's transaction)."""
    calls: list[tuple[str, str, bool]] = []
    def spied(name: str, real):
        def spy(*args, **kwargs):
            calls.append((name, sys._getframe(1).f_globals.get("__name__", ""),
                          kwargs.get("conn") is not None))
            return real(*args, **kwargs)
        return spy
    for name in RECEIVE_READS:
        monkeypatch.setattr(store, name, spied(name, getattr(store, name)))
    return calls


async def test_after_a_restart_taps_replies_and_edits_are_read_in_their_own_transaction(
        bot, agents, monkeypatch):
    """A restarted bot remembers no question it sent: which question a tap or a reply answers,
    whether an edited message was handled and which language to answer in are read from the
    store, inside the event's transaction (the dispatcher's `Lookup`), never beside it."""
    await bot.start()
    agent = await agents("agent")
    room, _ = await direct_room(agent, bot)
    typed = await agent.say(room.id, "Mairie de Saint-Libre")
    await room.next_question()
    kind = await room.answer("/langue en")
    assert "What type of organisation" in kind, kind
    await bot.stop()
    reads = spy_reads(bot.app.store, monkeypatch)
    await bot.start()

    siren = await room.tap(kind, "2️⃣")                           # the question, from the store
    assert "SIREN" in siren
    assert answers(bot)["type_collectivite"] == "epci"
    (told,) = await room.react(kind, "4️⃣")                        # now an earlier question
    assert "This reaction is on an earlier question" in told
    (changed,) = await room.say("3", reply_to=kind.event_id)       # a reply to it changes it
    assert "Your answer has been changed" in changed
    assert answers(bot)["type_collectivite"] == "departement"
    await agent.send(room.id, {"msgtype": "m.text", "body": "* Mairie de Saint-Libre !",
                               "m.new_content": {"msgtype": "m.text", "body": "Mairie de Saint-Libre !"},
                               "m.relates_to": {"rel_type": "m.replace", "event_id": typed}})
    (edited,) = await room.read()
    assert "You edited a message" in edited
    assert answers(bot)["nom_collectivite"] == "Mairie de Saint-Libre"

    beside = [c for c in reads if c[1].startswith("tnlbot.transports.matrix") and not c[2]]
    assert beside == [], "read outside the event's transaction"
    assert {name for name, _, inside in reads if inside} == set(RECEIVE_READS)
