"""Bugs found by this suite, as conversations: each fails on the code before its fix.

The first four were fixed along with the suite (tnlbot/core/answers.py and
dialog.py); the others were reported with an xfail(strict=True) test and a
description (known_bugs.py), then fixed by their owners. An open bug gets
its xfail marker here while it is open.
"""
from __future__ import annotations

import pytest

from tnlbot.core.walk import slots

from .messages import message_key, unsafe_characters
from .probe import Probe
from .targets import SETUP


@pytest.fixture
def agent(make_app, sqlite_store):
    probe = Probe(make_app(sqlite_store), "agent")
    probe.command("start")
    return probe


def test_an_answer_of_zero_width_characters_only_is_refused_as_empty(agent, catalog):
    for invisible in ("\u200b", "\u200b\u200c\u200d\u2060", "\ufeff", "\u00ad", "\U000e0041"):
        seen = agent.text(invisible)
        assert not seen.settled and seen.answers == {}
        assert message_key(catalog, "fr", seen.texts[0], ("error.",)) == "error.empty"
    inside = agent.text("Mairie\u200b de Test")     # invisible inside a name: refused, not stored
    assert not inside.settled and inside.answers == {}
    assert message_key(catalog, "fr", inside.texts[0], ("error.",)) == "error.bad_characters"


def test_a_superscript_digit_to_a_choice_gets_an_error_not_a_crash(agent, catalog):
    agent.text("Mairie de Test")
    for typed in ("²", "¹²", "1, ²"):
        seen = agent.text(typed)
        assert not seen.settled
        assert message_key(catalog, "fr", seen.texts[0], ("error.",)) in ("error.choice", "error.choices")
    assert agent.text("١").answers["type_collectivite"] == "commune"   # Arabic-Indic one is a digit


def test_an_old_add_an_item_button_adds_nothing_and_stores_nothing(agent):
    agent.goto("volet:strategie")
    agent.text("oui")
    agent.goto("membre_structure_mutualisation")
    agent.text("oui")
    agent.text("SIM")
    agent.text("1")                          # the bot asks: add another structure?
    assert agent.last.state["cursor"] == "structures_mutualisation+"
    agent.command("retour")
    seen = agent.press("structures_mutualisation+", "yes")   # the keyboard of the step after
    assert "structures_mutualisation+" not in seen.answers
    assert seen.answers["structures_mutualisation"] == 1
    assert seen.texts == ["Ce bouton correspond à une question précédente : il n'a rien changé."]


def test_an_old_button_that_closes_the_current_question_moves_on(agent, flows):
    agent.goto("deja_labellise")
    agent.text("oui")                        # now asking the years of the label
    assert agent.last.state["cursor"] == "annees_label"
    seen = agent.press("deja_labellise", "no")   # the older keyboard: no label after all
    assert seen.answers["deja_labellise"] is False
    applicable = [s.key for s in slots(flows["tnl-2022"], seen.answers)]
    assert "annees_label" not in applicable
    assert seen.state["cursor"] in applicable
    assert seen.messages[-1].ref == seen.state["cursor"]     # and the bot asks it


# ------------------------------------------------------------ bugs found by this suite, fixed

def test_a_siren_or_phone_in_non_ascii_digits_is_not_stored_as_typed(agent):
    agent.goto("siren")
    siren = agent.text("٧٣٢٨٢٩٣٢٠").answers.get("siren")
    agent.goto("elu_telephone")
    phone = agent.text("٠١٢٣٤٥٦٧٨٩").answers.get("elu_telephone")
    assert siren in (None, "732829320") and phone in (None, "+33123456789")


@pytest.mark.parametrize("command", ["modifier", "aller", "recap"])
def test_a_superscript_number_after_a_command_gets_the_usage(agent, command):
    seen = agent.command(command, "²")
    assert seen.texts and not seen.settled


@pytest.mark.parametrize("command, argument", [("qui", "²"), ("retirer", "²"), ("assigner", "¹ 2"),
                                               ("responsable", "9" * 4301), ("qui", "9" * 4301)])
def test_team_commands_answer_odd_numbers_with_their_usage(agent, command, argument):
    seen = agent.command(command, argument)
    assert seen.texts and not seen.settled


@pytest.mark.parametrize("typed", ["/\x1b[2J", "/\u202eedia", "/a\x07"])
def test_an_unknown_command_is_not_echoed_with_control_characters(agent, typed):
    seen = agent.typed(typed)
    assert seen.texts and not any(unsafe_characters(text) for text in seen.texts)


@pytest.mark.parametrize("name", ["x\ud800.pdf", "x\x00.pdf", "x\u202eexe.pdf"])
def test_a_file_name_with_control_or_bidi_characters_is_refused(agent, name):
    for key, line in SETUP[3:5]:
        agent.goto(key)
        agent.text(line)
    agent.goto("deliberation")
    seen = agent.file(name)
    assert not seen.settled and "deliberation" not in seen.answers
