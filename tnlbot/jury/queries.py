"""The jury's reads and writes in the store (SQLAlchemy Core, inside a caller's transaction)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Iterable

from sqlalchemy import Connection, delete, insert, select

from ..core.flow import JSON
from ..store import jury_tables as J
from ..store import tables as T
from ..store.campaigns import Campaign, campaign_by_slug, list_campaigns
from ..store.database import insert_for


@dataclass(frozen=True, slots=True)
class Member:
    id: int
    campaign: str
    transport: str
    kind: str
    external_id: str
    display_name: str
    added_at: datetime


@dataclass(frozen=True, slots=True)
class Submission:
    candidature_id: int
    version: int
    snapshot: str
    sha256: str
    submitted_at: datetime


@dataclass(frozen=True, slots=True)
class CandidatureRow:
    id: int
    status: str
    version: int
    amended: bool
    submitted_at: datetime | None


@dataclass(frozen=True, slots=True)
class Assessment:
    candidature_id: int
    volet: str
    assessor: str
    assessor_name: str
    grade: str
    mention: str
    comment: str
    version: int
    updated_at: datetime


# ---------------------------------------------------------------- campaigns

def campaign_by_id(conn: Connection, campaign_id: int) -> Campaign | None:
    slug = conn.execute(select(T.campaigns.c.slug).where(T.campaigns.c.id == campaign_id)).scalar()
    return campaign_by_slug(conn, slug) if slug is not None else None


def deadline(campaign: Campaign) -> datetime:
    """The jury sees what was submitted before this instant."""
    closed_at = getattr(campaign, "closed_at", None)
    return min(campaign.closes_at, closed_at) if closed_at else campaign.closes_at


def is_over(campaign: Campaign, now: datetime) -> bool:
    return campaign.state == "closed" or now >= deadline(campaign)


def candidature_campaign(conn: Connection, candidature_id: int) -> int | None:
    k = T.candidatures
    found = conn.execute(select(k.c.campaign_id).where(k.c.id == candidature_id)).scalar()
    return int(found) if found is not None else None


# ---------------------------------------------------------------- members

def jury_campaigns(conn: Connection, transport: str, chat_id: str, user_id: str) -> list[Campaign]:
    """Campaigns whose jury this person is on, newest first. A juror is a listed account
    (`tnlbot jury add`): being in a jury room, or in a chat that receives the closing
    notice, gives no access (`chat_id` is not used)."""
    j = J.jury_members
    wanted = set(conn.execute(select(j.c.campaign_id).where(
        j.c.transport == transport, j.c.kind == "user", j.c.external_id == user_id)).scalars().all())
    if not wanted:
        return []
    return sorted((c for c in list_campaigns(conn) if c.id in wanted),
                  key=lambda c: c.opens_at, reverse=True)


def is_jury_room(conn: Connection, transport: str, chat_id: str) -> bool:
    """Whether this chat is a jury room (registered as one, or a jury destination of a campaign):
    a place for the jury's commands, never for a questionnaire."""
    j = J.jury_members
    if conn.execute(select(j.c.id).where(j.c.transport == transport, j.c.kind == "room",
                                         j.c.external_id == chat_id).limit(1)).first() is not None:
        return True
    return any((transport, chat_id) in notice_rooms(c) for c in list_campaigns(conn))


def notice_rooms(campaign: Campaign) -> set[tuple[str, str]]:
    """The chats the campaign's settings name as jury destinations ("jury": [{transport, chat_id}])."""
    found = set()
    for dest in campaign.config.get("jury") or ():
        if isinstance(dest, dict) and dest.get("transport") and dest.get("chat_id"):
            found.add((str(dest["transport"]), str(dest["chat_id"])))
        elif isinstance(dest, str) and ":" in dest:
            transport, _, chat = dest.partition(":")
            found.add((transport, chat))
    return found


def member_name(conn: Connection, transport: str, user_id: str) -> str:
    """The name the operator registered for this juror ("" if none)."""
    j = J.jury_members
    return str(conn.execute(select(j.c.display_name).where(
        j.c.transport == transport, j.c.kind == "user", j.c.external_id == user_id,
        j.c.display_name != "").limit(1)).scalar() or "")


def add_member(conn: Connection, campaign_id: int, transport: str, kind: str, external_id: str,
               name: str, now: datetime) -> bool:
    j = J.jury_members
    exists = conn.execute(select(j.c.id).where(
        j.c.campaign_id == campaign_id, j.c.transport == transport, j.c.kind == kind,
        j.c.external_id == external_id)).scalar()
    if exists is not None:
        return False
    conn.execute(insert(j).values(campaign_id=campaign_id, transport=transport, kind=kind,
                                  external_id=external_id, display_name=name[:200], added_at=now))
    return True


