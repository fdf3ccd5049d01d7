"""Who speaks for a body: a SIREN typed is a claim, the operator verifies it.

The squatter, the real agent and the stranger probing SIRENs, on SQLite and
PostgreSQL; the operator acts through the `tnlbot claims` command.
"""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tnlbot.cli import main
from tnlbot.store import campaign_tables as C
from tnlbot.store import tables as T

from ..autofill import fill
from .conftest import IDENTITY, JURY, Agent, identify, siren

TESTBOURG = siren(73282932)
VERIFIED = {"jury": JURY, "elu_confirmation": True, "verify_claims": True}


@pytest.fixture
def verified_camp(build, any_store, clock):
    """An open campaign whose claims the operator verifies, on SQLite and PostgreSQL."""
    now = clock.now()
    return build(any_store, opens=now - timedelta(days=1), closes=now + timedelta(days=120),
                 config=VERIFIED)


@pytest.fixture
def operator(monkeypatch, capsys):
    """Runs `tnlbot ...` on an app's database; returns (exit code, what it printed)."""
    def run(app, *argv: str) -> tuple[int, str]:
        monkeypatch.setenv("TNLBOT_DATABASE_URL", app.store.url)
        code = main(list(argv))
        out = capsys.readouterr()
        return code, out.out + out.err
    return run


def fill_as(agent: Agent, flows) -> None:
    """The agent answers everything left (as Testbourg)."""
    fill(agent, flows["tnl-2022"], overrides={**IDENTITY, "siren": TESTBOURG})


def claim_of(app, agent: Agent) -> int:
    c, k = T.conversations, C.claims
    with app.store.begin() as conn:
        cand = conn.execute(select(c.c.candidature_id).where(c.c.chat_id == agent.chat)).scalar()
        return int(conn.execute(select(k.c.id).where(k.c.candidature_id == cand)
                                .order_by(k.c.id.desc())).scalars().first())


def test_a_squatter_can_neither_lock_out_nor_speak_for_the_body(verified_camp, operator, flows, monkeypatch):
    app = verified_camp
    mallory, alice = Agent(app, "mallory"), Agent(app, "alice")
    first = identify(mallory, TESTBOURG)
    assert "cette candidature représente Testbourg" in first
    assert "l'équipe du label vérifie que vous représentez bien cette collectivité" in first
    # the real agent types the same SIREN: the same words, no name, no refusal, no notice
    second = identify(alice, TESTBOURG)
    assert second.text == first.text
    assert "mallory" not in second.text and "existe déjà" not in second.text
    assert mallory.inbox().messages == []
    # the squatter cannot declare the élu's confirmation, nor submit
    fill_as(mallory, flows)
    assert "Je n'enregistre pas de confirmation déclarée par l'équipe" in mallory.say("/elu declarer")
    with app.store.begin() as conn:
        assert conn.execute(select(C.elu_confirmations)).first() is None
    reply = mallory.say("/deposer")
    assert "n'a pas encore vérifié que vous représentez cette collectivité" in reply
    assert reply.prompt is None
    # the operator sees the conflict and verifies the real agent's claim
    monkeypatch.setenv("LC_ALL", "en_GB.UTF-8")            # the operator's language, from locales/
    code, listed = operator(app, "claims", "list")
    assert code == 0 and listed.count("CONFLICT: 1 other claim of this body") == 2
    assert "responsible mallory" in listed and "responsible alice" in listed
    assert listed.count("  pending   ") == 2
    monkeypatch.setenv("LC_ALL", "fr_FR.UTF-8")
    code, listed = operator(app, "claims", "list")
    assert code == 0 and listed.count("CONFLIT : 1 autre rattachement pour cette collectivité") == 2
    assert "responsable mallory" in listed and listed.count("  en attente  ") == 2
    claim = claim_of(app, alice)
    assert operator(app, "claims", "verify", str(claim)) == (0, f"rattachement n°{claim} vérifié\n")
    assert operator(app, "claims", "release", "999") == (1, "aucun rattachement n°999 en cours\n")
    assert "l'équipe du label a vérifié le rattachement" in alice.inbox()
    assert "n'a pas retenu le rattachement de votre candidature" in mallory.inbox()
    assert "n'a pas encore vérifié" in mallory.say("/deposer")
    code, listed = operator(app, "claims", "list")
    assert "CONFLIT" not in listed and "  vérifié  " in listed and "mallory" not in listed
    monkeypatch.setenv("LC_ALL", "en_GB.UTF-8")
    assert operator(app, "claims", "verify", "999") == (1, "no pending claim #999\n")
    monkeypatch.setenv("LC_ALL", "fr_FR.UTF-8")
    # the élu's confirmation comes from the operator; then alice submits
    fill_as(alice, flows)
    c = T.conversations
    with app.store.begin() as conn:
        cand = conn.execute(select(c.c.candidature_id).where(c.c.chat_id == alice.chat)).scalar()
    code, recorded = operator(app, "claims", "elu", str(cand))
    assert code == 0 and recorded.startswith(f"candidature n°{cand} : confirmation de ") and \
        recorded.endswith(" enregistrée\n")
    assert "L'équipe du label a enregistré le" in alice.say("/elu")
    assert alice.say("/deposer").ref == "confirm"
    assert "Votre candidature est déposée" in alice.say("oui")


