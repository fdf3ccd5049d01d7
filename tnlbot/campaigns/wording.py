"""What a reminder says, written from data read once per batch of candidatures.

In the member's language: the time left in words (Babel), the closing date
in the campaign's zone, what is missing per volet (only the member's volets
when some were assigned to them), who submits, and one-tap actions.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Iterable, Mapping

from babel.dates import format_timedelta
from sqlalchemy import Connection, select

from ..core.events import Addressed, Option, Outgoing, OutKind
from ..core.flow import JSON, Flow
from .schedule import Action
from ..core.walk import missing
from ..i18n import Catalog, local_time
from ..store import tables as T
from ..store.campaigns import Campaign
from .context import Address, Member, locale_of


@dataclass
class Batch:
    """Addresses, bodies, teams and answers of some candidatures (a few queries)."""
    addresses: dict[tuple[int, int], Address] = field(default_factory=dict)
    bodies: dict[int, str] = field(default_factory=dict)
    teams: dict[int, list[Member]] = field(default_factory=dict)
    answers: dict[int, dict[str, JSON]] = field(default_factory=dict)
    _missing: dict[int, dict[str, int]] = field(default_factory=dict)

    def missing_counts(self, flow: Flow, candidature_id: int) -> dict[str, int]:
        if candidature_id not in self._missing:
            counts: dict[str, int] = {}
            for _, slot in missing(flow, self.answers.get(candidature_id, {})):
                counts[slot.volet.id] = counts.get(slot.volet.id, 0) + 1
            self._missing[candidature_id] = counts
        return self._missing[candidature_id]


def load_batch(conn: Connection, ids: Iterable[int]) -> Batch:
    ids = sorted(set(ids))
    batch = Batch()
    if not ids:
        return batch
    c, a, k, o, m, p, ans = (T.conversations, T.accounts, T.candidatures, T.organisations, T.members,
                             T.people, T.answers)
    for r in conn.execute(select(c.c.person_id, c.c.candidature_id, c.c.transport, c.c.chat_id,
                                 c.c.user_id, c.c.state)
                          .join(a, (a.c.transport == c.c.transport) & (a.c.external_id == c.c.user_id))
                          .where(c.c.candidature_id.in_(ids), a.c.reachable.is_(True))
                          .order_by(c.c.updated_at, c.c.id)):
        batch.addresses[(r.person_id, r.candidature_id)] = Address(r.transport, r.chat_id, r.user_id,
                                                                    locale_of(r.state))
    batch.bodies = dict(conn.execute(select(k.c.id, o.c.name).join(o, o.c.id == k.c.organisation_id)
                                     .where(k.c.id.in_(ids))).all())
    for r in conn.execute(select(m.c.candidature_id, m.c.person_id, p.c.display_name, m.c.role,
                                 m.c.volets, m.c.joined_at).join(p, p.c.id == m.c.person_id)
                          .where(m.c.candidature_id.in_(ids)).order_by(m.c.joined_at, m.c.person_id)):
        batch.teams.setdefault(r.candidature_id, []).append(
            Member(r.person_id, r.display_name or "?", r.role, tuple(json.loads(r.volets or "[]")), r.joined_at))
    for cid, key, value in conn.execute(select(ans.c.candidature_id, ans.c.key, ans.c.value)
                                        .where(ans.c.candidature_id.in_(ids))):
        batch.answers.setdefault(cid, {})[key] = json.loads(value)
    return batch


def time_left(delta: timedelta, locale: str) -> str:
    """"12 jours", "2 semaines", "16 heures" (Babel, rounded)."""
    return format_timedelta(max(delta, timedelta(minutes=1)), threshold=2, granularity="minute",
                            locale=locale)


def zone_city(zone: str) -> str:
    return zone.rsplit("/", 1)[-1].replace("_", " ")


def missing_lines(catalog: Catalog, flow: Flow, counts: Mapping[str, int], locale: str,
                  volets: Iterable[str] = ()) -> list[str]:
    """"• Stratégie : 3 réponse(s) obligatoire(s)" per volet (only `volets` if given)."""
    wanted = set(volets)
    titles = flow.text(locale).volets
    return [catalog(locale, "reminder.missing_line", volet=titles[v.id].title, n=str(counts[v.id]))
            for v in flow.volets if v.id in counts and (not wanted or v.id in wanted)]


def reminder(catalog: Catalog, flow: Flow, campaign: Campaign, action: Action, batch: Batch,
             now: datetime) -> Addressed | None:
    """The message of one SEND action, or None when the member cannot be reached."""
    where = batch.addresses.get((action.person_id, action.candidature_id))
    if where is None:
        return None
    locale = where.locale

    def t(key: str, **params: str) -> str:
        return catalog(locale, key, **params)
    name = batch.bodies.get(action.candidature_id) or ""
    params = dict(body=t("reminder.of_body", body=name) if name else "",
                  left=time_left(campaign.closes_at - now, locale), city=zone_city(campaign.timezone),
                  when=local_time(campaign.closes_at, locale, campaign.timezone))
    lines = [t("reminder.idle" if action.reason == "idle" else "reminder.deadline", **params),
             t("reminder.draft")]
    team = batch.teams.get(action.candidature_id, [])
    me = next((mb for mb in team if mb.person_id == action.person_id), None)
    volets = me.volets if me is not None else ()
    lacking = missing_lines(catalog, flow, batch.missing_counts(flow, action.candidature_id), locale, volets)
    if lacking:
        lines.append(t("reminder.missing_yours" if volets else "reminder.missing"))
        lines += lacking
    responsible = next((mb.name for mb in team if mb.role == "responsible"), "?")
    lines.append(t("reminder.you_submit") if me is not None and me.role == "responsible"
                 else t("reminder.they_submit", name=responsible))
    actions = (Option("/reprendre", t("reminder.action.resume")),
               Option("/rappel demain", t("reminder.action.tomorrow")),
               Option("/rappel stop", t("reminder.action.stop")))
    key = f"remind:{action.candidature_id}:{action.person_id}:{action.slot}"
    return Addressed(where.transport, where.chat_id, Outgoing(OutKind.NOTICE, "\n".join(lines), actions=actions),
                     where.user_id, key, locale=locale)
