"""Conversations with the bot over the real 2022 flow, read as transcripts."""
import json

from sqlalchemy import func, select

from tnlbot.app import App, Settings
from tnlbot.store import Store
from tnlbot.store import tables as T

from .autofill import SIREN, fill
from .harness import Chat


def answer_identification(chat, upto: str = "") -> None:
    """Walk the identification volet with valid answers, stopping before `upto`."""
    script = [("nom_collectivite", "Testbourg"), ("type_collectivite", "1"), ("siren", SIREN),
              ("departement", "34"), ("population", "4 200"), ("nombre_agents", "60"),
              ("nombre_postes", "80"), ("elu_nom", "Camille Martin"), ("elu_mandat", "Adjointe au numérique"),
              ("elu_email", "camille.martin@testbourg.fr"), ("elu_telephone", "04 67 00 00 00"),
              ("referent_nom", "Dominique Petit"), ("referent_fonction", "DSI"),
              ("referent_email", "dsi@testbourg.fr"), ("referent_telephone", "04 67 00 00 01"),
              ("deja_labellise", "non")]
    chat.say("/start")
    for ref, text in script:
        if ref == upto:
            return
        chat.say(text)


def test_a_whole_candidature_from_first_message_to_receipt(alice, app):
    transcript = fill(alice, app.flows["tnl-2022"], {"__items__": "non"})
    first_question = transcript[0][1]
    assert "Bonjour" in first_question and "brouillon" in first_question
    assert first_question.ref == "nom_collectivite"
    # every answer got exactly one new question (or the final notice), never zero, never two
    for said, reply in transcript[1:]:
        assert len([m for m in reply.messages if m.kind.value == "prompt"]) <= 1, said
        assert len(reply.messages) >= 1, said
    assert "Toutes les questions ont une réponse" in transcript[-1][1]

    confirm = alice.say("/deposer")
    assert "Récapitulatif" in confirm and confirm.ref == "confirm"
    receipt = alice.say("oui")
    assert "Votre candidature est déposée" in receipt
    assert "version 1" in receipt and "Gestion des données" in receipt
    with app.store.begin() as conn:
        submission = conn.execute(select(T.submissions)).one()
        status = conn.execute(select(T.candidatures.c.status)).scalar()
    snapshot = json.loads(submission.snapshot)
    assert status == "submitted" and submission.version == 1
    assert snapshot["answers"]["siren"] == SIREN
    assert "Déposée" in alice.say("/statut").text or "déposée" in alice.say("/statut").text


def test_back_skip_and_required_answers_that_come_back_as_missing(alice):
    answer_identification(alice, upto="siren")
    skipped = alice.say("/passer")
    assert skipped.ref == "departement"
    back = alice.say("/retour")
    assert back.ref == "siren"
    back_again = alice.say("/retour")
    assert back_again.ref == "type_collectivite" and "Réponse actuelle : Commune" in back_again
    kept = alice.say("/passer")            # keeps "Commune" and moves on
    assert kept.ref == "siren"
    assert alice.answers()["type_collectivite"] == "commune"
    missing = alice.say("/manquant")
    assert "3. Quel est le numéro SIREN" in missing
    assert any(a.value == "/modifier 3" for a in missing.messages[0].actions)


def test_jump_to_a_volet_and_to_a_question(alice):
    alice.say("/start")
    to_volet = alice.say("/aller 4")
    assert to_volet.ref == "volet:logiciels"
    assert "Logiciels et systèmes libres · volet 4/6" in to_volet.prompt.header
    to_question = alice.say("/modifier 3")
    assert to_question.ref == "siren"
    by_id = alice.say("/aller logiciels_metier_libres")
    assert by_id.ref == "logiciels_metier_libres"
    wrong = alice.say("/aller 99")
    assert "Indiquez le numéro d'un volet" in wrong and wrong.prompt is None


def test_edit_that_opens_a_condition_asks_only_the_new_question(alice):
    answer_identification(alice)                       # "déjà labellisé ?" answered non
    assert "annees_label" not in alice.answers()
    position = alice.say("oui")                          # concerned by volet 2
    assert position.ref == "strategie_existe"
    edit = alice.say("/modifier 16")
    assert edit.ref == "deja_labellise" and "Réponse actuelle : Non" in edit
    opened = alice.say("oui")
    assert opened.ref == "annees_label"                  # the question the change opened
    then = alice.say("1, 3")
    assert then.ref == "dernier_niveau"
    back_where_we_were = alice.say("2")
    assert back_where_we_were.ref == "strategie_existe"  # nothing else asked again
    assert alice.answers()["annees_label"] == ["2016", "2018"]


def test_edit_that_closes_a_condition_drops_the_answers_from_recap(alice):
    answer_identification(alice, upto="deja_labellise")
    alice.say("oui")
    alice.say("1")
    alice.say("3")
    assert "En quelles années" in alice.say("/recap 1")
    alice.say("/modifier 16")
    closed = alice.say("non")
    assert closed.ref == "volet:strategie"
    recap = alice.say("/recap 1")
    assert "En quelles années" not in recap and "Quel niveau" not in recap
    assert "→ Non" in recap


