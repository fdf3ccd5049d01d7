"""Shared fixtures: flows, stores on SQLite and PostgreSQL, a fake clock, chats."""
from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Iterator

import pytest
from sqlalchemy import create_engine, text

from tnlbot.app import App, Settings
from tnlbot.flows import load_all
from tnlbot.i18n import load_catalog
from tnlbot.runtime.clock import FakeClock
from tnlbot.store import Store
from tnlbot.store import tables as T
from tnlbot.store.campaigns import create_campaign

from .harness import Chat

PG_ADMIN_URL = os.environ.get("TNLBOT_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REQUIRE_PG = os.environ.get("TNLBOT_REQUIRE_POSTGRES") == "1"
START = datetime(2024, 6, 12, 8, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="session")
def catalog():
    return load_catalog()


@pytest.fixture(scope="session")
def flows(catalog):
    return load_all(locales=catalog.locales)


@contextmanager
def fresh_pg_database(prefix: str) -> Iterator[str]:
    """A PostgreSQL database of its own, dropped afterwards; yields its URL. Without a
    server: skipped, or failed when TNLBOT_REQUIRE_POSTGRES=1 (CI)."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    try:
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001
        if REQUIRE_PG:
            pytest.fail(f"PostgreSQL is required here (TNLBOT_REQUIRE_POSTGRES=1): {exc}")
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              f"WHERE datname = '{name}' AND pid <> pg_backend_pid()"))
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@pytest.fixture(scope="session")
def pg_url():
    """A database of its own for this test session, dropped at the end."""
    with fresh_pg_database("tnlbot_test") as url:
        yield url


def _pg_store(url: str) -> Store:
    store = Store(url)
    names = ", ".join(t.name for t in T.metadata.sorted_tables)
    with store.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    return store


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_store(request, tmp_path):
    """The same test on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        store = Store(Store.sqlite_url(tmp_path / "tnlbot.db"))
    else:
        store = _pg_store(request.getfixturevalue("pg_url"))
    yield store
    store.close()


@pytest.fixture
def sqlite_store(tmp_path):
    store = Store(Store.sqlite_url(tmp_path / "tnlbot.db"))
    yield store
    store.close()


@pytest.fixture
def clock():
    return FakeClock(START)


def open_campaign(store: Store, flow_id: str = "tnl-2022", *, opens=START - timedelta(days=1),
                  closes=START + timedelta(days=120), slug: str = "", config=None) -> int:
    with store.begin() as conn:
        return create_campaign(conn, slug=slug or f"{flow_id}-test", year=2024, track="label",
                               flow_id=flow_id, opens_at=opens, closes_at=closes, state="open",
                               config=config)


@pytest.fixture
def make_app(flows, catalog, clock):
    """make_app(store) -> App on that store with an open 2022 campaign."""
    apps = []

    def make(store: Store, flow_id: str = "tnl-2022", campaign: bool = True) -> App:
        if campaign:
            open_campaign(store, flow_id)
        app = App(Settings(database_url=store.url), clock=clock, store=store, flows=flows,
                  catalog=catalog)
        apps.append(app)
        return app
    yield make


@pytest.fixture
def app(make_app, sqlite_store):
    return make_app(sqlite_store)


@pytest.fixture
def alice(app):
    return Chat(app, "alice")
