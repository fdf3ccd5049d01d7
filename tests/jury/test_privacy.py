"""Personal data: /mes_donnees gives a person their own data, /oublier erases their identity."""
from __future__ import annotations

import base64
import json
from datetime import timedelta

import jsonschema
from sqlalchemy import func, select

from tnlbot.core.events import OutKind
from tnlbot.jury import queries as Q
from tnlbot.jury.documents import SCHEMA_PATH
from tnlbot.jury.exports import exports
from tnlbot.jury.privacy import purge_drafts
from tnlbot.store import tables as T

from ..conftest import START, open_campaign
from ..harness import Chat
from .builders import quick
from .conftest import badge_answers, build, close, seat


def my_data(reply) -> dict:
    [doc] = [i for i in reply.items if i.kind is OutKind.DOCUMENT]
    assert doc.filename == "mes-donnees.json" and doc.mime == "application/json"
    return json.loads(base64.b64decode(doc.data))


def rows(store, table, **where) -> list:
    with store.begin() as conn:
        query = select(table)
        for name, value in where.items():
            query = query.where(table.c[name] == value)
        return conn.execute(query).all()


def test_an_agent_gets_everything_stored_about_them(badge):
    alice = badge.chats["alice"]
    reply = alice.say("/mes_donnees")
    assert "Voici toutes les données enregistrées à votre sujet" in reply
    data = my_data(reply)
    assert data["person"]["display_name"] == "alice"
    assert data["accounts"] == [{"transport": "console", "user_id": "alice", "chat_id": "chat-alice"}]
    [mine] = data["candidatures"]
    assert mine["candidature"] == badge.ids["alice"] and mine["role"] == "responsible"
    assert mine["answers_you_gave"]["nom_collectivite"] == "Ville d'Alice"
    assert [v["version"] for v in mine["versions_you_submitted"]] == [1]
    assert "Bourg de Bob" not in json.dumps(data, ensure_ascii=False)


def test_an_applicant_asking_for_another_bodys_data_gets_only_their_own(badge):
    seat(badge, "juge")
    Chat(badge.app, "juge").say(f"/jury noter {badge.ids['alice']} 2 or Avis confidentiel du jury")
    reply = badge.chats["alice"].say(f"/mes_donnees {badge.ids['bob']}")
    assert "ne donne que vos propres données" in reply
    text = json.dumps(my_data(reply), ensure_ascii=False)
    assert "Bourg de Bob" not in text and "bob" not in text
    assert "Avis confidentiel" not in text               # applicants never see assessments


def test_someone_unknown_has_no_data_and_nothing_is_created(badge):
    with badge.store.begin() as conn:
        before = conn.execute(select(func.count()).select_from(T.people)).scalar()
    reply = Chat(badge.app, "inconnu").say("/mes_donnees")
    assert "Je n'ai aucune donnée personnelle enregistrée à votre sujet." in reply
    assert "Je n'ai aucune donnée personnelle à effacer" in Chat(badge.app, "inconnu").say("/oublier confirmer")
    with badge.store.begin() as conn:
        assert conn.execute(select(func.count()).select_from(T.people)).scalar() == before


def test_erasure_asks_for_a_confirmation_first(badge):
    alice = badge.chats["alice"]
    reply = alice.say("/oublier")
    assert "Pour confirmer, tapez /oublier confirmer." in reply
    assert [a.value for a in reply.messages[0].actions] == ["/oublier confirmer"]
    assert rows(badge.store, T.people, display_name="alice")
    assert rows(badge.store, T.accounts, external_id="alice")


def test_erasure_removes_the_identity_and_keeps_the_jurys_copy_usable(badge):
    alice = badge.chats["alice"]
    number = badge.ids["alice"]
    [before] = rows(badge.store, T.submissions, candidature_id=number)
    assert "Ville d'Alice" in alice.say("/recap")                  # delivered messages about her
    reply = alice.say("/oublier confirmer")
    assert "vos identifiants de messagerie, vos conversations avec le bot et les messages échangés sont effacés" \
        in reply
    assert "1 version déposée d'une candidature à laquelle vous avez participé" in reply
    [person] = rows(badge.store, T.people, id=before.submitted_by)
    assert person.display_name == "" and person.erased_at == badge.clock.now()
    assert not rows(badge.store, T.accounts, external_id="alice")
    assert not rows(badge.store, T.conversations, user_id="alice")
    [goodbye] = rows(badge.store, T.outbox, user_id="alice")       # the messages she got are gone
    assert "sont effacés" in goodbye.payload and "Ville d'Alice" not in goodbye.payload
    assert goodbye.dedup_key.startswith("forget:")                  # the relay deletes it once sent
    assert rows(badge.store, T.submissions, candidature_id=number) == [before]
    with badge.store.begin() as conn:
        files = {n: d for n, _, d in exports(conn, badge.campaign_id, ("json", "dossiers", "csv"),
                                             badge.app.flows, badge.app.catalog, now=START)}
    doc = json.loads(files["candidatures-tnl-2025-badge-test.json"])
    jsonschema.validate(doc, json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))
    entry = next(e for e in doc["candidatures"] if e["candidature"] == number)
    assert entry["intact"] and entry["name"] == "Ville d'Alice" and entry["sha256"] == before.sha256
    assert entry["people"] == {str(person.id): f"personne effacée n°{person.id}"}
    assert f"personne effacée n°{person.id}" in files["candidatures-tnl-2025-badge-test.csv"].decode()
    assert "alice" not in files["candidatures-tnl-2025-badge-test.csv"].decode()


