"""Attachments kept in the database, content-addressed.

An attachment is stored once per content: its SHA-256 is the key, its type is
read from the content (filetype), its size is measured. The answer holds
`ref: "sha256:<hex>"`, so the file stays with the candidature (and the jury's
dossier) whatever becomes of the file it was read from. The content is
written in the transaction that saves the answer (runtime/attachments.py), so
a refused file (wrong type, too big) is never stored and an accepted one never
lost.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

import filetype
from sqlalchemy import (Column, Connection, Integer, LargeBinary, String, Table, delete, exists, literal, not_,
                        or_, select)

from ..core.events import FileRef
from . import flow_tables as F
from . import tables as T
from .database import insert_for
from .tables import UTC, metadata

PREFIX = "sha256:"

attachments = Table(
    "attachments", metadata,
    Column("sha256", String(64), primary_key=True),
    Column("size", Integer, nullable=False),
    Column("mime", String(127), nullable=False),       # read from the content
    Column("kind", String(16), nullable=False),        # its usual extension ("pdf"), "txt", or ""
    Column("content", LargeBinary, nullable=False),
    Column("stored_at", UTC, nullable=False),
)


@dataclass(frozen=True, slots=True)
class Sniffed:
    mime: str
    kind: str     # the usual extension of what the content is ("" when unknown)


def sniff(data: bytes) -> Sniffed:
    """What the content is, read from its first bytes (never from its name)."""
    found = filetype.guess(data[:8192])
    if found is not None:
        return Sniffed(found.mime, found.extension)
    if b"\x00" not in data[:8192]:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return Sniffed("application/octet-stream", "")
        return Sniffed("text/plain", "txt")
    return Sniffed("application/octet-stream", "")


def describe(data: bytes, name: str) -> FileRef:
    """The reference an answer holds for this content (nothing stored yet)."""
    found = sniff(data)
    return FileRef(name=name, mime=found.mime, size=len(data),
                   ref=PREFIX + hashlib.sha256(data).hexdigest(), sniffed=found.kind)


def keep(conn: Connection, data: bytes, now: datetime) -> str:
    """Store a file's content, once per content; returns its reference. Every transport
    stores through this, in the transaction that saves the answer holding it."""
    file = describe(data, "")
    row = dict(sha256=file.ref[len(PREFIX):], size=file.size, mime=file.mime, kind=file.sniffed,
               content=data, stored_at=now)
    conn.execute(insert_for(conn.dialect.name)(attachments).values(**row).on_conflict_do_nothing(index_elements=["sha256"]))
    return file.ref


def content(conn: Connection, ref: str) -> bytes | None:
    """The bytes an answer's `ref` points at (None for a reference of another transport)."""
    if not ref.startswith(PREFIX):
        return None
    return conn.execute(select(attachments.c.content).where(
        attachments.c.sha256 == ref[len(PREFIX):])).scalar()


def forget_unreferenced(conn: Connection) -> int:
    """Delete the stored files nothing refers to any more: no answer, no change in an
    answer's history, no answer set aside, no submitted version. A file goes with the
    last answer that held it (an erased solo draft, drafts purged after their retention,
    a pruned candidature). Returns how many files were deleted."""
    held_as = literal("%" + PREFIX) + attachments.c.sha256 + literal("%")
    holders = ((T.answers, "value"), (T.answer_history, "old_value"), (T.answer_history, "new_value"),
               (F.answers_aside, "value"), (T.submissions, "snapshot"))
    held = or_(*(exists(select(table.c[column]).where(table.c[column].like(held_as)))
                 for table, column in holders))
    return conn.execute(delete(attachments).where(not_(held))).rowcount
