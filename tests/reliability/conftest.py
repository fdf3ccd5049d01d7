"""Fixtures of the reliability suite (the shared ones come from tests/conftest.py)."""
from __future__ import annotations

import os
import random

import pytest

from tnlbot.store import Store

from .databases import NoPostgres, pg_database
from .plan import References

REQUIRE_PG = os.environ.get("TNLBOT_REQUIRE_POSTGRES") == "1"


@pytest.fixture(scope="session")
def references(tmp_path_factory, flows, catalog) -> References:
    """references(n): the n-th whole candidature typed once, in process (what a clean run
    prints and stores), built on first use."""
    return References(tmp_path_factory.mktemp("reference"), flows, catalog)


@pytest.fixture(scope="session")
def seed() -> int:
    """Random by default (each run explores other points); TNLBOT_SEED replays one."""
    return int(os.environ.get("TNLBOT_SEED") or random.randrange(2**31))


@pytest.fixture
def own_pg():
    """own_pg() -> URL of a fresh PostgreSQL database, dropped after the test."""
    stack = []

    def make() -> str:
        context = pg_database()
        try:
            url = context.__enter__()
        except NoPostgres as exc:
            if REQUIRE_PG:
                pytest.fail(f"PostgreSQL is required here (TNLBOT_REQUIRE_POSTGRES=1): {exc}")
            pytest.skip(f"PostgreSQL not reachable: {exc}")
        stack.append(context)
        return url
    yield make
    for context in reversed(stack):
        context.__exit__(None, None, None)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def fresh_store(request, tmp_path, own_pg):
    """fresh_store() -> a new empty store, on SQLite and (second run) on PostgreSQL."""
    stores: list[Store] = []

    def make() -> Store:
        if request.param == "sqlite":
            url = Store.sqlite_url(tmp_path / f"store{len(stores)}.db")
        else:
            url = own_pg()
        stores.append(Store(url))
        return stores[-1]
    make.kind = request.param  # type: ignore[attr-defined]
    yield make
    for store in stores:
        store.close()


def pg_or_skip() -> None:
    """Skip (or fail, when PostgreSQL is required) if the test server is absent."""
    try:
        with pg_database():
            return
    except NoPostgres as exc:
        if REQUIRE_PG:
            pytest.fail(f"PostgreSQL is required here (TNLBOT_REQUIRE_POSTGRES=1): {exc}")
        pytest.skip(f"PostgreSQL not reachable: {exc}")
