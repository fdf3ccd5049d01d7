"""The statements on the path of one answer, as plain SQL on the DBAPI cursor.

Building SQLAlchemy statements costs more than running them on SQLite (tens
of microseconds each, several per answer), so the few statements every
inbound event runs are written once here, in the SQL that SQLite and
PostgreSQL share, and run on the cursor of the SQLAlchemy connection that
holds the transaction. Everything else in the store uses SQLAlchemy Core.

The schema stays the one source of truth: tests/test_hot_sql.py prepares every
statement named here (and the features' own) against the tables as declared and
as migrated, on SQLite and PostgreSQL; the outbox's defaults are the table's own
column defaults; instants are encoded by `instants`. What differs between the
two databases (the JSON aggregate, the row lock) is chosen once, in `Statements`.
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Sequence
from weakref import WeakKeyDictionary

from sqlalchemy import Connection

from . import tables as T
from .instants import from_store, sqlite_text

MARK_SEEN = ("INSERT INTO inbound_seen (transport, external_id, seen_at) VALUES (?, ?, ?) "
             "ON CONFLICT DO NOTHING")     # rowcount 0: already processed
CONVERSATION_COLUMNS = (
    "SELECT c.id, c.person_id, c.candidature_id, k.campaign_id, c.state, k.status, k.version, "
    "k.amended, k.submitted_at, m.role, g.flow_id, g.state, g.opens_at, g.closes_at, g.timezone, "
    "m.volets, EXISTS (SELECT 1 FROM answer_checks x WHERE x.candidature_id = k.id), "
    # a team of more than one member (the members' primary key: one index probe)
    "EXISTS (SELECT 1 FROM members o WHERE o.candidature_id = k.id AND o.person_id <> c.person_id), "
    # the version of the candidature's answers (bumped by a trigger on each write of one)
    "k.answers_rev")
CONVERSATION_JOIN = (
    " FROM conversations c JOIN candidatures k ON k.id = c.candidature_id "
    "JOIN campaigns g ON g.id = k.campaign_id "
    "LEFT JOIN members m ON m.candidature_id = k.id AND m.person_id = c.person_id ")
CONVERSATION_FROM = CONVERSATION_JOIN + "WHERE c.transport = ? AND c.chat_id = ? AND c.user_id = ?"
CONVERSATION = CONVERSATION_COLUMNS + CONVERSATION_FROM
# every answer of a candidature as one JSON object (text), per database
ANSWERS_OBJECT = {True: "json_group_object(a.key, json(a.value))",
                  False: "json_object_agg(a.key, a.value::json)::text"}
# PostgreSQL: the candidature's row lock serialises its members across workers
# (SQLite: BEGIN IMMEDIATE already holds the database's write lock)
CANDIDATURE_LOCK = {True: "", False: " FOR UPDATE OF k"}
# One event's conversation, read with that lock: its own row is locked too, so that a
# statement which waited for the lock returns the conversation as the transaction before
# it left it (once the wait is over PostgreSQL reads again the rows it locks; the others
# come from the snapshot taken before the wait). Every event takes its locks in this order
# anyway: the candidature here, then its conversation when its state is written.
CONVERSATION_LOCK = {True: "", False: " FOR UPDATE OF k, c"}
ANSWERS_PG = f"SELECT {ANSWERS_OBJECT[False]} FROM answers a WHERE a.candidature_id = k.id"
ANSWERS_OF = "SELECT key, value, answered_by FROM answers WHERE candidature_id = ? AND key IN ({marks})"
UPSERT_ANSWER = (
    "INSERT INTO answers (candidature_id, key, value, answered_by, answered_at) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (candidature_id, key) DO UPDATE SET value = excluded.value, "
    "answered_by = excluded.answered_by, answered_at = excluded.answered_at")
# PostgreSQL, a batch read ahead (see `Fast`), its keys as arrays (one statement text): the
# batch's candidatures locked in one order (their ids), then, in statements of their own
# (which see what was committed before the locks were granted), the deliveries already
# stored and the conversations with their answers, keyed by (transport, chat_id, user_id)
_KEYS_IN = ("WHERE (c.transport, c.chat_id, c.user_id) IN "
            "(SELECT * FROM unnest(?::text[], ?::text[], ?::text[]))")
AHEAD = {
    "lock": ("SELECT k.id FROM conversations c JOIN candidatures k ON k.id = c.candidature_id "
             + _KEYS_IN + " ORDER BY k.id" + CANDIDATURE_LOCK[False]),
    "seen": ("SELECT transport, external_id FROM inbound_seen WHERE (transport, external_id) IN "
             "(SELECT * FROM unnest(?::text[], ?::text[]))"),
    "conversations": (CONVERSATION_COLUMNS + f", ({ANSWERS_PG}), c.transport, c.chat_id, c.user_id"
                      + CONVERSATION_JOIN + _KEYS_IN),
}
MARK_NEW = "INSERT INTO inbound_seen (transport, external_id, seen_at) VALUES (?, ?, ?)"
BATCH_SAVEPOINT = "SAVEPOINT batch_ahead"
BATCH_RELEASE = "RELEASE SAVEPOINT batch_ahead"
BATCH_UNDO = "ROLLBACK TO SAVEPOINT batch_ahead"
DELETE_ANSWER = "DELETE FROM answers WHERE candidature_id = ? AND key = ?"
HISTORY = ("INSERT INTO answer_history (candidature_id, key, old_value, new_value, changed_by, changed_at) "
           "VALUES (?, ?, ?, ?, ?, ?)")
TOUCH_CANDIDATURE = "UPDATE candidatures SET updated_at = ? WHERE id = ?"
SAVE_STATE = "UPDATE conversations SET state = ?, updated_at = ? WHERE id = ?"

# A queued outbox row: these columns are given, the others start at the table's defaults.
OUTBOX_GIVEN = ("transport", "chat_id", "user_id", "payload", "not_before", "txn_id", "created_at",
                "locale", "display_name")


def queued_defaults() -> dict[str, Any]:
    """What a new outbox row starts with besides what is given (the table's column defaults)."""
    return {c.name: c.default.arg for c in T.outbox.columns
            if c.name not in OUTBOX_GIVEN and c.default is not None and not c.primary_key}


def _literal(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise TypeError(f"no SQL literal for {value!r}")
    return str(value) if isinstance(value, int) else "'" + value.replace("'", "''") + "'"


_QUEUED = queued_defaults()
OUTBOX_HEAD = ("INSERT INTO outbox (" + ", ".join((*OUTBOX_GIVEN, *_QUEUED)) + ") VALUES ")
OUTBOX_ROW = "(" + ", ".join(["?"] * len(OUTBOX_GIVEN) + [_literal(v) for v in _QUEUED.values()]) + ")"
_OUTBOX: dict[tuple[int, bool], str] = {}


def outbox_rows(count: int, returning: bool = True) -> str:
    """INSERT of `count` plain outbox rows (OUTBOX_GIVEN's parameters each), RETURNING their ids or not."""
    found = _OUTBOX.get((count, returning))
    if found is None:
        found = _OUTBOX[(count, returning)] = (OUTBOX_HEAD + ", ".join([OUTBOX_ROW] * count)
                                               + (" RETURNING id" if returning else ""))
    return found


# PostgreSQL, a batch read ahead: the hot path's writes of the whole batch, one statement per
# table, each column an array (one statement text whatever the number of rows)
_U = {"bigint": "?::bigint[]", "text": "?::text[]", "at": "?::timestamptz[]"}
BATCHED = {
    "seen": ("INSERT INTO inbound_seen (transport, external_id, seen_at) "
             "SELECT * FROM unnest({text}, {text}, {at})").format(**_U),
    "delete": ("DELETE FROM answers WHERE (candidature_id, key) IN "
               "(SELECT * FROM unnest({bigint}, {text}))").format(**_U),
    "upsert": ("INSERT INTO answers (candidature_id, key, value, answered_by, answered_at) "
               "SELECT * FROM unnest({bigint}, {text}, {text}, {bigint}, {at}) "
               "ON CONFLICT (candidature_id, key) DO UPDATE SET value = excluded.value, "
               "answered_by = excluded.answered_by, answered_at = excluded.answered_at").format(**_U),
    "history": ("INSERT INTO answer_history (candidature_id, key, old_value, new_value, changed_by, "
                "changed_at) SELECT * FROM unnest({bigint}, {text}, {text}, {text}, {bigint}, {at})"
                ).format(**_U),
    "states": ("UPDATE conversations c SET state = u.state, updated_at = u.at "
               "FROM unnest({bigint}, {text}, {at}) AS u(id, state, at) WHERE c.id = u.id").format(**_U),
    "touched": ("UPDATE candidatures k SET updated_at = u.at FROM unnest({bigint}, {at}) AS u(id, at) "
                "WHERE k.id = u.id").format(**_U),
}


def _outbox_batched() -> str:
    kinds = {"not_before": "at", "created_at": "at"}
    arrays = ", ".join(_U[kinds.get(name, "text")] for name in OUTBOX_GIVEN)
    return (OUTBOX_HEAD.removesuffix(" VALUES ") + " SELECT u.*, " + ", ".join(_literal(v) for v in _QUEUED.values())
            + f" FROM unnest({arrays}) AS u RETURNING id")


BATCHED["outbox"] = _outbox_batched()
_BINARY = {sql: sql.replace("?", "%b") for sql in (*BATCHED.values(), *AHEAD.values())}


class Writes:
    """The hot path's writes of a batch read ahead, held until a statement reads (or the batch
    ends), then sent as one statement per table (`Hot.write_out`). Answers keep the last
    change of each key (what one statement after another would leave); history, deliveries
    and outbox rows keep every row, in order."""
    __slots__ = ("answers", "history", "outbox", "seen", "states", "touched")

    def __init__(self) -> None:
        self.seen: list[tuple[Any, ...]] = []
        self.answers: dict[tuple[int, str], tuple[Any, ...]] = {}   # value None: deleted
        self.history: list[tuple[Any, ...]] = []
        self.states: dict[int, tuple[Any, ...]] = {}
        self.touched: dict[int, Any] = {}
        self.outbox: list[tuple[Any, ...]] = []

    def hold(self, statement: str, params: Sequence[Any]) -> bool:
        """Keep one of the hot path's writes; False for any other statement."""
        if statement is UPSERT_ANSWER:
            self.answers[(params[0], params[1])] = (params[2], params[3], params[4])
        elif statement is HISTORY:
            self.history.append(tuple(params))
        elif statement is SAVE_STATE:
            self.states[params[2]] = (params[0], params[1])
        elif statement is TOUCH_CANDIDATURE:
            self.touched[params[1]] = params[0]
        elif statement is MARK_NEW:
            self.seen.append(tuple(params))
        elif statement is DELETE_ANSWER:
            self.answers[(params[0], params[1])] = (None, None, None)
        else:
            return False
        return True

    def statements(self) -> list[tuple[str, list[list[Any]]]]:
        """(statement, its column arrays) for what is held, and forget it (outbox last)."""
        out: list[tuple[str, list[list[Any]]]] = []
        gone = [key for key, (value, _by, _at) in self.answers.items() if value is None]
        kept = [(*key, *rest) for key, rest in self.answers.items() if rest[0] is not None]
        states = [(conv, *rest) for conv, rest in self.states.items()]
        for name, rows in (("seen", self.seen), ("delete", gone), ("upsert", kept),
                           ("history", self.history), ("states", states),
                           ("touched", list(self.touched.items())), ("outbox", self.outbox)):
            if rows:
                out.append((BATCHED[name], [list(column) for column in zip(*rows)]))
        self.__init__()  # type: ignore[misc]
        return out


@dataclass(frozen=True, slots=True)
class Statements:
    """The statements whose text depends on the database, chosen once."""
    conversation: str              # the conversation and its candidature, under its lock
    conversation_and_answers: str  # the same, with every answer as one JSON object
    answers: str                   # every answer of a candidature as one JSON object

    @classmethod
    def of(cls, is_sqlite: bool) -> "Statements":
        every = ANSWERS_OBJECT[is_sqlite]
        lock = CONVERSATION_LOCK[is_sqlite]
        return cls(
            conversation=CONVERSATION + lock,
            conversation_and_answers=(CONVERSATION_COLUMNS + f", (SELECT {every} FROM answers a "
                                      "WHERE a.candidature_id = k.id)" + CONVERSATION_FROM + lock),
            answers=f"SELECT {every} FROM answers a WHERE a.candidature_id = ?")


class NotAhead(Exception):
    """What a batch read ahead does not cover (see `Fast`): the batch is run again, one
    savepoint per event."""


class Fast(threading.local):
    """A PostgreSQL batch read ahead, on this thread (the store's `ahead`).

    The batch's deliveries already stored and its conversations (locked) are read in one
    round trip; each event then finds its own there, and its writes are held (`Writes`)
    then sent in one psycopg pipeline, one statement per table (no reply awaited); the
    outbox ids are read at the end. Any statement besides these (a command's, a feature's) first settles the
    pipeline and runs as usual, and what was read ahead is then read again."""
    conn: Any = None                 # the driver connection of the batch (None: not ahead)
    pipe: Any = None                 # its pipeline context, while open
    seen: set[tuple[str, str]]       # deliveries stored before the batch, or marked in it
    rows: dict[tuple[str, str, str], Any]   # conversations read ahead, not yet used
    # candidature -> the conversation (key) of the batch's last event on it: a row read
    # ahead, or carried, is good only while no other conversation has used its candidature
    owner: dict[int, tuple[str, str, str]]
    carried: dict[tuple[str, str, str], Any]   # key -> its ConversationRow after its last event
    keys: dict[int, tuple[str, str, str]]      # conversation id -> key, as looked up
    other: bool = False              # some other statement ran: what was read ahead may be stale
    writes: Writes                   # the hot path's writes, held
    outbox: list[Any]                # outbox INSERT cursors (their RETURNING ids), in order
    queued: int = 0                  # outbox rows held so far in the batch


class Hot:
    """Runs the shared SQL with the driver's parameter style."""

    def __init__(self, is_sqlite: bool):
        self.is_sqlite = is_sqlite
        self.fast = Fast()
        self.statements = Statements.of(is_sqlite)
        self._last_instant: datetime | None = None
        self._last_text = ""
        self._drivers: "WeakKeyDictionary[Connection, Any]" = WeakKeyDictionary()
        self._last: tuple[Any, Any] = (None, None)   # (connection, driver) of the last lookup
        self._pg: dict[str, str] = {}

    def sql(self, statement: str) -> str:
        """The statement in the driver's parameter style (psycopg: %s), converted once."""
        if self.is_sqlite:
            return statement
        found = self._pg.get(statement)
        if found is None:
            found = self._pg[statement] = statement.replace("?", "%s")
        return found

    def driver(self, conn: Connection) -> Any:
        """The DBAPI connection under a SQLAlchemy connection (looked up once per connection)."""
        last = self._last             # one tuple: threads never see a torn pair
        if last[0] is conn:
            return last[1]
        found = self._drivers.get(conn)
        if found is None:
            found = self._drivers[conn] = conn.connection.driver_connection
        self._last = (conn, found)
        return found

    def run(self, conn: Connection, statement: str, params: Sequence[Any]) -> Any:
        # sqlite3 and psycopg connections both execute on a new cursor and return it
        if not self.is_sqlite and self.fast.conn is not None:
            self.other_statement(statement)
        return self.driver(conn).execute(self.sql(statement), params)

    def ahead_on(self, conn: Connection) -> bool:
        """Whether this thread runs a batch read ahead on this connection (another
        connection of the thread, e.g. a transaction of its own, runs as usual)."""
        fast = self.fast
        return fast.conn is not None and fast.conn is self.driver(conn)

    def queue(self, conn: Connection, statement: str, params: Sequence[Any]) -> Any:
        """A statement whose result is not read now: in a batch read ahead it goes into
        the pipeline (its reply is not awaited); otherwise it runs as `run` does."""
        driver = self.driver(conn)
        if self.is_sqlite:
            return driver.execute(statement, params)
        fast = self.fast
        if fast.conn is driver:
            if fast.writes.hold(statement, params):
                return None
            self.write_out()
            self.pipeline()
        return driver.execute(self.sql(statement), params)

    def pipeline(self) -> None:
        """Open this thread's pipeline, if not open (a batch read ahead)."""
        fast = self.fast
        if fast.pipe is None:
            fast.pipe = fast.conn.pipeline()
            fast.pipe.__enter__()

    def hold_outbox(self, rows: list[tuple[Any, ...]]) -> None:
        """Outbox rows (OUTBOX_GIVEN values each) held with the batch's writes."""
        self.fast.writes.outbox.extend(rows)
        self.fast.queued += len(rows)

    def write_out(self) -> None:
        """Send the writes held so far into the pipeline (a statement is about to read)."""
        fast = self.fast
        for statement, columns in fast.writes.statements():
            self.pipeline()
            # the arrays in binary (%b): no quoting of every element as text arrays need
            cursor = fast.conn.execute(_BINARY[statement], columns)
            if statement is BATCHED["outbox"]:
                fast.outbox.append(cursor)

    def read(self, conn: Connection, statement: str, params: Sequence[Any]) -> Any:
        """A statement of the hot path whose rows are fetched at once: in a batch read
        ahead it goes into the pipeline after the writes queued before it (fetching its
        rows sends them all, one round trip)."""
        if self.fast.conn is not None:
            self.write_out()
        return self.driver(conn).execute(self.sql(statement), params)

    def ahead(self, statement: str, columns: list[list[str]]) -> Any:
        """One of the reads of a batch read ahead (AHEAD), in the pipeline."""
        self.pipeline()
        return self.fast.conn.execute(_BINARY[statement], columns)

    def settle(self) -> None:
        """Close this thread's pipeline: every queued statement run, its errors raised."""
        fast = self.fast
        pipe, fast.pipe = fast.pipe, None
        if pipe is not None:
            pipe.__exit__(None, None, None)

    def other_statement(self, statement: str) -> None:
        """A statement outside the batch's read ahead is about to run: its result is read
        at once, so the pipeline is settled first; if it may change what was read ahead
        (see `_changes_rows_ahead`), that is read again."""
        if not self.fast.other and _changes_rows_ahead(statement):
            self.fast.other = True
        self.write_out()
        if self.fast.pipe is not None:
            self.settle()

    def time(self, instant: datetime) -> Any:
        """An instant as a parameter of plain SQL (see instants.py)."""
        if not self.is_sqlite:
            return instant
        if instant != self._last_instant:   # one event writes the same instant many times
            self._last_instant = instant
            self._last_text = sqlite_text(instant)
        return self._last_text

    read_time = staticmethod(from_store)


# the tables a conversation read ahead is made of (Statements.conversations_of)
ROWS_AHEAD = frozenset({"conversations", "candidatures", "campaigns", "members", "answer_checks",
                        "answers"})
_READ_ONLY = ("SELECT", "SAVEPOINT", "RELEASE", "ROLLBACK TO")
_WRITTEN = re.compile(r"\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+\"?(\w+)", re.IGNORECASE)


def _changes_rows_ahead(statement: str) -> bool:
    """Whether a statement may change a conversation read ahead: a write to one of its
    tables, or anything not plainly a read or a write to another table."""
    if statement.lstrip()[:11].upper().startswith(_READ_ONLY):
        return False
    written = _WRITTEN.match(statement)
    return written is None or written.group(1).lower() in ROWS_AHEAD
