"""Personal data: what is stored about one agent, their erasure, and draft retention.

Rules kept here:
- `personal_data` gathers what concerns the person writing, and only them:
  their identity, accounts, conversations, and for each candidature they take
  part in, the answers and changes *they* made and the versions they
  confirmed. Never another body's answers, never the jury's assessments.
- erasure (/oublier) lives in erasure.py.
- `purge_drafts` deletes the working answers and their history of a campaign
  once it is over and its retention period has passed; the submissions stay.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, select

from ..core.answers import ascii_number
from ..store import jury_tables as J
from ..store import tables as T
from ..store.campaigns import Campaign
from ..store.instants import iso_z
from . import queries as Q

DEFAULT_RETENTION_DAYS = 90


def _iso(instant: datetime | None) -> str | None:
    return iso_z(instant) or None


def person_of(conn: Connection, transport: str, user_id: str) -> int | None:
    a = T.accounts
    found = conn.execute(select(a.c.person_id).where(a.c.transport == transport,
                                                     a.c.external_id == user_id)).scalar()
    return int(found) if found is not None else None


def personal_data(conn: Connection, transport: str, user_id: str) -> dict[str, Any]:
    """Everything stored about the person behind this account (JSON-ready)."""
    person_id = person_of(conn, transport, user_id)
    doc: dict[str, Any] = {"account": {"transport": transport, "user_id": user_id},
                           "jury": _jury_data(conn, transport, user_id)}
    if person_id is None:
        return doc
    p, a, c = T.people, T.accounts, T.conversations
    person = conn.execute(select(p).where(p.c.id == person_id)).first()
    doc["person"] = {"id": person_id, "display_name": person.display_name, "locale": person.locale,
                     "created_at": _iso(person.created_at)}
    doc["accounts"] = [{"transport": r.transport, "user_id": r.external_id, "chat_id": r.chat_id}
                       for r in conn.execute(select(a).where(a.c.person_id == person_id))]
    doc["conversations"] = [{"transport": r.transport, "chat_id": r.chat_id, "user_id": r.user_id,
                             "state": json.loads(r.state or "{}"), "updated_at": _iso(r.updated_at)}
                            for r in conn.execute(select(c).where(c.c.person_id == person_id))]
    doc["candidatures"] = _candidature_data(conn, person_id)
    return doc


def _candidature_data(conn: Connection, person_id: int) -> list[dict[str, Any]]:
    m, k, g = T.members, T.candidatures, T.campaigns
    ans, hist, sub = T.answers, T.answer_history, T.submissions
    rows = conn.execute(select(m.c.candidature_id, m.c.role, m.c.joined_at, k.c.status, g.c.slug)
                        .join(k, k.c.id == m.c.candidature_id).join(g, g.c.id == k.c.campaign_id)
                        .where(m.c.person_id == person_id).order_by(m.c.candidature_id)).all()
    out = []
    for r in rows:
        cid = r.candidature_id
        given = conn.execute(select(ans.c.key, ans.c.value, ans.c.answered_at).where(
            ans.c.candidature_id == cid, ans.c.answered_by == person_id).order_by(ans.c.key))
        changes = conn.execute(select(hist.c.key, hist.c.old_value, hist.c.new_value, hist.c.changed_at)
                               .where(hist.c.candidature_id == cid, hist.c.changed_by == person_id)
                               .order_by(hist.c.id))
        confirmed = conn.execute(select(sub.c.version, sub.c.submitted_at, sub.c.sha256).where(
            sub.c.candidature_id == cid, sub.c.submitted_by == person_id).order_by(sub.c.version))
        out.append({"candidature": cid, "campaign": r.slug, "role": r.role, "status": r.status,
                    "joined_at": _iso(r.joined_at),
                    "answers_you_gave": {g_.key: json.loads(g_.value) for g_ in given},
                    "changes_you_made": [{"key": h.key, "before": _load(h.old_value),
                                          "after": _load(h.new_value), "at": _iso(h.changed_at)}
                                         for h in changes],
                    "versions_you_submitted": [{"version": s.version, "at": _iso(s.submitted_at),
                                                "sha256": s.sha256} for s in confirmed]})
    return out


def _jury_data(conn: Connection, transport: str, user_id: str) -> dict[str, Any]:
    a = J.assessments
    seats = [{"campaign": m.campaign, "added_at": _iso(m.added_at)} for m in Q.members(conn)
             if m.transport == transport and m.kind == "user" and m.external_id == user_id]
    written = conn.execute(select(a).where(a.c.assessor == f"{transport}:{user_id}").order_by(a.c.id))
    return {"seats": seats,
            "assessments_you_wrote": [{"candidature": r.candidature_id, "volet": r.volet, "grade": r.grade,
                                       "mention": r.mention, "comment": r.comment,
                                       "updated_at": _iso(r.updated_at)} for r in written]}


def _load(text: str | None) -> Any:
    return json.loads(text) if text is not None else None


def retention_days(campaign: Campaign, default: int = DEFAULT_RETENTION_DAYS) -> int:
    value = campaign.config.get("draft_retention_days", default)
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not ascii_number(str(value)):
        return default
    return int(value)


def purge_drafts(conn: Connection, campaign: Campaign, now: datetime, days: int | None = None) -> int:
    """Delete the working answers of a finished campaign after its retention period.

    Returns how many candidatures lost their drafts (0 when it is too early).
    """
    keep = retention_days(campaign) if days is None else days
    if not Q.is_over(campaign, now) or now < Q.deadline(campaign) + timedelta(days=keep):
        return 0
    ids = [c.id for c in Q.candidatures(conn, campaign.id)]
    if not ids:
        return 0
    purged = conn.execute(select(T.answers.c.candidature_id).where(
        T.answers.c.candidature_id.in_(ids)).distinct()).scalars().all()
    conn.execute(delete(T.answer_history).where(T.answer_history.c.candidature_id.in_(ids)))
    conn.execute(delete(T.answers).where(T.answers.c.candidature_id.in_(ids)))
    return len(purged)
