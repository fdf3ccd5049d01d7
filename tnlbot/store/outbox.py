"""The outbox: messages queued in the event's transaction, then sent by the relay."""
from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Collection

from sqlalchemy import ColumnElement, Connection, bindparam, false, func, or_, select, true, update

from ..core.events import Addressed, OutKind, Outgoing
from . import hotpath as H
from . import tables as T
from .database import Database
from .hotpath import NotAhead
from .jsontext import dumps


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    transport: str
    chat_id: str
    user_id: str
    item: Outgoing
    attempts: int
    txn_id: str
    status: str
    not_before: datetime | None = None
    dedup_key: str = ""           # set on scheduled sends (reminders, notices): nobody asked
    locale: str | None = None     # what sending needs, as queued (None: look it up)
    display_name: str | None = None
    # a question: the answer just given (the edit settling the question `answered_ref`),
    # which a transport may show atop it (see Relay, `fold_answers`)
    answered: str = ""
    answered_ref: str = ""


def _outbox_row(r: Any) -> OutboxRow:
    return OutboxRow(r.id, r.transport, r.chat_id, r.user_id, Outgoing.from_json(json.loads(r.payload)),
                     r.attempts, r.txn_id, r.status, r.not_before, r.dedup_key or "", r.locale,
                     r.display_name)


_HOST = socket.gethostname()
INTERRUPTED = "interrupted while sending"
Claimers = Collection[str | None] | None   # whose `sending` rows: None, every row; a None in it, unclaimed


def process_name() -> str:
    """This process, as operators read it in the logs and in `outbox.claimed_by`: host:pid."""
    return f"{_HOST}:{os.getpid()}"[:128]


def _claimed_by(claimers: Claimers) -> ColumnElement[bool]:
    """Rows claimed by one of `claimers` (None among them: rows claimed before 0015)."""
    if claimers is None:
        return true()
    names = [name for name in claimers if name is not None]
    found = [T.outbox.c.claimed_by.in_(names)] if names else []
    if None in claimers:
        found.append(T.outbox.c.claimed_by.is_(None))
    return or_(*found) if found else false()


SUPERSEDED = "not sent: a later answer came first (the choice is shown atop the next question)"


def _txn_id() -> str:
    return os.urandom(16).hex()     # the Matrix transaction id, reused on a resend


