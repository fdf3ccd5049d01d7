"""Two worker processes on one PostgreSQL database: a reminder wave of 1,000
candidatures and the closing happen exactly once each, counted in the database."""
from __future__ import annotations

import multiprocessing
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, insert, select

from tnlbot.store import campaign_tables as C
from tnlbot.store import tables as T

from ..conftest import _pg_store
from .conftest import UTC, make_campaign
from .sim import PARIS
from .worker import tick_worker

pytestmark = pytest.mark.postgres

N = 1000
OPENS = datetime(2024, 6, 12, 8, 0, tzinfo=UTC)
CLOSES = datetime(2024, 10, 29, 12, 0, tzinfo=PARIS).astimezone(UTC)


def _drafts(conn, cid: int, n: int, now, name: str) -> None:
    """n people, each responsible for a draft candidature of campaign `cid`, with a Telegram
    account and an idle conversation on it."""
    ids = range(1, n + 1)
    conn.execute(insert(T.people), [dict(id=i, display_name=f"{name}{i}", locale="fr", created_at=now)
                                    for i in ids])
    conn.execute(insert(T.accounts), [dict(person_id=i, transport="telegram", external_id=str(i),
                                           chat_id=str(i), reachable=True) for i in ids])
    conn.execute(insert(T.candidatures), [dict(id=i, campaign_id=cid, responsible_id=i, status="draft",
                                               version=0, amended=False, created_at=now, updated_at=now)
                                          for i in ids])
    conn.execute(insert(T.members), [dict(candidature_id=i, person_id=i, role="responsible",
                                          volets="[]", joined_at=now) for i in ids])
    conn.execute(insert(T.conversations), [dict(transport="telegram", chat_id=str(i), user_id=str(i),
                                                person_id=i, candidature_id=i, state='{"mode": "idle"}',
                                                updated_at=now) for i in ids])


@pytest.fixture
def crowd(pg_url):
    """A PostgreSQL store with one open campaign and N draft candidatures, one agent and one answer each."""
    store = _pg_store(pg_url)
    cid = make_campaign(store, opens=OPENS, closes=CLOSES)
    now = OPENS
    with store.begin() as conn:
        _drafts(conn, cid, N, now, name="agent")
        # drafts begun, not only /start: the scheduler's retention would prune empty ones
        conn.execute(insert(T.answers), [dict(candidature_id=i, key="nom_collectivite", value=f'"Mairie {i}"',
                                              answered_by=i, answered_at=now) for i in range(1, N + 1)])
        for table in ("people", "candidatures"):
            conn.exec_driver_sql(f"SELECT setval('{table}_id_seq', {N + 1})")
    yield store
    store.close()


def race(url: str, instant: datetime, use_locks: bool = True, ticks: int = 2) -> list[dict]:
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    workers = [ctx.Process(target=tick_worker, args=(url, instant.isoformat(), ticks, use_locks, barrier, results))
               for _ in range(2)]
    for w in workers:
        w.start()
    out = [results.get(timeout=300) for _ in workers]
    for w in workers:
        w.join(timeout=60)
        assert w.exitcode == 0
    return out


def count(store, table, *where) -> int:
    with store.begin() as conn:
        return conn.execute(select(func.count()).select_from(table).where(*where)).scalar()


@pytest.mark.parametrize("use_locks", [True, False], ids=["advisory-locks", "unique-keys-only"])
def test_two_workers_send_a_wave_of_1000_reminders_once(crowd, pg_url, use_locks):
    d14 = datetime(2024, 10, 15, 12, 0, tzinfo=PARIS)
    results = race(pg_url, d14, use_locks)
    assert sum(r["sent"] for r in results) == N
    log = C.reminder_log
    assert count(crowd, log, log.c.slot == "d14", log.c.sent.is_(True)) == N
    with crowd.begin() as conn:
        assert conn.execute(select(func.count(func.distinct(log.c.candidature_id)))
                            .where(log.c.slot == "d14")).scalar() == N
    assert count(crowd, T.outbox, T.outbox.c.dedup_key.like("remind:%:d14")) == N
    assert count(crowd, T.outbox) == N