def test_multiple_choice_toggles_and_other_free_text(alice, app):
    alice.say("/start")
    prompt = alice.say("/aller 4").prompt
    alice.say("oui")                                     # concerned
    alice.say("non")                                     # no GNU/Linux workstations
    question = alice.say("/aller logiciels_bureautiques").prompt
    assert question.multi and question.ref == "logiciels_bureautiques"
    first = alice.toggle(question.ref, "libreoffice")
    assert first.prompt.update and first.prompt.selected == ("libreoffice",)
    second = alice.toggle(question.ref, "firefox")
    assert set(second.prompt.selected) == {"libreoffice", "firefox"}
    third = alice.toggle(question.ref, "libreoffice")
    assert third.prompt.selected == ("firefox",)
    choices = [o.value for o in question.options]
    alice.toggle(question.ref, choices[-1] if "autre" in choices[-1] else "autre")
    validated = alice.press(question.ref)              # "Valider"
    assert validated.ref == "logiciels_bureautiques.other"
    alice.say("Inkscape et GIMP")
    stored = alice.answers()
    assert "firefox" in stored["logiciels_bureautiques"]
    assert stored["logiciels_bureautiques.other"] == "Inkscape et GIMP"
    assert prompt is not None


def test_repeat_block_one_item_per_business_software(alice):
    alice.say("/start")
    alice.say("/aller 4")
    alice.say("oui")
    alice.say("/aller logiciels_metier_libres")
    first = alice.say("oui")
    assert first.ref == "logiciels_metier[0].logiciel_metier_nom"
    assert "[logiciel métier 1]" in first
    alice.say("openCimetière")
    for _ in range(5):
        reply = alice.say("/passer")
    assert reply.ref == "logiciels_metier+" and "1 élément «" in reply
    second = alice.say("oui")
    assert second.ref == "logiciels_metier[1].logiciel_metier_nom"
    alice.say("QGIS")
    stored = alice.answers()
    assert stored["logiciels_metier"] == 2
    assert stored["logiciels_metier[0].logiciel_metier_nom"] == "openCimetière"
    assert stored["logiciels_metier[1].logiciel_metier_nom"] == "QGIS"


def test_file_question_checks_format_and_size(alice):
    alice.say("/start")
    alice.say("/aller 2")
    alice.say("oui")
    alice.say("/aller deliberation_votee")
    alice.say("oui")
    alice.say("10/12/2021")
    assert "Cette question attend un fichier" in alice.say("voici le fichier")
    assert "Ce type de fichier n'est pas accepté" in alice.send_file("photo.jpg", 1000, "image/jpeg")
    assert "trop volumineux" in alice.send_file("deliberation.pdf", 50_000_000)
    accepted = alice.send_file("deliberation.pdf", 250_000)
    assert accepted.ref == "strategie_enjeux"
    assert alice.answers()["deliberation"]["name"] == "deliberation.pdf"


def test_language_switch_midway_keeps_the_place(alice):
    answer_identification(alice, upto="population")
    switched = alice.say("/langue en")
    assert "I will speak English" in switched
    assert switched.ref == "population" and "How many" in switched.prompt.text
    assert "in 1 500" not in switched.text
    back = alice.say("/language fr")
    assert back.ref == "population" and "Combien d'habitants" in back.prompt.text
    unknown = alice.say("/langue klingon")
    assert "Choisissez une langue" in unknown


def test_help_returns_to_the_current_question(alice):
    answer_identification(alice, upto="siren")
    help_reply = alice.say("/aide")
    assert "Commandes disponibles" in help_reply and "À propos de cette question" in help_reply
    for command in ("/reprendre", "/mes_donnees", "/oublier", "/jury aide", "/inviter", "/rappel"):
        assert f"\n{command} " in help_reply.text, command
    assert help_reply.ref == "siren"


def test_progress_is_shown_in_every_question(alice):
    answer_identification(alice, upto="siren")
    header = alice.say("/modifier 3").prompt.header    # identification has follow-up questions
    assert header == "Identification de la collectivité · volet 1/6 · question 3 · environ 16 (selon vos réponses)"


def test_submission_is_blocked_while_a_required_answer_is_missing(alice, app):
    fill(alice, app.flows["tnl-2022"], {"__items__": "non"})
    alice.say("/modifier 3")
    alice.say("/passer")
    with app.store.begin() as conn:
        conn.execute(T.answers.delete().where(T.answers.c.key == "siren"))
    blocked = alice.say("/deposer")
    assert "Il manque 1 réponse obligatoire." in blocked and "3. Quel est le numéro SIREN" in blocked
    with app.store.begin() as conn:
        assert conn.execute(select(func.count()).select_from(T.submissions)).scalar() == 0


