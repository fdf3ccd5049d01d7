"""The jury at work in chat: assessments, versions, drafts, other campaigns."""
from __future__ import annotations

from sqlalchemy import func, select

from tnlbot.store import tables as T

from ..conftest import open_campaign
from ..harness import Chat
from .conftest import build, close, seat
from .test_jury_reading import documents


def test_a_draft_is_neither_listed_nor_shown_to_the_jury(badge):
    carol = Chat(badge.app, "carol")
    carol.say("bonjour")
    carol.say("Bourg de Carol")            # one answer, never submitted
    seat(badge, "juge")
    juge = Chat(badge.app, "juge")
    reply = juge.say("/jury liste")
    assert f"N°{badge.ids['alice']} · Ville d'Alice — déposée, version 1 — 16/16 réponses" in reply
    assert "Candidatures de la campagne tnl-2025-badge-test (2)" in reply
    assert "Carol" not in reply.text and "brouillon" not in reply.text
    number = max(badge.ids.values()) + 1
    reply = juge.say(f"/jury voir {number}")
    assert f"La candidature n°{number} n'a pas encore été déposée" in reply and "Carol" not in reply.text
    assert not documents(juge.say(f"/jury dossier {number}"))


def test_a_member_of_another_campaigns_jury_sees_nothing_of_this_one(badge):
    other = open_campaign(badge.store, "tnl-2022", slug="tnl-2022-autre")
    seat(badge, "paul", campaign_id=other)
    paul = Chat(badge.app, "paul")
    reply = paul.say(f"/jury voir {badge.ids['alice']}")
    assert f"Je ne trouve pas de candidature n°{badge.ids['alice']}" in reply and "Alice" not in reply.text
    assert "Aucune candidature pour l'instant dans la campagne tnl-2022-autre" in paul.say("/jury liste")
    assert "pas membre du jury de la campagne « tnl-2025-badge-test »" in paul.say(
        "/jury liste tnl-2025-badge-test")
    assert "Je ne trouve pas de candidature" in paul.say(f"/jury noter {badge.ids['bob']} 2 or")
    assert not documents(paul.say(f"/jury dossier {badge.ids['bob']}"))
    assert "Bob" not in paul.say("/jury export csv tnl-2025-badge-test").text


def test_assessments_are_private_until_the_closing_then_side_by_side(badge):
    alice = badge.ids["alice"]
    seat(badge, "juge")
    seat(badge, "juge2")
    juge, juge2 = Chat(badge.app, "juge"), Chat(badge.app, "juge2")
    assert "Notes possibles : bronze, argent, or." in juge.say("/jury noter")
    assert "« 7 » n'est pas une note possible" in juge.say(f"/jury noter {alice} 2 7")
    assert "Indiquez un volet" in juge.say(f"/jury noter {alice} 9 or")
    saved = juge.say(f"/jury noter {alice} 2 Or mutualisation Très belle démarche, portée par les élus.")
    assert "volet « Questionnaire du Badge » : or (mention mutualisation)" in saved
    juge2.say(f"/jury noter {alice} badge argent")
    mine = juge.say("/jury notes")
    assert "seront visibles après la clôture" in mine
    assert "Juge : or (mention mutualisation)" in mine and "argent" not in mine.text
    assert "Votre évaluation : or (mention mutualisation) — Très belle démarche" in juge.say(f"/jury voir {alice} 2")
    close(badge)
    both = juge.say(f"/jury notes {alice}")
    assert f"N°{alice} · Ville d'Alice" in both
    assert "  Questionnaire du Badge — Juge : or (mention mutualisation) · Juge2 : argent" in both
    assert "    Juge : « Très belle démarche, portée par les élus. »" in both
    assert "réservées aux membres du jury" in badge.chats["alice"].say("/jury notes")


def test_a_juror_can_change_their_assessment(badge):
    bob = badge.ids["bob"]
    seat(badge, "juge")
    juge = Chat(badge.app, "juge")
    juge.say(f"/jury noter {bob} 2 bronze")
    juge.say(f"/jury noter {bob} 2 argent Après relecture")
    reply = juge.say(f"/jury notes {bob}")
    assert "Juge : argent" in reply and "bronze" not in reply.text and "Après relecture" in reply


