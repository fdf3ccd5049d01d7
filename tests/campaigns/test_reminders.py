"""Reminders over a whole campaign: who gets what, when, in which language."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from tnlbot.app import App, Settings
from tnlbot.store import Store
from tnlbot.store import campaign_tables as C
from tnlbot.store import tables as T

from ..autofill import fill
from .conftest import UTC, Agent, Recorder, elu_by_operator, identify, siren
from .sim import PARIS, delivered, flush, reminders, run

OPENS = datetime(2024, 6, 11, 22, 0, tzinfo=UTC)            # 12 June, 00:00 in Paris
CLOSES = datetime(2024, 10, 29, 12, 0, tzinfo=PARIS)         # Tuesday, after the October change


@pytest.fixture
def season(build, sqlite_store, clock):
    """A campaign from 12 June to 29 October 2024, 12:00 Paris; the clock at 12 June 10:00."""
    return build(sqlite_store, opens=OPENS, closes=CLOSES.astimezone(UTC))


def test_reminders_over_a_whole_campaign(season, clock, flows):
    alice, carol = Agent(season, "alice"), Agent(season, "carol")
    bob = Agent(season, "bob", language="en")                  # his messenger speaks English
    dave, erin = Agent(season, "dave"), Agent(season, "erin")
    identify(alice, siren(10000001))
    code = next(w for w in alice.say("/inviter").text.split() if len(w) == 9 and w[4] == "-")
    bob.say(f"/join {code}")
    alice.say("/assigner 2 2")
    fill(carol, flows["tnl-2022"], overrides={"siren": siren(10000002)})
    elu_by_operator(season, carol)
    carol.say("/deposer")
    assert "Votre candidature est déposée" in carol.say("oui")
    identify(dave, siren(10000003))
    identify(erin, siren(10000004))

    run(season, clock, datetime(2024, 10, 15, 12, 0, tzinfo=PARIS))
    assert "rappel J-14 (envoyé)" in dave.say("/rappel")
    assert "vous ne recevrez plus de rappels pour cette campagne" in dave.say("/rappel stop")
    run(season, clock, datetime(2024, 10, 22, 12, 0, tzinfo=PARIS))
    assert "je vous le rappellerai le 23 octobre 2024, 12:00" in erin.say("/rappel demain")
    run(season, clock, CLOSES + timedelta(hours=2))

    timeline = [(d.local, d.chat, d.slot) for d in reminders(season)]
    idle = [(d.local, d.chat) for d in reminders(season) if d.slot.startswith("idle:")]
    assert idle == [("Sat 22 Jun 10:00", c) for c in ("chat-alice", "chat-bob", "chat-dave", "chat-erin")]
    deadline = [t for t in timeline if not t[2].startswith("idle:")]
    assert deadline == [
        ("Tue 15 Oct 12:00", "chat-alice", "d14"), ("Tue 15 Oct 12:00", "chat-bob", "d14"),
        ("Tue 15 Oct 12:00", "chat-dave", "d14"), ("Tue 15 Oct 12:00", "chat-erin", "d14"),
        ("Tue 22 Oct 12:00", "chat-alice", "d7"), ("Tue 22 Oct 12:00", "chat-bob", "d7"),
        ("Tue 22 Oct 12:00", "chat-erin", "d7"),
        ("Wed 23 Oct 12:00", "chat-erin", "snooze:20241023T1000"),     # "remind me tomorrow"
        ("Mon 28 Oct 08:00", "chat-alice", "d2"), ("Mon 28 Oct 08:00", "chat-bob", "d2"),
        ("Mon 28 Oct 08:00", "chat-erin", "d2"),                         # d2 fell on Sunday
        ("Mon 28 Oct 12:00", "chat-alice", "d1"), ("Mon 28 Oct 12:00", "chat-bob", "d1"),
        ("Mon 28 Oct 12:00", "chat-erin", "d1"),
    ]
    for d in reminders(season):                                  # never at night, never on Sunday
        local = d.at.astimezone(PARIS)
        assert 8 <= local.hour < 20 and local.weekday() != 6, d
    first = {d.chat: d.item for d in reminders(season) if d.slot == "d14"}
    fr, en = first["chat-alice"], first["chat-bob"]
    fr, en = replace(fr, text=fr.text.replace("\xa0", " ")), replace(en, text=en.text.replace("\xa0", " "))
    assert fr.text.startswith("⏰ Rappel pour Testbourg : il reste 2 semaines pour déposer la candidature.")
    assert "La campagne se termine le 29 octobre 2024, 12:00 (heure de Paris)." in fr.text
    assert "Ce qu'il reste à remplir :\n• Stratégie et mutualisation : 2 réponses obligatoires\n• Bonnes" in fr.text
    assert "c'est vous qui la déposez" in fr.text
    assert [a.value for a in fr.actions] == ["/reprendre", "/rappel demain", "/rappel stop"]
    assert [a.label for a in fr.actions] == ["Reprendre", "Me le rappeler demain", "Ne plus me relancer"]
    assert en.text.startswith("⏰ Reminder: 2 weeks left to submit the application of Testbourg.")
    assert "What is still missing in your parts:\n• Strategy" in en.text
    assert "Identification" not in en.text                             # not his part
    assert "When everything is ready, alice submits it." in en.text
    assert [a.label for a in en.actions] == ["Resume", "Remind me tomorrow", "Stop reminding me"]
    words = {d.slot: d.item.text.replace("\xa0", " ").split(" pour déposer")[0]
             for d in reminders(season, "chat-alice")}
    assert words["d7"].endswith("il reste 7 jours") and words["d2"].endswith("il reste 28 heures")
    assert words["d1"].endswith("il reste 24 heures")
    assert not [d for d in delivered(season) if d.chat == "chat-carol" and "remind" in d.key]
    log = alice.say("/rappel").text
    assert "rappel J-14 (envoyé)" in log and "rappel d'inactivité (envoyé)" in log


def test_reminders_stop_at_the_maximum_per_person(build, sqlite_store, clock):
    app = build(sqlite_store, opens=OPENS, closes=CLOSES.astimezone(UTC),
                config={"reminders": {"before_days": [14, 7, 2, 1], "max_per_person": 2}})
    alice = Agent(app, "alice")
    identify(alice, siren(10000001))
    run(app, clock, CLOSES - timedelta(hours=1), step=timedelta(hours=2))
    assert [d.slot[:4] for d in reminders(app)] == ["idle", "d14"]
    assert "non envoyé : nombre maximal atteint" in alice.say("/rappel")


def test_a_crash_between_recording_and_sending_sends_once(build, tmp_path, clock, flows, catalog):
    store = Store(Store.sqlite_url(tmp_path / "crash.db"))
    app = build(store, opens=OPENS, closes=CLOSES.astimezone(UTC))
    identify(Agent(app, "alice"), siren(10000001))
    clock.set(datetime(2024, 10, 15, 12, 0, tzinfo=PARIS))
    assert app.scheduler.tick().sent == 1                     # idle and d14 are due: d14 is sent
    store.close()                                             # the process dies before the relay ran
    again = App(Settings(database_url=store.url), clock=clock, store=Store(store.url), flows=flows,
                catalog=catalog)
    again.transports["console"] = Recorder("console", clock)
    again.relay.recover()
    assert again.scheduler.tick().sent == 0                    # recorded already: nothing twice
    flush(again)
    assert [d.slot for d in reminders(again)] == ["d14"]
    assert again.scheduler.tick().sent == 0
    again.store.close()


def test_a_crash_inside_the_recording_transaction_leaves_nothing_and_the_next_tick_sends(season, clock,
                                                                                     monkeypatch):
    identify(Agent(season, "alice"), siren(10000001))
    clock.set(datetime(2024, 10, 15, 12, 0, tzinfo=PARIS))
    original = season.store.enqueue_many

    def boom(*args, **kwargs):
        raise RuntimeError("killed between the log row and the outbox row")
    monkeypatch.setattr(season.store, "enqueue_many", boom)
    with pytest.raises(RuntimeError):
        season.scheduler.tick()
    with season.store.begin() as conn:
        assert conn.execute(select(func.count()).select_from(C.reminder_log)).scalar() == 0
    monkeypatch.setattr(season.store, "enqueue_many", original)
    season.scheduler.tick()
    season.scheduler.tick()
    flush(season)
    assert [d.slot for d in reminders(season)] == ["d14"]


def test_a_send_cut_mid_way_is_not_sent_again(season, clock):
    identify(Agent(season, "alice"), siren(10000001))
    clock.set(datetime(2024, 10, 15, 12, 0, tzinfo=PARIS))
    season.scheduler.tick()
    o = T.outbox
    with season.store.begin() as conn:                         # the relay had claimed it, then died
        conn.execute(o.update().where(o.c.dedup_key.like("remind:%")).values(status="sending"))
    assert season.relay.recover() == 1
    season.scheduler.tick()
    flush(season)
    assert reminders(season) == []                            # uncertain: never sent twice
    with season.store.begin() as conn:
        assert conn.execute(select(o.c.status).where(o.c.dedup_key.like("remind:%"))).scalars().all() \
            == ["uncertain"]


def test_downtime_across_two_slots_sends_only_the_latest(season, clock):
    identify(Agent(season, "alice"), siren(10000001))
    clock.set(datetime(2024, 10, 1, 9, 0, tzinfo=PARIS))
    season.scheduler.tick()                                   # the inactivity reminder, in time
    flush(season)
    clock.set(datetime(2024, 10, 23, 9, 30, tzinfo=PARIS))     # down from 1 to 23 October
    season.scheduler.tick()
    season.scheduler.tick()
    flush(season)
    assert [d.slot[:4] for d in reminders(season)] == ["idle", "d7"]
    with season.store.begin() as conn:
        log = conn.execute(select(C.reminder_log.c.slot, C.reminder_log.c.sent, C.reminder_log.c.reason)
                           .order_by(C.reminder_log.c.id)).all()
    assert [(s, sent, why) for s, sent, why in log if s.startswith("d")] == [
        ("d7", True, "deadline"), ("d14", False, "stale")]


def test_downtime_across_the_closing_sends_no_reminder_and_closes_once(season, clock):
    alice = Agent(season, "alice")
    identify(alice, siren(10000001))
    run(season, clock, datetime(2024, 10, 26, 12, 0, tzinfo=PARIS), step=timedelta(hours=6))
    before = len(reminders(season))
    clock.set(datetime(2024, 10, 31, 9, 0, tzinfo=PARIS))      # down from 26 to 31 October
    assert len(season.scheduler.tick().closed) == 1
    assert season.scheduler.tick().closed == []
    flush(season)
    assert len(reminders(season)) == before                   # d2 and d1 are stale after closing
    told = [d for d in delivered(season) if d.chat == "chat-alice" and d.key.startswith("closed:")]
    assert len(told) == 1 and "n'a pas été déposée à temps" in told[0].item.text
    with season.store.begin() as conn:
        assert conn.execute(select(T.candidatures.c.status)).scalars().all() == ["frozen"]


def test_two_ticks_at_the_same_instant_record_each_reminder_once(season, clock):
    for n in range(5):
        identify(Agent(season, f"agent{n}"), siren(10000010 + n))
    clock.set(datetime(2024, 10, 15, 12, 0, tzinfo=PARIS))
    first, second = season.scheduler.tick(), season.scheduler.tick()
    assert (first.sent, second.sent) == (5, 0)
    with season.store.begin() as conn:
        assert conn.execute(select(func.count()).select_from(T.outbox).where(
            T.outbox.c.dedup_key.like("remind:%"))).scalar() == 5


def test_a_body_that_joins_after_the_last_reminder_still_gets_one(season, clock):
    clock.set(datetime(2024, 10, 28, 14, 0, tzinfo=PARIS))     # after d1 (Monday 12:00), a day to go
    late = Agent(season, "late")
    identify(late, siren(10000001))
    run(season, clock, CLOSES - timedelta(minutes=1), step=timedelta(hours=1))
    # halfway to the closing is 01:00 on Tuesday, a quiet hour: the reminder waits for 08:00
    assert [(d.local, d.chat, d.slot) for d in reminders(season)] == [("Tue 29 Oct 08:00", "chat-late", "d1")]
    assert "il reste 4 heures" in reminders(season)[0].item.text.replace("\xa0", " ")
    assert "rappel J-1 (envoyé)" in late.say("/rappel")


def test_reminders_in_hours_before_the_closing(build, sqlite_store, clock):
    app = build(sqlite_store, opens=OPENS, closes=CLOSES.astimezone(UTC),
                config={"reminders": {"before_days": [2, "3h"], "inactivity_days": 0}})
    alice = Agent(app, "alice")
    identify(alice, siren(10000001))
    run(app, clock, CLOSES - timedelta(minutes=1), step=timedelta(hours=1))
    assert [(d.local, d.slot) for d in reminders(app)] == [("Mon 28 Oct 08:00", "d2"),
                                                          ("Tue 29 Oct 09:00", "h3")]
    assert "rappel H-3 (envoyé)" in alice.say("/rappel")


def test_a_submitted_candidature_is_told_no_reminder_is_planned(season, clock, flows):
    carol = Agent(season, "carol")
    fill(carol, flows["tnl-2022"], overrides={"siren": siren(10000002)})
    elu_by_operator(season, carol)
    carol.say("/deposer")
    carol.say("oui")
    said = carol.say("/rappel")
    assert "Votre candidature est déposée : les rappels ne concernent que les brouillons" in said
    assert "Rappels prévus" not in said
