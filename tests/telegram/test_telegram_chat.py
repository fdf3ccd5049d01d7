"""Telegram conversations: what a person types or presses, what they see."""
from __future__ import annotations

from sqlalchemy import select

from tests.harness import Chat
from tnlbot.store import tables as T

from .conftest import Screen, labels
from .fake_api import utf16

IDENTIFICATION = [("says", "Mairie de Testbourg"), ("presses", "Commune"), ("says", "732829320"),
                  ("says", "34"), ("says", "dsi@testbourg.fr")]


def answers(session, person) -> dict:
    return Chat(session.app, str(person.user["id"]), chat=str(person.chat_id),
                transport="telegram").answers()


async def walk(person, steps) -> Screen:
    bot = None
    for action, value in steps:
        bot = await getattr(person, action)(value)
        assert bot.messages or bot.keyboard_edits or bot.edits, f"no answer to {value!r}"
    return bot


async def test_a_whole_candidature_through_buttons_and_text(bot_session):
    session = await bot_session("tnl-2025-badge")
    alice = session.person(111, "Alice")

    bot = await alice.says("/start")
    assert "Bonjour" in bot.messages[0]["text"]
    first = bot.messages[-1]
    # this volet's length depends on the answers: the counter says so
    assert first["text"].startswith(
        "Identification de la collectivité · volet 1/2 · question 1 · environ 5 (selon vos réponses)")
    assert "Quel est le nom de votre collectivité" in first["text"]
    assert labels(first) == ["Passer ▶"]           # nothing to go back to on the first question

    bot = await alice.says("Mairie de Testbourg")
    assert [labels(m) for m in bot.keyboard_edits] == [["✅ Mairie de Testbourg ✎"]]
    assert "question 2 · environ 5" in bot and "De quel type de structure" in bot
    assert "2. EPCI (communauté de communes, d'agglomération, urbaine, métropole)" in bot
    first_two = labels(bot.messages[-1])[:2]       # long choices: numbered, listed in full above
    assert first_two[0] == "1. Commune" and first_two[1].startswith("2. EPCI (") and first_two[1].endswith("…")

    bot = await alice.presses("Commune")
    assert bot.toasts == [""]                       # the press is answered, silently
    assert [labels(m) for m in bot.keyboard_edits] == [["✅ Commune ✎"]]
    assert "numéro SIREN" in bot

    bot = await alice.says("123456789")             # a bad SIREN: the bot explains, nothing moves
    assert "SIREN n'est pas valide" in bot and not bot.keyboard_edits
    await walk(alice, IDENTIFICATION[2:])

    steps = [("presses", "Une réflexion est en cours")]
    bot = await walk(alice, steps)
    assert "formats ouverts" in bot and "☐ ODT (texte)" in labels(bot.messages[-1])
    for label in ("ODT (texte)", "PDF"):
        await alice.presses(label)
    bot = await alice.presses("✅ Valider")
    assert [labels(m) for m in bot.keyboard_edits] == [["✅ ODT (texte), PDF ✎"]]
    assert labels(bot.messages[-1])[:2] == ["Oui", "Non"]          # yes/no as two buttons

    await walk(alice, [("presses", "Oui")])
    await alice.presses("Donner une seconde vie au matériel réformé")
    await walk(alice, [("presses", "✅ Valider"), ("presses", "Non"),
                       ("presses", "Oui, sur data.gouv.fr"), ("presses", "Non"),
                       ("says", "12 %"), ("says", "QGIS, openElec")])
    await alice.presses("Les agents")
    bot = await alice.presses("✅ Valider")
    assert "Toutes les questions ont une réponse" in bot

    bot = await alice.says("/deposer")
    assert "Récapitulatif de vos réponses" in bot and "Mairie de Testbourg" in bot
    assert labels(bot.messages[-1]) == ["Oui", "Non"]
    bot = await alice.presses("Oui")
    assert "Votre candidature est déposée" in bot

    stored = answers(session, alice)
    assert stored["nom_collectivite"] == "Mairie de Testbourg"
    assert stored["type_collectivite"] == "commune"
    assert stored["formats_ouverts"] == ["odt", "pdf"]
    assert str(stored["part_postes_linux"]) == "12"
    assert stored["actions_sensibilisation"] == ["agents"]
    assert all(c.outcome == "ok" for c in session.fake.calls), "every call was valid for Telegram"


