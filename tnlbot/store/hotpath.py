"""The statements on the path of one answer, as plain SQL on the DBAPI cursor.

Building SQLAlchemy statements costs more than running them on SQLite (tens
of microseconds each, several per answer), so the few statements every
inbound event runs are written once here, in the SQL that SQLite and
PostgreSQL share, and run on the cursor of the SQLAlchemy connection that
holds the transaction. Everything else in the store uses SQLAlchemy Core.
"""
from __future__ import annotations

from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, Sequence
from weakref import WeakKeyDictionary

from sqlalchemy import Connection

MARK_SEEN = ("INSERT INTO inbound_seen (transport, external_id, seen_at) VALUES (?, ?, ?) "
             "ON CONFLICT DO NOTHING")     # rowcount 0: already processed
CONVERSATION = (
    "SELECT c.id, c.person_id, c.candidature_id, k.campaign_id, c.state, k.status, k.version, "
    "k.amended, k.submitted_at, m.role, g.flow_id, g.state, g.opens_at, g.closes_at, g.timezone, "
    "m.volets, EXISTS (SELECT 1 FROM answer_checks x WHERE x.candidature_id = k.id), "
    # a team of more than one member (the members' primary key: one index probe)
    "EXISTS (SELECT 1 FROM members o WHERE o.candidature_id = k.id AND o.person_id <> c.person_id) "
    "FROM conversations c JOIN candidatures k ON k.id = c.candidature_id "
    "JOIN campaigns g ON g.id = k.campaign_id "
    "LEFT JOIN members m ON m.candidature_id = k.id AND m.person_id = c.person_id "
    "WHERE c.transport = ? AND c.chat_id = ? AND c.user_id = ?")
# the same, with every answer of the candidature as one JSON object (one statement less)
CONVERSATION_AND_ANSWERS = CONVERSATION.replace(
    "FROM conversations c", ", (SELECT json_group_object(a.key, json(a.value)) FROM answers a "
    "WHERE a.candidature_id = k.id) FROM conversations c", 1)
CONVERSATION_AND_ANSWERS_PG = CONVERSATION.replace(
    "FROM conversations c", ", (SELECT json_object_agg(a.key, a.value::json)::text FROM answers a "
    "WHERE a.candidature_id = k.id) FROM conversations c", 1)
ANSWERS = "SELECT json_group_object(key, json(value)) FROM answers WHERE candidature_id = ?"
ANSWERS_PG = "SELECT json_object_agg(key, value::json)::text FROM answers WHERE candidature_id = ?"
ANSWERS_OF = "SELECT key, value, answered_by FROM answers WHERE candidature_id = ? AND key IN ({marks})"
UPSERT_ANSWER = (
    "INSERT INTO answers (candidature_id, key, value, answered_by, answered_at) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (candidature_id, key) DO UPDATE SET value = excluded.value, "
    "answered_by = excluded.answered_by, answered_at = excluded.answered_at")
DELETE_ANSWER = "DELETE FROM answers WHERE candidature_id = ? AND key = ?"
HISTORY = ("INSERT INTO answer_history (candidature_id, key, old_value, new_value, changed_by, changed_at) "
           "VALUES (?, ?, ?, ?, ?, ?)")
TOUCH_CANDIDATURE = "UPDATE candidatures SET updated_at = ? WHERE id = ?"
SAVE_STATE = "UPDATE conversations SET state = ?, updated_at = ? WHERE id = ?"
OUTBOX_HEAD = ("INSERT INTO outbox (transport, chat_id, user_id, payload, status, attempts, not_before, "
               "txn_id, sent_ref, dedup_key, error, created_at) VALUES ")
OUTBOX_ROW = "(?, ?, ?, ?, 'pending', 0, ?, ?, '', NULL, '', ?)"
_OUTBOX: dict[tuple[int, bool], str] = {}


def outbox_rows(count: int, returning: bool = True) -> str:
    """INSERT of `count` plain outbox rows (7 parameters each), RETURNING their ids or not."""
    found = _OUTBOX.get((count, returning))
    if found is None:
        found = _OUTBOX[(count, returning)] = (OUTBOX_HEAD + ", ".join([OUTBOX_ROW] * count)
                                               + (" RETURNING id" if returning else ""))
    return found


class Hot:
    """Runs the shared SQL with the driver's parameter style."""

    def __init__(self, is_sqlite: bool):
        self.is_sqlite = is_sqlite
        self._last_instant: datetime | None = None
        self._last_text = ""
        self._drivers: "WeakKeyDictionary[Connection, Any]" = WeakKeyDictionary()
        self._last: tuple[Any, Any] = (None, None)   # (connection, driver) of the last lookup
        self._pg: dict[str, str] = {}

    def sql(self, statement: str) -> str:
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
        return self.driver(conn).execute(self.sql(statement), params)

    def time(self, instant: datetime) -> Any:
        if not self.is_sqlite:
            return instant
        if instant != self._last_instant:   # one event writes the same instant many times
            self._last_instant = instant
            # as SQLAlchemy stores DateTime on SQLite ("%Y-%m-%d %H:%M:%S.%f"), without strftime's cost
            self._last_text = instant.astimezone(timezone.utc).replace(tzinfo=None).isoformat(" ", "microseconds")
        return self._last_text

    @staticmethod
    def read_time(value: Any) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            return _sqlite_instant(value)
        return _utc(value)


@lru_cache(maxsize=1024)   # a campaign's opening and closing instants are read on every event
def _sqlite_instant(text: str) -> datetime:
    return _utc(datetime.fromisoformat(text))


def _utc(value: datetime) -> datetime:
    """Naive instants are stored UTC; aware ones are moved to UTC."""
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
