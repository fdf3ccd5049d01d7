"""Teams of agents: one candidature per body, invitations, members, roles."""
from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import func, select

from tnlbot.store import campaign_tables as C
from tnlbot.store import tables as T

from .conftest import Agent, identify, siren

TESTBOURG = siren(73282932)


def code_in(reply) -> str:
    found = re.search(r"\b([A-Z2-9]{4}-[A-Z2-9]{4})\b", reply.text)
    assert found, reply.text
    return found.group(1)


def live_candidatures(app) -> list:
    k = T.candidatures
    with app.store.begin() as conn:
        return conn.execute(select(k.c.id, k.c.organisation_id, k.c.responsible_id, k.c.status)
                            .where(k.c.status != "abandoned")).all()


def team_of(app, alice: Agent) -> tuple[int, list[tuple[str, str]]]:
    c, m, p = T.conversations, T.members, T.people
    with app.store.begin() as conn:
        cand = conn.execute(select(c.c.candidature_id).where(c.c.chat_id == alice.chat)).scalar()
        rows = conn.execute(select(p.c.display_name, m.c.role).join(p, p.c.id == m.c.person_id)
                            .where(m.c.candidature_id == cand).order_by(m.c.joined_at, p.c.id)).all()
    return cand, [tuple(r) for r in rows]


def test_the_first_declarer_is_responsible_and_a_colleague_joins_with_a_code(camp):
    alice, bob = Agent(camp, "alice"), Agent(camp, "bob")
    said = identify(alice, TESTBOURG)
    assert f"cette candidature représente Testbourg (SIREN {TESTBOURG}), et vous en êtes responsable" in said
    bob.say("bonjour")
    bob.say("Testbourg")
    bob.say("1")
    reply = bob.say(TESTBOURG)          # a second claim: not refused, and nothing about alice
    assert f"cette candidature représente Testbourg (SIREN {TESTBOURG})" in reply
    assert "alice" not in reply.text
    assert alice.inbox().messages == []
    rows = live_candidatures(camp)
    assert [r.organisation_id is not None for r in rows].count(True) == 1
    with camp.store.begin() as conn:
        assert conn.execute(select(func.count()).select_from(T.organisations)).scalar() == 1
    # bob asks alice for a code and joins: his own draft and its claim are given up
    code = code_in(alice.say("/inviter"))
    reply = bob.say(f"/rejoindre {code}")
    assert "Bienvenue dans l'équipe de la candidature pour Testbourg" in reply
    assert "bob a rejoint l'équipe de votre candidature (rôle : membre)" in alice.inbox()
    assert len([r for r in live_candidatures(camp) if r.status == "draft"]) == 1
    assert team_of(camp, alice)[1] == [("alice", "responsible"), ("bob", "member")]
    with camp.store.begin() as conn:
        statuses = conn.execute(select(C.claims.c.status).order_by(C.claims.c.id)).scalars().all()
    assert statuses == ["verified", "released"]


def test_first_answer_creates_the_body_and_linking_is_announced_once(camp):
    alice = Agent(camp, "alice")
    alice.say("bonjour")
    alice.say("Testbourg")
    alice.say("1")
    reply = alice.say(TESTBOURG)
    assert reply.text.index("vous en êtes responsable") < reply.text.index("département")
    reply = alice.say("/modifier 3")
    assert "SIREN" in reply
    reply = alice.say(TESTBOURG)                          # same body again: nothing new to say
    assert "vous en êtes responsable" not in reply


def test_invitation_codes_valid_reused_expired_and_wrong(camp, clock):
    alice, bob, carol, dan = (Agent(camp, n) for n in ("alice", "bob", "carol", "dan"))
    identify(alice, TESTBOURG)
    reply = alice.say("/inviter")
    assert "reste valable jusqu'au 19 juin 2024, 10:00" in reply    # 7 days, Paris time
    code = code_in(reply)
    assert "Je ne connais pas le code" in carol.say("/rejoindre ZZZZ-ZZZZ")
    assert "tapez /rejoindre suivi du code" in carol.say("/rejoindre 12")
    assert "Bienvenue" in bob.say(f"/rejoindre {code.lower().replace('-', ' ')}")
    alice.inbox()
    assert "a déjà servi" in carol.say(f"/rejoindre {code}")
    assert "Vous faites déjà partie de cette équipe" in bob.say(f"/rejoindre {code}")
    late = code_in(alice.say("/inviter"))
    clock.advance(days=7, seconds=1)
    assert "a expiré" in dan.say(f"/rejoindre {late}")
    assert [n for n, _ in team_of(camp, alice)[1]] == ["alice", "bob"]
    assert "Seule la personne responsable de la candidature (alice)" in bob.say("/inviter")


