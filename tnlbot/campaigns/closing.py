"""Opening and closing a campaign, and the jury's notice.

How this file works:
- Opening is a state change (scheduled -> open) at the opening instant.
- Closing is ONE transaction that starts with the state change
  `UPDATE campaigns SET state='closed' WHERE id=? AND state<>'closed'`: only
  one worker gets the row (PostgreSQL waits on the row lock, then finds it
  closed); the `closings` row (primary key: the campaign) is the last guard.
  The winner, in the same transaction, freezes the drafts, tells every
  member once (outbox dedup keys), and queues exactly one notice per jury
  destination with the counts and the export files (the jury store's
  `closing_attachments` when it is installed, else a minimal JSON).
- The instant of the commit decides: answers are refused from the closing
  instant on, whether or not the closing transaction has run yet.
"""
from __future__ import annotations

import base64
import json
import logging
import os
import socket
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Mapping

from sqlalchemy import Connection, Row, select, update

from ..core.events import Addressed, Outgoing, OutKind
from ..core.flow import Flow
from ..i18n import Catalog, local_time
from ..store import Store
from ..store import campaign_tables as C
from ..store import tables as T
from ..store.campaigns import Campaign
from ..store.store import dumps
from .changes import reopenings
from .config import Destination, lenient
from .context import insert_or_skip, load_campaign, locale_of

log = logging.getLogger(__name__)
File = tuple[str, str, bytes]


@dataclass
class ClosingReport:
    campaign_id: int
    counts: dict = field(default_factory=dict)
    files: list[tuple[str, int]] = field(default_factory=list)
    notices: int = 0


class AlreadyClosed(Exception):
    pass


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:64]


