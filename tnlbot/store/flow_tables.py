"""Flow versions and the drafts carried across them.

- `flow_versions`: every (flow, version) a bot has started with, its
  definition (structure and texts as JSON) and when it was first seen. The
  version a candidature started on is the newest one seen before it was
  created; a later one migrates it.
- `draft_migrations`: one row per candidature and version it was migrated
  to. Its primary key is the claim: of two workers starting at once, one
  inserts it, the other finds it and does nothing.
- `answers_aside`: answers taken out of a draft by a migration, with why
  (`withdrawn`: the question or volet left the flow; `choice_withdrawn`: the
  chosen option left it; `to_check`: it no longer fits the question and is
  asked again), the question and the value as they were shown then.
"""
from __future__ import annotations

import json

from sqlalchemy import (
    Column,
    Connection,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    select,
)

from .tables import UTC, Id, metadata

flow_versions = Table(
    "flow_versions", metadata,
    Column("flow_id", String(64), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("definition", Text, nullable=False),        # {"structure": ..., "texts": {...}} or {}
    Column("seen_at", UTC, nullable=False),
)

draft_migrations = Table(
    "draft_migrations", metadata,
    Column("candidature_id", ForeignKey("candidatures.id"), primary_key=True),
    Column("to_version", Integer, primary_key=True),
    Column("flow_id", String(64), nullable=False),
    Column("from_version", Integer, nullable=False),
    Column("migrated_at", UTC, nullable=False),
    Column("report", Text, nullable=False, default="{}"),   # what changed for this draft (JSON)
)

answers_aside = Table(
    "answers_aside", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("candidature_id", ForeignKey("candidatures.id"), nullable=False),
    Column("key", String(128), nullable=False),
    Column("value", Text, nullable=False),             # JSON, as it was stored
    Column("reason", String(16), nullable=False),      # withdrawn | choice_withdrawn | to_check
    Column("flow_id", String(64), nullable=False),
    Column("from_version", Integer, nullable=False),
    Column("to_version", Integer, nullable=False),
    Column("shown", Text, nullable=False, default="{}"),  # {locale: "question → value"} as shown then
    Column("set_aside_at", UTC, nullable=False),
    Index("ix_answers_aside_candidature", "candidature_id"),
)


def aside_answers(conn: Connection, candidature_id: int, locale: str) -> tuple[dict[str, str], ...]:
    """The answers set aside from a candidature, as a submission's snapshot keeps them."""
    a = answers_aside
    rows = conn.execute(select(a.c.key, a.c.reason, a.c.shown, a.c.set_aside_at).where(
        a.c.candidature_id == candidature_id).order_by(a.c.id)).all()
    out = []
    for row in rows:
        shown = json.loads(row.shown or "{}")
        out.append({"key": row.key, "reason": row.reason, "on": row.set_aside_at.date().isoformat(),
                    "shown": str(shown.get(locale) or next(iter(shown.values()), row.key))})
    return tuple(out)
