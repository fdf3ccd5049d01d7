"""The jury's chat commands (/jury ...), for registered jury members only.

Every handler gets a `Ask` (the transaction, the event, the juror's
campaigns, the locale) and returns the messages to send. A candidature is
shown only to a juror of its campaign; one outside it gets the same answer as
for a number that does not exist. The jury reads the last version submitted
before the closing, never a draft; assessments are shown to jurors only, and
everyone's side by side once the campaign is over.
"""
from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Mapping

from sqlalchemy import Connection

from ..core.answers import ascii_number, fold
from ..core.events import Inbound, Option, Outgoing, OutKind
from ..core.flow import Flow
from .rules import (NAME_KEY, Entry, Meta, Snapshot, completeness, diff, intact, key_label,
                         key_order, show, volet_of, volet_title)
from ..i18n import Catalog, local_time
from ..store.campaigns import Campaign
from . import queries as Q
from .exports import FORMATS, dossier_files, entry_for, exports, read_snapshot

MENTIONS = ("premiere_candidature", "mutualisation", "promotion", "sobriete")
MAX_COMMENT = 2000


@dataclass
class Ask:
    conn: Connection
    inbound: Inbound
    now: datetime
    locale: str
    t: Catalog
    flows: Mapping[str, Flow]
    campaigns: list[Campaign]

    def tr(self, key: str, **params: str) -> str:
        return self.t(self.locale, key, **params)

    def say(self, key: str, **params: str) -> list[Outgoing]:
        return [Outgoing(OutKind.NOTICE, self.tr(key, **params))]

    @property
    def assessor(self) -> str:
        return f"{self.inbound.transport}:{self.inbound.user_id}"


Handler = Callable[[Ask, list[str], str], list[Outgoing]]


def document(name: str, mime: str, data: bytes, caption: str = "") -> Outgoing:
    return Outgoing(OutKind.DOCUMENT, caption, filename=name, mime=mime,
                    data=base64.b64encode(data).decode("ascii"))


# ---------------------------------------------------------------- lookups

def _campaign(ask: Ask, tokens: list[str]) -> Campaign | list[Outgoing]:
    slugs = {c.slug: c for c in ask.campaigns}
    for token in tokens:
        if token in slugs:
            return slugs[token]
    named = [t for t in tokens if not ascii_number(t) and t not in FORMATS and t not in ("tout", "all")]
    if named:
        return ask.say("jury.list.campaign_unknown", slug=named[0][:64], slugs=", ".join(slugs))
    return ask.campaigns[0]


def _candidature(ask: Ask, token: str) -> tuple[Campaign, int] | list[Outgoing]:
    if not ascii_number(token) or len(token) > 12:
        return ask.say("jury.bad_number")
    campaign_id = Q.candidature_campaign(ask.conn, int(token))
    found = next((c for c in ask.campaigns if c.id == campaign_id), None)
    if found is None:
        return ask.say("jury.unknown_candidature", id=token)
    return found, int(token)


def _entry(ask: Ask, campaign: Campaign, candidature_id: int) -> Entry | list[Outgoing]:
    versions = Q.submissions(ask.conn, candidature_id, Q.deadline(campaign))
    status = next((c.status for c in Q.candidatures(ask.conn, campaign.id) if c.id == candidature_id), "")
    entry = entry_for(ask.conn, campaign, status, versions, ask.locale)
    return entry if entry is not None else ask.say("jury.not_submitted", id=str(candidature_id))


def _lookup(ask: Ask, tokens: list[str]) -> tuple[Campaign, Flow, Entry] | list[Outgoing]:
    found = _candidature(ask, tokens[0] if tokens else "")
    if isinstance(found, list):
        return found
    campaign, candidature_id = found
    entry = _entry(ask, campaign, candidature_id)
    return entry if isinstance(entry, list) else (campaign, ask.flows[campaign.flow_id], entry)


def _volet(flow: Flow, token: str) -> str:
    if ascii_number(token) and 1 <= int(token) <= len(flow.volets):
        return flow.volets[int(token) - 1].id
    return next((v.id for v in flow.volets if fold(v.id) == fold(token)), "")


# ---------------------------------------------------------------- commands

def help_(ask: Ask, tokens: list[str], rest: str) -> list[Outgoing]:
    return ask.say("jury.help", campaigns=", ".join(c.slug for c in ask.campaigns))


