"""Conversations, their candidature and answers: what one inbound event reads and writes."""
from __future__ import annotations

import sys
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache
from typing import Any, Iterator, Sequence

from sqlalchemy import Connection, insert, select, update

from ..core.engine import Dossier, Outcome, State
from ..core.events import Addressed
from ..core.flow import JSON, Flow
from ..core.frozen import quick_init
from . import hotpath as H
from . import tables as T
from .database import Database
from .hotpath import Fast, NotAhead, Writes
from .jsontext import dumps, loads


@quick_init
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
    answers_rev: int = -1       # the version of the candidature's answers read (-1: unknown)
    key: tuple[str, str, str] = ("", "", "")   # (transport, chat, user)
    walked: tuple[Flow, Any] | None = None      # (flow, its walk of `answers`), kept with the copy


# (candidature, answers_rev, answers, (flow, the engine's walk of those answers) or None)
Entry = tuple[int, int, dict, "tuple[Flow, Any] | None"]


class AnswersCache:
    """This process's copy of the answers of the candidatures it serves, per conversation:
    (candidature, answers_rev, answers).

    The store stays the one source of truth: a copy is used only when the
    `answers_rev` read with the conversation, under the candidature's lock, is the
    one it was taken at, and the database bumps that version on every write of an
    answer (row triggers, whoever writes), so a change made by another worker or
    another member is seen at the next read. A transaction's own writes are copied
    in (write-through) only once it has committed (`Database.begin` publishes what
    `stage` was given; a rolled back savepoint drops its part). The version copied
    in counts only the writes this process made: when someone else wrote too, the
    database's version is higher and the copy is never used. Bounded: the least
    recently written entries go first."""

    def __init__(self, size: int = 1024):
        self.size = size
        self._entries: OrderedDict[tuple[str, str, str], Entry] = OrderedDict()

    def get(self, key: tuple[str, str, str]) -> Entry | None:
        return self._entries.get(key)

    def put(self, key: tuple[str, str, str], candidature: int, rev: int, answers: dict,
            walked: tuple[Flow, Any] | None = None) -> None:
        entries = self._entries
        entries[key] = (candidature, rev, answers, walked)
        entries.move_to_end(key)
        if len(entries) > self.size:
            entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()


@lru_cache(maxsize=512)   # the few states people are in, read on every event
def _state(text: str) -> State:
    return State.from_json(loads(text))