async def test_multiple_choice_toggles(bot_session, monkeypatch):
    session = await bot_session("tnl-2025-badge")
    alice = session.person(112, "Alice")
    await alice.says("/start")
    await walk(alice, IDENTIFICATION + [("presses", "Pas de démarche pour l'instant")])
    prompt = alice.last_keyboard()
    assert "☐ CSV" in labels(prompt) and "✅ Valider (cochés : 0)" in labels(prompt)

    bot = await alice.presses("CSV")
    assert not bot.messages, "a toggle edits the question in place"
    assert [m["message_id"] for m in bot.edits] == [prompt["message_id"]]
    assert "☑ CSV" in labels(bot.edits[0]) and "✅ Valider (cochés : 1)" in labels(bot.edits[0])
    await alice.presses("HTML")
    bot = await alice.presses("CSV")                 # a second press unticks
    assert "☐ CSV" in labels(bot.edits[0]) and "☑ HTML" in labels(bot.edits[0])
    assert "formats_ouverts" not in answers(session, alice), "nothing is saved before validating"

    validate = alice.button("✅ Valider")
    bot = await alice.presses("✅ Valider")
    assert [labels(m) for m in bot.keyboard_edits] == [["✅ HTML ✎"]]
    assert answers(session, alice)["formats_ouverts"] == ["html"]
    assert "déclaration d'accessibilité" in bot

    read_back: list = []                             # the press's notice is known as queued
    monkeypatch.setattr(session.app.store, "outbox_items", lambda ids: read_back.append(ids) or [])
    bot = await alice.presses_data(prompt, validate)   # "validate" pressed again, too late
    assert bot.toasts == ["Ce bouton correspond à une question précédente : il n'a rien changé."]
    assert not bot.messages and answers(session, alice)["formats_ouverts"] == ["html"]
    assert read_back == [], "nothing read back from the outbox once committed"


async def test_an_old_keyboard_pressed(bot_session):
    session = await bot_session("tnl-2025-badge")
    alice = session.person(113, "Alice")
    await alice.says("/start")
    await alice.says("Mairie de Testbourg")
    old = alice.last_keyboard()                      # "type of body?" ...
    await alice.says("/aide")                        # ... asked again under the help
    newer = alice.last_keyboard()
    assert newer["message_id"] != old["message_id"]
    await alice.presses("Commune", newer)

    bot = await alice.presses("Région", old)         # a valid edit of that answer
    assert bot.toasts == [""] and bot.text == "Votre réponse a été modifiée."
    assert [labels(m) for m in bot.keyboard_edits] == [["✅ Région ✎"]]
    assert answers(session, alice)["type_collectivite"] == "region"

    bot = await alice.presses("Passer ▶", old)       # navigation from an old question
    assert bot.toasts == ["Ce bouton n'est plus valable : il n'a rien changé. Répondez à la dernière question posée."]
    assert not bot.messages and not bot.keyboard_edits

    forged = alice.button("Commune", old)[:-3] + "xyz"
    bot = await alice.presses_data(old, forged)
    assert bot.toasts[0].startswith("Ce bouton n'est plus valable") and not bot.messages

    bot = await alice.says("732829320")              # the current question did not move
    assert answers(session, alice)["siren"] == "732829320"
    assert answers(session, alice)["type_collectivite"] == "region"

    bot = await alice.presses("✅ Région ✎", newer)   # the answered question, asked again
    assert "De quel type de structure" in bot and "Réponse actuelle : Région" in bot


async def test_two_members_of_a_group(bot_session):
    session = await bot_session("tnl-2025-badge")
    group = -5001
    alice = session.person(201, "Alice", chat_id=group)
    bob = session.person(202, "Bob", chat_id=group)
    await alice.says("/start")
    bot = await bob.says("/start@tnl_test_bot")
    assert "Pour Bob (répondez en citant ce message)" in bot.messages[-1]["text"]
    alice_prompt = alice.last_keyboard()
    assert "Pour Alice" in alice_prompt["text"]

    assert not (await bob.says("Bonjour tout le monde")).messages, "group chatter is not for the bot"
    bot = await bob.says("Mairie de Bobville", reply_to=alice_prompt)
    assert not bot.messages and answers(session, alice) == {} and answers(session, bob) == {}

    bot = await alice.says("Mairie d'Alice", reply_to=alice_prompt)
    assert answers(session, alice) == {"nom_collectivite": "Mairie d'Alice"}
    alice_choice = alice.last_keyboard()
    bot = await bob.presses("Commune", alice_choice)
    assert bot.toasts == ["Ce bouton est destiné à une autre personne du groupe : il n'a rien changé. "
                          "Tapez /start pour remplir votre propre questionnaire."]
    assert answers(session, alice) == {"nom_collectivite": "Mairie d'Alice"}

    await bob.says("Mairie de Bobville", reply_to=bob.last_keyboard())
    await alice.presses("Région", alice_choice)
    assert answers(session, alice)["type_collectivite"] == "region"
    assert answers(session, bob) == {"nom_collectivite": "Mairie de Bobville"}


