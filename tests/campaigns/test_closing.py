"""A campaign opened and closed: what people are told, the jury's notice, exactly once."""
from __future__ import annotations

import base64
import csv
import io
import json
import sys
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from tnlbot.campaigns.closing import Closer
from tnlbot.core.events import OutKind
from tnlbot.store import campaign_tables as C
from tnlbot.store import tables as T

from ..autofill import fill
from .conftest import UTC, Agent, elu_by_operator, identify, siren
from .sim import delivered, flush

OPENS = datetime(2024, 6, 15, 8, 0, tzinfo=UTC)           # 15 June, 10:00 in Paris
CLOSES = datetime(2024, 11, 8, 23, 0, tzinfo=UTC)         # 9 November, 00:00 in Paris


@pytest.fixture
def scheduled(build, sqlite_store, clock):
    """Created on 12 June; opens 15 June; closes at the end of 8 November."""
    return build(sqlite_store, opens=OPENS, closes=CLOSES, state="scheduled")


def conversations(app) -> int:
    with app.store.begin() as conn:
        return conn.execute(select(func.count()).select_from(T.conversations)).scalar()


def test_before_the_opening_the_bot_says_when_and_creates_nothing(scheduled, clock):
    alice = Agent(scheduled, "alice")
    reply = alice.say("bonjour")
    assert reply.text.replace("\xa0", " ") == (
        "Bonjour ! La campagne « Label Territoire Numérique Libre 2022 » n'est pas encore ouverte : "
        "elle ouvrira le 15 juin 2024, 10:00 (dans 3 jours). Revenez à ce moment-là : je vous guiderai "
        "question par question, et vos collègues pourront vous aider.")
    assert conversations(scheduled) == 0
    clock.set(OPENS)
    assert scheduled.scheduler.tick().opened == [1]
    assert scheduled.scheduler.tick().opened == []
    reply = alice.say("bonjour")
    assert reply.ref == "nom_collectivite"


def test_an_answer_one_second_before_closing_counts_and_one_second_after_does_not(scheduled, clock):
    clock.set(OPENS)
    alice = Agent(scheduled, "alice")
    identify(alice, siren(20000001))
    alice.say("/modifier 5")
    clock.set(CLOSES - timedelta(seconds=1))
    reply = alice.say("4000")
    assert alice.answers()["population"] == 4000
    alice.say("/modifier 5")
    clock.set(CLOSES + timedelta(seconds=1))                    # no tick has closed it yet
    reply = alice.say("5000")
    assert "La campagne de candidature est close depuis le 9 novembre 2024, 00:00" in reply
    assert alice.answers()["population"] == 4000
    assert "Quel est le nom" in alice.say("/recap")             # reading is still fine
    assert "La campagne n'accepte plus de modifications" in alice.say("/inviter")


def test_the_closing_freezes_drafts_tells_everyone_once_and_notifies_each_jury_room(scheduled, clock, flows):
    clock.set(OPENS)
    alice, bob, carol = Agent(scheduled, "alice"), Agent(scheduled, "bob"), Agent(scheduled, "carol")
    identify(alice, siren(20000001))
    code = next(w for w in alice.say("/inviter").text.split() if len(w) == 9 and w[4] == "-")
    bob.say(f"/rejoindre {code}")
    fill(carol, flows["tnl-2022"], overrides={"siren": siren(20000002), "nom_collectivite": "Carolville"})
    elu_by_operator(scheduled, carol)
    carol.say("/deposer")
    carol.say("oui")
    carol.say("/modifier 5")
    carol.say("999")                                            # changed, not submitted again
    clock.set(CLOSES + timedelta(minutes=1))
    first = scheduled.scheduler.tick()
    assert len(first.closed) == 1
    assert first.closed[0].counts == {"submitted": 1, "drafts": 1, "amended": 1, "frozen_now": 1,
                                      "by_type": {"commune": {"submitted": 1, "drafts": 1}}}
    assert scheduled.scheduler.tick().closed == []
    assert Closer(scheduled.store, scheduled.flows, scheduled.catalog).close(1, clock.now()) is None
    flush(scheduled)
    sent = delivered(scheduled)
    told = {d.chat: d.item.text for d in sent if d.key.startswith("closed:")}
    assert sorted(told) == ["chat-alice", "chat-bob", "chat-carol"]
    assert "Votre candidature pour Testbourg n'a pas été déposée à temps" in told["chat-alice"]
    assert "Votre candidature pour Carolville (version 1, déposée le 15 juin 2024, 10:00) est transmise au jury" \
        in told["chat-carol"]
    assert "le jury examinera la version 1" in told["chat-carol"]
    matrix = [d for d in sent if d.chat == "!jury:example.org"]
    telegram = [d for d in sent if d.chat == "-1001234"]
    assert matrix[0].item.kind is OutKind.NOTICE and len([d for d in matrix if d.item.kind is OutKind.NOTICE]) == 1
    notice = matrix[0].item.text
    assert "La campagne « Label Territoire Numérique Libre 2022 » (tnl-2024) est close depuis le 9 novembre 2024" \
        in notice
    assert "Candidatures déposées : 1\nBrouillons non déposés : 1" in notice
    assert "• Commune : déposées 1, brouillons 1" in notice
    assert telegram[0].item.text.startswith("The campaign \"Territoire Numérique Libre label 2022\" (tnl-2024)"
                                            " closed on 9 November 2024, 00:00.\nApplications submitted: 1")
    assert "candidatures-tnl-2024.ods (" in telegram[0].item.text and " KB)" in telegram[0].item.text
    files = {d.item.filename: base64.b64decode(d.item.data) for d in matrix if d.item.kind is OutKind.DOCUMENT}
    assert {"candidatures-tnl-2024.csv", "candidatures-tnl-2024.ods"} <= set(files)
    assert files["candidatures-tnl-2024.ods"][:2] == b"PK"
    rows = list(csv.DictReader(io.StringIO(files["candidatures-tnl-2024.csv"].decode("utf-8-sig")), delimiter=";"))
    assert [r["nom_collectivite"] for r in rows] == ["Carolville"]
    assert [r.get("population") for r in rows] != ["999"]      # the submitted version, not the later edit
    with scheduled.store.begin() as conn:
        statuses = dict(conn.execute(select(T.candidatures.c.status, func.count())
                                     .group_by(T.candidatures.c.status)).all())
        closings = conn.execute(select(func.count()).select_from(C.closings)).scalar()
    assert statuses == {"frozen": 1, "submitted": 1} and closings == 1
    reply = Agent(scheduled, "dan").say("bonjour")               # a newcomer after closing
    assert "est close depuis le 9 novembre 2024, 00:00 : elle n'accepte plus de réponses" in reply
    assert "La campagne est close : votre candidature ne peut plus être modifiée" in alice.say("/statut")


