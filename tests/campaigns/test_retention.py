"""Retention: 1,500 people who only typed /start leave nothing behind after a month, and
delivery ids and handled messages go after the retention period; real work stays."""
from __future__ import annotations


from sqlalchemy import func, select

from tnlbot.store import tables as T

from .conftest import Agent, identify, siren


def count(app, table, *where) -> int:
    with app.store.begin() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar())


def test_empty_candidatures_delivery_ids_and_old_messages_are_pruned(camp, clock):
    app = camp
    alice = Agent(app, "alice")
    identify(alice, siren(73282932))
    for n in range(1500):
        Agent(app, f"bot{n}").say("/start")
    assert count(app, T.candidatures) == 1501
    clock.advance(days=31)
    report = app.scheduler.tick()
    assert report.pruned is not None and report.pruned.empty_candidatures == 500   # a batch per tick
    app.scheduler.tick()                                   # within the hour: nothing more is done
    assert count(app, T.candidatures) == 1001
    for _ in range(2):
        clock.advance(hours=1)
        app.scheduler.tick()
    assert count(app, T.candidatures) == 1                 # alice's stays: she answered
    assert count(app, T.people) == 1 and count(app, T.accounts) == 1
    assert count(app, T.conversations) == 1
    assert count(app, T.inbound_seen) > 0 and count(app, T.outbox) > 0
    assert Agent(app, "bot7").say("/start").ref == "nom_collectivite"   # back afresh, no error
    clock.advance(days=211)
    app.scheduler.tick()
    assert count(app, T.inbound_seen) == 0
    assert count(app, T.outbox, T.outbox.c.status == "sent") == 0
    assert "Testbourg" in alice.say("/recap")              # the answers were never at risk


def test_the_files_of_purged_drafts_go_with_them(camp, clock):
    from tnlbot.jury.privacy import DEFAULT_RETENTION_DAYS

    from .test_erasure import attach, files
    app = camp
    alice = Agent(app, "alice")
    identify(alice, siren(73282932))
    attach(app, alice)
    clock.advance(days=121)
    app.scheduler.tick()                                    # closed: the draft is frozen, its file kept
    assert files(app) == 1
    clock.advance(days=DEFAULT_RETENTION_DAYS + 1)
    report = app.scheduler.tick()
    assert report.pruned is not None and report.pruned.drafts == 1 and report.pruned.files == 1
    assert files(app) == 0