class Outbox(Database):
    """Rows are queued with the columns of hotpath.OUTBOX_GIVEN; the others start at the
    table's defaults (tables.outbox), for the plain SQL and SQLAlchemy alike."""

    def enqueue(self, conn: Connection, items: list[Addressed], now: datetime) -> list[int]:
        """Queue messages in order; returns the new outbox ids (a key already queued: skipped).

        The messages of one event go in one INSERT of several rows (ids grow in order)."""
        ids: list[int] = []
        at = self.hot.time(now)
        if not self.is_sqlite and self.hot.ahead_on(conn):   # a batch read ahead: held
            if any(item.dedup_key for item in items):
                raise NotAhead("a keyed message in a batch read ahead")
            self.hot.hold_outbox([self._given(item, at) for item in items])
            return ids
        plain: list[Any] = []
        for item in items:
            if item.dedup_key:
                ids += self._flush(conn, plain)
                ids += self._queue_keyed(conn, [item], now).values()
            else:
                plain += self._given(item, at)
        return ids + self._flush(conn, plain)

    @staticmethod
    def outbox_ids(cursors: list[Any]) -> tuple[int, ...]:
        """The ids of the rows held in a batch read ahead, in order, once its pipeline is
        settled (each statement's rows have growing ids, in the order they were given)."""
        return tuple(i for cursor in cursors for i in sorted(int(r[0]) for r in cursor.fetchall()))

    def enqueue_many(self, conn: Connection, items: list[Addressed], now: datetime) -> dict[str, int]:
        """Queue scheduled messages in one statement per chunk: dedup key -> new outbox id.

        Keys already in the outbox are skipped (that unique key is the last guard)."""
        return self._queue_keyed(conn, [i for i in items if i.dedup_key], now)

    @staticmethod
    def _given(item: Addressed, at: Any) -> tuple[Any, ...]:
        """The values of hotpath.OUTBOX_GIVEN for one message queued at `at`."""
        return (item.transport, item.chat_id, item.user_id, dumps(item.item.to_json()), at, _txn_id(), at,
                item.locale or None, item.display_name[:200] or None)

    def _queue_keyed(self, conn: Connection, items: list[Addressed], now: datetime) -> dict[str, int]:
        if not items:
            return {}
        rows = [dict(zip(H.OUTBOX_GIVEN, self._given(i, now)), dedup_key=i.dedup_key) for i in items]
        # executemany: SQLAlchemy batches the rows ("insertmanyvalues"), compiled once
        stmt = self._insert(T.outbox).on_conflict_do_nothing().returning(T.outbox.c.id, T.outbox.c.dedup_key)
        return {key: int(row_id) for row_id, key in conn.execute(stmt, rows).all()}

    def _flush(self, conn: Connection, values: list[Any]) -> list[int]:
        found: list[int] = []
        width = len(H.OUTBOX_GIVEN)
        step = width * 32                    # at most 32 rows per statement
        for start in range(0, len(values), step):
            chunk = values[start:start + step]
            rows = len(chunk) // width
            if self.is_sqlite:
                # SQLite gives a new row the largest rowid + 1, and this transaction holds the
                # write lock: the rows of one INSERT have consecutive ids ending at lastrowid
                # (cheaper than RETURNING, which goes through a temporary table)
                last = self.hot.run(conn, H.outbox_rows(rows, returning=False), chunk).lastrowid
                found += range(last - rows + 1, last + 1)
            else:
                cursor = self.hot.run(conn, H.outbox_rows(rows), chunk)
                found += sorted(int(r[0]) for r in cursor.fetchall())
        values.clear()
        return found

    def due_messages(self, transport: str, now: datetime, limit: int = 100,
                     per_chat: int = 10, chats: Collection[str] = ()) -> list[OutboxRow]:
        """Pending rows, oldest first, at most `per_chat` of each chat: a chat with hundreds
        queued does not hide the others (the relay holds a chat whose first row is not due).
        With `chats`, of those chats only."""
        o = T.outbox
        rank = func.row_number().over(partition_by=o.c.chat_id, order_by=o.c.id).label("rank")
        where = [o.c.transport == transport, o.c.status == "pending"]
        if chats:
            where.append(o.c.chat_id.in_(sorted(chats)))
        ranked = select(o, rank).where(*where).subquery()
        query = (select(*(ranked.c[c.name] for c in o.columns)).where(ranked.c.rank <= per_chat)
                 .order_by(ranked.c.id).limit(limit))
        with self.begin() as conn:
            rows = conn.execute(query).all()
        return [_outbox_row(r) for r in rows]

    def claim_message(self, outbox_id: int, now: datetime) -> bool:
        """Count an attempt before sending (claimed by this process); False if another
        worker took it."""
        o = T.outbox
        with self.begin() as conn:
            result = conn.execute(update(o).where(o.c.id == outbox_id, o.c.status == "pending")
                                  .values(status="sending", attempts=o.c.attempts + 1,
                                          claimed_by=process_name()))
        return result.rowcount == 1

    def settle_message(self, outbox_id: int, status: str, now: datetime, *, ref: str = "",
                       error: str = "", retry_at: datetime | None = None) -> None:
        o = T.outbox
        values: dict[str, Any] = {"status": status, "error": error[:2000]}
        if ref:
            values["sent_ref"] = ref
        if status == "sent":
            values["sent_at"] = now
        if retry_at is not None:
            values["not_before"] = retry_at
        with self.begin() as conn:
            conn.execute(update(o).where(o.c.id == outbox_id).values(**values))

    def settle_and_claim(self, settles: list[dict[str, Any]], claims: list[int],
                         now: datetime | None = None) -> set[int]:
        """One transaction for the relay: write the outcome of sends (each a dict of
        `settle_message`'s arguments: id, status, now, ref, error, retry_at), then claim
        rows before their send (status `sending`, attempts + 1, `claimed_by` this process:
        the same UPDATE). Returns the ids claimed
        (a row another worker took is not among them, nor, given `now`, a row whose
        `not_before` is still to come: a retry a platform asked to wait for)."""
        o = T.outbox
        shapes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for settle in settles:
            values: dict[str, Any] = {"status": settle["status"],
                                      "error": str(settle.get("error", ""))[:2000]}
            if settle.get("ref"):
                values["sent_ref"] = settle["ref"]
            if settle["status"] == "sent":
                values["sent_at"] = settle["now"]
            if settle.get("retry_at") is not None:
                values["not_before"] = settle["retry_at"]
            shapes.setdefault(tuple(values), []).append(
                {"row_id": settle["id"], **{f"v_{k}": v for k, v in values.items()}})
        claimed: set[int] = set()
        with self.begin() as conn:
            for columns, params in shapes.items():
                stmt = update(o).where(o.c.id == bindparam("row_id")).values(
                    {column: bindparam(f"v_{column}") for column in columns})
                conn.execute(stmt, params)
            if claims:
                claimed = {int(row_id) for row_id in conn.execute(
                    update(o).where(o.c.id.in_(claims), o.c.status == "pending",
                                    *(() if now is None else
                                      ((o.c.not_before.is_(None)) | (o.c.not_before <= now),)))
                    .values(status="sending", attempts=o.c.attempts + 1, claimed_by=process_name())
                    .returning(o.c.id)).scalars()}
        return claimed

    def pending_for(self, transport: str, chat_id: str, cap: int) -> int:
        """How many messages wait to leave for this chat (counted up to `cap`)."""
        o = T.outbox
        found = (select(o.c.id).where(o.c.status == "pending", o.c.transport == transport,
                                      o.c.chat_id == chat_id).limit(cap).subquery())
        with self.begin() as conn:
            return int(conn.execute(select(func.count()).select_from(found)).scalar() or 0)

    def pending_counts(self, transport: str, chat_ids: list[str]) -> dict[str, int]:
        """`pending_for` of several chats in one read (a delivered batch)."""
        o = T.outbox
        with self.begin() as conn:
            rows = conn.execute(select(o.c.chat_id, func.count()).where(
                o.c.status == "pending", o.c.transport == transport, o.c.chat_id.in_(chat_ids))
                .group_by(o.c.chat_id)).all()
        return {str(chat): int(n) for chat, n in rows}

    def drop_message(self, outbox_id: int) -> None:
        """Forget a message once handled (the reply to an erasure)."""
        with self.begin() as conn:
            conn.execute(T.outbox.delete().where(T.outbox.c.id == outbox_id))

    def defer_messages(self, ids: list[int], superseded: Collection[int] = (),
                       newest: Collection[tuple[str, str, str, int]] = ()) -> None:
        """Edits nobody waits for, put aside while the relay has other things to send.

        An edit the person's next answer made pointless is settled `superseded` (kept with
        that status, never sent): the rows `superseded`, and for each (transport, chat, user,
        id) of `newest` (the latest edit of a person) the older edits of that person still
        deferred."""
        o = T.outbox
        with self.begin() as conn:
            if ids:
                conn.execute(update(o).where(o.c.id.in_(ids), o.c.status == "pending")
                             .values(status="deferred"))
            if superseded:
                conn.execute(update(o).where(o.c.id.in_(list(superseded)),
                                             o.c.status.in_(("pending", "deferred")))
                             .values(status="superseded", error=SUPERSEDED))
            if newest:
                conn.execute(update(o).where(
                    o.c.transport == bindparam("t"), o.c.chat_id == bindparam("c"),
                    o.c.user_id == bindparam("u"), o.c.id < bindparam("newest"),
                    o.c.status == "deferred").values(status="superseded", error=SUPERSEDED),
                    [{"t": t, "c": c, "u": u, "newest": n} for t, c, u, n in newest])

    def undefer_messages(self, transport: str) -> int:
        """The relay is free: deferred edits are due again."""
        o = T.outbox
        with self.begin() as conn:
            return conn.execute(update(o).where(o.c.transport == transport, o.c.status == "deferred")
                                .values(status="pending")).rowcount


    def sending_claimers(self, transports: Collection[str]) -> set[str | None]:
        """Who claimed the rows of `transports` still `sending` (None: claimed before 0015)."""
        o = T.outbox
        with self.begin() as conn:
            return set(conn.execute(select(o.c.claimed_by).distinct().where(
                o.c.status == "sending", o.c.transport.in_(sorted(transports)))).scalars())

    def resume_interrupted(self, transport: str, claimers: Claimers = None) -> int:
        """For a transport whose resends are idempotent (Matrix transaction ids): rows left
        `sending` by a process that died (claimed by one of `claimers`; None: any row) go back
        to `pending`; with unclaimed rows (a start), also those a start before 0015 marked
        uncertain for it."""
        o = T.outbox
        left = (o.c.status == "sending") & _claimed_by(claimers)
        if claimers is None or None in claimers:
            left = left | ((o.c.status == "uncertain") & (o.c.error == INTERRUPTED))
        with self.begin() as conn:
            return conn.execute(update(o).where(o.c.transport == transport, left)
                                .values(status="pending", error="")).rowcount

    def resume_interrupted_prompts(self, transport: str, claimers: Claimers = None) -> int:
        """For a transport whose resends are not idempotent (Telegram): the questions left
        `sending` by a process that died (claimed by one of `claimers`; None: any) go back
        to `pending`. The person waits for that question; without it they are stuck, which
        is worse than seeing it twice. Other rows (notices, documents, settling edits) are
        left to `mark_interrupted`: at most once."""
        o = T.outbox
        with self.begin() as conn:
            rows = conn.execute(select(o.c.id, o.c.payload).where(
                o.c.transport == transport, o.c.status == "sending", _claimed_by(claimers))).all()
            prompts = [int(r.id) for r in rows if json.loads(r.payload).get("kind") == OutKind.PROMPT.value]
            if not prompts:
                return 0
            # still theirs: another process may have taken them over, and claimed them, since
            return conn.execute(update(o).where(o.c.id.in_(prompts), o.c.status == "sending",
                                                _claimed_by(claimers))
                                .values(status="pending", error="")).rowcount

    def mark_interrupted(self, transports: Collection[str] | None = None, claimers: Claimers = None) -> int:
        """Rows left `sending` by a process that died (of `transports` and claimed by one of
        `claimers`; None: any) become `uncertain`: the platform may have them, they are
        never sent again."""
        o = T.outbox
        where = [o.c.status == "sending", _claimed_by(claimers)]
        if transports is not None:
            where.append(o.c.transport.in_(sorted(transports)))
        with self.begin() as conn:
            return conn.execute(update(o).where(*where).values(
                status="uncertain", error=INTERRUPTED)).rowcount

    # ------------------------------------------------------------ telegram: presses, chats
    def outbox_items(self, ids: tuple[int, ...] | list[int]) -> list[OutboxRow]:
        """Outbox rows by id, oldest first (what one inbound event produced)."""
        o = T.outbox
        with self.begin() as conn:
            rows = conn.execute(select(o).where(o.c.id.in_(list(ids))).order_by(o.c.id)).all()
        return [_outbox_row(r) for r in rows]