def list_(ask: Ask, tokens: list[str], rest: str) -> list[Outgoing]:
    campaign = _campaign(ask, tokens)
    if isinstance(campaign, list):
        return campaign
    flow = ask.flows[campaign.flow_id]
    submitted = Q.campaign_submissions(ask.conn, campaign)
    rows = [r for r in Q.candidatures(ask.conn, campaign.id) if submitted.get(r.id)]   # drafts: not the jury's
    if not rows:
        return ask.say("jury.list.empty", campaign=campaign.slug)
    lines = [ask.tr("jury.list.title", campaign=campaign.slug, n=str(len(rows)))]
    for row in rows:
        snapshot = read_snapshot(submitted[row.id][-1].snapshot)
        answers = snapshot.answers if snapshot else {}
        done = [c for c in completeness(flow, answers).values() if c]
        params = dict(id=str(row.id), name=str(answers.get(NAME_KEY) or "?"), done=str(sum(d for d, _ in done)),
                      total=str(sum(t for _, t in done)))
        lines.append(ask.tr("jury.list.line", status=ask.tr(f"jury.status.{row.status}"),
                            version=str(snapshot.version if snapshot else "?"), **params))
    lines.append(ask.tr("jury.list.hint"))
    return [Outgoing(OutKind.NOTICE, "\n".join(lines))]


def show_(ask: Ask, tokens: list[str], rest: str) -> list[Outgoing]:
    found = _lookup(ask, tokens)
    if isinstance(found, list):
        return found
    campaign, flow, entry = found
    if len(tokens) > 1:
        volet = _volet(flow, tokens[1])
        if not volet:
            return ask.say("jury.unknown_volet", max=str(len(flow.volets)))
        return [Outgoing(OutKind.NOTICE, _volet_text(ask, flow, entry, volet))]
    s = entry.snapshot
    lines = [ask.tr("jury.show.header", id=str(entry.candidature), name=entry.name, version=str(s.version),
                    when=entry.submitted_local, sha=entry.sha256)]
    if not entry.intact:
        lines.append(ask.tr("jury.show.integrity_failed"))
    done = completeness(flow, s.answers)
    for number, volet in enumerate(flow.volets, 1):
        title = volet_title(flow, volet.id, ask.locale)
        counts = done.get(volet.id, (0, 0))
        lines.append(ask.tr("jury.show.volet_not_concerned", n=str(number), title=title) if counts is None
                     else ask.tr("jury.show.volet_line", n=str(number), title=title,
                                 done=str(counts[0]), total=str(counts[1])))
    lines.append(ask.tr("jury.show.pick", id=str(entry.candidature)))
    actions = tuple(Option(f"/jury voir {entry.candidature} {n}", str(n)) for n in range(1, len(flow.volets) + 1))
    return [Outgoing(OutKind.NOTICE, "\n".join(lines), actions=actions)]


def _volet_text(ask: Ask, flow: Flow, entry: Entry, volet: str) -> str:
    s, loc = entry.snapshot, ask.locale
    number = next(i for i, v in enumerate(flow.volets, 1) if v.id == volet)
    lines = [ask.tr("jury.show.volet_title", id=str(entry.candidature), name=entry.name, n=str(number),
                    title=volet_title(flow, volet, loc))]
    keys = sorted((k for k in s.answers if volet_of(flow, k) == volet), key=key_order(flow))
    lines += [f"• {_label(flow, s, k, ask)} : {show(flow, s, k, s.answers[k], ask.t, loc)}" for k in keys]
    if not keys:
        lines.append(ask.tr("jury.show.no_answer"))
    mine = [a for a in Q.assessments(ask.conn, _campaign_id(ask, entry), entry.candidature)
            if a.volet == volet and a.assessor == ask.assessor]
    for a in mine:
        lines.append(ask.tr("jury.show.yours", grade=a.grade, mention=_mention(ask, a.mention),
                            comment=a.comment or "—"))
    return "\n".join(lines)


def _label(flow: Flow, snapshot: Snapshot, key: str, ask: Ask) -> str:
    """A question as a chat line's label (no trailing colon before " : value")."""
    return key_label(flow, snapshot, key, ask.t, ask.locale).rstrip(" :")


def _campaign_id(ask: Ask, entry: Entry) -> int:
    return Q.candidature_campaign(ask.conn, entry.candidature) or 0


def _mention(ask: Ask, mention: str) -> str:
    return ask.tr("jury.grades.mention", mention=ask.tr(f"jury.mention.{mention}")) if mention else ""


