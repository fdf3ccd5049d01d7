"""Marks that the scheduler must read candidatures again at its next tick.

`candidatures.next_action_at` is when a candidature may next need a reminder
(campaigns/schedule.py: next_due). What can make that sooner than stored,
other than time, clears it to NULL, which the scheduler reads as "now":
a member joining or changing role, a person's snooze or opt-out, and any
change to the campaign (dates, reminder plan, reopening). Answers do not
need it (see next_due). One UPDATE, in the transaction of the change.
"""
from __future__ import annotations

from typing import Iterable

from sqlalchemy import Connection, select, update

from ..store import tables as T


def candidatures(conn: Connection, ids: Iterable[int]) -> None:
    k = T.candidatures
    wanted = sorted(set(ids))
    if wanted:
        conn.execute(update(k).where(k.c.id.in_(wanted)).values(next_action_at=None))


def person(conn: Connection, campaign_id: int, person_id: int) -> None:
    """Every candidature of `person_id` in the campaign (their reminder preferences changed)."""
    k, m = T.candidatures, T.members
    conn.execute(update(k).where(k.c.campaign_id == campaign_id, k.c.id.in_(
        select(m.c.candidature_id).where(m.c.person_id == person_id))).values(next_action_at=None))


def campaign(conn: Connection, campaign_id: int) -> None:
    """Every draft of the campaign (its dates or reminder plan changed, or it reopened)."""
    k = T.candidatures
    conn.execute(update(k).where(k.c.campaign_id == campaign_id, k.c.status == "draft")
                 .values(next_action_at=None))