def test_probing_sirens_reveals_nothing_and_notifies_no_one(verified_camp, operator):
    app = verified_camp
    alice = Agent(app, "alice")
    identify(alice, TESTBOURG)
    assert operator(app, "claims", "verify", str(claim_of(app, alice)))[0] == 0
    alice.inbox()
    strangers = [Agent(app, f"stranger{i}") for i in range(3)]
    replies = [identify(s, TESTBOURG).text for s in strangers]
    fresh = identify(Agent(app, "newcomer"), siren(73282933)).text.replace(siren(73282933), TESTBOURG)
    assert replies[0] == replies[1] == replies[2] == fresh     # a claimed body reads as any other
    assert "alice" not in replies[0]
    assert alice.inbox().messages == []                         # no notice per attempt


def test_first_come_campaigns_accept_the_first_claim_and_send_conflicts_to_the_operator(
        build, any_store, clock, operator, flows, monkeypatch):
    now = clock.now()
    app = build(any_store, opens=now - timedelta(days=1), closes=now + timedelta(days=120),
                config={"jury": JURY, "elu_confirmation": False})
    mallory, alice = Agent(app, "mallory"), Agent(app, "alice")
    first = identify(mallory, TESTBOURG).text
    assert identify(alice, TESTBOURG).text == first            # not refused, not told
    fill_as(alice, flows)
    assert "n'a pas encore vérifié" in alice.say("/deposer")    # the second claim waits
    monkeypatch.setenv("LC_ALL", "en_GB.UTF-8")
    code, listed = operator(app, "claims", "list")
    assert listed.count("CONFLICT") == 2
    assert operator(app, "claims", "verify", str(claim_of(app, alice)))[0] == 0
    assert alice.say("/deposer").ref == "confirm"
    # the operator hands a team's responsibility to a member
    bob = Agent(app, "bob")
    code_text = alice.say("/inviter").text
    bob.say("/rejoindre " + next(w for w in code_text.split() if len(w) == 9 and w[4] == "-"))
    c = T.conversations
    with app.store.begin() as conn:
        cand = conn.execute(select(c.c.candidature_id).where(c.c.chat_id == alice.chat)).scalar()
    monkeypatch.setenv("LC_ALL", "fr_FR.UTF-8")
    assert operator(app, "claims", "reassign", str(cand), "--to", "console:bob") == (
        0, f"candidature n°{cand} : console:bob en est maintenant responsable\n")
    assert "vous a confié la responsabilité de la candidature" in bob.inbox()
    assert "Seule la personne responsable" in alice.say("/inviter")
    assert operator(app, "claims", "reassign", str(cand), "--to", "console:mallory") == (
        1, f"console:mallory ne fait pas partie de l'équipe de la candidature n°{cand} : il faut d'abord "
           "la rejoindre avec un code d'invitation\n")
    monkeypatch.setenv("LC_ALL", "en_GB.UTF-8")
    assert operator(app, "claims", "reassign", str(cand), "--to", "console:nobody") == (
        1, "no account console:nobody\n")
    assert operator(app, "claims", "list", "--campaign", "nowhere") == (
        1, 'no campaign "nowhere": type tnlbot campaign list to see the campaigns\n')


def test_the_operator_commands_are_in_the_help(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "claims" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["claims", "--help"])
    shown = capsys.readouterr().out
    for verb in ("list", "verify", "release", "reassign", "elu"):
        assert verb in shown