def dossier_(ask: Ask, tokens: list[str], rest: str) -> list[Outgoing]:
    found = _lookup(ask, tokens)
    if isinstance(found, list):
        return found
    campaign, flow, entry = found
    meta = Meta(campaign.slug, campaign.year, entry.snapshot.submitted_at, ask.locale)
    files = dossier_files(flow, entry, meta, ask.t)
    caption = ask.tr("jury.dossier.sent", id=str(entry.candidature))
    return [document(name, mime, data, caption if i == 0 else "") for i, (name, mime, data) in enumerate(files)]


def export_(ask: Ask, tokens: list[str], rest: str) -> list[Outgoing]:
    chosen = [t for t in tokens if t in FORMATS or t in ("tout", "all")]
    if not chosen:
        return ask.say("jury.export.usage")
    formats = FORMATS if chosen[0] in ("tout", "all") else (chosen[0],)
    campaign = _campaign(ask, [t for t in tokens if t not in chosen])
    if isinstance(campaign, list):
        return campaign
    files = exports(ask.conn, campaign.id, formats, ask.flows, ask.t, locale=ask.locale, now=ask.now)
    caption = ask.tr("jury.export.sent", campaign=campaign.slug,
                     n=str(len(Q.campaign_submissions(ask.conn, campaign))))
    return [document(name, mime, data, caption if i == 0 else "") for i, (name, mime, data) in enumerate(files)]


def report_(ask: Ask, tokens: list[str], rest: str) -> list[Outgoing]:
    """/jury rapport [campaign]: where every body stands, as a picture and a page."""
    from ..campaigns.report import for_campaign
    from ..campaigns.report_page import files
    campaign = _campaign(ask, tokens)
    if isinstance(campaign, list):
        return campaign
    report = for_campaign(ask.conn, campaign, ask.flows[campaign.flow_id], ask.now, ask.locale)
    caption = ask.tr("report.sent_caption", slug=campaign.slug)
    return [document(name, mime, data, caption if i == 0 else "")
            for i, (name, mime, data) in enumerate(files(report, ask.tr, ask.locale))]


def versions_(ask: Ask, tokens: list[str], rest: str) -> list[Outgoing]:
    found = _lookup(ask, tokens)
    if isinstance(found, list):
        return found
    campaign, _, entry = found
    rows = Q.submissions(ask.conn, entry.candidature, Q.deadline(campaign))
    lines = [ask.tr("jury.versions.title", id=str(entry.candidature))]
    for row in rows:
        ok = read_snapshot(row.snapshot) is not None and intact(row.snapshot, row.sha256)
        lines.append(ask.tr("jury.versions.line", version=str(row.version), sha=row.sha256[:16],
                            when=local_time(row.submitted_at, ask.locale, campaign.timezone))
                     + ("" if ok else ask.tr("jury.versions.corrupt")))
    return [Outgoing(OutKind.NOTICE, "\n".join(lines))]


def diff_(ask: Ask, tokens: list[str], rest: str) -> list[Outgoing]:
    found = _lookup(ask, tokens)
    if isinstance(found, list):
        return found
    campaign, flow, entry = found
    rows = {r.version: r for r in Q.submissions(ask.conn, entry.candidature, Q.deadline(campaign))}
    if len(rows) < 2:
        return ask.say("jury.diff.single")
    numbers = [int(t) for t in tokens[1:3] if ascii_number(t)]
    a, b = numbers if len(numbers) == 2 else (max(rows) - 1, max(rows))
    before, after = (read_snapshot(rows[v].snapshot) if v in rows else None for v in (a, b))
    if before is None or after is None:
        return ask.say("jury.diff.usage", id=str(entry.candidature))
    changes = diff(flow, before.answers, after.answers)
    if not changes:
        return ask.say("jury.diff.none", a=str(a), b=str(b))
    empty = ask.tr("jury.empty_value")
    lines = [ask.tr("jury.diff.title", id=str(entry.candidature), a=str(a), b=str(b))]
    lines += [ask.tr("jury.diff.line", label=_label(flow, after, c.key, ask),
                     before=show(flow, before, c.key, c.before, ask.t, ask.locale) or empty,
                     after=show(flow, after, c.key, c.after, ask.t, ask.locale) or empty)
              for c in changes]
    return [Outgoing(OutKind.NOTICE, "\n".join(lines))]
