"""Scheduler sweep: what reminders are due over every open candidature.

Each draft candidature stores the instant it next needs an action
(`candidatures.next_action_at`, from the pure policy), and a reminder wave
reads through its index only the candidatures whose instant has come. Four
measures on 36,000 drafts of 3 members each, in an open campaign whose next
deadline reminder is weeks away:

- settle: the first sweep after the upgrade, when no instant is stored yet:
  every draft is read once and its instant computed and stored;
- 1 % due: 1 % of the drafts have been idle long enough for their inactivity
  reminder (the others answered two days ago); the reading half of a wave
  (`candidates` through the index, `load`, the policy `due`), without
  recording or sending, as this benchmark always measured;
- the wave itself at that instant (record, queue the messages, store the
  next instants), then none due: the same reading half once the wave is done.

The peer is a bare `SELECT count(*)` over the same candidatures.
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
    seconds: float           # reading half, 1 % due
    count_seconds: float
    candidatures: int
    members: int
    actions: int             # due at NOW (1 % due)
    pending: str = ""        # why it could not run
    due: int = 0             # candidatures read with 1 % due
    none_seconds: float = 0.0    # reading half once the wave is done
    none_seen: int = 0
    settle_seconds: float = 0.0  # the first sweep: every instant computed and stored
    wave_seconds: float = 0.0    # the wave with 1 % due: record, queue, store the next instants
    sent: int = 0
    cpu_seconds: float = 0.0       # CPU time of the reading half, 1 % due (best run)
    count_cpu_seconds: float = 0.0


def _policy():
    try:
        reminders = importlib.import_module("tnlbot.campaigns.reminders")
        schedule = importlib.import_module("tnlbot.campaigns.schedule")
        config = importlib.import_module("tnlbot.campaigns.config")
        return reminders, schedule, config
    except ImportError as exc:
        return str(exc)


def _clock(conn):
    _, _, config = _policy()
    from tnlbot.store.campaigns import campaign_by_slug
    found = campaign_by_slug(conn, SLUG)
    return found, config.clock_of(found)


def compute_due(store, campaign_id: int, now: datetime) -> tuple[int, int]:
    """(actions, candidatures read) over the whole campaign, read-only."""
    reminders, schedule, _ = _policy()
    actions = seen = after = 0
    with store.begin() as conn:
        _, clock = _clock(conn)
        while True:
            ids = reminders.candidates(conn, clock, now, after, reminders.BATCH)
            if not ids:
                break
            views, log = reminders.load(conn, campaign_id, ids)
            actions += len(schedule.due(clock, views, log, now))
            seen += len(ids)
            after = ids[-1]
    return actions, seen


def settle_all(store, now: datetime) -> int:
    """Compute and store every draft's next instant (what the first wave after the upgrade does
    besides recording); returns how many are due at `now`."""
    reminders, _, _ = _policy()
    due = after = 0
    while True:
        with store.begin() as conn:
            _, clock = _clock(conn)
            ids = reminders.candidates(conn, clock, now, after, reminders.BATCH)
            if not ids:
                return due
            due += reminders.settle(conn, clock, ids, now)
        after = ids[-1]


def run_wave(store, now: datetime) -> tuple[int, float]:
    from tnlbot.flows import load_all
    from tnlbot.i18n import load_catalog
    reminders, _, _ = _policy()
    catalog = load_catalog()
    flows = load_all(locales=catalog.locales)
    with store.begin() as conn:
        found, _ = _clock(conn)
    start = time.perf_counter()
    report = reminders.Wave(store, flows, catalog).run(found, now)
    return int(report.sent), time.perf_counter() - start


def bare_count(path: Path, campaign_id: int, repeat: int = 5, clock=time.perf_counter) -> float:
    conn = sqlite3.connect(path)
    try:
        best = float("inf")
        for _ in range(repeat):
            start = clock()
            conn.execute("SELECT count(*) FROM candidatures WHERE campaign_id = ? AND status = 'draft'",
                         (campaign_id,)).fetchone()
            best = min(best, clock() - start)
        return best
    finally:
        conn.close()


def _best(measure, repeat: int = 3, clock=time.perf_counter):
    """The fastest of `repeat` runs of a read-only measure: (seconds, its result). With
    `clock=time.process_time`: the CPU time, which other work on a shared machine moves less."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = clock()
        result = measure()
        best = min(best, clock() - start)
    return best, result


def sweep(candidatures: int, members: int = 3) -> Sweep:
    policy = _policy()
    if isinstance(policy, str):
        return Sweep(0, 0, candidatures, members, 0, f"pending: {policy}")
    from tnlbot.store import Store
    idle = max(1, candidatures // 100)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sweep.db"
        # the next deadline reminder (14 days before the closing) is 26 days away
        campaign_id = campaign(path, SLUG, NOW - days(60), NOW + days(40))
        fill(path, campaign_id, candidatures - idle, members, joined=NOW - days(30), active=NOW - days(2))
        fill(path, campaign_id, idle, members, joined=NOW - days(30), active=NOW - days(20),
             first_user=800_000_000)
        store = Store(Store.sqlite_url(path))
        try:
            start = time.perf_counter()
            settled_due = settle_all(store, NOW)
            settle_seconds = time.perf_counter() - start
            if settled_due != idle:
                raise AssertionError(f"{settled_due} candidatures due after settling, {idle} expected")
            seconds, (actions, seen) = _best(lambda: compute_due(store, campaign_id, NOW), 9)
            cpu_seconds, _ = _best(lambda: compute_due(store, campaign_id, NOW), 9, time.process_time)
            if seen != idle:
                raise AssertionError(f"the sweep read {seen} candidatures, {idle} are due")
            sent, wave_seconds = run_wave(store, NOW)
            none_seconds, (_, none_seen) = _best(lambda: compute_due(store, campaign_id, NOW), 9)
            if none_seen:
                raise AssertionError(f"the sweep after the wave read {none_seen} candidatures")
        finally:
            store.close()
        count_seconds = bare_count(path, campaign_id)
        count_cpu_seconds = bare_count(path, campaign_id, 9, time.process_time)
    return Sweep(seconds, count_seconds, candidatures, members, actions, due=seen, none_seconds=none_seconds,
                 none_seen=none_seen, settle_seconds=settle_seconds, wave_seconds=wave_seconds, sent=sent,
                 cpu_seconds=cpu_seconds, count_cpu_seconds=count_cpu_seconds)
