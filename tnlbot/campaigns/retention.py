"""Retention: what the bot stops keeping, and when (run by the scheduler, at most hourly).

- Delivery ids (`inbound_seen`) and messages already handled (sent, failed or
  uncertain outbox rows) older than `keep_days` (default 210: a campaign of
  about five months plus a margin; a platform redelivers within a day).
- Abandoned empty candidatures: no answer, no colleague, nothing submitted,
  untouched for `empty_days` (default 30) — e.g. only /start. Their
  conversation goes too, and their person when nothing else refers to them.
  A draft of an open campaign waits while a reminder is due to it (its
  `next_action_at` has come or is not computed yet) or while a reminder
  wave holds it (PostgreSQL: the wave locks the rows it reads, retention
  skips locked rows), so the two never cross.
- Drafts of finished campaigns, after the campaign's `draft_retention_days`
  (jury/privacy.py: purge_drafts); the submitted versions stay.
- Attached files no answer, history or submitted version refers to any more.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, and_, delete, exists, not_, or_, select

from ..store import Store
from ..store import campaign_tables as C
from ..store.attachments import forget_unreferenced
from ..store import tables as T
from ..store.campaigns import list_campaigns

KEEP_DAYS = 210
EMPTY_DAYS = 30
BATCH = 500


@dataclass(frozen=True, slots=True)
class Pruned:
    delivery_ids: int = 0
    messages: int = 0
    empty_candidatures: int = 0
    drafts: int = 0
    files: int = 0


def prune(store: Store, now: datetime, keep_days: int = KEEP_DAYS, empty_days: int = EMPTY_DAYS) -> Pruned:
    before = now - timedelta(days=keep_days)
    o, seen = T.outbox, T.inbound_seen
    with store.begin() as conn:
        ids = conn.execute(delete(seen).where(seen.c.seen_at < before)).rowcount
        messages = conn.execute(delete(o).where(o.c.status.in_(("sent", "failed", "uncertain", "superseded")),
                                                o.c.created_at < before)).rowcount
        empty = _empty_candidatures(conn, now - timedelta(days=empty_days), now)
        drafts = _drafts(conn, now)
        files = forget_unreferenced(conn) if empty or drafts else 0
    return Pruned(ids, messages, empty, drafts, files)


def _empty_candidatures(conn: Connection, untouched_since: datetime, now: datetime) -> int:
    k, a, m, s = T.candidatures, T.answers, T.members, T.submissions
    others = select(m.c.person_id).where(m.c.candidature_id == k.c.id, m.c.person_id != k.c.responsible_id)
    g = T.campaigns
    reminding = select(g.c.id).where(g.c.id == k.c.campaign_id, g.c.state == "open", g.c.closes_at > now)
    found = conn.execute(select(k.c.id, k.c.responsible_id).where(
        k.c.status.in_(("draft", "abandoned")), k.c.updated_at < untouched_since,
        not_(exists(select(a.c.key).where(a.c.candidature_id == k.c.id))),
        not_(exists(select(s.c.id).where(s.c.candidature_id == k.c.id))),
        not_(exists(others)),
        # a draft the scheduler has a reminder due for, or has not looked at yet, waits for it
        not_(and_(k.c.status == "draft", or_(k.c.next_action_at.is_(None), k.c.next_action_at <= now),
                  exists(reminding))))
        .limit(BATCH).with_for_update(of=k, skip_locked=True)).all()   # PostgreSQL: one a wave holds too
    for cand, person in found:
        _drop_candidature(conn, cand)
        _drop_person_if_unused(conn, person)
    return len(found)


def _drop_candidature(conn: Connection, cand: int) -> None:
    from ..store import flow_tables as F
    for table, column in ((T.conversations, "candidature_id"), (T.members, "candidature_id"),
                          (T.answer_history, "candidature_id"), (C.invitations, "candidature_id"),
                          (C.reminder_log, "candidature_id"), (C.claims, "candidature_id"),
                          (C.elu_confirmations, "candidature_id"), (C.answer_checks, "candidature_id"),
                          (F.answers_aside, "candidature_id"), (F.draft_migrations, "candidature_id")):
        conn.execute(delete(table).where(table.c[column] == cand))
    conn.execute(delete(T.candidatures).where(T.candidatures.c.id == cand))


def _drop_person_if_unused(conn: Connection, person: int) -> None:
    refs = [(T.members, "person_id"), (T.conversations, "person_id"), (T.candidatures, "responsible_id"),
            (T.answers, "answered_by"), (T.answer_history, "changed_by"), (T.submissions, "submitted_by"),
            (C.invitations, "created_by"), (C.invitations, "used_by"), (C.elu_confirmations, "by_person"),
            (C.reminder_log, "person_id"), (C.reminder_prefs, "person_id")]
    used = or_(*(exists(select(t.c[col]).where(t.c[col] == person)) for t, col in refs))
    if not conn.execute(select(used)).scalar():
        conn.execute(delete(T.accounts).where(T.accounts.c.person_id == person))
        conn.execute(delete(T.people).where(and_(T.people.c.id == person)))


def _drafts(conn: Connection, now: datetime) -> int:
    from ..jury.privacy import purge_drafts
    return sum(purge_drafts(conn, campaign, now) for campaign in list_campaigns(conn)
               if campaign.state == "closed" or campaign.closes_at <= now)
