"""PostgreSQL databases of our own for the reliability runs: created, then dropped."""
from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import create_engine, text

PG_ADMIN_URL = os.environ.get("TNLBOT_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


class NoPostgres(Exception):
    pass


@contextmanager
def pg_database(prefix: str = "tnlbot_rel") -> Iterator[str]:
    """A fresh database on the test server; yields its URL, drops it after."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # any failure means: no server to use
        admin.dispose()
        raise NoPostgres(str(exc)) from exc
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE datname = :name AND pid <> pg_backend_pid()"), {"name": name})
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()