class Conversations(Database):
    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.answers_cache = AnswersCache()

    # ------------------------------------------------------------ inbound
    def mark_seen(self, conn: Connection, transport: str, external_id: str, now: datetime) -> bool:
        """Record an inbound delivery; False when it was already processed."""
        if not self.is_sqlite and self.hot.ahead_on(conn):   # a batch read ahead
            fast = self.hot.fast
            key = (transport, external_id)
            if key in fast.seen:
                return False
            fast.seen.add(key)
            # no ON CONFLICT: a worker storing it meanwhile fails the batch, run again
            # one savepoint per event, where this delivery is then found processed
            self.hot.queue(conn, H.MARK_NEW, (transport, external_id, now))
            return True
        return self.hot.run(conn, H.MARK_SEEN, (transport, external_id, self.hot.time(now))).rowcount == 1

    def conversation(self, conn: Connection, transport: str, chat_id: str, user_id: str,
                     with_answers: bool = False) -> ConversationRow | None:
        """The conversation and its candidature, read under the candidature's lock;
        with its answers too when asked (`ConversationRow.answers`).

        SQLite: BEGIN IMMEDIATE already holds the write lock. PostgreSQL: FOR UPDATE OF
        the candidature row serialises the agents of one candidature across workers,
        and what is read (status, frozen or not) is the latest committed version.

        The answers come from this process's copy when the candidature's `answers_rev`,
        read here under the lock, is the one the copy was taken at (see `AnswersCache`);
        otherwise from the database, and the copy is taken again.
        """
        key = (transport, chat_id, user_id)
        statements = self.hot.statements
        if self.is_sqlite or not self.hot.ahead_on(conn):
            cached = self.answers_cache.get(key) if with_answers else None
            # SQLite reads the answers in the same statement when the copy is missing;
            # PostgreSQL reads them after the lock is held (a statement's snapshot predates
            # its wait for the lock)
            joined = with_answers and cached is None and self.is_sqlite
            query = statements.conversation_and_answers if joined else statements.conversation
            row = self.hot.run(conn, query, key).fetchone()
            return None if row is None else self._conversation_row(conn, row, with_answers, joined,
                                                                   cached, key)
        fast = self.hot.fast
        # a batch read ahead (PostgreSQL): its rows were read with their answers, once the
        # batch's candidatures were locked
        query = statements.conversation_and_answers if with_answers else statements.conversation
        if fast.other or not with_answers:      # a command may change anything
            fast.rows.clear()
            fast.carried.clear()
            fast.other = False
        carried = fast.carried.pop(key, None)    # this conversation's earlier event in the batch
        if carried is not None and fast.owner.get(carried.candidature_id) == key:
            return carried
        row = fast.rows.pop(key, None)
        if row is None or row[2] in fast.owner:  # not read ahead, or changed since
            row = self.hot.read(conn, query, key).fetchone()
            if row is None:
                return None
        fast.owner[row[2]] = fast.keys[row[0]] = key
        return self._conversation_row(conn, row, with_answers, with_answers,
                                      self.answers_cache.get(key) if with_answers else None, key)

    def _conversation_row(self, conn: Connection, row: Any, with_answers: bool, joined: bool,
                          cached: Entry | None, key: tuple[str, str, str]) -> ConversationRow:
        """The row read (its answers at 19 when `joined`), with the answers from the copy
        when it is current, else as read (and copied)."""
        (conv_id, person_id, candidature_id, campaign_id, state, status, version, amended,
         submitted_at, role, flow_id, campaign_state, opens_at, closes_at, zone, volets,
         marked, team, rev) = row[:19]
        answers: dict | None = None
        walked = None
        if with_answers:
            if cached is not None and cached[0] == candidature_id and cached[1] == rev:
                answers = dict(cached[2])      # the copy stays the cache's own
                walked = cached[3]
            else:
                answers = ((loads(row[19]) if row[19] else {}) if joined
                           else self.answers(conn, candidature_id))
                self.answers_cache.put(key, candidature_id, rev, dict(answers))
        read = self.hot.read_time
        return ConversationRow(conv_id, person_id, candidature_id, campaign_id,
                               _state(state), status, version,
                               bool(amended), read(submitted_at), role == "responsible",
                               flow_id, campaign_state, read(opens_at), read(closes_at), zone,
                               volets or "[]", bool(marked), answers, bool(team), rev, key, walked)

    @contextmanager
    def ahead(self, conn: Connection, keys: Sequence[tuple[str, str, str, str]]) -> Iterator[Fast]:
        """PostgreSQL: a batch of events, each (transport, external id, chat, user), read ahead.

        Inside, in a savepoint: the batch's candidatures locked (in one order), then the
        deliveries already stored and the conversations with their answers read, in one
        round trip; `mark_seen` and `conversation` answer from them, and the hot path's writes
        are held (hotpath.Writes), then sent in one pipeline, one statement per table, before
        the next statement that reads and at the end (their replies not awaited; the outbox
        ids are read last: `outbox_ids`). If anything raises, what the batch did is rolled back to
        the savepoint and the exception goes on: the caller runs the batch again, one
        savepoint per event, where a bad event fails alone."""
        hot, fast = self.hot, self.hot.fast
        driver = hot.driver(conn)
        if fast.conn is not None:
            raise NotAhead("a batch is already read ahead on this thread")
        fast.conn, fast.seen, fast.rows, fast.owner, fast.carried = driver, set(), {}, {}, {}
        fast.keys = {}
        fast.other = False
        fast.writes, fast.outbox, fast.queued = Writes(), [], 0
        staged = len(self._staged.get(conn, ()))   # what is copied in at the commit, so far
        try:
            hot.queue(conn, H.BATCH_SAVEPOINT, ())
            deliveries = sorted({(t, e) for t, e, _, _ in keys})
            people = sorted({(t, c, u) for t, _, c, u in keys})
            by_key = [list(column) for column in zip(*people)]
            hot.ahead(H.AHEAD["lock"], by_key)
            seen = hot.ahead(H.AHEAD["seen"], [list(column) for column in zip(*deliveries)])
            rows = hot.ahead(H.AHEAD["conversations"], by_key)
            fast.seen.update((t, e) for t, e in seen.fetchall())
            fast.rows.update(((r[20], r[21], r[22]), r) for r in rows.fetchall())
            yield fast
            hot.queue(conn, H.BATCH_RELEASE, ())
            hot.settle()
        except BaseException:
            try:
                if fast.pipe is not None:
                    pipe, fast.pipe = fast.pipe, None
                    pipe.__exit__(*sys.exc_info())
            except Exception:  # noqa: BLE001 - the first error is the one that counts
                pass
            driver.execute(H.BATCH_UNDO)
            self._unstage(conn, staged)   # nothing of the batch is copied in
            raise
        finally:
            fast.conn, fast.pipe, fast.rows, fast.outbox, fast.writes = None, None, {}, [], Writes()
            fast.carried = {}

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
        row = self.hot.run(conn, self.hot.statements.answers, (candidature_id,)).fetchone()
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
        """Save one event's outcome: answers + history, state, candidature, outbox
        (a submission is frozen by the jury's `freeze`, given to the dispatcher).

        PostgreSQL: the writes of the usual event go in one pipeline (psycopg sends them
        without waiting for each reply: one round trip instead of five)."""
        if not self.is_sqlite and outcome.submission is None and self.hot.fast.conn is None:
            with self.hot.driver(conn).pipeline():
                return self._apply(conn, conv, before, outcome, addressed, now, flow)
        ids = self._apply(conn, conv, before, outcome, addressed, now, flow)
        if not self.is_sqlite and self.hot.ahead_on(conn):
            self._carry(conv, before, outcome)
        return ids

    def _carry(self, conv: ConversationRow, before: dict[str, JSON], outcome: Outcome) -> None:
        """A batch read ahead: the conversation as this event leaves it, for its next event
        in the batch (nothing to read again), when only its state and answers changed."""
        fast, dossier = self.hot.fast, outcome.dossier
        key = fast.keys.get(conv.id)
        if key is None or conv.answers is None or outcome.submission is not None or (
                dossier.status, dossier.version, dossier.amended) != (conv.status, conv.version, conv.amended):
            return
        answers = outcome.applied(before)
        # its answers' version and walk are not known here: not copied in, walked again
        fast.carried[key] = replace(conv, state=outcome.state, answers=answers, answers_rev=-1,
                                    walked=None)

    def _apply(self, conn: Connection, conv: ConversationRow, before: dict[str, JSON],
               outcome: Outcome, addressed: list[Addressed], now: datetime,
               flow: Flow) -> list[int]:
        written = 0
        for key, value in outcome.changes:
            written += self._save_answer(conn, conv, key, before.get(key), value, now)
        if conv.answers_rev >= 0 and conv.key[0]:
            after = outcome.applied(before)
            # each answer row written bumped the version once (the triggers); counted low
            # when unsure (a held delete), the copy is merely never used
            self.stage(conn, (self.answers_cache.put, conv.key, conv.candidature_id,
                              conv.answers_rev + written, after,
                              None if outcome.view is None else (flow, outcome.view)))
        self.hot.queue(conn, H.SAVE_STATE, (dumps(outcome.state.to_json()), self.hot.time(now), conv.id))
        self._save_dossier(conn, conv, outcome.dossier, now, bool(outcome.changes))
        return self.enqueue(conn, addressed, now)

    def _save_answer(self, conn: Connection, conv: ConversationRow, key: str, old: JSON,
                     new: JSON, now: datetime) -> int:
        """Write one answer and its history; how many answer rows it surely wrote."""
        at = self.hot.time(now)
        written = 1
        if new is None:
            cursor = self.hot.queue(conn, H.DELETE_ANSWER, (conv.candidature_id, key))
            # a delete held for later (a batch read ahead) may find nothing: counted as none
            written = int(cursor.rowcount) if cursor is not None and cursor.rowcount > 0 else 0
        else:
            self.hot.queue(conn, H.UPSERT_ANSWER, (conv.candidature_id, key, dumps(new), conv.person_id, at))
        self.hot.queue(conn, H.HISTORY, (conv.candidature_id, key, None if old is None else dumps(old),
                                       None if new is None else dumps(new), conv.person_id, at))
        return written

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
            self.hot.queue(conn, H.TOUCH_CANDIDATURE, (self.hot.time(now), conv.candidature_id))
