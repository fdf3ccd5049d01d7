"""Invitation codes: listed, revocable, capped, dead with their author's role; guessing slowed."""
from __future__ import annotations

from sqlalchemy import select

from tnlbot.store import tables as T

from .conftest import Agent, identify, siren
from .test_teams import code_in

TESTBOURG = siren(73282932)


def test_the_responsible_lists_and_revokes_codes_and_a_revoked_code_opens_nothing(camp):
    alice, bob = Agent(camp, "alice"), Agent(camp, "bob")
    identify(alice, TESTBOURG)
    first, second = code_in(alice.say("/inviter")), code_in(alice.say("/inviter"))
    listed = alice.say("/codes")
    assert "Codes d'invitation encore valables (2, 10 au plus)" in listed
    assert first in listed and second in listed
    assert f"le code {first} ne vaut plus" in alice.say(f"/revoquer {first}")
    assert "ne vaut plus : il a été annulé" in bob.say(f"/rejoindre {first}")
    assert first not in alice.say("/codes").text
    assert "1 code ne vaut plus" in alice.say("/revoquer tous")
    assert "Aucun code d'invitation n'est valable" in alice.say("/codes")
    assert "n'est pas un code valable" in alice.say(f"/revoquer {second}")


def test_codes_are_capped(camp):
    alice = Agent(camp, "alice")
    identify(alice, TESTBOURG)
    for _ in range(10):
        code_in(alice.say("/inviter"))
    reply = alice.say("/inviter")
    assert "Vous avez déjà 10 codes d'invitation valables" in reply
    assert "annulez-en un" in alice.say("/elu inviter")


def test_a_removed_former_responsible_cannot_come_back_with_a_kept_code(camp):
    alice, bob = Agent(camp, "alice"), Agent(camp, "bob")
    identify(alice, TESTBOURG)
    bob.say(f"/rejoindre {code_in(alice.say('/inviter'))}")
    kept = code_in(alice.say("/inviter"))              # alice keeps one for later
    alice.say("/responsable 2")
    bob.say("/retirer 1")
    reply = alice.say(f"/rejoindre {kept}")
    assert "ne vaut plus" in reply
    with camp.store.begin() as conn:
        c = T.conversations
        mine = conn.execute(select(c.c.candidature_id).where(c.c.chat_id == alice.chat)).scalar()
        bobs = conn.execute(select(c.c.candidature_id).where(c.c.chat_id == bob.chat)).scalar()
    assert mine != bobs


def test_wrong_codes_slow_down_then_lock(camp, clock):
    alice, mallory = Agent(camp, "alice"), Agent(camp, "mallory")
    identify(alice, TESTBOURG)
    good = code_in(alice.say("/inviter"))
    for guess in ("AAAA-AAAA", "BBBB-BBBB", "CCCC-CCCC"):
        assert "Je ne connais pas le code" in mallory.say(f"/rejoindre {guess}")
    assert "attendez 30 secondes" in mallory.say("/rejoindre DDDD-DDDD")
    assert "attendez 30 secondes" in mallory.say(f"/rejoindre {good}")     # even the right one waits
    for guess in ("EEEE-EEEE", "FFFF-FFFF", "GGGG-GGGG", "HHHH-HHHH", "JJJJ-JJJJ"):
        clock.advance(31)
        mallory.say(f"/rejoindre {guess}")
    clock.advance(31)
    assert "vous pourrez réessayer à partir du" in mallory.say(f"/rejoindre {good}")
    clock.advance(minutes=61)
    assert "Bienvenue dans l'équipe" in mallory.say(f"/rejoindre {good}")
