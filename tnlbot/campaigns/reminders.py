"""The reminder wave of one scheduler tick, for one campaign.

How this file works:
- The database says what may be due: draft candidatures whose members lack
  a record for the latest deadline slot, have been idle long enough, or
  have a snooze that ended (a narrowing only; the pure policy in
  schedule.py decides).
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
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Mapping

from sqlalchemy import Connection, Select, and_, bindparam, exists, or_, select, text, update

from ..core.events import Addressed
from ..core.flow import Flow
from .schedule import (Action, ActionKind, CampaignClock, CandidatureView, MemberView, Sent,
                             due, timeline)
from ..i18n import Catalog
from ..store import Store
from ..store import campaign_tables as C
from ..store import tables as T
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
    """Draft candidatures that may have something due (the policy decides)."""
    slots = timeline(clock)
    due_slots = [s for s in slots if s.due_at <= now]
    idle = clock.plan.inactivity_days
    params = {"cid": clock.id, "now": now, "after": after, "limit": limit,
              "slot": due_slots[-1].slot if due_slots else "", "slot_due": now,
              "idle_since": now - timedelta(days=idle),
              # late joiners' catch-up falls halfway between joining and closing (or later)
              "late_by": now - (clock.closes_at - now)}
    if due_slots:
        params["slot_due"] = due_slots[-1].due_at
    late = bool(slots) and len(due_slots) == len(slots)
    query = _candidates_query(bool(due_slots), idle > 0, late)
    return [int(i) for i in conn.execute(query, params).scalars()]


@lru_cache(maxsize=8)
def _candidates_query(with_slot: bool, with_idle: bool, with_late: bool = False) -> Select:
    """Built once per shape, run with parameters (statement building costs more than SQLite)."""
    k, m, p, log = T.candidatures, T.members, C.reminder_prefs, C.reminder_log
    mine = and_(log.c.candidature_id == k.c.id, log.c.person_id == m.c.person_id)
    conds = []
    if with_slot:
        conds.append(and_(m.c.joined_at <= bindparam("slot_due", type_=UtcType()),
                          ~exists().where(mine, log.c.slot == bindparam("slot"))))
    if with_late:
        conds.append(and_(m.c.joined_at > bindparam("slot_due", type_=UtcType()),
                          m.c.joined_at <= bindparam("late_by", type_=UtcType()),
                          ~exists().where(mine, log.c.slot == bindparam("slot"))))
    if with_idle:
        idle_since = bindparam("idle_since", type_=UtcType())
        conds.append(and_(k.c.updated_at <= idle_since, m.c.joined_at <= idle_since,
                          ~exists().where(mine, log.c.slot.like("idle:%"),
                                          log.c.recorded_at >= k.c.updated_at),
                          ~exists().where(mine, log.c.sent.is_(True), log.c.recorded_at > idle_since)))
    conds.append(and_(p.c.snoozed_until <= bindparam("now", type_=UtcType()), ~exists().where(
        mine, log.c.slot.like("snooze:%"), log.c.due_at == p.c.snoozed_until)))
    return (select(k.c.id).join(m, m.c.candidature_id == k.c.id)
            .join(p, and_(p.c.campaign_id == bindparam("cid"), p.c.person_id == m.c.person_id),
                  isouter=True)
            .where(k.c.campaign_id == bindparam("cid"), k.c.status == "draft",
                   k.c.id > bindparam("after"), m.c.role != "elu", or_(*conds))
            .group_by(k.c.id).order_by(k.c.id).limit(bindparam("limit")))


def load(conn: Connection, campaign_id: int, ids: list[int]) -> tuple[list[CandidatureView], list[Sent]]:
    k, m, p, log = T.candidatures, T.members, C.reminder_prefs, C.reminder_log
    rows = conn.execute(
        select(k.c.id, k.c.status, k.c.updated_at, m.c.person_id, m.c.role, m.c.joined_at,
               p.c.opted_out, p.c.snoozed_until)
        .join(m, m.c.candidature_id == k.c.id)
        .join(p, and_(p.c.campaign_id == campaign_id, p.c.person_id == m.c.person_id), isouter=True)
        .where(k.c.id.in_(ids)).order_by(k.c.id, m.c.person_id)).all()
    grouped: dict[int, tuple[str, datetime, list[MemberView]]] = {}
    for r in rows:
        entry = grouped.setdefault(r.id, (r.status, r.updated_at, []))
        entry[2].append(MemberView(r.person_id, r.joined_at, r.role, bool(r.opted_out),
                                   r.snoozed_until))
    views = [CandidatureView(cid, status, updated, tuple(ms)) for cid, (status, updated, ms) in grouped.items()]
    sent = [Sent(r.candidature_id, r.person_id, r.slot, r.recorded_at, bool(r.sent))
            for r in conn.execute(select(log.c.candidature_id, log.c.person_id, log.c.slot,
                                         log.c.recorded_at, log.c.sent)
                                  .where(log.c.candidature_id.in_(ids))).all()]
    return views, sent


def log_of(conn: Connection, campaign_id: int, person_id: int) -> list[tuple[str, datetime, bool, str]]:
    """The per-person log: (slot, recorded at, sent, reason), oldest first."""
    log = C.reminder_log
    rows = conn.execute(select(log.c.slot, log.c.recorded_at, log.c.sent, log.c.reason)
                        .where(log.c.campaign_id == campaign_id, log.c.person_id == person_id)
                        .order_by(log.c.recorded_at, log.c.id)).all()
    return [(r.slot, r.recorded_at, bool(r.sent), r.reason) for r in rows]
