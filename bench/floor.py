"""The floor: the rows tnlbot writes, written with the bare driver.

Same schema (made by tnlbot's migrations), one transaction per update, no
framework: for an answer, the delivery id, the answer (upsert), its history
row, the conversation state, the candidature's timestamp and the two outbox
rows of the reply (the settled note and the next prompt, in one INSERT as
tnlbot does), exactly the rows `Dispatcher.handle` writes. SQLite runs in
WAL mode with synchronous=NORMAL, tnlbot's setting; PostgreSQL with
psycopg's defaults.
"""
from __future__ import annotations

import json
import sqlite3
import tempfile
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import select

from tnlbot.runtime.clock import Clock
from tnlbot.store import Store
from tnlbot.store import tables as T

from .tnl import CAMPAIGN, open_campaign
from .workload import Script, Updates, feed

SEEN = "INSERT INTO inbound_seen (transport, external_id, seen_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING"
PERSON = "INSERT INTO people (display_name, locale, created_at) VALUES (?, 'fr', ?) RETURNING id"
ACCOUNT = ("INSERT INTO accounts (person_id, transport, external_id, chat_id, reachable) "
           "VALUES (?, 'telegram', ?, ?, ?)")
CANDIDATURE = ("INSERT INTO candidatures (campaign_id, responsible_id, status, version, amended, "
               "created_at, updated_at) VALUES (?, ?, 'draft', 0, ?, ?, ?) RETURNING id")
MEMBER = ("INSERT INTO members (candidature_id, person_id, role, volets, joined_at) "
          "VALUES (?, ?, 'responsible', '[]', ?)")
CONVERSATION = ("INSERT INTO conversations (transport, chat_id, user_id, person_id, candidature_id, "
                "state, updated_at) VALUES ('telegram', ?, ?, ?, ?, ?, ?) RETURNING id")
ANSWER = ("INSERT INTO answers (candidature_id, key, value, answered_by, answered_at) "
          "VALUES (?, ?, ?, ?, ?) ON CONFLICT (candidature_id, key) DO UPDATE SET "
          "value = excluded.value, answered_by = excluded.answered_by, answered_at = excluded.answered_at")
HISTORY = ("INSERT INTO answer_history (candidature_id, key, old_value, new_value, changed_by, "
           "changed_at) VALUES (?, ?, NULL, ?, ?, ?)")
STATE = "UPDATE conversations SET state = ?, updated_at = ? WHERE id = ?"
TOUCH = "UPDATE candidatures SET updated_at = ? WHERE id = ?"
OUTBOX = ("INSERT INTO outbox (transport, chat_id, user_id, payload, status, attempts, not_before, "
          "txn_id, sent_ref, error, created_at) VALUES ('telegram', ?, ?, ?, 'pending', 0, ?, ?, '', '', ?)")
OUTBOX2 = ("INSERT INTO outbox (transport, chat_id, user_id, payload, status, attempts, not_before, "
           "txn_id, sent_ref, error, created_at) VALUES "
           "('telegram', ?, ?, ?, 'pending', 0, ?, ?, '', '', ?), ('telegram', ?, ?, ?, 'pending', 0, ?, ?, '', '', ?)")


class Bare:
    """One driver connection: SQLite (sqlite3) or PostgreSQL (psycopg)."""

    def __init__(self, url: str):
        self.sqlite = url.startswith("sqlite")
        if self.sqlite:
            self.conn: Any = sqlite3.connect(url.split(":///", 1)[1], isolation_level=None)
            for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=30000",
                           "foreign_keys=ON"):
                self.conn.execute(f"PRAGMA {pragma}")
        else:
            import psycopg
            self.conn = psycopg.connect(url.replace("+psycopg", ""))
        self.mark = "?" if self.sqlite else "%s"

    def run(self, sql: str, params: tuple) -> Any:
        return self.conn.execute(sql if self.sqlite else sql.replace("?", "%s"), params)

    def begin(self) -> None:
        if self.sqlite:
            self.conn.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        self.conn.commit() if not self.sqlite else self.conn.execute("COMMIT")

    def stamp(self) -> Any:
        now = datetime.now(timezone.utc)
        return now.replace(tzinfo=None).isoformat(" ") if self.sqlite else now

    def close(self) -> None:
        self.conn.close()