def test_a_telegram_deep_link_joins_the_team(build, sqlite_store, clock):
    now = clock.now()
    app = build(sqlite_store, opens=now - timedelta(days=1), closes=now + timedelta(days=60),
                config={"telegram_bot": "tnl_label_bot"})
    alice = Agent(app, "alice", transport="telegram", chat="100")
    bob = Agent(app, "bob", transport="telegram", chat="200")
    identify(alice, TESTBOURG)
    reply = alice.say("/inviter")
    link = re.search(r"https://t\.me/tnl_label_bot\?start=([A-Z2-9]{8})", reply.text)
    assert link, reply.text
    reply = bob.say(f"/start {link.group(1)}")             # what Telegram sends for the deep link
    assert "Bienvenue dans l'équipe de la candidature pour Testbourg" in reply
    assert team_of(app, alice)[1] == [("alice", "responsible"), ("bob", "member")]


def test_two_agents_answer_the_same_question_the_later_wins_and_the_first_is_told(camp, clock):
    alice, bob = Agent(camp, "alice"), Agent(camp, "bob")
    identify(alice, TESTBOURG)
    bob.say(f"/rejoindre {code_in(alice.say('/inviter'))}")
    alice.inbox()
    clock.advance(minutes=5)
    bob.say("/reprendre")
    reply = bob.say("/modifier 5")
    assert reply.ref == "population"
    bob.say("12500")
    told = alice.inbox()
    assert "bob a modifié une réponse que vous aviez donnée" in told
    assert "« 12\u202f000 habitants » → « 12\u202f500 habitants »" in told.text
    assert bob.answers()["population"] == 12500
    history = alice.say("/qui 5")
    assert "alice : (pas de réponse) → 12\u202f000 habitants" in history
    assert "bob : 12\u202f000 habitants → 12\u202f500 habitants" in history
    assert "(bob, 12 juin 2024, 10:05)" in alice.say("/qui")
    # bob changing it again tells nobody: he replaces his own answer
    bob.say("/modifier 5")
    bob.say("12600")
    assert alice.inbox().items == []


def test_assigned_volets_the_member_answers_only_those(camp):
    alice, bob = Agent(camp, "alice"), Agent(camp, "bob")
    identify(alice, TESTBOURG)
    bob.say(f"/rejoindre {code_in(alice.say('/inviter'))}")
    reply = alice.say("/assigner 2 2")
    assert "bob s'occupe désormais de : Stratégie et mutualisation" in reply
    assert "alice vous a confié : Stratégie et mutualisation" in bob.inbox()
    reply = bob.say("/reprendre")
    assert "Stratégie" in reply.prompt.header            # walked straight to his volet
    reply = bob.say("/modifier 1")
    reply = bob.say("Autre nom")
    assert "Cette question appartient à un volet qui ne vous a pas été confié" in reply
    assert "Vos volets : Stratégie et mutualisation" in reply
    assert bob.answers()["nom_collectivite"] == "Testbourg"
    assert "· Stratégie et mutualisation ·" in alice.say("/equipe")
    assert "Indiquez le numéro du membre" in alice.say("/assigner 2 9")
    alice.say("/assigner 2 tous")
    assert "tous les volets" in alice.say("/equipe")


def test_remove_a_member_and_hand_the_role_over(camp):
    alice, bob, carol = Agent(camp, "alice"), Agent(camp, "bob"), Agent(camp, "carol")
    identify(alice, TESTBOURG)
    bob.say(f"/rejoindre {code_in(alice.say('/inviter'))}")
    carol.say(f"/rejoindre {code_in(alice.say('/inviter'))}")
    alice.inbox()
    assert "Vous ne pouvez pas vous retirer vous-même" in alice.say("/retirer 1")
    assert "carol ne fait plus partie de l'équipe" in alice.say("/retirer 3")
    assert "alice vous a retiré(e) de l'équipe de la candidature pour Testbourg" in carol.inbox()
    assert [n for n, _ in team_of(camp, alice)[1]] == ["alice", "bob"]
    reply = carol.say("bonjour")                          # carol starts afresh, alone
    assert "Bonjour" in reply and reply.ref == "nom_collectivite"
    reply = alice.say("/responsable 2")
    assert "bob est désormais responsable" in reply
    assert "alice vous a confié le rôle de responsable" in bob.inbox()
    assert team_of(camp, alice)[1] == [("alice", "member"), ("bob", "responsible")]
    assert "Seule la personne responsable de la candidature (bob)" in alice.say("/retirer 2")
    assert "Seule la personne responsable de la candidature peut la déposer" in alice.say("/deposer")


