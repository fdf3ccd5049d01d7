"""The élu référent confirms before the responsible submits; last year's answers."""
from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from tnlbot.store import campaign_tables as C
from tnlbot.store import tables as T

from ..autofill import SIREN, fill
from .conftest import UTC, Agent, elu_by_operator, identify, make_campaign


def code_in(reply) -> str:
    return re.search(r"\b([A-Z2-9]{4}-[A-Z2-9]{4})\b", reply.text).group(1)


@pytest.fixture
def filled(camp, flows):
    """alice has answered every question of the 2022 flow (the élu is « Testbourg »)."""
    alice = Agent(camp, "alice")
    fill(alice, flows["tnl-2022"])
    return alice


def confirmations(app) -> list:
    e = C.elu_confirmations
    with app.store.begin() as conn:
        return conn.execute(select(e.c.elu_name, e.c.method, e.c.confirmed).order_by(e.c.id)).all()


def test_submitting_waits_for_the_elu_and_the_team_cannot_declare_it_itself(filled, camp):
    alice = filled
    reply = alice.say("/deposer")
    assert "l'élu(e) référent(e) doit confirmer la candidature" in reply
    assert reply.prompt is None                                       # no confirmation asked
    reply = alice.say("/elu")
    assert "n'a pas encore confirmé la candidature" in reply
    assert [a.value for a in reply.items[-1].actions] == ["/elu inviter"]
    reply = alice.say("/elu declarer")
    assert "Je n'enregistre pas de confirmation déclarée par l'équipe" in reply
    assert confirmations(camp) == []
    assert "l'élu(e) référent(e) doit confirmer la candidature" in alice.say("/deposer")
    elu_by_operator(camp, alice)                                      # the operator checked
    assert confirmations(camp) == [("Testbourg", "operator", True)]
    assert "L'équipe du label a enregistré le 12 juin 2024, 10:00 la confirmation de Testbourg" \
        in alice.say("/elu")
    assert alice.say("/deposer").ref == "confirm"
    assert "Votre candidature est déposée. Merci !" in alice.say("oui")


def test_the_elu_confirms_from_their_own_account(filled, camp):
    alice, marie = filled, Agent(camp, "marie")
    reply = alice.say("/elu inviter")
    assert "Voici le code à transmettre à Testbourg" in reply
    reply = marie.say(f"/rejoindre {code_in(reply)}")
    assert "alice vous désigne comme élu(e) référent(e)" in reply
    assert reply.ref == "elu_confirm" and [o.value for o in reply.prompt.options] == ["yes", "no"]
    assert "marie a rejoint l'équipe de votre candidature (rôle : élu(e) référent(e))" in alice.inbox()
    reply = marie.press("elu_confirm", "yes")
    assert "Votre confirmation est enregistrée" in reply
    assert "marie a confirmé la candidature depuis son compte" in alice.inbox()
    assert confirmations(camp) == [("Testbourg", "elu_account", True)]
    assert "a confirmé la candidature depuis son compte le 12 juin 2024" in alice.say("/elu")
    assert alice.say("/deposer").ref == "confirm"


def test_an_elu_who_says_no_blocks_and_a_new_elu_name_needs_a_new_confirmation(filled, camp):
    alice, marie = filled, Agent(camp, "marie")
    marie.say(f"/rejoindre {code_in(alice.say('/elu inviter'))}")
    alice.inbox()
    assert "vous ne confirmez pas la candidature" in marie.say("non")
    assert "marie n'a pas confirmé la candidature" in alice.inbox()
    assert "l'élu(e) référent(e) doit confirmer" in alice.say("/deposer")
    elu_by_operator(camp, alice)
    reply = alice.say("/modifier 8")
    assert reply.ref == "elu_nom"
    alice.say("Jean Jaurès")
    assert "l'élu(e) référent(e) doit confirmer" in alice.say("/deposer")
    assert "Jean Jaurès" in alice.say("/elu")


