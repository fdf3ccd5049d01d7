"""Checks of a store left behind by a killed bot: integrity, answers, replies.

`account(rows, segments)` is the "no reply lost or doubled" rule: every
outbox row is printed exactly once, in id order, across the outputs of the
successive processes; a row the relay marked `uncertain` (or found in
`sending` right after a kill) may have been printed once, partly (the kill
hit the write) or not at all; a `pending` row is not printed yet.
"""
from __future__ import annotations

import json
import sqlite3
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, select, text
from sqlalchemy.pool import NullPool

from tnlbot.core.events import Outgoing
from tnlbot.store import tables as T
from tnlbot.transports.console import render

UNCERTAIN = ("uncertain", "sending")


class Broken(AssertionError):
    """An invariant of durability does not hold."""


@dataclass(frozen=True, slots=True)
class OutboxLine:
    id: int
    chat_id: str
    status: str
    printed: bytes          # what the terminal prints for it (b"" for a settled note)


@dataclass(frozen=True)
class Snapshot:
    mode: str | None        # None: no conversation yet
    cursor: str
    answers: dict[str, str]             # key -> JSON text
    history: Counter                    # (key, new JSON text) -> times written
    outbox: tuple[OutboxLine, ...]      # the whole console outbox, by id


def integrity(path: Path) -> str:
    """`PRAGMA integrity_check` on a SQLite file (recovers its WAL first)."""
    conn = sqlite3.connect(path, timeout=30)
    try:
        rows = conn.execute("PRAGMA integrity_check").fetchall()
    finally:
        conn.close()
    return "; ".join(str(r[0]) for r in rows)


class Reader:
    """Reads a store the way the bot wrote it, without holding connections. A snapshot is
    one transaction; on PostgreSQL a repeatable-read one, so that it sees a commit in full or
    not at all (read committed gives each statement its own view)."""

    def __init__(self, url: str):
        self.postgres = url.startswith("postgresql")
        options = {"isolation_level": "REPEATABLE READ"} if self.postgres else {}
        self.engine = create_engine(url, poolclass=NullPool, **options)

    def close(self) -> None:
        self.engine.dispose()

    def settle(self, timeout: float = 60) -> None:
        """After a kill -9: on PostgreSQL the server finishes the statement in hand (a COMMIT
        among them) of a client that is gone; wait until the dead bot's sessions have ended, so
        what is read next is what the bot left, not a moment before its last commit lands."""
        if not self.postgres:
            return
        end = time.monotonic() + timeout
        query = text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                     "AND pid <> pg_backend_pid() AND backend_type = 'client backend'")
        while True:
            with self.engine.connect() as conn:
                if not conn.execute(query).scalar():
                    return
            if time.monotonic() > end:
                raise Broken("the killed bot's database sessions did not end")
            time.sleep(0.02)

    def snapshot(self, user: str) -> Snapshot:
        c, a, h, o = T.conversations, T.answers, T.answer_history, T.outbox
        with self.engine.connect() as conn:
            conv = conn.execute(select(c.c.state, c.c.candidature_id).where(
                c.c.transport == "console", c.c.chat_id == f"terminal:{user}",
                c.c.user_id == user)).first()
            rows = conn.execute(select(o.c.id, o.c.chat_id, o.c.status, o.c.payload).where(
                o.c.transport == "console").order_by(o.c.id)).all()
            outbox = tuple(OutboxLine(r.id, r.chat_id, r.status, _printed(r.payload)) for r in rows)
            if conv is None:
                return Snapshot(None, "", {}, Counter(), outbox)
            answers = dict(conn.execute(select(a.c.key, a.c.value).where(
                a.c.candidature_id == conv.candidature_id)).all())
            history = Counter(tuple(r) for r in conn.execute(select(h.c.key, h.c.new_value).where(
                h.c.candidature_id == conv.candidature_id)).all())
        state = json.loads(conv.state)
        return Snapshot(state.get("mode", "new"), state.get("cursor", ""), answers, history, outbox)


def _printed(payload: str) -> bytes:
    text = render(Outgoing.from_json(json.loads(payload)))
    return (text + "\n\n").encode("utf-8") if text else b""


def account(rows: tuple[OutboxLine, ...], segments: list[bytes]) -> Counter:
    """Match printed output to outbox rows; returns how rows were found printed."""
    seen: Counter = Counter()
    cursor = _Cursor(segments)
    for row in rows:
        if not row.printed:
            continue
        if row.status == "pending":
            seen["pending"] += 1
            continue
        cursor.skip_exhausted()
        if row.status == "sent":
            if not cursor.take(row.printed):
                raise Broken(f"outbox row {row.id} is marked sent but was not printed at its turn: "
                             f"expected {row.printed[:80]!r}, found {cursor.ahead(80)!r}")
            seen["sent"] += 1
        elif row.status in UNCERTAIN:
            seen["uncertain printed" if cursor.take(row.printed) else
                 "uncertain partly printed" if cursor.take_partial(row.printed) else
                 "uncertain not printed"] += 1
        else:
            raise Broken(f"outbox row {row.id} has status {row.status!r}")
    cursor.skip_exhausted()
    if not cursor.done():
        raise Broken(f"printed output no outbox row accounts for (doubled?): {cursor.ahead(200)!r}")
    return seen


class _Cursor:
    """A position in the outputs of successive processes (a row never spans two)."""

    def __init__(self, segments: list[bytes]):
        self.segments, self.index, self.pos = segments, 0, 0

    def skip_exhausted(self) -> None:
        while self.index < len(self.segments) and self.pos >= len(self.segments[self.index]):
            self.index, self.pos = self.index + 1, 0

    def ahead(self, n: int) -> bytes:
        if self.index >= len(self.segments):
            return b""
        return self.segments[self.index][self.pos:self.pos + n]

    def take(self, text: bytes) -> bool:
        if self.index < len(self.segments) and self.segments[self.index].startswith(text, self.pos):
            self.pos += len(text)
            return True
        return False

    def take_partial(self, text: bytes) -> bool:
        """The rest of this process's output is a strict beginning of `text`."""
        if self.index >= len(self.segments):
            return False
        rest = self.segments[self.index][self.pos:]
        if rest and text.startswith(rest):
            self.pos += len(rest)
            return True
        return False

    def done(self) -> bool:
        return self.index >= len(self.segments)
