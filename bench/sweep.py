"""Scheduler sweep: what reminders are due over every open candidature.

The sweep is the reading half of a reminder wave (tnlbot.campaigns.reminders):
the SQL narrowing (`candidates`), the loading of members and log (`load`) and
the pure policy (`campaigns.schedule.due`), batch after batch, without recording
or sending. It runs at an instant where every member of every candidature is
due (a deadline slot, an older one now stale, and inactivity), the worst
case. The peer is a bare `SELECT count(*)` over the same candidatures.
"""
from __future__ import annotations

import importlib
import sqlite3
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from .fill import campaign, days, fill

NOW = datetime(2024, 6, 11, 10, 0, tzinfo=ZoneInfo("Europe/Paris")).astimezone(timezone.utc)  # a Tuesday
SLUG = "sweep-2024"


@dataclass(frozen=True)
class Sweep:
    seconds: float
    count_seconds: float
    candidatures: int
    members: int
    actions: int
    pending: str = ""     # why it could not run


def _policy():
    try:
        reminders = importlib.import_module("tnlbot.campaigns.reminders")
        schedule = importlib.import_module("tnlbot.campaigns.schedule")
        config = importlib.import_module("tnlbot.campaigns.config")
        return reminders, schedule, config
    except ImportError as exc:
        return str(exc)


def compute_due(store, campaign_id: int, now: datetime) -> tuple[int, int]:
    """(actions, candidatures seen) over the whole campaign, read-only."""
    reminders, schedule, config = _policy()
    from tnlbot.store.campaigns import campaign_by_slug
    actions = seen = after = 0
    with store.begin() as conn:
        found = campaign_by_slug(conn, SLUG)
        clock = config.clock_of(found)
        while True:
            ids = reminders.candidates(conn, clock, now, after, reminders.BATCH)
            if not ids:
                break
            views, log = reminders.load(conn, campaign_id, ids)
            actions += len(schedule.due(clock, views, log, now))
            seen += len(ids)
            after = ids[-1]
    return actions, seen


def bare_count(path: Path, campaign_id: int, repeat: int = 5) -> float:
    conn = sqlite3.connect(path)
    try:
        best = float("inf")
        for _ in range(repeat):
            start = time.perf_counter()
            conn.execute("SELECT count(*) FROM candidatures WHERE campaign_id = ? AND status = 'draft'",
                         (campaign_id,)).fetchone()
            best = min(best, time.perf_counter() - start)
        return best
    finally:
        conn.close()


def sweep(candidatures: int, members: int = 3) -> Sweep:
    policy = _policy()
    if isinstance(policy, str):
        return Sweep(0, 0, candidatures, members, 0, f"pending: {policy}")
    from tnlbot.store import Store
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sweep.db"
        campaign_id = campaign(path, SLUG, NOW - days(60), NOW + days(5))
        fill(path, campaign_id, candidatures, members, joined=NOW - days(30), active=NOW - days(20))
        store = Store(Store.sqlite_url(path))
        try:
            start = time.perf_counter()
            actions, seen = compute_due(store, campaign_id, NOW)
            seconds = time.perf_counter() - start
        finally:
            store.close()
        if seen != candidatures:
            raise AssertionError(f"the sweep saw {seen} of {candidatures} candidatures")
        count_seconds = bare_count(path, campaign_id)
    return Sweep(seconds, count_seconds, candidatures, members, actions)
