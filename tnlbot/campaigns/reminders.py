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

from sqlalchemy import Connection, Select, TextClause, bindparam, select, text, update

from ..core.events import Addressed
from ..core.flow import Flow
from .schedule import (Action, ActionKind, CampaignClock, CandidatureView, MemberView, Sent,
                       due, next_due_all)
from ..i18n import Catalog
from ..store import Store
from ..store import campaign_tables as C
from ..store import tables as T
from ..store.instants import from_store
from ..store.tables import UTC as UtcType
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
    (an answer, a member, retention) waits and lands on the instant this batch stores."""
    lock = conn.dialect.name == "postgresql"
    params = {"cid": clock.id, "now": now, "after": after, "limit": limit}
    ids = [int(i) for query in (_due_query(lock, False), _due_query(lock, True))
           for i in conn.execute(query, params).scalars()]
    return sorted(ids)[:limit]


@lru_cache(maxsize=4)
def _due_query(lock: bool, unknown: bool) -> Select:
    """Built once, run with parameters (statement building costs more than SQLite). Two range
    reads of the index, not one with OR: the instants that have come, and those not computed."""
    k = T.candidatures
    when = k.c.next_action_at.is_(None) if unknown else k.c.next_action_at <= bindparam("now", type_=UtcType())
    query = (select(k.c.id)
             .where(k.c.campaign_id == bindparam("cid"), k.c.status == "draft", when,
                    k.c.id > bindparam("after"))
             .order_by(k.c.id).limit(bindparam("limit")))
    return query.with_for_update(of=k) if lock else query


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
    heads, rows = _load_queries()
    params = {"ids": ids, "cid": campaign_id}
    found = {cid: (status, from_store(updated)) for cid, status, updated in conn.execute(heads, params)}
    grouped: dict[int, list[MemberView]] = {}
    for cid, person, role, joined, opted_out, snoozed in conn.execute(rows, params):
        grouped.setdefault(cid, []).append(
            MemberView(person, _at(joined), role, bool(opted_out), from_store(snoozed)))
    views = [CandidatureView(cid, status, updated, tuple(grouped[cid]))
             for cid, (status, updated) in sorted(found.items()) if cid in grouped and updated is not None]
    return views, load_log(conn, ids)


def _at(value: object) -> datetime:
    instant = from_store(value)
    assert instant is not None, "a stored instant that cannot be NULL"
    return instant


# Plain SQL, read without SQLAlchemy's per-value result processing (instants decoded by
# store.instants, as the answer hot path does): a batch's rows are most of a sweep's time.
_HEADS = "SELECT id, status, updated_at FROM candidatures WHERE id IN :ids"
_ROWS = ("SELECT m.candidature_id, m.person_id, m.role, m.joined_at, p.opted_out, p.snoozed_until "
         "FROM members m LEFT OUTER JOIN reminder_prefs p ON p.campaign_id = :cid AND p.person_id = m.person_id "
         "WHERE m.candidature_id IN :ids ORDER BY m.candidature_id, m.person_id")
_LOG = "SELECT candidature_id, person_id, slot, recorded_at, sent FROM reminder_log WHERE candidature_id IN :ids"


@lru_cache(maxsize=1)
def _load_queries() -> tuple[TextClause, TextClause]:
    ids = bindparam("ids", expanding=True)
    return text(_HEADS).bindparams(ids), text(_ROWS).bindparams(ids)


def load_log(conn: Connection, ids: list[int]) -> list[Sent]:
    return [Sent(cid, person, slot, _at(at), bool(sent))
            for cid, person, slot, at, sent in conn.execute(_log_query(), {"ids": ids})]


@lru_cache(maxsize=1)
def _log_query() -> TextClause:
    return text(_LOG).bindparams(bindparam("ids", expanding=True))


def log_of(conn: Connection, campaign_id: int, person_id: int) -> list[tuple[str, datetime, bool, str]]:
    """The per-person log: (slot, recorded at, sent, reason), oldest first."""
    log = C.reminder_log
    rows = conn.execute(select(log.c.slot, log.c.recorded_at, log.c.sent, log.c.reason)
                        .where(log.c.campaign_id == campaign_id, log.c.person_id == person_id)
                        .order_by(log.c.recorded_at, log.c.id)).all()
    return [(r.slot, r.recorded_at, bool(r.sent), r.reason) for r in rows]
