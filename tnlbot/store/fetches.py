"""Files a platform could not hand over when their answer was saved: fetched again later.

A transport that fetches a file before its answer is saved (Telegram) may fail to (a
network error, the platform busy): the answer then holds the platform's handle on the
file, not the file. Such an answer is recorded here, in the transaction that saves it
(runtime/attachments.py). The transport tries again later, a bounded number of times
with growing pauses (`DELAYS`): fetched, the content is kept (attachments.keep) and the
answer holds it instead of the handle, in one transaction; never fetched, the row goes
and the person is told, once, to send the file again.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Column, Connection, Index, Integer, String, Table, delete, select, update

from ..core.events import FileRef
from . import tables as T
from .attachments import keep
from .jsontext import dumps, loads
from .tables import UTC, Id, metadata

# seconds before each new try (the first try was the one made on receipt); after the last, the
# person is told to send the file again
DELAYS = (30, 120, 600, 3600)

file_fetches = Table(
    "file_fetches", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("transport", String(32), nullable=False),
    Column("handle", String(255), nullable=False),       # the platform's file id
    Column("name", String(255), nullable=False),
    Column("size", Integer, nullable=False),             # as the platform announced it
    Column("candidature_id", Id, nullable=False),        # no key: a purge or an erasure may go first
    Column("key", String(128), nullable=False),          # the answer holding the handle
    Column("chat_id", String(255), nullable=False),      # whom to tell if it never comes
    Column("user_id", String(255), nullable=False),
    Column("attempts", Integer, nullable=False),         # tries after the first
    Column("due_at", UTC, nullable=False),
    Index("ix_file_fetches_due", "transport", "due_at"),
)


@dataclass(frozen=True, slots=True)
class Fetch:
    id: int
    transport: str
    handle: str
    name: str
    size: int
    candidature_id: int
    key: str
    chat_id: str
    user_id: str
    attempts: int


def record(conn: Connection, transport: str, file: FileRef, candidature_id: int, key: str,
           chat_id: str, user_id: str, now: datetime) -> None:
    """An answer saved with a platform's handle: its file is fetched again after `DELAYS[0]`."""
    conn.execute(file_fetches.insert().values(
        transport=transport, handle=file.ref[:255], name=file.name[:255], size=file.size,
        candidature_id=candidature_id, key=key, chat_id=chat_id, user_id=user_id, attempts=0,
        due_at=now + timedelta(seconds=DELAYS[0])))


def due(conn: Connection, transport: str, now: datetime, limit: int = 20) -> list[Fetch]:
    f = file_fetches
    rows = conn.execute(select(f.c.id, f.c.transport, f.c.handle, f.c.name, f.c.size, f.c.candidature_id,
                               f.c.key, f.c.chat_id, f.c.user_id, f.c.attempts)
                        .where(f.c.transport == transport, f.c.due_at <= now)
                        .order_by(f.c.due_at, f.c.id).limit(limit)).all()
    return [Fetch(*row) for row in rows]


def fetched(conn: Connection, fetch: Fetch, data: bytes, now: datetime) -> bool:
    """The file came: kept, and the answer holds it if it still holds the handle (True then)."""
    conn.execute(delete(file_fetches).where(file_fetches.c.id == fetch.id))
    a = T.answers
    where = (a.c.candidature_id == fetch.candidature_id, a.c.key == fetch.key)
    text = conn.execute(select(a.c.value).where(*where)).scalar()
    value = loads(text) if text else None
    if not isinstance(value, dict) or value.get("ref") != fetch.handle:
        return False          # answered again since, or cleared: the old file is not needed
    ref = keep(conn, data, now)
    conn.execute(update(a).where(*where).values(value=dumps({**value, "ref": ref, "size": len(data)})))
    return True


def failed(conn: Connection, fetch: Fetch, now: datetime) -> bool:
    """One more try failed: tried again later, or (True) given up, the row gone."""
    f = file_fetches
    attempts = fetch.attempts + 1
    if attempts >= len(DELAYS):
        conn.execute(delete(f).where(f.c.id == fetch.id))
        return True
    conn.execute(update(f).where(f.c.id == fetch.id).values(
        attempts=attempts, due_at=now + timedelta(seconds=DELAYS[attempts])))
    return False