def test_who_answered_what_needs_no_member_rights_and_help_lists_team_commands(camp):
    alice = Agent(camp, "alice")
    identify(alice, TESTBOURG)
    reply = alice.say("/aide")
    assert "/inviter" in reply and "/rejoindre CODE" in reply and "/assigner" in reply
    assert "Indiquez le numéro d'une réponse" in alice.say("/qui 999")
    with camp.store.begin() as conn:
        assert conn.execute(select(func.count()).select_from(C.invitations)).scalar() == 0


def test_a_code_cannot_be_used_once_the_campaign_is_closed(camp, clock):
    alice, bob = Agent(camp, "alice"), Agent(camp, "bob")
    identify(alice, TESTBOURG)
    clock.advance(days=119)
    code = code_in(alice.say("/inviter"))
    clock.advance(days=2)                                     # still valid, but the campaign closed
    assert "La campagne n'accepte plus de modifications" in bob.say(f"/rejoindre {code}")
    assert [n for n, _ in team_of(camp, alice)[1]] == ["alice"]


def test_a_member_asked_the_question_a_colleague_is_on_is_told_who(camp, clock):
    alice, bob = Agent(camp, "alice"), Agent(camp, "bob")
    identify(alice, TESTBOURG)
    on = alice.say("/reprendre")                         # alice is on the next question
    bob.say(f"/rejoindre {code_in(alice.say('/inviter'))}")
    reply = bob.say("/reprendre")
    assert reply.ref == on.ref
    assert "alice est en train de répondre à cette question" in reply
    notice, question = reply.messages[-2:]              # told before the question
    assert "alice est en train" in notice.text and question.ref == on.ref
    skipped = bob.say("/passer")                         # offered the next one instead
    assert skipped.ref != on.ref and "est en train de répondre" not in skipped
    # alice silent for more than ten minutes: nobody is on it any more
    clock.advance(minutes=11)
    bob.say("/retour")
    assert "est en train de répondre" not in bob.say("/reprendre")


def test_two_members_answering_one_question_in_one_batch_the_later_sees_the_first(build, any_store,
                                                                                 clock):
    """Group commit (on PostgreSQL read ahead): the second member's answer in the same batch
    replaces the first member's, and the first is told, as one after the other."""
    from tnlbot.core.events import Inbound
    from tnlbot.transports.console import parse_line
    now = clock.now()
    camp = build(any_store, opens=now - timedelta(days=1), closes=now + timedelta(days=120))
    alice, bob = Agent(camp, "alice"), Agent(camp, "bob")
    identify(alice, TESTBOURG)
    bob.say(f"/rejoindre {code_in(alice.say('/inviter'))}")
    bob.say("/reprendre")
    assert bob.say("/modifier 5").ref == alice.say("/modifier 5").ref == "population"
    alice.inbox()
    clock.advance(minutes=5)

    def said(agent: Agent, text: str, external_id: str) -> Inbound:
        parsed = parse_line(text, agent.chat, agent.user, external_id)
        return Inbound(agent.transport, external_id, agent.chat, agent.user, parsed.kind,
                       text=parsed.text, display_name=agent.user)
    results = camp.dispatcher.handle_batch([said(alice, "12500", "b1"), said(bob, "12600", "b2")])
    assert not [r for r in results if isinstance(r, Exception)]
    assert bob.answers()["population"] == 12600
    assert "bob a modifié une réponse que vous aviez donnée" in alice.inbox()
    history = alice.say("/qui 5")
    assert "alice : 12\u202f000 habitants → 12\u202f500 habitants" in history
    assert "bob : 12\u202f500 habitants → 12\u202f600 habitants" in history