async def test_html_in_answers_is_echoed_safely(bot_session):
    session = await bot_session("tnl-2025-badge")
    alice = session.person(114, "Alice")
    await alice.says("/start")
    name = 'Mairie <b>gras</b> & "Cie" <script>x</script>'
    await alice.says(name)
    bot = await alice.says("/recap")
    assert f"1. Quel est le nom de votre collectivité ou de votre structure ? → {name}" in bot
    html_sent = bot.messages[0]["html"]
    assert "&lt;b&gt;gras&lt;/b&gt; &amp; \"Cie\" &lt;script&gt;" in html_sent
    assert all(c.outcome == "ok" for c in session.fake.calls)


async def test_a_5000_character_recap_is_split(bot_session):
    session = await bot_session("tnl-2022")
    alice = session.person(115, "Alice")
    await alice.says("/start")
    await alice.says("Mairie de Testbourg")
    await alice.says("/aller 2")
    await alice.presses("Oui")                       # concerned by the strategy volet
    await alice.presses("Oui")                       # a strategy exists
    words = [f"mot{n}" for n in range(560)]
    description = " ".join(words)                    # about 3,900 characters
    await alice.says(description)
    bot = await alice.says("/recap")

    assert sum(utf16(m["text"]) for m in bot.messages) > 5000
    assert len(bot.messages) >= 2
    assert all(utf16(m["text"]) <= 4096 for m in bot.messages)
    assert all(c.outcome == "ok" for c in session.fake.calls if c.method == "sendMessage")
    shown = " ".join(m["text"] for m in bot.messages).split()
    start = shown.index("mot0")
    assert shown[start:start + len(words)] == words, "the long answer arrives whole, in order"


async def test_a_repeat_block_with_long_question_keys(bot_session):
    session = await bot_session("tnl-2022")
    alice = session.person(116, "Alice")
    await alice.says("/start")
    await alice.says("/modifier logiciels_metier_libres")
    bot = await alice.presses("Oui")
    assert "[logiciel métier 1] Quel est le nom du logiciel ?" in bot
    for typed in ("openCimetière", "État civil", "2015", "12"):
        await alice.says(typed)
    await alice.presses("Non")                       # not pooled
    prompt = alice.last_keyboard()
    assert "[logiciel métier 1] Où ce logiciel est-il hébergé ?" in prompt["text"]
    data = alice.button("Chez un prestataire", prompt)
    assert len(data.encode()) <= 64, "logiciels_metier[0].logiciel_metier_hebergement|prestataire is too long"
    bot = await alice.presses("Chez un prestataire")
    assert [labels(m) for m in bot.keyboard_edits] == [["✅ Chez un prestataire ✎"]]
    assert answers(session, alice)["logiciels_metier[0].logiciel_metier_hebergement"] == "prestataire"
    assert "Voulez-vous en ajouter un autre ?" in bot
    bot = await alice.presses("✅ Chez un prestataire ✎", prompt)   # tap the answer to change it
    assert "Réponse actuelle : Chez un prestataire" in bot


async def test_a_group_that_becomes_a_supergroup_is_followed(bot_session):
    session = await bot_session("tnl-2025-badge")
    group, supergroup = -5101, -1005101
    alice = session.person(211, "Alice", chat_id=group)
    await alice.says("/start")
    store = session.app.store
    assert store.conversation_locale("telegram", str(group), "211") == "fr"
    moved = session.fake.user_message(group, alice.user, None, migrate_to_chat_id=supergroup)
    session.fake.push({"message": moved})
    await session.pump()
    with store.begin() as conn:       # the move is recorded, and only that
        chats = conn.execute(select(T.conversations.c.chat_id)).scalars().all()
        seen = conn.execute(select(T.inbound_seen.c.external_id)).scalars().all()
    assert chats == [str(supergroup)]
    assert not any(s.endswith(":step") for s in seen)
    alice.chat_id = supergroup
    bot = await alice.says("/aide@tnl_test_bot")     # the conversation goes on there
    assert bot.messages
    with store.begin() as conn:
        assert conn.execute(select(T.conversations.c.chat_id)).scalars().all() == [str(supergroup)]