def test_without_the_jury_store_the_notice_carries_a_minimal_json(scheduled, clock, flows, monkeypatch):
    clock.set(OPENS)
    carol = Agent(scheduled, "carol")
    fill(carol, flows["tnl-2022"], overrides={"siren": siren(20000002)})
    elu_by_operator(scheduled, carol)
    carol.say("/deposer")
    carol.say("oui")
    monkeypatch.setitem(sys.modules, "tnlbot.jury.exports", None)   # as if the jury store were absent
    clock.set(CLOSES)
    [report] = scheduled.scheduler.tick().closed
    assert [name for name, _ in report.files] == ["candidatures-tnl-2024.json"]
    with scheduled.store.begin() as conn:
        payloads = conn.execute(select(T.outbox.c.payload).where(T.outbox.c.chat_id == "!jury:example.org")
                                .order_by(T.outbox.c.id)).scalars().all()
    doc = json.loads(base64.b64decode(json.loads(payloads[1])["data"]))
    assert doc["format"] == "tnlbot-closing/1" and doc["counts"]["submitted"] == 1
    assert doc["candidatures"][0]["siren"] == siren(20000002)
    assert doc["candidatures"][0]["answers"]["siren"] == siren(20000002)


def test_closing_early_from_the_command_line_moves_the_closing_instant(scheduled, clock):
    clock.set(OPENS + timedelta(days=1))
    alice = Agent(scheduled, "alice")
    identify(alice, siren(20000001))
    report = Closer(scheduled.store, scheduled.flows, scheduled.catalog).close(1, clock.now(), early=True)
    assert report is not None and report.counts["drafts"] == 1
    assert "close depuis le 16 juin 2024, 10:00" in alice.say("Testbourg")
    assert scheduled.scheduler.tick().closed == []


def test_a_reopened_campaign_takes_answers_again_and_closes_with_new_notices(scheduled, clock):
    from tnlbot.campaigns.changes import apply, plan_reopen
    from tnlbot.store.campaigns import campaign_by_slug
    clock.set(OPENS)
    alice = Agent(scheduled, "alice")
    identify(alice, siren(20000001))
    clock.set(CLOSES + timedelta(minutes=1))
    assert len(scheduled.scheduler.tick().closed) == 1
    alice.say("/modifier 5")
    assert "close depuis le" in alice.say("3000") and alice.answers()["population"] != 3000
    with scheduled.store.begin() as conn:                       # `tnlbot campaign reopen --closes ...`
        campaign = campaign_by_slug(conn, "tnl-2024")
        plan = plan_reopen(conn, campaign, clock.now(), CLOSES + timedelta(days=7))
        assert [c.field for c in plan.changes] == ["state", "closes", "frozen drafts"]
        assert plan.changes[2].before == 1 and plan.changes[2].logged()["before"] == "1"   # as the log keeps it
        apply(conn, campaign, plan, clock.now(), "operator")
    alice.say("/modifier 5")
    alice.say("4000")
    assert alice.answers()["population"] == 4000
    clock.set(CLOSES + timedelta(days=7, minutes=1))
    assert len(scheduled.scheduler.tick().closed) == 1
    assert scheduled.scheduler.tick().closed == []
    flush(scheduled)
    told = [d for d in delivered(scheduled) if d.chat == "chat-alice" and d.key.startswith("closed:")]
    assert [d.key.endswith(":r1") for d in told] == [False, True]
    with scheduled.store.begin() as conn:
        assert conn.execute(select(T.candidatures.c.status)).scalars().all() == ["frozen"]
