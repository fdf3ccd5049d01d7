"""Reading what the bot says: values written the way people write them, plural forms,
numbers that stay put, a counter that says what it knows, the question still waiting."""
from __future__ import annotations

import pytest

from .harness import Chat
from .test_dialog import answer_identification


@pytest.fixture
def agent(app):
    chat = Chat(app, "agent", transport="console")
    chat.say("/start")
    return chat


def _accessibility(agent):
    agent.say("/aller declaration_accessibilite")
    agent.say("oui")
    agent.say("https://www.ville.fr/accessibilite")
    agent.say("62,5")                                 # taux_conformite_rgaa
    agent.say("/aller duree_vie_equipements")
    agent.say("7.5")


def test_the_recap_writes_dates_numbers_and_percentages_the_french_way(agent):
    answer_identification(agent, upto="elu_nom")
    agent.say("/aller deliberation_votee")
    agent.say("oui")
    agent.say("14/03/2021")
    _accessibility(agent)
    recap = agent.say("/recap")
    assert "→ 14/03/2021" in recap and "2021-03-14" not in recap
    assert "→ 62,5\u00a0%" in recap
    assert "→ 4\u202f200 habitants" in recap
    assert "→ 7,5 ans" in recap
    agent.say("/langue en")
    english = agent.say("/recap")
    assert "→ 14/03/2021" in english and "→ 62.5%" in english and "→ 7.5 years" in english
    assert "→ 4,200 inhabitants" in english


def test_plural_forms_follow_the_language_rules(agent):
    agent.say("/aller 4")
    agent.say("oui")
    agent.say("/aller logiciels_metier_libres")
    agent.say("oui")
    agent.say("openCimetière")
    for _ in range(5):
        reply = agent.say("/passer")
    assert "1 élément « logiciel métier »" in reply and "(s)" not in reply.text
    agent.say("oui")
    agent.say("iParapheur")
    for _ in range(5):
        reply = agent.say("/passer")
    assert "2 éléments « logiciel métier »" in reply


def test_recap_numbers_stay_put_when_a_condition_opens_a_question(agent):
    answer_identification(agent, upto="deja_labellise")
    before = agent.say("/recap 1").text
    line = next(x for x in before.splitlines() if "courriel de l'élu" in x or "e-mail de l'élu" in x
                or x.startswith("10."))
    number = line.split(".")[0]
    agent.say("/aller type_collectivite")
    agent.say("autre")                                  # opens the "other" text: 2a
    agent.say("Régie des eaux")
    after = agent.say("/recap 1").text
    assert "2a. " in after
    assert line.split(" → ")[0] in after                # same number, same question
    assert agent.say(f"/modifier {number}").ref == "elu_email"


def test_the_counter_says_what_it_knows(agent):
    first = agent.say("/aller 1")
    assert "question 1 · environ 16 (selon vos réponses)" in first.prompt.header
    agent.say("/aller 3")
    assert "volet 3/6" in agent.say("oui").prompt.header


def test_edit_usage_names_the_highest_number_and_it_works(agent):
    usage = agent.say("/modifier 999")
    highest = usage.text.split("entre 1 et ")[1].split(",")[0]
    reply = agent.say(f"/modifier {highest}")
    assert reply.ref and "Indiquez le numéro" not in reply


@pytest.mark.parametrize("command", ["/recap", "/manquant", "/statut"])
def test_the_waiting_question_is_asked_again_after_reading(agent, command):
    agent.say("Mairie de Testbourg")
    reply = agent.say(command)
    assert reply.ref == "type_collectivite"
    assert reply.messages[-1].text.startswith("De quel type de structure")


def test_a_changed_answer_and_a_received_file_are_confirmed(agent):
    agent.say("Mairie de Testbourg")
    agent.say("/retour")
    changed = agent.say("Mairie de Testville")
    assert "« Mairie de Testbourg » devient « Mairie de Testville »" in changed
    agent.say("/aller deliberation_votee")
    agent.say("oui")
    agent.say("14/03/2021")
    received = agent.send_file("deliberation.pdf", 120_000)
    assert "Fichier « deliberation.pdf » reçu et enregistré (120 ko)" in received
