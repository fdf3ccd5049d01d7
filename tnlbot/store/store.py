"""The Store: every read and write of tnlbot, named by intention.

SQLite (WAL, synchronous=NORMAL, busy timeout, BEGIN IMMEDIATE so writers
queue instead of deadlocking) is the embedded default; PostgreSQL is used by
URL for several workers (row locks FOR UPDATE, SKIP LOCKED for the outbox).
Values are JSON text; instants are UTC.
"""
from __future__ import annotations

import json
import os
import threading
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Collection, Iterator

from sqlalchemy import (Connection, bindparam, create_engine, event, func, insert, make_url, select,
                        update)
from sqlalchemy.dialects import sqlite

from ..core.engine import Dossier, Outcome, State
from ..core.events import Addressed, Outgoing
from ..core.flow import JSON, Flow
from . import hotpath as H
from .flow_tables import aside_answers
from .files import private_sqlite
from .jsontext import dumps, loads
from . import tables as T


@dataclass(frozen=True, slots=True)
class ConversationRow:
    id: int
    person_id: int
    candidature_id: int
    campaign_id: int
    state: State
    status: str
    version: int
    amended: bool
    submitted_at: datetime | None
    is_responsible: bool
    flow_id: str
    campaign_state: str
    opens_at: datetime
    closes_at: datetime
    timezone: str
    volets: str = "[]"          # the member's assigned volets (JSON list; empty: all)
    marked: bool = False        # answers copied from last year still to be checked
    answers: dict | None = None  # the candidature's answers, when read with the conversation
    team: bool = False          # the candidature has other members than this person


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


