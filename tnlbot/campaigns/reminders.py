"""The reminder wave of one scheduler tick, for one campaign.

How this file works:
- The database says what may be due: draft candidatures whose members lack
  a record for the latest deadline slot, have been idle long enough, or
  have a snooze that ended (a narrowing only; the pure policy in
  core/schedule.py decides).
- Each batch of candidatures is one transaction: (PostgreSQL) take the
  campaign's advisory transaction lock or leave it to the worker that holds
  it; load members, preferences and the log; ask the policy; for each
  action INSERT the log row under its unique key (candidature, person,
  slot) ON CONFLICT DO NOTHING and, only if inserted, enqueue the message
  with a dedup key (unique in the outbox). Record and message commit
  together: a crash, a restart, two ticks or two workers never send twice.
- The message is written when it is recorded: in the member's language, in
  the chat where they answer, with what is missing per volet (their volets
  if they were assigned some), the time left in words and the closing date
  in the campaign's zone, and one-tap actions.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable, Mapping

from babel.dates import format_timedelta
from sqlalchemy import Connection, and_, exists, or_, select, text, update

from ..core.events import Addressed, Option, Outgoing, OutKind
from ..core.flow import JSON, Flow
from ..core.schedule import (Action, ActionKind, CampaignClock, CandidatureView, MemberView, Sent,
                             due, timeline)
from ..core.walk import missing
from ..i18n import Catalog, local_time
from ..store import Store
from ..store import campaign_tables as C
from ..store import tables as T
from ..store.campaigns import Campaign
from .config import clock_of
from .context import address_of, insert_or_skip, members, organisation, person_name

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
        answers: dict[int, dict[str, JSON]] = {}
        for action in actions:
            if action.kind is ActionKind.SEND:
                if action.candidature_id not in answers:
                    answers[action.candidature_id] = self.store.answers(conn, action.candidature_id)
                message = self.render(conn, campaign, action, answers[action.candidature_id], now)
            else:
                message = None
            if record(conn, self.store, campaign.id, action, message, now):
                report.sent += 1
            else:
                report.skipped += 1

    def render(self, conn: Connection, campaign: Campaign, action: Action,
               answers: Mapping[str, JSON], now: datetime) -> Addressed | None:
        where = address_of(conn, action.person_id, action.candidature_id)
        if where is None:
            return None
        text_ = reminder_text(conn, self.catalog, self.flows[campaign.flow_id], campaign, action,
                              answers, where.locale, now)
        t = self.catalog
        actions = (Option("/reprendre", t(where.locale, "reminder.action.resume")),
                   Option("/rappel demain", t(where.locale, "reminder.action.tomorrow")),
                   Option("/rappel stop", t(where.locale, "reminder.action.stop")))
        key = f"remind:{action.candidature_id}:{action.person_id}:{action.slot}"
        return Addressed(where.transport, where.chat_id, Outgoing(OutKind.NOTICE, text_, actions=actions),
                         where.user_id, key)


def record(conn: Connection, store: Store, campaign_id: int, action: Action,
           message: Addressed | None, now: datetime) -> bool:
    """Log the action under its unique key; enqueue its message. True if sent."""
    send = action.kind is ActionKind.SEND and message is not None
    reason = action.reason if message is not None or action.kind is ActionKind.SKIP else "unreachable"
    log = C.reminder_log
    row = conn.execute(insert_or_skip(conn, log).values(
        campaign_id=campaign_id, candidature_id=action.candidature_id, person_id=action.person_id,
        slot=action.slot, sent=send, reason=reason, due_at=action.due_at, recorded_at=now)
        .on_conflict_do_nothing().returning(log.c.id)).first()
    if row is None or not send:
        return False
    assert message is not None
    ids = store.enqueue(conn, [message], now)
    if ids:
        conn.execute(update(log).where(log.c.id == row[0]).values(outbox_id=ids[0]))
    return True


# ------------------------------------------------------------------ loading

def candidates(conn: Connection, clock: CampaignClock, now: datetime, after: int,
               limit: int) -> list[int]:
    """Draft candidatures that may have something due (the policy decides)."""
    k, m, p, log = T.candidatures, T.members, C.reminder_prefs, C.reminder_log
    mine = and_(log.c.candidature_id == k.c.id, log.c.person_id == m.c.person_id)
    due_slots = [s for s in timeline(clock) if s.due_at <= now]
    conds = []
    if due_slots:
        latest = due_slots[-1]
        conds.append(and_(m.c.joined_at <= latest.due_at,
                          ~exists().where(mine, log.c.slot == latest.slot)))
    if clock.plan.inactivity_days > 0:
        idle_since = now - timedelta(days=clock.plan.inactivity_days)
        conds.append(and_(k.c.updated_at <= idle_since, m.c.joined_at <= idle_since,
                          ~exists().where(mine, log.c.slot.like("idle:%"),
                                          log.c.recorded_at >= k.c.updated_at),
                          ~exists().where(mine, log.c.sent.is_(True), log.c.recorded_at > idle_since)))
    conds.append(and_(p.c.snoozed_until <= now, ~exists().where(
        mine, log.c.slot.like("snooze:%"), log.c.due_at == p.c.snoozed_until)))
    query = (select(k.c.id).join(m, m.c.candidature_id == k.c.id)
             .join(p, and_(p.c.campaign_id == clock.id, p.c.person_id == m.c.person_id), isouter=True)
             .where(k.c.campaign_id == clock.id, k.c.status == "draft", k.c.id > after,
                    m.c.role != "elu", or_(*conds))
             .group_by(k.c.id).order_by(k.c.id).limit(limit))
    return [int(i) for i in conn.execute(query).scalars()]


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


# ------------------------------------------------------------------ wording

def time_left(delta: timedelta, locale: str) -> str:
    """"12 jours", "2 semaines", "16 heures" (Babel, rounded)."""
    return format_timedelta(max(delta, timedelta(minutes=1)), threshold=2, granularity="minute",
                            locale=locale)


def zone_city(zone: str) -> str:
    return zone.rsplit("/", 1)[-1].replace("_", " ")


def missing_lines(catalog: Catalog, flow: Flow, answers: Mapping[str, JSON], locale: str,
                  volets: Iterable[str] = ()) -> list[str]:
    """"• Stratégie : 3 réponse(s) obligatoire(s)" per volet (only `volets` if given)."""
    counts: dict[str, int] = {}
    for _, slot in missing(flow, answers):
        counts[slot.volet.id] = counts.get(slot.volet.id, 0) + 1
    wanted = set(volets)
    titles = flow.text(locale).volets
    return [catalog(locale, "reminder.missing_line", volet=titles[v.id].title, n=str(counts[v.id]))
            for v in flow.volets if v.id in counts and (not wanted or v.id in wanted)]


def reminder_text(conn: Connection, catalog: Catalog, flow: Flow, campaign: Campaign, action: Action,
                  answers: Mapping[str, JSON], locale: str, now: datetime) -> str:
    def t(key: str, **params: str) -> str:
        return catalog(locale, key, **params)
    org = organisation(conn, action.candidature_id)
    body = t("reminder.of_body", body=org.name) if org is not None and org.name else ""
    when = local_time(campaign.closes_at, locale, campaign.timezone)
    left = time_left(campaign.closes_at - now, locale)
    city = zone_city(campaign.timezone)
    if action.reason == "idle":
        lines = [t("reminder.idle", body=body, left=left, when=when, city=city)]
    else:
        lines = [t("reminder.deadline", body=body, left=left, when=when, city=city)]
    lines.append(t("reminder.draft"))
    team = {mb.person_id: mb for mb in members(conn, action.candidature_id)}
    me = team.get(action.person_id)
    volets = me.volets if me is not None else ()
    lacking = missing_lines(catalog, flow, answers, locale, volets)
    if lacking:
        lines.append(t("reminder.missing_yours" if volets else "reminder.missing"))
        lines += lacking
    responsible = next((p for p, mb in team.items() if mb.role == "responsible"), None)
    if me is not None and me.role == "responsible":
        lines.append(t("reminder.you_submit"))
    else:
        lines.append(t("reminder.they_submit", name=person_name(conn, responsible)))
    return "\n".join(lines)


def log_of(conn: Connection, campaign_id: int, person_id: int) -> list[tuple[str, datetime, bool, str]]:
    """The per-person log: (slot, recorded at, sent, reason), oldest first."""
    log = C.reminder_log
    rows = conn.execute(select(log.c.slot, log.c.recorded_at, log.c.sent, log.c.reason)
                        .where(log.c.campaign_id == campaign_id, log.c.person_id == person_id)
                        .order_by(log.c.recorded_at, log.c.id)).all()
    return [(r.slot, r.recorded_at, bool(r.sent), r.reason) for r in rows]