def test_her_team_sees_an_erased_person_by_number(badge):
    alice = badge.chats["alice"]
    code = next(w for w in alice.say("/inviter").text.split() if len(w) == 9 and w[4] == "-")
    carol = Chat(badge.app, "carol")
    carol.say(f"/rejoindre {code}")
    [person] = rows(badge.store, T.people, display_name="alice")
    assert "La responsabilité de votre candidature d'équipe passe" in alice.say("/oublier confirmer")
    team = carol.say("/equipe")
    assert "1. carol · responsable" in team and "effacée" not in team.text     # she left the team
    who = carol.say("/qui")
    assert f"personne effacée n°{person.id}" in who and "?" not in who.text.replace(" ?", "")
    assert f"personne effacée n°{person.id}" in carol.say("/qui 1")


def test_after_erasure_writing_again_starts_afresh(badge):
    alice = badge.chats["alice"]
    alice.say("/oublier confirmer")
    reply = alice.say("bonjour")
    assert "Bonjour" in reply and "brouillon" in reply
    assert alice.answers() == {}
    assert "Je n'ai aucune donnée" not in alice.say("/mes_donnees").text


def test_a_juror_erasing_themselves_leaves_anonymous_assessments(badge):
    seat(badge, "juge")
    juge = Chat(badge.app, "juge")
    juge.say(f"/jury noter {badge.ids['bob']} 2 bronze")
    assert my_data(juge.say("/mes_donnees"))["jury"]["assessments_you_wrote"][0]["grade"] == "bronze"
    assert "sont effacés" in juge.say("/oublier confirmer")
    assert "réservées aux membres du jury" in juge.say("/jury liste")
    [kept] = rows(badge.store, T.candidatures, id=badge.ids["bob"])
    with badge.store.begin() as conn:
        [assessment] = Q.assessments(conn, badge.campaign_id)
    assert assessment.grade == "bronze" and assessment.assessor_name == ""
    assert "juge" not in assessment.assessor


def test_drafts_are_purged_after_the_retention_period_and_submissions_stay(badge):
    carol = quick(badge.app, "carol", badge.campaign_id, badge.app.flows["tnl-2025-badge"],
                  badge_answers("Brouillon de Carol"), submit=False)
    assert carol.answers()
    with badge.store.begin() as conn:
        campaign = Q.campaign_by_id(conn, badge.campaign_id)
        assert purge_drafts(conn, campaign, START) == 0               # campaign still open
        late = Q.deadline(campaign) + timedelta(days=89)
        assert purge_drafts(conn, campaign, late) == 0                # within the 90 days
        assert purge_drafts(conn, campaign, late + timedelta(days=2)) == 3
    assert carol.answers() == {} and badge.chats["alice"].answers() == {}
    assert len(rows(badge.store, T.submissions)) == 2
    close(badge)
    with badge.store.begin() as conn:
        files = exports(conn, badge.campaign_id, ("csv",), badge.app.flows, badge.app.catalog)
    assert "Ville d'Alice" in files[0][2].decode("utf-8")


def test_the_retention_period_is_set_per_campaign(any_store, flows, catalog, clock):
    sample = build(any_store, flows, catalog, clock, "tnl-2025-badge", {})
    other = open_campaign(any_store, "tnl-2025-badge", slug="court", config={"draft_retention_days": 7})
    quick(sample.app, "dana", other, flows["tnl-2025-badge"], badge_answers("Dana"), submit=False)
    with any_store.begin() as conn:
        campaign = Q.campaign_by_id(conn, other)
        assert purge_drafts(conn, campaign, Q.deadline(campaign) + timedelta(days=6)) == 0
        assert purge_drafts(conn, campaign, Q.deadline(campaign) + timedelta(days=7)) == 1


def test_a_retention_setting_that_is_not_a_number_falls_back_to_the_default(any_store, flows, catalog, clock):
    from tnlbot.jury.privacy import DEFAULT_RETENTION_DAYS, retention_days
    build(any_store, flows, catalog, clock, "tnl-2025-badge", {})
    for value, days in (("²", DEFAULT_RETENTION_DAYS), (True, DEFAULT_RETENTION_DAYS), ("12", 12), (30, 30),
                        ("9" * 40, DEFAULT_RETENTION_DAYS), (None, DEFAULT_RETENTION_DAYS)):
        slug = f"retention-{len(str(value))}-{type(value).__name__}"
        campaign_id = open_campaign(any_store, "tnl-2025-badge", slug=slug,
                                    config={"draft_retention_days": value})
        with any_store.begin() as conn:
            assert retention_days(Q.campaign_by_id(conn, campaign_id)) == days, value


def test_my_data_asked_in_a_group_is_sent_in_private_or_asked_for_there(badge):
    # Telegram: a group's id is not the person's; the file goes to their private chat
    dan = Chat(badge.app, "5151", chat="-100999", transport="telegram")
    dan.say("/start")
    asked = dan.say("/mes_donnees")
    o = T.outbox
    with badge.store.begin() as conn:
        payloads = dict(conn.execute(select(o.c.id, o.c.chat_id).where(o.c.transport == "telegram")).all())
        docs = conn.execute(select(o.c.chat_id).where(o.c.payload.like('%"kind":"document"%'))).scalars().all()
    assert "message privé" in asked
    assert "-100999" not in docs and "5151" in docs
    assert set(payloads.values()) == {"-100999", "5151"}
    # a shared room elsewhere (a jury room): nothing personal there, the person is told where to ask
    seat(badge, "salle", kind="room")
    in_room = Chat(badge.app, "alice", chat="salle").say("/mes_donnees")
    assert "conversation directe" in in_room
    assert not [i for i in in_room.items if i.kind is OutKind.DOCUMENT]
