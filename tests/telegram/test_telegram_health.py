"""/healthz and /metrics over HTTP while the Telegram bot runs against the local Bot API.

The operator endpoint is started on 127.0.0.1 beside the real
python-telegram-bot client; each metric is read before and after the thing
it counts happens (an update, an answer, a send, a 429, a redelivery, a
reminder, a closing), and /healthz turns unhealthy when the transport is
cut, when nothing was received for too long, when the scheduler stops
ticking, and when the PostgreSQL store refuses connections.
"""
from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, text

from tnlbot.ops.http import Endpoint
from tnlbot.ops.monitor import Bounds, Monitor
from tnlbot.store import Store

from ..conftest import PG_ADMIN_URL, START, fresh_pg_database

Sample = tuple[str, tuple[tuple[str, str], ...]]


class Operator:
    """What a monitoring system sees: GET /metrics and GET /healthz."""

    def __init__(self, port: int):
        self.http = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10)

    async def metrics(self) -> dict[Sample, float]:
        answer = await self.http.get("/metrics")
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
        return {(s.name, tuple(sorted(s.labels.items()))): s.value
                for family in text_string_to_metric_families(answer.text) for s in family.samples}

    async def health(self) -> tuple[int, dict]:
        answer = await self.http.get("/healthz")
        return answer.status_code, answer.json()

    async def moved(self, before: dict[Sample, float], name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return (await self.metrics()).get(key, 0.0) - before.get(key, 0.0)


@pytest.fixture
async def monitored(bot_session):
    """A Telegram session with the operator endpoint on a free port of 127.0.0.1."""
    started: list[tuple[Endpoint, Operator]] = []

    async def make(store=None):
        session = await bot_session("tnl-2025-badge", store=store)
        monitor = Monitor(session.app, Bounds(receive=120.0, tick=180.0))
        endpoint = Endpoint(monitor)
        operator = Operator(await endpoint.start("127.0.0.1", 0))
        started.append((endpoint, operator))
        return session, operator
    yield make
    for endpoint, operator in started:
        await operator.http.aclose()
        await endpoint.stop()


def check(report: dict, name: str) -> bool:
    return report["checks"][name]["ok"]


async def test_each_metric_moves_when_its_thing_happens(monitored, fake):
    session, operator = await monitored()
    app, alice = session.app, session.person(701, "Alice")
    code, report = await operator.health()
    assert code == 503 and not check(report, "transport:telegram") and not check(report, "scheduler")
    await app.scheduler.tick_once()

    before = await operator.metrics()
    await alice.says("/start")
    assert await operator.moved(before, "tnlbot_inbound_events_total", transport="telegram",
                                kind="command") == 1
    assert await operator.moved(before, "tnlbot_dispatch_seconds_count", transport="telegram") == 1
    assert await operator.moved(before, "tnlbot_sends_total", transport="telegram", result="sent") >= 1
    assert await operator.moved(before, "tnlbot_answers_stored_total") == 0
    assert (await operator.health())[0] == 200

    before = await operator.metrics()
    await alice.says("Mairie de Testbourg")
    assert await operator.moved(before, "tnlbot_inbound_events_total", transport="telegram", kind="text") == 1
    assert await operator.moved(before, "tnlbot_answers_stored_total") == 1
    await alice.presses("Commune")
    assert await operator.moved(before, "tnlbot_inbound_events_total", transport="telegram",
                                kind="choice") == 1
    assert before[("tnlbot_claims_awaiting_verification", ())] == 0
    await alice.says("732829320")                    # a SIREN: the first claim is accepted
    bob = session.person(702, "Bob")
    for said in ("/start", "Mairie de Testbourg"):
        await bob.says(said)
    await bob.presses("Commune")
    assert (await operator.metrics())[("tnlbot_claims_awaiting_verification", ())] == 0
    await bob.says("732829320")                      # a second claim waits for the operator
    assert (await operator.metrics())[("tnlbot_claims_awaiting_verification", ())] == 1

    # an answer committed, its reply not sent yet: the backlog and its age
    fake.push({"message": fake.user_message(701, alice.user, "/statut", None)})
    await session.telegram.poll_once(session.sink, 0)
    app.clock.advance(30)
    now = await operator.metrics()
    assert now[("tnlbot_outbox_pending", (("transport", "telegram"),))] >= 1
    assert now[("tnlbot_outbox_oldest_pending_age_seconds", (("transport", "telegram"),))] == 30
    fake.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
    await session.flush()
    assert await operator.moved(now, "tnlbot_sends_total", transport="telegram", result="retry") == 1
    app.clock.advance(5)
    await session.flush()
    assert (await operator.metrics())[("tnlbot_outbox_pending", (("transport", "telegram"),))] == 0

    before = await operator.metrics()
    fake.redeliver(max(fake.pushed))                 # Telegram sends an update again
    await session.pump()
    assert await operator.moved(before, "tnlbot_inbound_duplicates_total", transport="telegram") == 1
    assert await operator.moved(before, "tnlbot_sends_total", transport="telegram", result="sent") == 0

    before = await operator.metrics()
    for _ in range(30):                              # a flood, faster than replies can leave
        fake.push({"message": fake.user_message(701, alice.user, "/statut", None)})
    await session.telegram.poll_once(session.sink, 0)
    assert await operator.moved(before, "tnlbot_inbound_held_back_total", transport="telegram") >= 5
    await session.flush()

    before = await operator.metrics()
    app.clock.set(START + timedelta(days=120 - 14, hours=1))     # 14 days before the closing
    await app.scheduler.tick_once()
    assert await operator.moved(before, "tnlbot_reminders_sent_total") == 2   # Alice and Bob
    assert await operator.moved(before, "tnlbot_scheduler_ticks_total") == 1
    app.clock.set(START + timedelta(days=120, minutes=1))         # the campaign closes
    await app.scheduler.tick_once()
    assert await operator.moved(before, "tnlbot_closing_notices_sent_total") >= 1


async def test_health_turns_unhealthy_when_the_transport_is_cut_or_silent(monitored, fake):
    session, operator = await monitored()
    app = session.app
    await app.scheduler.tick_once()
    await session.pump()
    code, report = await operator.health()
    assert code == 200 and report["status"] == "ok", report

    fake.fail_next("getUpdates", 502, "Bad Gateway")              # Telegram cannot be reached
    with pytest.raises(Exception):  # noqa: B017 - whichever error PTB maps a 502 to
        await session.telegram.poll_once(session.sink, 0)
    code, report = await operator.health()
    assert code == 503 and not check(report, "transport:telegram")
    assert (await operator.metrics())[("tnlbot_transport_connected", (("transport", "telegram"),))] == 0
    await session.pump()
    assert (await operator.health())[0] == 200

    app.clock.advance(150)                                        # nothing received for 150 s
    metrics = await operator.metrics()
    assert metrics[("tnlbot_last_receive_age_seconds", (("transport", "telegram"),))] == 150
    code, report = await operator.health()
    assert code == 503 and not check(report, "transport:telegram") and check(report, "store")
    await session.pump()
    code, report = await operator.health()
    assert code == 200

    app.clock.advance(100)                                        # the scheduler stopped ticking
    await session.pump()
    code, report = await operator.health()
    assert code == 503 and not check(report, "scheduler") and check(report, "transport:telegram")
    await app.scheduler.tick_once()
    assert (await operator.health())[0] == 200


@pytest.mark.postgres
async def test_health_turns_unhealthy_when_the_store_is_cut(monitored):
    with fresh_pg_database("tnlbot_health") as url:
        store = Store(url)
        session, operator = await monitored(store)
        await session.app.scheduler.tick_once()
        await session.pump()
        assert (await operator.health())[0] == 200
        name = url.rsplit("/", 1)[1]
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
                conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                  f"WHERE datname = '{name}' AND pid <> pg_backend_pid()"))
            code, report = await operator.health()
            assert code == 503 and not check(report, "store")
            with admin.connect() as conn:
                conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
            code, report = await operator.health()
            assert code == 200 and check(report, "store")
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
            admin.dispose()
            store.close()
