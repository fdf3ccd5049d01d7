"""Freezing a submitted version: the snapshot the jury reads, built when it is submitted.

The engine says what was submitted (`Outcome.submission`); the dispatcher hands
it here once the event's answers are saved, in the same transaction. The
snapshot's facts (who started, who contributed, when) are read from the
store; its shape and hash are the pure rules of rules.py.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Mapping

from sqlalchemy import Connection, insert, select

from ..core.engine import Outcome
from ..core.flow import JSON, Flow
from ..store import ConversationRow
from ..store import tables as T
from ..store.flow_tables import aside_answers
from ..store.instants import iso_z


def freeze(conn: Connection, conv: ConversationRow, outcome: Outcome, flow: Flow, now: datetime) -> None:
    """The version an event submitted (`outcome.submission`), frozen for the jury."""
    if outcome.submission is None:
        return
    record_submission(conn, conv.candidature_id, outcome.dossier.version, flow.id, flow.version,
                      outcome.submission, conv.person_id, now, locale=outcome.state.locale, flow=flow)


def record_submission(conn: Connection, candidature_id: int, version: int, flow_id: str,
                      flow_version: int, answers: Mapping[str, JSON], by: int, now: datetime,
                      *, locale: str = "fr", flow: Flow | None = None) -> None:
    """Freeze one submitted version (see rules.py); the row is never changed afterwards.
    With its `flow`, the snapshot keeps the question texts as they were asked."""
    from .rules import Snapshot, build_snapshot, canonical, digest   # at the first submission, not at start
    k, a = T.candidatures, T.answers
    owner = conn.execute(select(k.c.responsible_id, k.c.created_at).where(
        k.c.id == candidature_id)).first()
    rows = conn.execute(select(a.c.key, a.c.answered_by, a.c.answered_at).where(
        a.c.candidature_id == candidature_id)).all()
    kept = [r for r in rows if r.key in answers]
    facts = dict(candidature=candidature_id, version=version, locale=locale,
                 submitted_by=owner.responsible_id if owner else by, confirmed_by=by,
                 contributors=[r.answered_by for r in kept if r.answered_by is not None],
                 started_at=iso_z(owner.created_at if owner else None),
                 last_change_at=iso_z(max((r.answered_at for r in kept), default=None)),
                 submitted_at=iso_z(now))
    if flow is not None and flow.version == flow_version:
        snapshot = build_snapshot(flow, dict(answers), **facts)
    else:
        facts["contributors"] = tuple(sorted(set(facts["contributors"])))
        snapshot = Snapshot(flow=flow_id, flow_version=flow_version, answers=dict(answers),
                            confirmed_at=facts["submitted_at"], **facts)
    aside = aside_answers(conn, candidature_id, snapshot.locale)
    if aside:   # answers a change of the flow set aside: the jury reads them too
        snapshot = replace(snapshot, aside=aside)
    data = canonical(snapshot)
    conn.execute(insert(T.submissions).values(
        candidature_id=candidature_id, version=version, flow_id=flow_id, flow_version=flow_version,
        snapshot=data.decode("utf-8"), sha256=digest(data), submitted_by=by, submitted_at=now))