def _payloads(script: Script, step: int, text: str) -> tuple[str, str]:
    """Outbox payloads shaped like tnlbot's (a settled note, then the next prompt)."""
    settled = {"kind": "settled", "ref": script.refs[step], "text": text}
    prompt = {"kind": "prompt", "ref": script.refs[step + 1] if step + 1 < len(script.refs) else "",
              "header": "Identification · volet 1/6 · question 3/18",
              "text": "Quel est le numéro SIREN de votre collectivité ?\n(9 chiffres)",
              "actions": [["/retour", "◀ Retour"], ["/passer", "Passer ▶"]],
              "options": [["yes", "Oui"], ["no", "Non"]]}
    return (json.dumps(settled, ensure_ascii=False, separators=(",", ":")),
            json.dumps(prompt, ensure_ascii=False, separators=(",", ":")))


class Floor:
    """Writes the rows of each update; knows its ids in memory (no reads)."""

    def __init__(self, url: str, script: Script):
        self.db, self.script = Bare(url), script
        self.ids: dict[int, tuple[int, int, int]] = {}
        self.steps: dict[int, int] = {}
        with Store(url).begin() as conn:  # the campaign, made once by tnlbot
            self.campaign = conn.execute(select(T.campaigns.c.id).where(
                T.campaigns.c.slug == CAMPAIGN)).scalar()

    def start(self, raw: str) -> None:
        update = json.loads(raw)
        message, db, now = update["message"], self.db, self.db.stamp()
        user = message["from"]["id"]
        db.begin()
        db.run(SEEN, ("telegram", str(update["update_id"]), now))
        person = db.run(PERSON, (message["from"]["first_name"], now)).fetchone()[0]
        db.run(ACCOUNT, (person, str(user), str(message["chat"]["id"]), True))
        candidature = db.run(CANDIDATURE, (self.campaign, person, False, now, now)).fetchone()[0]
        db.run(MEMBER, (candidature, person, now))
        conv = db.run(CONVERSATION, (str(message["chat"]["id"]), str(user), person, candidature,
                                     json.dumps({"cursor": self.script.refs[0]}), now)).fetchone()[0]
        for payload in _payloads(self.script, 0, "Bonjour")[1:]:
            db.run(OUTBOX, (str(message["chat"]["id"]), str(user), payload, now, uuid.uuid4().hex, now))
        db.commit()
        self.ids[user], self.steps[user] = (person, candidature, conv), 0

    def answer(self, raw: str) -> None:
        update = json.loads(raw)
        message, db, now = update["message"], self.db, self.db.stamp()
        user, text = message["from"]["id"], message["text"]
        person, candidature, conv = self.ids[user]
        step = self.steps[user]
        key, value = self.script.refs[step], json.dumps(text, ensure_ascii=False)
        state = json.dumps({"cursor": self.script.refs[min(step + 1, len(self.script.refs) - 1)],
                            "locale": "fr", "mode": "asking", "pending": [], "skipped": []})
        db.begin()
        db.run(SEEN, ("telegram", str(update["update_id"]), now))
        db.run(ANSWER, (candidature, key, value, person, now))
        db.run(HISTORY, (candidature, key, value, person, now))
        db.run(STATE, (state, now, conv))
        db.run(TOUCH, (now, candidature))
        chat, values = str(message["chat"]["id"]), []
        for payload in _payloads(self.script, step, text):   # one INSERT of two rows, as tnlbot
            values += (chat, str(user), payload, now, uuid.uuid4().hex, now)
        db.run(OUTBOX2, tuple(values))
        db.commit()
        self.steps[user] = step + 1

    def stored(self) -> int:
        return int(self.db.run("SELECT count(*) FROM answers", ()).fetchone()[0])

    def close(self) -> None:
        self.db.close()


def run_floor(url: str, script: Script, work: Updates,
              budget: float | None = None) -> tuple[float, float, int, int]:
    """(seconds for the starts, seconds for the answers, answers written, answers stored)."""
    floor = Floor(url, script)
    try:
        starts, _ = feed(floor.start, work.starts)
        seconds, processed = feed(floor.answer, work.answers, budget)
        return starts, seconds, processed, floor.stored()
    finally:
        floor.close()


def prepare(url: str) -> None:
    """Schema by tnlbot's migrations and the campaign, as for tnlbot's own run."""
    store = Store(url)
    try:
        open_campaign(store, Clock())
    finally:
        store.close()


def floor_sqlite(script: Script, work: Updates,
                 budget: float | None = None) -> tuple[float, float, int, int]:
    with tempfile.TemporaryDirectory() as tmp:
        url = Store.sqlite_url(Path(tmp) / "floor.db")
        prepare(url)
        return run_floor(url, script, work, budget)