def _iso(instant: datetime | None) -> str:
    return instant.astimezone(timezone.utc).isoformat().replace("+00:00", "Z") if instant else ""


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (None in memory)."""
    database = make_url(url).database
    return Path(database) if database and database != ":memory:" else None


class Store:
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
        self._insert = sqlite.insert if self.is_sqlite else _pg_insert()
        self.hot = H.Hot(self.is_sqlite)
        self._local = threading.local()
        self._held: list[Connection] = []
        if migrate:
            from .migrate import upgrade
            upgrade(self.engine)

    def _sqlite_setup(self) -> None:
        @event.listens_for(self.engine, "connect")
        def _connect(dbapi_conn, _record):  # noqa: ANN001
            dbapi_conn.isolation_level = None
            cursor = dbapi_conn.cursor()
            for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=30000",
                           "foreign_keys=ON"):
                cursor.execute(f"PRAGMA {pragma}")
            cursor.close()

        @event.listens_for(self.engine, "begin")
        def _begin(conn):  # noqa: ANN001
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
        (SQLAlchemy then commits or rolls back the same transaction)."""
        if not self.is_sqlite:
            with self.engine.begin() as conn:
                yield conn
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
            if conn.in_transaction():
                conn.rollback()
            elif raw.in_transaction:
                raw.execute("ROLLBACK")
            raise
        if conn.in_transaction():
            conn.commit()
        else:
            raw.execute("COMMIT")

    @contextmanager
    def savepoint(self, conn: Connection) -> Iterator[None]:
        """Inside `begin()`: what runs here is undone alone if it raises (group commit)."""
        if not self.is_sqlite:
            with conn.begin_nested():
                yield
            return
        raw = self._local.raw
        raw.execute("SAVEPOINT inbound")
        try:
            yield
        except BaseException:
            raw.execute("ROLLBACK TO inbound")
            raw.execute("RELEASE inbound")
            raise
        raw.execute("RELEASE inbound")

    def close(self) -> None:
        for conn in self._held:
            conn.close()
        self._held.clear()
        self.engine.dispose()

    # ------------------------------------------------------------ inbound
    def mark_seen(self, conn: Connection, transport: str, external_id: str, now: datetime) -> bool:
        """Record an inbound delivery; False when it was already processed."""
        return self.hot.run(conn, H.MARK_SEEN, (transport, external_id, self.hot.time(now))).rowcount == 1

    def conversation(self, conn: Connection, transport: str, chat_id: str, user_id: str,
                     with_answers: bool = False) -> ConversationRow | None:
        """The conversation and its candidature, read under the candidature's lock;
        with its answers too when asked (`ConversationRow.answers`).

        SQLite: BEGIN IMMEDIATE already holds the write lock. PostgreSQL: FOR UPDATE OF
        the candidature row serialises the agents of one candidature across workers,
        and what is read (status, frozen or not) is the latest committed version.
        """
        if with_answers:
            query = H.CONVERSATION_AND_ANSWERS if self.is_sqlite else H.CONVERSATION_AND_ANSWERS_PG
        else:
            query = H.CONVERSATION
        if not self.is_sqlite:
            query += " FOR UPDATE OF k"
        row = self.hot.run(conn, query, (transport, chat_id, user_id)).fetchone()
        if row is None:
            return None
        (conv_id, person_id, candidature_id, campaign_id, state, status, version, amended,
         submitted_at, role, flow_id, campaign_state, opens_at, closes_at, zone, volets,
         marked, team) = row[:18]
        read = self.hot.read_time
        return ConversationRow(conv_id, person_id, candidature_id, campaign_id,
                               State.from_json(loads(state)), status, version,
                               bool(amended), read(submitted_at), role == "responsible",
                               flow_id, campaign_state, read(opens_at), read(closes_at), zone,
                               volets or "[]", bool(marked),
                               (loads(row[18]) if row[18] else {}) if with_answers else None,
                               bool(team))

    def start_conversation(self, conn: Connection, transport: str, chat_id: str, user_id: str,
                           display_name: str, campaign_id: int, now: datetime) -> ConversationRow:
        """First message from someone: person, account, candidature, conversation."""
        person_id = self.person_for(conn, transport, user_id, chat_id, display_name, now)
        candidature_id = self.candidature_of(conn, person_id, campaign_id)
        if candidature_id is None:
            candidature_id = conn.execute(insert(T.candidatures).values(
                campaign_id=campaign_id, responsible_id=person_id, status="draft", version=0,
                amended=False, created_at=now, updated_at=now)).inserted_primary_key[0]
            conn.execute(insert(T.members).values(candidature_id=candidature_id, person_id=person_id,
                                                  role="responsible", volets="[]", joined_at=now))
        conn.execute(insert(T.conversations).values(
            transport=transport, chat_id=chat_id, user_id=user_id, person_id=person_id,
            candidature_id=candidature_id, state="{}", updated_at=now))
        found = self.conversation(conn, transport, chat_id, user_id)
        assert found is not None
        return found

    def person_for(self, conn: Connection, transport: str, user_id: str, chat_id: str,
                   display_name: str, now: datetime) -> int:
        a = T.accounts
        found = conn.execute(select(a.c.person_id).where(
            a.c.transport == transport, a.c.external_id == user_id)).scalar()
        if found is not None:
            return int(found)
        person_id = conn.execute(insert(T.people).values(
            display_name=display_name[:200], locale="fr", created_at=now)).inserted_primary_key[0]
        conn.execute(insert(a).values(person_id=person_id, transport=transport,
                                      external_id=user_id, chat_id=chat_id, reachable=True))
        return int(person_id)

    def candidature_of(self, conn: Connection, person_id: int, campaign_id: int) -> int | None:
        k, m = T.candidatures, T.members
        # the person's few memberships first (members.person_id is indexed), then their
        # campaign: a join lets SQLite walk every candidature of the campaign instead
        mine = conn.execute(select(m.c.candidature_id).where(m.c.person_id == person_id)).scalars().all()
        if not mine:
            return None
        return conn.execute(select(k.c.id).where(k.c.id.in_(mine), k.c.campaign_id == campaign_id)
                            .order_by(k.c.id)).scalar()

    def answers(self, conn: Connection, candidature_id: int) -> dict[str, JSON]:
        """Every answer of a candidature, decoded in one go (the database builds one object)."""
        row = self.hot.run(conn, H.ANSWERS if self.is_sqlite else H.ANSWERS_PG, (candidature_id,)).fetchone()
        return loads(row[0]) if row and row[0] else {}

    def answers_of(self, conn: Connection, candidature_id: int,
                   keys: list[str]) -> dict[str, tuple[str, int | None]]:
        """Some answers of a candidature as stored: key -> (JSON text, who answered)."""
        if not keys:
            return {}
        marks = ", ".join("?" * len(keys))
        rows = self.hot.run(conn, H.ANSWERS_OF.format(marks=marks), (candidature_id, *keys)).fetchall()
        return {key: (value, by) for key, value, by in rows}

    # ------------------------------------------------------------ outcome
    def apply(self, conn: Connection, conv: ConversationRow, before: dict[str, JSON],
              outcome: Outcome, addressed: list[Addressed], now: datetime,
              flow: Flow) -> list[int]:
        """Save one event's outcome: answers + history, state, candidature, outbox.

        PostgreSQL: the writes of the usual event go in one pipeline (psycopg sends them
        without waiting for each reply: one round trip instead of five)."""
        if not self.is_sqlite and outcome.submission is None:
            with self.hot.driver(conn).pipeline():
                return self._apply(conn, conv, before, outcome, addressed, now, flow)
        return self._apply(conn, conv, before, outcome, addressed, now, flow)

    def _apply(self, conn: Connection, conv: ConversationRow, before: dict[str, JSON],
               outcome: Outcome, addressed: list[Addressed], now: datetime,
               flow: Flow) -> list[int]:
        for key, value in outcome.changes:
            self._save_answer(conn, conv, key, before.get(key), value, now)
        self.hot.run(conn, H.SAVE_STATE, (dumps(outcome.state.to_json()), self.hot.time(now), conv.id))
        self._save_dossier(conn, conv, outcome.dossier, now, bool(outcome.changes))
        if outcome.submission is not None:
            self.record_submission(conn, conv.candidature_id, outcome.dossier.version, flow.id,
                                   flow.version, outcome.submission, conv.person_id, now,
                                   locale=outcome.state.locale, flow=flow)
        return self.enqueue(conn, addressed, now)

    def _save_answer(self, conn: Connection, conv: ConversationRow, key: str, old: JSON,
                     new: JSON, now: datetime) -> None:
        at = self.hot.time(now)
        if new is None:
            self.hot.run(conn, H.DELETE_ANSWER, (conv.candidature_id, key))
        else:
            self.hot.run(conn, H.UPSERT_ANSWER, (conv.candidature_id, key, dumps(new), conv.person_id, at))
        self.hot.run(conn, H.HISTORY, (conv.candidature_id, key, None if old is None else dumps(old),
                                       None if new is None else dumps(new), conv.person_id, at))

    def _save_dossier(self, conn: Connection, conv: ConversationRow, dossier: Dossier,
                      now: datetime, changed: bool) -> None:
        values: dict[str, Any] = {}
        if dossier.status != conv.status or dossier.version != conv.version:
            values.update(status=dossier.status, version=dossier.version, submitted_at=now)
        if dossier.amended != conv.amended:
            values["amended"] = dossier.amended
        if values:
            values["updated_at"] = now
            conn.execute(update(T.candidatures).where(T.candidatures.c.id == conv.candidature_id)
                         .values(**values))
        elif changed:   # the common case, on the path of every answer
            self.hot.run(conn, H.TOUCH_CANDIDATURE, (self.hot.time(now), conv.candidature_id))

    def record_submission(self, conn: Connection, candidature_id: int, version: int, flow_id: str,
                          flow_version: int, answers: dict[str, JSON] | Any, by: int, now: datetime,
                          *, locale: str = "fr", flow: Flow | None = None) -> None:
        """Freeze one submitted version (see core/jury.py); the row is never changed afterwards.
        With its `flow`, the snapshot keeps the question texts as they were asked."""
        from ..core.jury import Snapshot, build_snapshot, canonical, digest
        k, a = T.candidatures, T.answers
        owner = conn.execute(select(k.c.responsible_id, k.c.created_at).where(
            k.c.id == candidature_id)).first()
        rows = conn.execute(select(a.c.key, a.c.answered_by, a.c.answered_at).where(
            a.c.candidature_id == candidature_id)).all()
        kept = [r for r in rows if r.key in answers]
        facts = dict(candidature=candidature_id, version=version, locale=locale,
                     submitted_by=owner.responsible_id if owner else by, confirmed_by=by,
                     contributors=[r.answered_by for r in kept if r.answered_by is not None],
                     started_at=_iso(owner.created_at if owner else None),
                     last_change_at=_iso(max((r.answered_at for r in kept), default=None)),
                     submitted_at=_iso(now))
        if flow is not None and flow.version == flow_version:
            snapshot = build_snapshot(flow, dict(answers), **facts)
        else:
            facts["contributors"] = tuple(sorted(set(facts["contributors"])))
            snapshot = Snapshot(flow=flow_id, flow_version=flow_version, answers=dict(answers),
                                confirmed_at=facts["submitted_at"], **facts)
        aside = aside_answers(conn, candidature_id, snapshot.locale)
        if aside:   # answers a change of the flow set aside: the jury reads them too
            snapshot = replace(snapshot, aside=aside)
        data = canonical(snapshot)
        conn.execute(insert(T.submissions).values(
            candidature_id=candidature_id, version=version, flow_id=flow_id, flow_version=flow_version,
            snapshot=data.decode("utf-8"), sha256=digest(data), submitted_by=by, submitted_at=now))

    # ------------------------------------------------------------ outbox
    def enqueue(self, conn: Connection, items: list[Addressed], now: datetime) -> list[int]:
        """Queue messages in order; returns the new outbox ids (a key already queued: skipped).

        The messages of one event go in one INSERT of several rows (ids grow in order)."""
        ids: list[int] = []
        at = self.hot.time(now)
        plain: list[Any] = []
        for item in items:
            payload = dumps(item.item.to_json())
            txn_id = os.urandom(16).hex()     # the Matrix transaction id, reused on a resend
            if item.dedup_key:
                ids += self._flush(conn, plain)
                stmt = (self._insert(T.outbox).values(
                    transport=item.transport, chat_id=item.chat_id, user_id=item.user_id,
                    payload=payload, status="pending", attempts=0, not_before=now, txn_id=txn_id,
                    sent_ref="", dedup_key=item.dedup_key, error="", created_at=now)
                    .on_conflict_do_nothing().returning(T.outbox.c.id))
                row = conn.execute(stmt).first()
                if row is not None:
                    ids.append(int(row[0]))
            else:
                plain += (item.transport, item.chat_id, item.user_id, payload, at, txn_id, at)
        return ids + self._flush(conn, plain)

    def _flush(self, conn: Connection, values: list[Any]) -> list[int]:
        found: list[int] = []
        step = 7 * 32                        # at most 32 rows per statement
        for start in range(0, len(values), step):
            chunk = values[start:start + step]
            rows = len(chunk) // 7
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
        return [OutboxRow(r.id, r.transport, r.chat_id, r.user_id,
                          Outgoing.from_json(json.loads(r.payload)), r.attempts, r.txn_id, r.status,
                          r.not_before, r.dedup_key or "")
                for r in rows]

    def claim_message(self, outbox_id: int, now: datetime) -> bool:
        """Count an attempt before sending; False if another worker took it."""
        o = T.outbox
        with self.begin() as conn:
            result = conn.execute(update(o).where(o.c.id == outbox_id, o.c.status == "pending")
                                  .values(status="sending", attempts=o.c.attempts + 1))
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

    def settle_and_claim(self, settles: list[dict[str, Any]], claims: list[int]) -> set[int]:
        """One transaction for the relay: write the outcome of sends (each a dict of
        `settle_message`'s arguments: id, status, now, ref, error, retry_at), then claim
        rows before their send (status `sending`, attempts + 1). Returns the ids claimed
        (a row another worker took is not among them)."""
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
                    update(o).where(o.c.id.in_(claims), o.c.status == "pending")
                    .values(status="sending", attempts=o.c.attempts + 1).returning(o.c.id)).scalars()}
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

    def defer_messages(self, ids: list[int]) -> None:
        """Edits nobody waits for, put aside while the relay has other things to send."""
        o = T.outbox
        with self.begin() as conn:
            conn.execute(update(o).where(o.c.id.in_(ids), o.c.status == "pending")
                         .values(status="deferred"))

    def undefer_messages(self, transport: str) -> int:
        """The relay is free: deferred edits are due again."""
        o = T.outbox
        with self.begin() as conn:
            return conn.execute(update(o).where(o.c.transport == transport, o.c.status == "deferred")
                                .values(status="pending")).rowcount

    # ------------------------------------------------------------ checkpoints
    def checkpoint(self, name: str) -> str | None:
        with self.begin() as conn:
            return conn.execute(select(T.checkpoints.c.value).where(T.checkpoints.c.name == name)).scalar()

    def set_checkpoint(self, conn: Connection, name: str, value: str) -> None:
        stmt = self._insert(T.checkpoints).values(name=name, value=value)
        conn.execute(stmt.on_conflict_do_update(index_elements=[T.checkpoints.c.name],
                                                set_={"value": stmt.excluded.value}))

    # ------------------------------------------------------------ sent prompts, resends
    def sent_prompt(self, transport: str, chat_id: str, user_id: str, prompt_ref: str,
                    before: int | None = None) -> tuple[str, Outgoing] | None:
        """The platform id and latest rendering of the prompt `prompt_ref` sent to one person
        (queued before the outbox row `before`, when given: the prompt an edit settles)."""
        o = T.outbox
        marker = '"ref":' + json.dumps(prompt_ref, ensure_ascii=False)
        query = select(o.c.payload, o.c.sent_ref).where(
            o.c.transport == transport, o.c.chat_id == chat_id, o.c.user_id == user_id,
            o.c.status == "sent", o.c.sent_ref != "", o.c.payload.contains(marker, autoescape=True))
        if before is not None:
            query = query.where(o.c.id < before)
        with self.begin() as conn:
            rows = conn.execute(query.order_by(o.c.id.desc()).limit(20)).all()
        for payload, ref in rows:
            item = Outgoing.from_json(json.loads(payload))
            if item.kind.value == "prompt" and item.ref == prompt_ref:
                return str(ref), item
        return None

    def prompt_sent_as(self, transport: str, chat_id: str, sent_ref: str) -> tuple[str, Outgoing] | None:
        """Whom a sent prompt was for and its latest rendering, from its platform id."""
        o = T.outbox
        with self.begin() as conn:
            rows = conn.execute(select(o.c.user_id, o.c.payload).where(
                o.c.transport == transport, o.c.chat_id == chat_id, o.c.sent_ref == sent_ref,
                o.c.status == "sent").order_by(o.c.id.desc()).limit(20)).all()
        for user_id, payload in rows:
            item = Outgoing.from_json(json.loads(payload))
            if item.kind.value == "prompt":
                return str(user_id), item
        return None

    def was_handled(self, transport: str, external_id: str) -> bool:
        """Whether an inbound event was handed to the dispatcher (its id was recorded)."""
        s = T.inbound_seen
        with self.begin() as conn:
            return conn.execute(select(s.c.external_id).where(
                s.c.transport == transport, s.c.external_id == external_id)).first() is not None

    def conversation_locale(self, transport: str, chat_id: str, user_id: str) -> str:
        """The language one person speaks with the bot in a chat ("fr" before any message)."""
        c = T.conversations
        with self.begin() as conn:
            state = conn.execute(select(c.c.state).where(
                c.c.transport == transport, c.c.chat_id == chat_id, c.c.user_id == user_id)).scalar()
        return str(json.loads(state).get("locale") or "fr") if state else "fr"

    def resume_interrupted(self, transport: str) -> int:
        """At start-up, for a transport whose resends are idempotent (Matrix transaction ids):
        rows a crash left `sending` (or marked uncertain for it) go back to `pending`."""
        o = T.outbox
        with self.begin() as conn:
            return conn.execute(update(o).where(
                o.c.transport == transport,
                (o.c.status == "sending") | ((o.c.status == "uncertain")
                                             & (o.c.error == "interrupted while sending")))
                .values(status="pending", error="")).rowcount

    # ------------------------------------------------------------ telegram: presses, chats
    def outbox_items(self, ids: tuple[int, ...] | list[int]) -> list[OutboxRow]:
        """Outbox rows by id, oldest first (what one inbound event produced)."""
        o = T.outbox
        with self.begin() as conn:
            rows = conn.execute(select(o).where(o.c.id.in_(list(ids))).order_by(o.c.id)).all()
        return [OutboxRow(r.id, r.transport, r.chat_id, r.user_id,
                          Outgoing.from_json(json.loads(r.payload)), r.attempts, r.txn_id, r.status,
                          r.not_before, r.dedup_key or "") for r in rows]

    def person_name(self, transport: str, user_id: str) -> str:
        """The display name of the person behind a platform account ("" if unknown)."""
        a, p = T.accounts, T.people
        with self.begin() as conn:
            name = conn.execute(select(p.c.display_name).join(a, a.c.person_id == p.c.id).where(
                a.c.transport == transport, a.c.external_id == user_id)).scalar()
        return str(name or "")

    def move_chat(self, transport: str, old_chat: str, new_chat: str) -> int:
        """A chat got a new id (Telegram group -> supergroup): conversations, accounts and
        unsent messages follow it. Idempotent; returns how many conversations moved."""
        c, a, o = T.conversations, T.accounts, T.outbox
        if not old_chat or not new_chat or old_chat == new_chat:
            return 0
        with self.begin() as conn:
            taken = select(c.c.user_id).where(c.c.transport == transport, c.c.chat_id == new_chat)
            moved = conn.execute(update(c).where(
                c.c.transport == transport, c.c.chat_id == old_chat,
                c.c.user_id.not_in(taken)).values(chat_id=new_chat)).rowcount
            conn.execute(update(a).where(a.c.transport == transport, a.c.chat_id == old_chat)
                         .values(chat_id=new_chat))
            conn.execute(update(o).where(o.c.transport == transport, o.c.chat_id == old_chat,
                                         o.c.status.in_(("pending", "deferred")))
                         .values(chat_id=new_chat))
        return int(moved)

    def last_prompt_message(self, transport: str, chat_id: str, user_id: str) -> str:
        """The platform id of the last prompt sent to one person in a chat ("" if none)."""
        o = T.outbox
        with self.begin() as conn:
            rows = conn.execute(select(o.c.payload, o.c.sent_ref).where(
                o.c.transport == transport, o.c.chat_id == chat_id, o.c.user_id == user_id,
                o.c.status == "sent", o.c.sent_ref != "",
                o.c.payload.contains('"kind":"prompt"', autoescape=True))
                .order_by(o.c.id.desc()).limit(1)).all()
        return str(rows[0].sent_ref) if rows else ""

    # ------------------------------------------------------------ scheduled sends (campaigns)
    def enqueue_many(self, conn: Connection, items: list[Addressed], now: datetime) -> dict[str, int]:
        """Queue scheduled messages in one statement per chunk: dedup key -> new outbox id.

        Keys already in the outbox are skipped (that unique key is the last guard)."""
        out: dict[str, int] = {}
        rows = [dict(transport=i.transport, chat_id=i.chat_id, user_id=i.user_id,
                     payload=dumps(i.item.to_json()), status="pending", attempts=0, not_before=now,
                     txn_id=uuid.uuid4().hex, sent_ref="", dedup_key=i.dedup_key, error="",
                     created_at=now) for i in items if i.dedup_key]
        if rows:   # executemany: SQLAlchemy batches the rows ("insertmanyvalues"), compiled once
            stmt = self._insert(T.outbox).on_conflict_do_nothing().returning(T.outbox.c.id, T.outbox.c.dedup_key)
            out.update({key: int(row_id) for row_id, key in conn.execute(stmt, rows).all()})
        return out


def _pg_insert():  # noqa: ANN202 - PostgreSQL's dialect (and its drivers) only when used
    from sqlalchemy.dialects.postgresql import insert
    return insert
