"""What the 2022 flow accepts and stores, as an agent types it: values that only look
right are refused with a clear message, natural ones are taken, each stored normalised."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from tnlbot.core.flow import Kind, Question
from tnlbot.flows import dated_warnings, load_all

from .conftest import START
from .harness import Chat


@pytest.fixture
def agent(app):
    chat = Chat(app, "agent", transport="console")
    chat.say("/start")
    return chat


def at(chat: Chat, question_id: str):
    reply = chat.say(f"/aller {question_id}")
    assert reply.ref == question_id, reply.text
    return reply


def test_identifiers_that_only_look_right_are_refused(agent):
    at(agent, "siren")
    assert "Ce numéro SIREN n'est pas valide" in agent.say("000000000")
    at(agent, "departement")
    for typed in ("NaN", "市役所", "20", "99"):
        assert "Indiquez le numéro du département" in agent.say(typed), typed
    agent.say("2a")
    at(agent, "nom_collectivite")
    for typed in ("/", "...", "–"):
        assert "ni lettre ni chiffre" in agent.say(typed), typed
    assert agent.answers() == {"departement": "2A"}


@pytest.mark.parametrize("invisible", ["\u200f", "\u061c", "\u00ad", "\U000e0041", "\u2028"])
def test_invisible_characters_inside_a_name_are_refused(agent, invisible):
    refused = agent.say(f"Mairie{invisible}de Test")
    assert "caractères invisibles ou de contrôle" in refused
    assert agent.answers() == {}


def test_phone_numbers_are_stored_in_the_international_form(agent):
    at(agent, "elu_telephone")
    agent.say("+33 (0)1 23 45 67 89")
    at(agent, "referent_telephone")
    assert "Ce numéro ne semble pas valide" in agent.say("+33 1 23 45")
    agent.say("04.67.00.00.01")
    assert agent.answers() == {"elu_telephone": "+33123456789", "referent_telephone": "+33467000001"}


def test_email_addresses_with_international_domains_are_taken(agent):
    at(agent, "elu_email")
    agent.say("maire@münchen.de")
    at(agent, "referent_email")
    assert "ne semble pas valide" in agent.say("dsi@mairie")
    agent.say("élodie@mairie.fr")
    assert agent.answers() == {"elu_email": "maire@münchen.de", "referent_email": "élodie@mairie.fr"}


def test_web_addresses_must_be_real_sites(agent):
    agent.say("/aller 3")
    at(agent, "declaration_accessibilite")
    agent.say("oui")
    assert agent.say("/recap 3").text.count("accessibilit") >= 1
    at(agent, "declaration_accessibilite_url")
    assert "ressemble à une adresse e-mail" in agent.say("élodie@mairie.fr")
    for typed in ("12.5", "https://admin:secret@ville.fr", "https://ville.fr:99999/a11y",
                  "https://vіlle.fr", "https://ville"):          # 'і' is Cyrillic
        assert "Indiquez une adresse web valide" in agent.say(typed), typed
    agent.say("www.ville.fr/accessibilite")
    assert agent.answers()["declaration_accessibilite_url"] == "https://www.ville.fr/accessibilite"


def test_percentages_and_yes_no_sentences(agent):
    at(agent, "declaration_accessibilite")
    agent.say("Non, pas encore…")
    agent.say("/aller declaration_accessibilite")
    agent.say("Oui, depuis 2021.")
    at(agent, "taux_conformite_rgaa")
    agent.say("-0")
    assert agent.answers() == {"declaration_accessibilite": True, "taux_conformite_rgaa": "0"}


def test_a_deliberation_dated_during_todays_campaign_is_taken_and_the_bound_is_a_french_date(agent, app):
    at(agent, "deliberation_votee")
    agent.say("oui")
    after_close = (START + timedelta(days=130)).date()
    refused = agent.say(after_close.strftime("%d/%m/%Y"))
    closes = (START + timedelta(days=120)).date()
    assert f"antérieure au {closes:%d/%m/%Y}" in refused
    agent.say("/aller deliberation_date")
    agent.say((START + timedelta(days=10)).strftime("%d/%m/%Y"))
    assert agent.answers()["deliberation_date"] == (START + timedelta(days=10)).date().isoformat()


def test_check_flows_warns_of_a_fixed_latest_date_that_has_passed(catalog):
    flows = load_all()
    assert dated_warnings(flows["tnl-2022"], date(2026, 12, 3)) == []
    old = Question(id="deliberation_date", kind=Kind.DATE, volet="v", max_date="2024-12-31")
    years = Question(id="annees", kind=Kind.MULTI, volet="v", choices=("2019", "2020"))
    flow = flows["tnl-2022"]
    from dataclasses import replace
    stale = replace(flow, questions={"deliberation_date": old, "annees": years})
    warnings = [catalog("en", w.key, **dict(w.values)) for w in dated_warnings(stale, date(2026, 12, 3))]
    assert any("2024-12-31 has passed" in w for w in warnings)
    assert any("the years stop at 2020" in w for w in warnings)
