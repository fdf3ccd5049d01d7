"""Fill a store with many open candidatures, fast, shaped like the ones tnlbot makes.

Rows are written with the bare driver on tnlbot's own schema: for each
candidature, `members` people (the first one responsible), their Telegram
accounts, the membership rows and one conversation each, waiting on a
question of the first volet. Used by the memory and the scheduler benches,
where making tens of thousands through the dispatcher would take minutes.
"""
from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import select

from tnlbot.store import Store
from tnlbot.store import tables as T
from tnlbot.store.campaigns import create_campaign

SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"
STATE = json.dumps({"cursor": "siren", "locale": "fr", "mode": "asking", "pending": [], "skipped": []},
                   separators=(",", ":"), sort_keys=True)


def stamp(instant: datetime) -> str:
    return instant.astimezone(timezone.utc).strftime(SQLITE_TIME)


def campaign(path: Path, slug: str, opens: datetime, closes: datetime) -> int:
    """Migrate the file and create an open campaign on the 2022 flow."""
    store = Store(Store.sqlite_url(path))
    try:
        with store.begin() as conn:
            found = conn.execute(select(T.campaigns.c.id).where(T.campaigns.c.slug == slug)).scalar()
            if found is not None:
                return int(found)
            return create_campaign(conn, slug=slug, year=2024, track="label", flow_id="tnl-2022",
                                   opens_at=opens, closes_at=closes, state="open")
    finally:
        store.close()


def fill(path: Path, campaign_id: int, candidatures: int, members: int, joined: datetime,
         active: datetime, first_user: int = 900_000_000) -> None:
    """Add `candidatures` draft candidatures of `members` people each, in one transaction."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("BEGIN IMMEDIATE")
        person = int(conn.execute("SELECT coalesce(max(id), 0) FROM people").fetchone()[0])
        cand = int(conn.execute("SELECT coalesce(max(id), 0) FROM candidatures").fetchone()[0])
        at_join, at_active = stamp(joined), stamp(active)
        people, accounts, cands, mems, convs = [], [], [], [], []
        for _ in range(candidatures):
            cand += 1
            responsible = person + 1
            cands.append((cand, campaign_id, responsible, at_join, at_active))
            for index in range(members):
                person += 1
                user = str(first_user + person)
                people.append((person, f"Agent {person}", at_join))
                accounts.append((person, user, user))
                mems.append((cand, person, "responsible" if index == 0 else "member", at_join))
                convs.append((user, user, person, cand, STATE, at_active))
        conn.executemany("INSERT INTO people (id, display_name, locale, created_at) VALUES (?, ?, 'fr', ?)",
                         people)
        conn.executemany("INSERT INTO accounts (person_id, transport, external_id, chat_id, reachable) "
                         "VALUES (?, 'telegram', ?, ?, 1)", accounts)
        conn.executemany("INSERT INTO candidatures (id, campaign_id, responsible_id, status, version, "
                         "amended, created_at, updated_at) VALUES (?, ?, ?, 'draft', 0, 0, ?, ?)", cands)
        conn.executemany("INSERT INTO members (candidature_id, person_id, role, volets, joined_at) "
                         "VALUES (?, ?, ?, '[]', ?)", mems)
        conn.executemany("INSERT INTO conversations (transport, chat_id, user_id, person_id, "
                         "candidature_id, state, updated_at) VALUES ('telegram', ?, ?, ?, ?, ?, ?)", convs)
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def count(path: Path, table: str) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    finally:
        conn.close()


def days(n: float) -> timedelta:
    return timedelta(days=n)