def test_a_levels_campaign_takes_grades_from_1_to_5(any_store, flows, catalog, clock):
    town = build(any_store, flows, catalog, clock, "tnl-2022",
                 {"x": {"nom_collectivite": "Testville", "volet:strategie": True, "strategie_existe": True}})
    seat(town, "juge")
    juge, number = Chat(town.app, "juge"), town.ids["x"]
    assert "Notes possibles : 1, 2, 3, 4, 5." in juge.say(f"/jury noter {number} 2 or")
    assert "mention" not in juge.say("/jury noter").text
    saved = juge.say(f"/jury noter {number} strategie 4 premiere approche")
    assert "volet « Stratégie et mutualisation » : 4. Elle n'est visible que par le jury." in saved
    assert "Juge : 4\n    Juge : « premiere approche »" in juge.say(f"/jury notes {number}")


def test_the_jury_sees_the_versions_and_what_changed(badge):
    seat(badge, "juge")
    juge = Chat(badge.app, "juge")
    alice = badge.ids["alice"]
    assert "qu'une seule version déposée" in juge.say(f"/jury diff {alice}")
    juge.say(f"/jury noter {alice} 2 argent")
    assert "Juge : argent\n" in juge.say("/jury notes").text + "\n"
    chat = badge.chats["alice"]
    assert "Réponse actuelle : Ville d'Alice" in chat.say("/modifier 1")
    chat.say("Ville d'Alice-sur-Libre")
    assert chat.say("/deposer").ref == "confirm"
    assert "version 2" in chat.say("oui")
    versions = juge.say(f"/jury versions {alice}")
    assert "Version 1 ·" in versions and "Version 2 ·" in versions and "ATTENTION" not in versions.text
    changes = juge.say(f"/jury diff {alice}")
    assert ("• Quel est le nom de votre collectivité ou de votre structure ? : "
            "Ville d'Alice → Ville d'Alice-sur-Libre") in changes
    assert "Version 2, déposée" in juge.say(f"/jury voir {alice}")
    assert ("Juge : argent [évaluée sur la version 1 ; le jury lit maintenant la version 2]"
            in juge.say(f"/jury notes {alice}"))
    assert "Indiquez deux versions déposées" in juge.say(f"/jury diff {alice} 1 5")


def test_the_chat_that_receives_the_closing_notice_is_a_jury_room(badge):
    other = open_campaign(badge.store, "tnl-2025-badge", slug="avec-salle",
                          config={"jury": [{"transport": "console", "chat_id": "salle-des-deliberations"}]})
    guest = Chat(badge.app, "invitee", chat="salle-des-deliberations")
    assert "réservées aux membres du jury" in guest.say("/jury liste avec-salle")   # the room gives no seat
    assert other and "réservées aux membres du jury" in Chat(badge.app, "invitee").say("/jury liste")
    english = Chat(badge.app, "eve", chat="salle-des-deliberations", language="en").say("/help")
    assert english.text.startswith("This room is the jury's") and english.prompt is None


def test_the_jury_room_never_starts_a_questionnaire(badge):
    seat(badge, "salon-jury", kind="room")
    camille = Chat(badge.app, "camille", chat="salon-jury")
    for said in ("/aide", "bonjour", "/start", "/inviter"):
        reply = camille.say(said)
        assert reply.text.startswith("Ce salon est celui du jury"), said
        assert reply.prompt is None
    assert "réservées aux membres du jury" in camille.say("/jury aide")
    seat(badge, "camille")
    assert "conversation directe" in camille.say("/jury liste")
    listing = Chat(badge.app, "camille").say("/jury liste")
    assert "Candidatures de la campagne tnl-2025-badge-test (2)" in listing and "· ?" not in listing.text
    with badge.store.begin() as conn:
        assert conn.execute(select(func.count()).select_from(T.candidatures)).scalar() == 2
        assert conn.execute(select(func.count()).select_from(T.conversations).where(
            T.conversations.c.chat_id == "salon-jury")).scalar() == 0



def test_on_telegram_a_juror_asking_in_a_group_is_answered_in_private(badge):
    seat(badge, "4242", transport="telegram")
    asked = Chat(badge.app, "4242", chat="-100777", transport="telegram").say("/jury export csv")
    o = T.outbox
    with badge.store.begin() as conn:
        rows = conn.execute(select(o.c.chat_id, o.c.payload).where(o.c.transport == "telegram")
                            .order_by(o.c.id)).all()
    group = [r.payload for r in rows if r.chat_id == "-100777"]
    private = [r.payload for r in rows if r.chat_id == "4242"]
    assert len(group) == 1 and "message privé" in group[0] and "Alice" not in group[0]
    assert any('"kind":"document"' in p for p in private)
    assert "message privé" in asked
