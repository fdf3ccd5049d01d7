"""Several workers started together on one new PostgreSQL database.

A deployment starts its workers at once. Each brings the schema up to date and,
with no campaign yet, opens the default one. They take turns: the one that comes
second waits for the first to commit, then finds the schema current and the
campaign open, instead of failing on a table or a campaign that already exists.
"""
from __future__ import annotations

import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text

from tnlbot.app import App
from tnlbot.settings import Settings
from tnlbot.store import Store
from tnlbot.store import tables as T
from tnlbot.store.campaigns import create_campaign
from tnlbot.store.database import START_LOCK, hold_start_lock
from tnlbot.store.migrate import current_heads, shipped_heads

from .conftest import START, fresh_pg_database

pytestmark = pytest.mark.postgres
ROOT = Path(__file__).resolve().parent.parent
MIGRATE = "import sys; from tnlbot.store import Store; Store(sys.argv[1]).close()"   # one worker's first step


class Worker(threading.Thread):
    """One worker's start-up step, run beside the test; keeps what it raised."""

    def __init__(self, step) -> None:
        super().__init__(daemon=True)
        self.step, self.error = step, None

    def run(self) -> None:
        try:
            self.step()
        except BaseException as exc:  # noqa: BLE001  (the test reports it)
            self.error = exc


def waiting_for_start_lock(conn) -> int:
    return int(conn.execute(text(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
        "AND objid = :k AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"),
        {"k": START_LOCK}).scalar())


def until(condition, what: str, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"after {seconds} s, still not: {what}"
        time.sleep(0.05)


def test_two_workers_migrating_a_new_database_take_turns():
    with fresh_pg_database("tnlbot_start") as url:
        engine = create_engine(url)
        try:
            with engine.connect() as first:        # a third worker is in its start-up steps
                first.begin()
                hold_start_lock(first)
                workers = [subprocess.Popen([sys.executable, "-c", MIGRATE, url], cwd=ROOT,
                                            stderr=subprocess.PIPE, text=True) for _ in range(2)]
                with engine.connect() as look:
                    until(lambda: waiting_for_start_lock(look) == 2, "both wait their turn")
                first.rollback()
            for w in workers:
                _, err = w.communicate(timeout=120)
                assert w.returncode == 0, err
            assert current_heads(engine) == shipped_heads()
        finally:
            engine.dispose()


def test_a_worker_starting_while_another_opens_the_first_campaign_finds_it_open(flows, catalog, clock):
    with fresh_pg_database("tnlbot_start") as url:
        store = Store(url)
        engine = create_engine(url)
        try:
            app = App(Settings(database_url=url), clock=clock, store=store, flows=flows, catalog=catalog)
            flow = flows["tnl-2022"]
            with engine.connect() as first:        # the first worker, between its insert and commit
                first.begin()
                hold_start_lock(first)
                create_campaign(first, slug=f"{flow.id}-{START.year}", year=flow.edition,
                                track=flow.track, flow_id=flow.id, opens_at=START - timedelta(minutes=1),
                                closes_at=START + timedelta(days=365), state="open")
                second = Worker(app.ensure_campaign)
                second.start()
                with engine.connect() as look:
                    until(lambda: waiting_for_start_lock(look) == 1, "the second waits its turn")
                first.commit()
            second.join(60)
            assert not second.is_alive() and second.error is None, second.error
            with engine.connect() as conn:
                slugs = conn.execute(select(T.campaigns.c.slug)).scalars().all()
            assert slugs == [f"tnl-2022-{START.year}"]
        finally:
            store.close()
            engine.dispose()
