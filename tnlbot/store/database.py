"""The database under the store: engine, transactions, savepoints.

SQLite (WAL, synchronous=NORMAL, busy timeout, BEGIN IMMEDIATE so writers
queue instead of deadlocking) is the embedded default; PostgreSQL is used by
URL for several workers (row locks FOR UPDATE, SKIP LOCKED for the outbox).
Values are JSON text (jsontext.py); instants are UTC (instants.py).
"""
from __future__ import annotations

import asyncio
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

from sqlalchemy import Connection, create_engine, event, make_url
from sqlalchemy.dialects import sqlite

from . import hotpath as H
from .files import private_sqlite


Result = TypeVar("Result")
START_LOCK = 7364   # advisory lock: one process at a time migrates or opens the first campaign


def hold_start_lock(conn: Connection) -> None:
    """PostgreSQL: wait until no other process runs its start-up steps (the schema's
    migration, the default campaign), then hold that turn until this transaction ends.
    Several workers started together on one database then do these steps one after the
    other, each seeing what the one before committed. SQLite's BEGIN IMMEDIATE already
    serializes writers."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({START_LOCK})")


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (None in memory)."""
    database = make_url(url).database
    return Path(database) if database and database != ":memory:" else None


class Database:
    def __init__(self, url: str, *, migrate: bool = True, echo: bool = False):
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            path = sqlite_path(url)
            if path is not None:
                private_sqlite(path)      # 0600 before SQLite creates it with the umask's mode
            self.engine = create_engine(url, echo=echo, connect_args={"timeout": 30},
                                        hide_parameters=True)  # errors never carry answers
            self._sqlite_setup()
        else:
            self.engine = create_engine(url, echo=echo, pool_pre_ping=True, hide_parameters=True)
        self._insert = insert_for("sqlite" if self.is_sqlite else "postgresql")
        self.hot = H.Hot(self.is_sqlite)
        if not self.is_sqlite:
            hot = self.hot

            @event.listens_for(self.engine, "before_cursor_execute")
            def _settle(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
                # a statement through SQLAlchemy reads its result at once: the pipeline
                # of a batch read ahead on this thread is settled first (hotpath.Fast)
                if hot.fast.conn is not None:
                    hot.other_statement(statement)
        self._local = threading.local()
        self._held: list[Connection] = []
        # per open transaction: what to do once it has committed (see `stage`)
        self._staged: dict[Connection, list[tuple[Any, ...]]] = {}
        if migrate:
            from .migrate import upgrade
            upgrade(self.engine)

    def _sqlite_setup(self) -> None:
        @event.listens_for(self.engine, "connect")
        def _connect(dbapi_conn: Any, _record: Any) -> None:   # the DB-API connection: sqlite3's, untyped here
            dbapi_conn.isolation_level = None
            cursor = dbapi_conn.cursor()
            for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=30000",
                           "foreign_keys=ON"):
                cursor.execute(f"PRAGMA {pragma}")
            cursor.close()

        @event.listens_for(self.engine, "begin")
        def _begin(conn: Connection) -> None:
            raw = conn.connection.driver_connection
            if not raw.in_transaction:    # begin() below may have opened it already
                raw.execute("BEGIN IMMEDIATE")

    @staticmethod
    def sqlite_url(path: Path) -> str:
        return f"sqlite:///{path}"

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """One transaction.

        SQLite: each thread keeps its connection, and the transaction is opened and
        committed on the driver (BEGIN IMMEDIATE ... COMMIT), which the plain SQL of the
        hot path uses directly; a statement run through SQLAlchemy inside it joins it
        (SQLAlchemy then commits or rolls back the same transaction).
        What was `stage`d in it runs once it has committed, never when it rolls back."""
        if not self.is_sqlite:
            opened: Connection | None = None
            try:
                with self.engine.begin() as conn:
                    opened = conn
                    yield conn
            except BaseException:
                self._staged.pop(opened, None)  # type: ignore[arg-type]
                raise
            self._publish(conn)
            return
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            conn = self._local.conn = self.engine.connect()
            self._local.raw = conn.connection.driver_connection
            self._held.append(conn)
        raw = self._local.raw
        raw.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            self._staged.pop(conn, None)
            if conn.in_transaction():
                conn.rollback()
            elif raw.in_transaction:
                raw.execute("ROLLBACK")
            raise
        try:
            if conn.in_transaction():
                conn.commit()
            else:
                raw.execute("COMMIT")
        except BaseException:
            self._staged.pop(conn, None)
            raise
        self._publish(conn)

    def stage(self, conn: Connection, call: tuple[Any, ...]) -> None:
        """`call` = (function, *arguments), run once `conn`'s transaction has committed
        (a savepoint rolled back drops what was staged inside it)."""
        self._staged.setdefault(conn, []).append(call)

    def _publish(self, conn: Connection) -> None:
        for function, *arguments in self._staged.pop(conn, ()):
            function(*arguments)

    @contextmanager
    def savepoint(self, conn: Connection) -> Iterator[None]:
        """Inside `begin()`: what runs here is undone alone if it raises (group commit)."""
        staged = self._staged.get(conn)
        mark = len(staged) if staged else 0
        if not self.is_sqlite:
            try:
                with conn.begin_nested():
                    yield
            except BaseException:
                self._unstage(conn, mark)
                raise
            return
        raw = self._local.raw
        raw.execute("SAVEPOINT inbound")
        try:
            yield
        except BaseException:
            self._unstage(conn, mark)
            raw.execute("ROLLBACK TO inbound")
            raw.execute("RELEASE inbound")
            raise
        raw.execute("RELEASE inbound")

    def _unstage(self, conn: Connection, mark: int) -> None:
        staged = self._staged.get(conn)
        if staged is not None:
            del staged[mark:]

    async def off_loop(self, work: Callable[..., Result], *args: Any) -> Result:
        """Blocking store work from async code. SQLite: run here, on the event loop's thread
        (its connection is this thread's, and one writer at a time is SQLite's rule anyway);
        PostgreSQL: in a thread, so the loop keeps receiving and sending meanwhile."""
        if self.is_sqlite:
            return work(*args)
        return await asyncio.to_thread(work, *args)

    def close(self) -> None:
        for conn in self._held:
            conn.close()
        self._held.clear()
        self.engine.dispose()



def insert_for(dialect: str) -> Any:   # either dialect's `insert` (ON CONFLICT, RETURNING)
    """The INSERT constructor of a dialect ("sqlite" or "postgresql"). PostgreSQL's dialect
    (and its drivers) is imported only when used: a SQLite process never loads it."""
    if dialect == "sqlite":
        return sqlite.insert
    from sqlalchemy.dialects.postgresql import insert
    return insert