def test_amendment_after_submission_makes_a_new_version(alice, app):
    fill(alice, app.flows["tnl-2022"], {"__items__": "non"})
    alice.say("/deposer")
    alice.say("oui")
    assert "rien n'a changé" in alice.say("/deposer")
    alice.say("/modifier 1")
    alice.say("Ville de Testbourg-sur-Mer")
    status = alice.say("/statut")
    assert "modifications qui ne sont pas encore déposées" in status
    alice.say("/deposer")
    receipt = alice.say("oui")
    assert "version 2" in receipt
    with app.store.begin() as conn:
        versions = conn.execute(select(T.submissions.c.version, T.submissions.c.snapshot)
                                .order_by(T.submissions.c.version)).all()
    assert [v for v, _ in versions] == [1, 2]
    assert json.loads(versions[0][1])["answers"]["nom_collectivite"] == "Testbourg"
    assert json.loads(versions[1][1])["answers"]["nom_collectivite"] == "Ville de Testbourg-sur-Mer"


def test_cancelling_the_confirmation_keeps_the_draft(alice, app):
    fill(alice, app.flows["tnl-2022"], {"__items__": "non"})
    alice.say("/deposer")
    assert "Répondez oui pour déposer" in alice.say("peut-être")
    assert "reste en brouillon" in alice.say("non")
    with app.store.begin() as conn:
        assert conn.execute(select(T.candidatures.c.status)).scalar() == "draft"


def test_resume_after_restart_at_the_exact_question(app, flows, catalog, clock, sqlite_store):
    alice = Chat(app, "alice")
    answer_identification(alice, upto="elu_nom")
    app.close()
    restarted = App(Settings(database_url=sqlite_store.url), clock=clock,
                    store=Store(sqlite_store.url), flows=flows, catalog=catalog)
    again = Chat(restarted, "alice").say("/start")
    assert "Bon retour" in again and "brouillon" in again
    assert again.ref == "elu_nom"


def test_bad_answers_get_a_polite_message_and_change_nothing(alice):
    answer_identification(alice, upto="siren")
    before = alice.answers()
    cases = {
        "123456789": "Ce numéro SIREN n'est pas valide",
        "": "Votre réponse est vide",
        "73282\x009320": "caractères invisibles",
        "7328\u202e29320": "caractères invisibles",
        "x" * 5000: "trop longue",
    }
    for text, expected in cases.items():
        reply = alice.say(text)
        assert expected in reply, text
        assert reply.prompt is None
    assert "Je ne connais pas la commande /zorglub" in alice.say("/zorglub")
    assert "Indiquez le numéro de la réponse à modifier" in alice.say("/modifier abc")
    assert alice.answers() == before
    assert alice.say(SIREN).ref == "departement"


def test_a_redelivered_message_is_processed_once(alice, app):
    alice.say("/start")
    first = alice.say("Testbourg", external_id="update-41")
    again = alice.say("Autre nom", external_id="update-41")
    assert first.ref == "type_collectivite" and again.duplicate
    assert alice.answers()["nom_collectivite"] == "Testbourg"
    with app.store.begin() as conn:
        assert conn.execute(select(func.count()).select_from(T.answer_history)).scalar() == 1


def test_answers_keep_their_history(alice, app):
    alice.say("/start")
    alice.say("Testbourg")
    alice.say("/retour")
    alice.say("Testbourg-les-Bains")
    with app.store.begin() as conn:
        rows = conn.execute(select(T.answer_history.c.old_value, T.answer_history.c.new_value)
                            .where(T.answer_history.c.key == "nom_collectivite")
                            .order_by(T.answer_history.c.id)).all()
    assert [(None, '"Testbourg"'), ('"Testbourg"', '"Testbourg-les-Bains"')] == [tuple(r) for r in rows]


def test_english_speaker_is_greeted_in_english(app):
    bob = Chat(app, "bob", language="en-GB")
    reply = bob.say("hello")
    assert "Hello!" in reply and "What is the name" in reply.prompt.text


def test_a_question_another_chat_made_moot_is_skipped_politely(alice, app):
    """Alice answers in her own chat and in a group chat, on one candidature. A "not
    concerned" given in her own chat closes the question the group chat was waiting on:
    her next answer there is told so, changes nothing, and the next open question follows."""
    answer_identification(alice)
    in_group = Chat(app, "alice", chat="groupe-mairie")
    asked = in_group.say("/aller 2")
    assert asked.ref == "volet:strategie"
    assert in_group.say("oui").ref == "strategie_existe"
    edit = alice.say("/modifier 19")    # 18 questions of identification, then this one
    assert edit.ref == "volet:strategie"
    alice.say("non")                                     # not concerned by volet 2, in her own chat
    before = alice.answers()
    late = in_group.say("oui")                           # answers the question volet 2 no longer has
    assert "ne s'applique plus" in late
    assert late.ref and not late.ref.startswith("strategie")
    assert alice.answers() == before