def remove_member(conn: Connection, campaign_id: int, transport: str, kind: str, external_id: str) -> bool:
    j = J.jury_members
    result = conn.execute(delete(j).where(
        j.c.campaign_id == campaign_id, j.c.transport == transport, j.c.kind == kind,
        j.c.external_id == external_id))
    return result.rowcount > 0


def members(conn: Connection, campaign_id: int | None = None) -> list[Member]:
    j, g = J.jury_members, T.campaigns
    query = select(j, g.c.slug).join(g, g.c.id == j.c.campaign_id).order_by(g.c.slug, j.c.id)
    if campaign_id is not None:
        query = query.where(j.c.campaign_id == campaign_id)
    return [Member(r.id, r.slug, r.transport, r.kind, r.external_id, r.display_name, r.added_at)
            for r in conn.execute(query)]


# ---------------------------------------------------------------- candidatures

def candidatures(conn: Connection, campaign_id: int) -> list[CandidatureRow]:
    k = T.candidatures
    rows = conn.execute(select(k.c.id, k.c.status, k.c.version, k.c.amended, k.c.submitted_at)
                        .where(k.c.campaign_id == campaign_id).order_by(k.c.id))
    return [CandidatureRow(r.id, r.status, r.version, bool(r.amended), r.submitted_at) for r in rows]


def live_answers(conn: Connection, candidature_id: int) -> dict[str, JSON]:
    a = T.answers
    rows = conn.execute(select(a.c.key, a.c.value).where(a.c.candidature_id == candidature_id))
    return {key: json.loads(value) for key, value in rows}


def submissions(conn: Connection, candidature_id: int, before: datetime | None = None) -> list[Submission]:
    """Every frozen version of a candidature (oldest first), up to `before`."""
    s = T.submissions
    query = select(s).where(s.c.candidature_id == candidature_id).order_by(s.c.version)
    if before is not None:
        query = query.where(s.c.submitted_at <= before)
    return [Submission(r.candidature_id, r.version, r.snapshot, r.sha256, r.submitted_at)
            for r in conn.execute(query)]


def campaign_submissions(conn: Connection, campaign: Campaign) -> dict[int, list[Submission]]:
    """Per candidature of the campaign, its versions submitted before the deadline."""
    s, k = T.submissions, T.candidatures
    rows = conn.execute(select(s).join(k, k.c.id == s.c.candidature_id).where(
        k.c.campaign_id == campaign.id, s.c.submitted_at <= deadline(campaign))
        .order_by(s.c.candidature_id, s.c.version))
    out: dict[int, list[Submission]] = {}
    for r in rows:
        out.setdefault(r.candidature_id, []).append(
            Submission(r.candidature_id, r.version, r.snapshot, r.sha256, r.submitted_at))
    return out


def names(conn: Connection, person_ids: Iterable[int]) -> dict[int, str]:
    """Current names of people; an erased person has none."""
    wanted = {int(p) for p in person_ids if p is not None}
    if not wanted:
        return {}
    p = T.people
    rows = conn.execute(select(p.c.id, p.c.display_name, p.c.erased_at).where(p.c.id.in_(wanted)))
    return {r.id: ("" if r.erased_at is not None else r.display_name) for r in rows}


# ---------------------------------------------------------------- assessments

def save_assessment(conn: Connection, candidature_id: int, volet: str, assessor: str, name: str,
                    grade: str, mention: str, comment: str, version: int, now: datetime) -> None:
    a = J.assessments
    values = dict(assessor_name=name[:200], grade=grade, mention=mention, comment=comment,
                  version=version, updated_at=now)
    stmt = insert_for(conn.dialect.name)(a).values(candidature_id=candidature_id, volet=volet, assessor=assessor, **values)
    conn.execute(stmt.on_conflict_do_update(
        index_elements=[a.c.candidature_id, a.c.volet, a.c.assessor], set_=values))


def assessments(conn: Connection, campaign_id: int, candidature_id: int | None = None) -> list[Assessment]:
    a, k = J.assessments, T.candidatures
    query = (select(a).join(k, k.c.id == a.c.candidature_id).where(k.c.campaign_id == campaign_id)
             .order_by(a.c.candidature_id, a.c.assessor_name, a.c.assessor, a.c.volet))
    if candidature_id is not None:
        query = query.where(a.c.candidature_id == candidature_id)
    return [Assessment(r.candidature_id, r.volet, r.assessor, r.assessor_name, r.grade, r.mention,
                       r.comment, r.version, r.updated_at) for r in conn.execute(query)]