def test_two_workers_race_the_closing_once(crowd, pg_url):
    after = CLOSES + timedelta(seconds=1)
    results = race(pg_url, after)
    assert sorted(r["closed"] for r in results) == [0, 1]
    assert count(crowd, C.closings) == 1
    assert count(crowd, T.candidatures, T.candidatures.c.status == "frozen") == N
    o = T.outbox
    assert count(crowd, o, o.c.dedup_key.like("closed:%")) == N
    for room in ("!jury:example.org", "-1001234"):
        notices = count(crowd, o, o.c.chat_id == room, o.c.payload.like('{"kind":"notice"%'))
        assert notices == 1, room
        assert count(crowd, o, o.c.chat_id == room, o.c.payload.like('%"kind":"document"%')) >= 1
    assert count(crowd, C.reminder_log) == 0                  # nothing reminded after the closing


def test_two_agents_claiming_one_siren_at_the_same_instant_link_one_candidature(pg_url, flows, catalog, clock):
    import threading

    from tnlbot.app import App, Settings
    from tnlbot.store import Store

    from .conftest import Agent, siren
    store = _pg_store(pg_url)
    make_campaign(store, opens=clock.now() - timedelta(days=1), closes=clock.now() + timedelta(days=30))
    apps = [App(Settings(database_url=pg_url), clock=clock, store=Store(pg_url, migrate=False), flows=flows,
                catalog=catalog) for _ in range(2)]          # two workers, two connection pools
    rounds = 8
    for n in range(rounds):
        if n % 2:   # a body known from an earlier year: only the unique key (campaign, body) decides
            with store.begin() as conn:
                conn.execute(insert(T.organisations).values(siren=siren(30000000 + n), name="Course",
                                                            kind="commune", departement="29"))
        agents = [Agent(app, f"r{n}w{w}") for w, app in enumerate(apps)]
        for agent in agents:
            agent.say("bonjour")
            agent.say("Mairie de Course")
            agent.say("1")
        start, replies = threading.Barrier(2), {}

        def declare(agent: Agent) -> None:
            start.wait(timeout=30)
            replies[agent.user] = agent.say(siren(30000000 + n)).text
        threads = [threading.Thread(target=declare, args=(a,)) for a in agents]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert len(replies) == 2 and "existe déjà" not in str(replies), replies   # nobody is refused
    k = T.candidatures
    with store.begin() as conn:
        linked = conn.execute(select(k.c.organisation_id, func.count()).where(k.c.organisation_id.is_not(None))
                              .group_by(k.c.organisation_id)).all()
    assert len(linked) == rounds and all(n == 1 for _, n in linked)
    for app in apps:
        app.store.close()
    store.close()


def test_retention_never_prunes_a_draft_that_the_other_worker_is_reminding(pg_url, flows, catalog):
    """Drafts begun a month ago and left empty (only /start) have their inactivity reminder due
    and are old enough for retention. Two workers tick at the same instant: one's reminder wave
    and the other's retention run together. Retention waits for the reminder (a due or unread
    draft is not pruned), so no tick fails on a log row of a pruned draft, each draft gets its
    reminder once, and the drafts go afterwards."""
    import threading

    from tnlbot.campaigns.scheduler import Scheduler
    from tnlbot.runtime.clock import FakeClock
    from tnlbot.store import Store

    n = 300
    store = _pg_store(pg_url)
    cid = make_campaign(store, opens=OPENS, closes=CLOSES)
    with store.begin() as conn:
        _drafts(conn, cid, n, OPENS, name="p")
    now = datetime(2024, 7, 23, 10, 0, tzinfo=PARIS)        # a Tuesday morning, 41 days later
    start, errors, reports = threading.Barrier(2), [], []

    def worker() -> None:
        own = Store(pg_url, migrate=False)
        scheduler = Scheduler(own, flows, catalog, FakeClock(now))
        try:
            start.wait(timeout=30)
            for _ in range(2):
                reports.append(scheduler.tick())
        except Exception as exc:  # noqa: BLE001  reported by the assertion below
            errors.append(exc)
        finally:
            own.close()
    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    assert sum(r.sent for r in reports) == n
    assert count(store, T.outbox, T.outbox.c.dedup_key.like("remind:%:idle:%")) == n
    assert count(store, T.candidatures) == 0                   # pruned once reminded
    assert sum(r.pruned.empty_candidatures for r in reports if r.pruned is not None) == n
    store.close()