@dataclass(frozen=True)
class Closer:
    store: Store
    flows: Mapping[str, Flow]
    catalog: Catalog

    def open_due(self, now: datetime) -> list[int]:
        g = T.campaigns
        with self.store.begin() as conn:
            rows = conn.execute(update(g).where(g.c.state == "scheduled", g.c.opens_at <= now,
                                                g.c.closes_at > now)
                                .values(state="open").returning(g.c.id)).all()
        return [r[0] for r in rows]

    def close_due(self, now: datetime) -> list[ClosingReport]:
        g = T.campaigns
        with self.store.begin() as conn:
            ids = list(conn.execute(select(g.c.id).where(g.c.state != "closed", g.c.closes_at <= now)
                                    .order_by(g.c.id)).scalars())
        return [r for r in (self.close(i, now) for i in ids) if r is not None]

    def close(self, campaign_id: int, now: datetime, *, early: bool = False) -> ClosingReport | None:
        """Close once; None when another worker (or an earlier run) did."""
        try:
            with self.store.begin() as conn:
                return self._close(conn, campaign_id, now, early)
        except AlreadyClosed:
            return None

    def _close(self, conn: Connection, campaign_id: int, now: datetime, early: bool) -> ClosingReport:
        g = T.campaigns
        guard = g.c.closes_at <= now if not early else g.c.id == campaign_id
        values: dict = {"state": "closed", "closed_at": now}
        if early:
            values["closes_at"] = now
        won = conn.execute(update(g).where(g.c.id == campaign_id, g.c.state != "closed", guard)
                           .values(**values).returning(g.c.id)).first()
        if won is None:
            raise AlreadyClosed
        row = conn.execute(insert_or_skip(conn, C.closings).values(
            campaign_id=campaign_id, closed_at=now, worker=worker_name(), summary="{}")
            .on_conflict_do_nothing().returning(C.closings.c.campaign_id)).first()
        if row is None:
            raise AlreadyClosed
        campaign = load_campaign(conn, campaign_id)
        k = T.candidatures
        frozen = list(conn.execute(update(k).where(k.c.campaign_id == campaign_id, k.c.status == "draft")
                                   .values(status="frozen", updated_at=now).returning(k.c.id)).scalars())
        report = ClosingReport(campaign_id)
        round_ = reopenings(conn, campaign_id)       # a reopened campaign's closing tells everyone again
        suffix = f":r{round_}" if round_ else ""
        notices = [replace(n, dedup_key=n.dedup_key + suffix) for n in self._tell_members(conn, campaign, now)]
        report.counts = counts(conn, campaign, self.flows[campaign.flow_id])
        report.counts["frozen_now"] = len(frozen)
        files = self._attachments(conn, campaign, report.counts)
        report.files = [(name, len(data)) for name, _, data in files]
        notices += [replace(n, dedup_key=n.dedup_key + suffix)
                    for n in self._tell_jury(campaign, report, files, now)]
        report.notices = len(self.store.enqueue_many(conn, notices, now))
        conn.execute(update(C.closings).where(C.closings.c.campaign_id == campaign_id).values(
            summary=dumps({"counts": report.counts, "files": report.files, "notices": report.notices})))
        return report

    # -------------------------------------------------------------- members
    def _tell_members(self, conn: Connection, campaign: Campaign, now: datetime) -> list[Addressed]:
        k, m, o = T.candidatures, T.members, T.organisations
        rows = conn.execute(
            select(k.c.id, k.c.status, k.c.version, k.c.submitted_at, k.c.amended, m.c.person_id, o.c.name)
            .join(m, m.c.candidature_id == k.c.id)
            .join(o, o.c.id == k.c.organisation_id, isouter=True)
            .where(k.c.campaign_id == campaign.id, k.c.status.in_(("frozen", "submitted")))).all()
        where = addresses(conn, campaign.id)
        out = []
        for r in rows:
            address = where.get((r.person_id, r.id))
            if address is None:
                continue
            transport, chat_id, user_id, locale = address
            text = self._member_text(campaign, r, locale)
            out.append(Addressed(transport, chat_id, Outgoing(OutKind.NOTICE, text), user_id,
                                 f"closed:{campaign.id}:{r.id}:{r.person_id}", locale=locale))
        return out

    def _member_text(self, campaign: Campaign, r: Row[Any], locale: str) -> str:
        t = self.catalog
        when = local_time(campaign.closes_at, locale, campaign.timezone)
        body = t(locale, "reminder.of_body", body=r.name) if r.name else ""
        if r.status == "frozen":
            return t(locale, "closing.frozen", when=when, body=body)
        submitted = local_time(r.submitted_at, locale, campaign.timezone) if r.submitted_at else ""
        text = t(locale, "closing.submitted", when=when, body=body, version=str(r.version),
                 submitted=submitted)
        return text + ("\n" + t(locale, "closing.amended", version=str(r.version)) if r.amended else "")

    # -------------------------------------------------------------- jury
    def _attachments(self, conn: Connection, campaign: Campaign, summary: dict) -> list[File]:
        try:
            from ..jury.exports import closing_attachments
        except ImportError:
            return [minimal_export(conn, campaign, summary)]
        try:
            with conn.begin_nested():
                return list(closing_attachments(conn, campaign.id, self.flows, self.catalog))
        except Exception:  # logged; the jury notice must still go out, once
            log.exception("jury exports failed for campaign %s; attaching the minimal JSON", campaign.id)
            return [minimal_export(conn, campaign, summary)]

    def _tell_jury(self, campaign: Campaign, report: ClosingReport, files: list[File],
                   now: datetime) -> list[Addressed]:
        out: list[Addressed] = []
        for dest in lenient(campaign.config).jury:
            text = self._jury_text(campaign, report, dest)
            key = f"jury:{campaign.id}:{dest.key}"
            out.append(Addressed(dest.transport, dest.chat_id, Outgoing(OutKind.NOTICE, text), "",
                                 key[:255]))
            for name, mime, data in files:
                item = Outgoing(OutKind.DOCUMENT, name, filename=name, mime=mime,
                                data=base64.b64encode(data).decode("ascii"))
                out.append(Addressed(dest.transport, dest.chat_id, item, "", f"{key}:{name}"[:255]))
        return out

    def _jury_text(self, campaign: Campaign, report: ClosingReport, dest: Destination) -> str:
        t, locale, c = self.catalog, dest.locale, report.counts
        flow = self.flows[campaign.flow_id]
        types = flow.text(locale).questions.get("type_collectivite")
        labels = types.choices if types is not None else {}
        lines = [t(locale, "closing.jury", title=flow.text(locale).title, slug=campaign.slug,
                   when=local_time(campaign.closes_at, locale, campaign.timezone),
                   submitted=str(c["submitted"]), drafts=str(c["drafts"]), amended=str(c["amended"]))]
        for kind, per in sorted(c["by_type"].items()):
            lines.append(t(locale, "closing.jury_type", type=labels.get(kind, kind or "?"),
                           submitted=str(per["submitted"]), drafts=str(per["drafts"])))
        names = ", ".join(t(locale, "closing.jury_file", name=n, kb=str(s // 1024 + 1)) for n, s in report.files)
        lines.append(t(locale, "closing.jury_files", files=names or "-"))
        return "\n".join(lines)


def addresses(conn: Connection, campaign_id: int) -> dict[tuple[int, int], tuple[str, str, str, str]]:
    """(person, candidature) -> the latest reachable conversation, for a whole campaign."""
    c, a, k = T.conversations, T.accounts, T.candidatures
    rows = conn.execute(
        select(c.c.person_id, c.c.candidature_id, c.c.transport, c.c.chat_id, c.c.user_id, c.c.state)
        .join(k, k.c.id == c.c.candidature_id)
        .join(a, (a.c.transport == c.c.transport) & (a.c.external_id == c.c.user_id))
        .where(k.c.campaign_id == campaign_id, a.c.reachable.is_(True))
        .order_by(c.c.updated_at, c.c.id)).all()
    return {(r.person_id, r.candidature_id): (r.transport, r.chat_id, r.user_id, locale_of(r.state))
            for r in rows}


def counts(conn: Connection, campaign: Campaign, flow: Flow) -> dict:
    """Submitted, drafts left, changes not submitted, per type of body."""
    k, a = T.candidatures, T.answers
    kinds = dict(conn.execute(select(a.c.candidature_id, a.c.value).join(k, k.c.id == a.c.candidature_id)
                              .where(k.c.campaign_id == campaign.id, a.c.key == "type_collectivite")).all())
    out = {"submitted": 0, "drafts": 0, "amended": 0, "by_type": {}}
    for cid, status, amended in conn.execute(select(k.c.id, k.c.status, k.c.amended).where(
            k.c.campaign_id == campaign.id, k.c.status.in_(("submitted", "frozen")))).all():
        kind = json.loads(kinds[cid]) if cid in kinds else ""
        per = out["by_type"].setdefault(str(kind), {"submitted": 0, "drafts": 0})
        column = "submitted" if status == "submitted" else "drafts"
        out[column] += 1
        per[column] += 1
        out["amended"] += int(bool(amended) and status == "submitted")
    return out


def minimal_export(conn: Connection, campaign: Campaign, summary: dict) -> File:
    """The last submitted version of each candidature, as JSON."""
    k, s, o = T.candidatures, T.submissions, T.organisations
    rows = conn.execute(
        select(k.c.id, o.c.siren, o.c.name, o.c.kind, o.c.departement, s.c.version, s.c.submitted_at,
               s.c.sha256, s.c.snapshot)
        .join(s, s.c.candidature_id == k.c.id).join(o, o.c.id == k.c.organisation_id, isouter=True)
        .where(k.c.campaign_id == campaign.id, s.c.submitted_at <= campaign.closes_at)
        .order_by(k.c.id, s.c.version)).all()
    last = {r.id: r for r in rows}
    doc = {"format": "tnlbot-closing/1", "campaign": {
        "slug": campaign.slug, "year": campaign.year, "track": campaign.track, "flow": campaign.flow_id,
        "closes_at": campaign.closes_at.isoformat()}, "counts": summary,
        "candidatures": [{"candidature": r.id, "siren": r.siren, "name": r.name, "type": r.kind,
                          "departement": r.departement, "version": r.version,
                          "submitted_at": r.submitted_at.isoformat(), "sha256": r.sha256,
                          "answers": json.loads(r.snapshot).get("answers", {})}
                         for r in last.values()]}
    data = json.dumps(doc, ensure_ascii=False, indent=1).encode("utf-8")
    return (f"candidatures-{campaign.slug}.json", "application/json", data)
