"""Where every body stands: the numbers of `tnlbot campaign report`, read from the store.

`gather(conn, campaign, flow, now, idle_days, volet_title)` returns a frozen
`Report`: the bodies by status (draft, submitted, amended since their last
submission and not submitted again, frozen at the closing), each body's
progress overall and per volet (the working answers, as the bot counts them
for `/statut`), how long since its last change, where a quiet draft is stuck
(its first unfinished volet), the reminders sent and skipped, and the days
left. report_page.py turns it into the HTML page and the PNG.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Iterable

from sqlalchemy import Connection, Row, func, select

from ..core.flow import JSON, Flow
from ..jury.rules import NAME_KEY, completeness
from ..store import campaign_tables as C
from ..store import tables as T
from ..store.campaigns import Campaign

STATUSES = ("draft", "submitted", "amended", "frozen")
Progress = tuple[int, int] | None        # (answered, applicable), None: volet "not concerned"


@dataclass(frozen=True, slots=True)
class Body:
    candidature_id: int
    name: str
    status: str                           # one of STATUSES
    version: int
    done: int
    total: int
    volets: tuple[Progress, ...]          # in the flow's order
    last_change: datetime
    idle_days: int
    members: int
    reminders_sent: int
    stuck_at: str                         # title of the first unfinished volet ("" if none)

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 100


@dataclass(frozen=True, slots=True)
class Report:
    slug: str
    state: str
    opens_at: datetime
    closes_at: datetime
    now: datetime
    timezone: str
    volet_titles: tuple[str, ...]
    bodies: tuple[Body, ...]
    reminders: tuple[tuple[str, int, int], ...]   # (slot, sent, skipped)
    idle_after: int                               # days without a change that make a draft quiet

    @property
    def days_left(self) -> int:
        if self.state == "closed" or self.now >= self.closes_at:
            return 0
        return math.ceil((self.closes_at - self.now).total_seconds() / 86400)

    def count(self, status: str) -> int:
        return sum(1 for b in self.bodies if b.status == status)

    @property
    def started(self) -> int:
        return len(self.bodies)

    @property
    def idle(self) -> tuple[Body, ...]:
        return tuple(b for b in self.bodies if b.status == "draft" and b.idle_days >= self.idle_after)

    def volet_percent(self, index: int) -> int | None:
        """Answered share of a volet over the bodies concerned by it (None: nobody is)."""
        pairs = [b.volets[index] for b in self.bodies if b.volets[index] is not None]
        total = sum(p[1] for p in pairs if p)
        return round(100 * sum(p[0] for p in pairs if p) / total) if total else None

    @property
    def reminders_sent(self) -> int:
        return sum(sent for _, sent, _ in self.reminders)


def gather(conn: Connection, campaign: Campaign, flow: Flow, now: datetime, idle_days: int,
           volet_title: Callable[[str], str]) -> Report:
    k, o, m = T.candidatures, T.organisations, T.members
    rows = conn.execute(select(k.c.id, k.c.status, k.c.amended, k.c.version, k.c.updated_at, o.c.name)
                        .join(o, o.c.id == k.c.organisation_id, isouter=True)
                        .where(k.c.campaign_id == campaign.id).order_by(k.c.id)).all()
    ids = [r.id for r in rows]
    answers = _answers(conn, ids)
    members: dict[int, int] = dict(conn.execute(select(m.c.candidature_id, func.count()).where(m.c.candidature_id.in_(ids))
                                .group_by(m.c.candidature_id)).all()) if ids else {}
    log = C.reminder_log
    sent: dict[int, int] = dict(conn.execute(select(log.c.candidature_id, func.count()).where(
        log.c.campaign_id == campaign.id, log.c.sent.is_(True)).group_by(log.c.candidature_id)).all())
    by_slot = conn.execute(select(log.c.slot, log.c.sent, func.count()).where(log.c.campaign_id == campaign.id)
                           .group_by(log.c.slot, log.c.sent)).all()
    titles = tuple(volet_title(v.id) for v in flow.volets)
    bodies = tuple(_body(r, flow, answers.get(r.id, {}), titles, now, members.get(r.id, 0), sent.get(r.id, 0))
                   for r in rows)
    return Report(campaign.slug, campaign.state, campaign.opens_at, campaign.closes_at, now,
                  campaign.timezone, titles, bodies, _slots(by_slot), idle_days)


def _answers(conn: Connection, ids: list[int]) -> dict[int, dict]:
    a = T.answers
    out: dict[int, dict] = {}
    if ids:
        for cid, key, value in conn.execute(select(a.c.candidature_id, a.c.key, a.c.value)
                                            .where(a.c.candidature_id.in_(ids))):
            out.setdefault(cid, {})[key] = json.loads(value)
    return out


def _body(row: Row[Any], flow: Flow, answers: dict[str, JSON], titles: tuple[str, ...], now: datetime,
          members: int, reminders: int) -> Body:
    progress = completeness(flow, answers)
    volets = tuple(progress.get(v.id, (0, 0)) for v in flow.volets)
    done = sum(p[0] for p in volets if p)
    total = sum(p[1] for p in volets if p)
    stuck = next((titles[i] for i, p in enumerate(volets) if p is not None and p[0] < p[1]), "")
    status = "amended" if row.status == "submitted" and row.amended else row.status
    name = row.name or str(answers.get(NAME_KEY) or "") or f"N°{row.id}"
    idle = max(0, int((now - row.updated_at).total_seconds() // 86400))
    return Body(row.id, name, status, row.version, done, total, volets, row.updated_at, idle, members,
                reminders, stuck)


def _slots(rows: Iterable[Row[Any]]) -> tuple[tuple[str, int, int], ...]:
    found: dict[str, list[int]] = {}
    for slot, was_sent, n in rows:
        kind = slot.split(":", 1)[0]                 # idle:<instant> and snooze:<instant> grouped
        found.setdefault(kind, [0, 0])[0 if was_sent else 1] += n
    return tuple((slot, sent, skipped) for slot, (sent, skipped) in sorted(found.items()))


def for_campaign(conn: Connection, campaign: Campaign, flow: Flow, now: datetime, locale: str,
                 idle_days: int | None = None) -> Report:
    """The report with the campaign's own inactivity period (7 days if it has none)."""
    from ..jury.rules import volet_title
    from .config import lenient
    idle = idle_days if idle_days is not None else (lenient(campaign.config).plan.inactivity_days or 7)
    return gather(conn, campaign, flow, now, idle, lambda v: volet_title(flow, v, locale))