def test_only_the_responsible_declares_and_members_cannot_confirm_as_elu(filled, camp):
    alice, bob = filled, Agent(camp, "bob")
    bob.say(f"/rejoindre {code_in(alice.say('/inviter'))}")
    assert "Seule la personne responsable de la candidature (alice)" in bob.say("/elu inviter")
    assert "Seul(e) l'élu(e) référent(e) invité(e)" in bob.say("/confirmer")
    assert confirmations(camp) == []


def test_start_from_last_year_copies_matching_answers_marked_to_check(build, sqlite_store, clock, flows):
    y2023 = datetime(2023, 6, 12, 8, 0, tzinfo=UTC)
    clock.set(y2023)
    app = build(sqlite_store, slug="tnl-2023", year=2023, opens=y2023 - timedelta(days=1),
                closes=y2023 + timedelta(days=30))
    alice = Agent(app, "alice")
    fill(alice, flows["tnl-2022"], overrides={"population": "4321"})
    elu_by_operator(app, alice)
    alice.say("/deposer")
    assert "Votre candidature est déposée" in alice.say("oui")
    clock.advance(days=31)
    app.scheduler.tick()                                           # 2023 closes
    alice.inbox()
    y2024 = datetime(2024, 6, 12, 8, 0, tzinfo=UTC)
    make_campaign(app.store, slug="tnl-2024", opens=y2024 - timedelta(days=1), closes=y2024 + timedelta(days=60))
    clock.set(y2024)
    reply = alice.say("bonjour")
    assert "Une nouvelle campagne est ouverte" in reply and "/copier" in reply
    identify(alice, SIREN, population="5000")
    reply = alice.say("/copier")
    copied = int(re.search(r"J'ai repris (\d+) réponse", reply.text).group(1))
    assert copied > 50 and "candidature 2023" in reply
    answers = alice.answers()
    assert answers["population"] == 5000                           # this year's answer is kept
    assert answers["strategie_existe"] is True
    reply = alice.say("/deposer")
    assert f"{copied} réponses reprises de l'an dernier restent à vérifier" in reply
    reply = alice.say("/verifier")
    assert f"{copied} réponses reprises de l'an dernier à vérifier" in reply
    first = re.search(r"^(\d+)\. .* → Nous avons migré", reply.text, re.M).group(1)
    alice.say(f"/modifier {first}")
    alice.say("Nous avons tout migré en 2024.")                    # changing it means checked
    assert f"{copied - 1} réponses" in alice.say("/verifier")
    assert "/verifier ok" in [a.value for a in alice.say("/verifier").items[-1].actions]
    assert f"les {copied - 1} réponses reprises sont vérifiées" in alice.say("/verifier ok")
    assert "l'élu(e) référent(e) doit confirmer" in alice.say("/deposer")  # a new year, a new confirmation
    with app.store.begin() as conn:
        k = T.candidatures
        rows = conn.execute(select(k.c.campaign_id, k.c.organisation_id, k.c.status).order_by(k.c.id)).all()
    assert [r.status for r in rows] == ["submitted", "draft"]
    assert rows[0].organisation_id == rows[1].organisation_id


def test_copy_needs_the_body_and_a_previous_candidature(camp):
    alice = Agent(camp, "alice")
    alice.say("bonjour")
    assert "Répondez d'abord au SIREN" in alice.say("/copier")
    identify(alice, SIREN)
    assert "Je ne trouve pas de candidature de votre collectivité" in alice.say("/copier")
    assert "Aucune réponse reprise de l'an dernier n'est à vérifier" in alice.say("/verifier")


def test_a_campaign_without_elu_confirmation_lets_the_responsible_submit(build, sqlite_store, clock, flows):
    now = clock.now()
    app = build(sqlite_store, opens=now - timedelta(days=1), closes=now + timedelta(days=30), config={})
    alice = Agent(app, "alice")
    fill(alice, flows["tnl-2022"])
    assert "ne demande pas de confirmation" in alice.say("/elu")
    assert alice.say("/deposer").ref == "confirm"
    assert "Votre candidature est déposée" in alice.say("oui")
