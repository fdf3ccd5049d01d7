"""What a new user of the terminal chat expects, read as transcripts over the 2022 flow."""
from __future__ import annotations

import pytest

from .harness import Chat
from .test_dialog import answer_identification


@pytest.fixture
def agent(app):
    return Chat(app, "agent", transport="console")


def test_the_welcome_says_once_that_answers_are_saved_and_no_back_on_the_first_question(agent):
    first = agent.say("/start")
    assert first.text.count("enregistr") == 1
    assert "Seule l'identification est obligatoire" in first
    assert [a.value for a in first.prompt.actions] == ["/passer"]
    second = agent.say("Mairie de Testbourg")
    assert [a.value for a in second.prompt.actions] == ["/retour", "/passer"]


def test_in_english_the_shortcuts_are_english_commands(agent):
    agent.say("/start")
    agent.say("Mairie de Testbourg")
    english = agent.say("/language en")
    assert "◀ Back /back · Skip ▶ /skip" in english.text
    assert agent.say("/back").ref == "nom_collectivite"


def test_help_in_the_terminal_lists_the_file_command_and_the_file_question_says_how(agent):
    agent.say("/start")
    assert "/fichier CHEMIN" in agent.say("/aide")
    agent.say("/aller 2")
    agent.say("oui")
    asked = agent.say("/aller deliberation_votee")
    assert asked.ref == "deliberation_votee"
    agent.say("oui")
    file_question = agent.say("10/12/2021")
    assert file_question.ref == "deliberation"
    assert "tapant /fichier suivi de son chemin" in file_question
    assert "pièce jointe" not in file_question.text
    assert "Tapez /fichier suivi de son chemin" in agent.say("voici la délibération")


def test_help_elsewhere_does_not_offer_the_terminal_file_command(app):
    telegram = Chat(app, "tg", transport="telegram")
    telegram.say("/start")
    assert "/fichier" not in telegram.say("/aide").text


def test_years_offered_as_choices_are_answered_by_their_text(agent):
    answer_identification(agent, upto="deja_labellise")
    years = agent.say("oui")
    assert years.ref == "annees_label"
    agent.say("2019, 2021")
    assert agent.answers()["annees_label"] == ["2019", "2021"]


def test_goto_a_number_is_a_volet_never_a_recap_item(agent):
    answer_identification(agent, upto="elu_nom")
    assert "« Bonnes pratiques numériques »" in agent.say("/aller 3")
    refused = agent.say("/aller 17")
    assert "entre 1 et 6" in refused and "/modifier" in refused
    for copied_from_the_recap in ("3.", "14.2", "3a"):      # /modifier's numbers, not volets
        refused = agent.say(f"/aller {copied_from_the_recap}")
        assert "entre 1 et 6" in refused and "/modifier" in refused
    assert agent.say("/modifier 3.").ref == "siren"          # as the recap shows it: "3. …"
    assert agent.say("/aller siren").ref == "siren"


def test_the_concerned_question_is_not_called_optional_since_it_must_be_answered(agent):
    answer_identification(agent, upto="deja_labellise")
    concerned = agent.say("non")    # deja_labellise: the identification is done
    assert concerned.ref == "volet:strategie"
    assert "facultatif" not in concerned.text


def test_help_ends_with_the_question_still_waiting(agent):
    agent.say("/start")
    reply = agent.say("/aide")
    assert reply.messages[-1].ref == "nom_collectivite"
    assert "Travailler en équipe" in reply.text.split("Quel est le nom")[0]


def test_the_readme_and_the_terminal_help_name_the_same_commands(agent):
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    table = readme.split("`/aide` (or `/help`) lists the commands:")[1].split("\n\n")[1]
    documented = set(re.findall(r"^\| `(/[a-zé_]+)", table, flags=re.M))
    agent.say("/start")
    shown = agent.say("/aide").text
    listed = set(re.findall(r"^(/[a-zé_]+)", shown, flags=re.M))
    assert documented - listed == set()                        # every command of the table is in /aide
    assert {c for c in listed if f"`{c}" not in readme} == set()   # every /aide command is in the README
