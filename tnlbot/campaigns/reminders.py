"""The reminder wave of one scheduler tick, for one campaign.

How this file works:
- The database says what may be due: each draft candidature stores the
  instant it next needs an action (`next_action_at`, computed by the pure
  policy, schedule.next_due; NULL: to compute), and the wave reads through
  its index only the candidatures whose instant has come. The policy then
  decides from the rows themselves (a stale instant sends nothing wrong),
  and the batch stores each candidature's next instant again, after what it
  recorded. Changes that can bring an action sooner clear the instant
  (recheck.py); answers cannot (schedule.next_due says why).
- Each batch of candidatures is one transaction: (PostgreSQL) take the
  campaign's advisory transaction lock or leave it to the worker that holds
  it; load members, preferences and the log; ask the policy; INSERT the log
  rows under their unique key (candidature, person, slot) ON CONFLICT DO
  NOTHING RETURNING the keys this worker got, and enqueue the messages of
  those only, each with a dedup key (unique in the outbox). Record and
  message commit together: a crash, a restart, two ticks or two workers
  never send twice. Statements go by batch, not by row.
- The message is written when it is recorded (wording.py): in the member's
  language, in the chat where they answer.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Mapping

from sqlalchemy import Connection, bindparam, select, text, update

from ..core.events import Addressed
from ..core.flow import Flow
from .schedule import (Action, ActionKind, CampaignClock, CandidatureView, MemberView, Sent,
                       due, next_due_all)
from ..i18n import Catalog
from ..store import Store
from ..store import campaign_tables as C
from ..store import tables as T
from ..store.instants import from_store, sqlite_text
from ..store.hotpath import Hot
from ..store.campaigns import Campaign
from .config import clock_of
from .context import insert_or_skip
from .wording import load_batch, reminder

LOCK_REMINDERS = 7365   # advisory lock class (with the campaign id)
BATCH = 500


@dataclass
class WaveReport:
    sent: int = 0
    skipped: int = 0
    busy: bool = False       # another worker held the campaign's lock


@dataclass(frozen=True)
class Wave:
    store: Store
    flows: Mapping[str, Flow]
    catalog: Catalog
    use_locks: bool = True

    def run(self, campaign: Campaign, now: datetime) -> WaveReport:
        report = WaveReport()
        clock = clock_of(campaign)
        if not campaign.accepting(now) or clock.plan.quiet.is_quiet(now.astimezone(clock.zone)):
            return report
        after = 0
        while True:
            with self.store.begin() as conn:
                if not self._lock(conn, LOCK_REMINDERS, campaign.id):
                    report.busy = True
                    return report
                ids = candidates(conn, clock, now, after, BATCH)
                if not ids:
                    return report
                self._batch(conn, campaign, clock, ids, now, report)
            after = ids[-1]

    def _lock(self, conn: Connection, kind: int, campaign_id: int) -> bool:
        if not self.use_locks or conn.dialect.name != "postgresql":
            return True
        return bool(conn.execute(text("SELECT pg_try_advisory_xact_lock(:k, :c)"),
                                 {"k": kind, "c": campaign_id}).scalar())

    def _batch(self, conn: Connection, campaign: Campaign, clock: CampaignClock, ids: list[int],
               now: datetime, report: WaveReport) -> None:
        views, log = load(conn, campaign.id, ids)
        actions = due(clock, views, log, now)
        sending = {a.candidature_id for a in actions if a.kind is ActionKind.SEND}
        batch = load_batch(conn, sending)
        flow = self.flows[campaign.flow_id]
        planned = [(a, reminder(self.catalog, flow, campaign, a, batch, now)
                    if a.kind is ActionKind.SEND else None) for a in actions]
        sent, skipped = record(conn, self.store, campaign.id, planned, now)
        report.sent += sent
        report.skipped += skipped
        settle(conn, clock, ids, now, views)


def record(conn: Connection, store: Store, campaign_id: int,
           planned: list[tuple[Action, Addressed | None]], now: datetime) -> tuple[int, int]:
    """Log each action under its unique key, then queue the messages of the rows
    this worker inserted (statements by batch, not by row). Returns (sent, skipped)."""
    log = C.reminder_log
    rows = [dict(campaign_id=campaign_id, candidature_id=a.candidature_id, person_id=a.person_id,
                 slot=a.slot, sent=message is not None, due_at=a.due_at, recorded_at=now,
                 reason=a.reason if message is not None or a.kind is ActionKind.SKIP else "unreachable")
            for a, message in planned]
    mine: dict[tuple[int, int, str], int] = {}
    if rows:   # executemany with RETURNING: batched by SQLAlchemy, compiled once
        stmt = (insert_or_skip(conn, log).on_conflict_do_nothing()
                .returning(log.c.id, log.c.candidature_id, log.c.person_id, log.c.slot))
        mine = {(r.candidature_id, r.person_id, r.slot): r.id for r in conn.execute(stmt, rows)}
    messages = [m for a, m in planned if m is not None and (a.candidature_id, a.person_id, a.slot) in mine]
    queued = store.enqueue_many(conn, messages, now)
    links = [{"lid": mine[_key(m)], "oid": oid} for m in messages if (oid := queued.get(m.dedup_key))]
    if links:
        conn.execute(update(log).where(log.c.id == bindparam("lid")).values(outbox_id=bindparam("oid")),
                     links)
    return len(queued), len(mine) - len(messages)


def _key(message: Addressed) -> tuple[int, int, str]:
    _, cand, person, slot = message.dedup_key.split(":", 3)
    return int(cand), int(person), slot


# ------------------------------------------------------------------ loading

def candidates(conn: Connection, clock: CampaignClock, now: datetime, after: int,
               limit: int) -> list[int]:
    """Draft candidatures whose stored next instant has come (or is to be computed), through
    the index (campaign, status, next_action_at), by id after `after`; the policy decides what
    is due. On PostgreSQL the rows stay locked until the batch commits: a change made meanwhile
    (an answer, a member, retention) waits and lands on the instant this batch stores.
    Two range reads of the index, not one with OR: the instants that have come, and those not
    computed; plain SQL on the driver (a sweep is mostly these reads)."""
    hot = _hot(conn)
    came, unknown = (DUE_IDS, UNKNOWN_IDS) if hot.is_sqlite else (_LOCKED[DUE_IDS], _LOCKED[UNKNOWN_IDS])
    at = sqlite_text(now) if hot.is_sqlite else now     # the text SQLite keeps, to compare with it
    rows = (hot.run(conn, came, (clock.id, at, after, limit)).fetchall()
            + hot.run(conn, unknown, (clock.id, after, limit)).fetchall())
    return sorted(int(i) for i, in rows)[:limit]


def settle(conn: Connection, clock: CampaignClock, ids: list[int], now: datetime,
           views: list[CandidatureView] | None = None) -> int:
    """Store each candidature's next instant (schedule.next_due) from what is recorded now;
    a candidature with no member left to remind keeps the closing. Returns how many are due
    at `now` already. `views`: the candidatures as loaded in this transaction, if they were."""
    if views is None:
        views, log = load(conn, clock.id, ids)
    else:
        log = load_log(conn, ids)
    found = next_due_all(clock, views, log, now)
    rows = [{"kid": i, "at": found.get(i, clock.closes_at)} for i in ids]
    if rows:
        k = T.candidatures
        conn.execute(update(k).where(k.c.id == bindparam("kid")).values(next_action_at=bindparam("at")), rows)
    return sum(1 for row in rows if row["at"] <= now)


def load(conn: Connection, campaign_id: int, ids: list[int]) -> tuple[list[CandidatureView], list[Sent]]:
    """The candidatures `ids` with their members and preferences (one statement), and their log."""
    if not ids:
        return [], []
    hot = _hot(conn)
    views: list[CandidatureView] = []
    current = -1
    members: list[MemberView] = []
    head: tuple[str, datetime | None] = ("", None)
    for cid, status, updated, person, role, joined, opted_out, snoozed in hot.run(
            conn, DUE_MEMBERS.format(marks=_marks(len(ids))), (campaign_id, *ids)):
        if cid != current:
            if members and head[1] is not None:
                views.append(CandidatureView(current, head[0], head[1], tuple(members)))
            current, members, head = cid, [], (status, from_store(updated))
        members.append(MemberView(person, _at(joined), role, bool(opted_out),
                                  None if snoozed is None else from_store(snoozed)))
    if members and head[1] is not None:
        views.append(CandidatureView(current, head[0], head[1], tuple(members)))
    return views, load_log(conn, ids)


def _at(value: object) -> datetime:
    instant = from_store(value)
    assert instant is not None, "a stored instant that cannot be NULL"
    return instant


# Plain SQL on the driver (store.hotpath's Hot: its parameter style, instants through
# store.instants), no SQLAlchemy statement or result objects: a batch's rows are most of a
# sweep's time. {marks}: one "?" per id of the batch.
DUE_IDS = ("SELECT id FROM candidatures WHERE campaign_id = ? AND status = 'draft' AND next_action_at <= ? "
           "AND id > ? ORDER BY id LIMIT ?")
UNKNOWN_IDS = ("SELECT id FROM candidatures WHERE campaign_id = ? AND status = 'draft' "
               "AND next_action_at IS NULL AND id > ? ORDER BY id LIMIT ?")
DUE_MEMBERS = ("SELECT k.id, k.status, k.updated_at, m.person_id, m.role, m.joined_at, p.opted_out, "
               "p.snoozed_until FROM candidatures k JOIN members m ON m.candidature_id = k.id "
               "LEFT OUTER JOIN reminder_prefs p ON p.campaign_id = ? AND p.person_id = m.person_id "
               "WHERE k.id IN ({marks}) ORDER BY k.id, m.person_id")
LOG_OF = ("SELECT candidature_id, person_id, slot, recorded_at, sent FROM reminder_log "
          "WHERE candidature_id IN ({marks})")
_LOCKED = {query: query + " FOR UPDATE" for query in (DUE_IDS, UNKNOWN_IDS)}   # PostgreSQL
_HOT = {True: Hot(True), False: Hot(False)}


def _hot(conn: Connection) -> Hot:
    return _HOT[conn.dialect.name == "sqlite"]


@lru_cache(maxsize=8)
def _marks(count: int) -> str:
    return ", ".join("?" * count)


def load_log(conn: Connection, ids: list[int]) -> list[Sent]:
    if not ids:
        return []
    return [Sent(cid, person, slot, _at(at), bool(sent))
            for cid, person, slot, at, sent in _hot(conn).run(conn, LOG_OF.format(marks=_marks(len(ids))), ids)]


def log_of(conn: Connection, campaign_id: int, person_id: int) -> list[tuple[str, datetime, bool, str]]:
    """The per-person log: (slot, recorded at, sent, reason), oldest first."""
    log = C.reminder_log
    rows = conn.execute(select(log.c.slot, log.c.recorded_at, log.c.sent, log.c.reason)
                        .where(log.c.campaign_id == campaign_id, log.c.person_id == person_id)
                        .order_by(log.c.recorded_at, log.c.id)).all()
    return [(r.slot, r.recorded_at, bool(r.sent), r.reason) for r in rows]
