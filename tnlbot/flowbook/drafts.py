"""Drafts carried across a new version of their flow, during an edition.

How this file works:
- At start-up `record_versions` notes every loaded flow's (id, version) with
  its definition, once (`flow_versions`). A candidature is on the newest
  version seen before it was created, or on the last version it was
  migrated to (`draft_migrations`).
- `migrate_drafts` then takes each candidature of a campaign that is not
  closed (draft, or submitted and still open to changes) whose version is
  older than its flow's, each in ONE transaction: lock the candidature row,
  claim it by inserting (candidature, new version) into `draft_migrations`
  (a row already there: another worker did it, nothing is done), then apply
  carry.plan: answers whose question or option left the flow and answers
  that no longer fit are moved to `answers_aside` with the question and the
  value as shown under the old version, with their history; every
  conversation of the candidature gets its cursor on the first question that
  needs the person, and one notice in its language saying what changed.
- Submissions are never touched: each keeps the flow version it was made on.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from sqlalchemy import Connection, delete, func, select, update

from ..core.flow import JSON, Flow
from ..flows import FlowError, build_flow, raw_flow_files
from ..i18n import Catalog
from ..store import Store
from ..store import flow_tables as F
from ..store import tables as T
from ..store.store import dumps

if TYPE_CHECKING:
    from .carry import Plan
# carry, diff and notice are imported by migrate_one, when a candidature is behind its flow:
# at most starts nothing is, and the terminal reaches its first prompt sooner without them

ACTIVE = ("draft", "submitted")
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Migrated:
    candidature: int
    flow_id: str
    from_version: int
    to_version: int
    report: Mapping[str, list[str]]
    told: int                      # conversations told


def _insert_ignore(conn: Connection, table: Any, **values: Any) -> bool:
    """Insert a row unless its key is taken (then nothing); True when this call inserted it."""
    from sqlalchemy.dialects import postgresql, sqlite
    dialect: Any = postgresql if conn.dialect.name == "postgresql" else sqlite
    key = next(iter(table.primary_key.columns))   # RETURNING: rowcount is not reliable on every driver
    stmt = dialect.insert(table).values(**values).on_conflict_do_nothing().returning(key)
    return conn.execute(stmt).first() is not None


def _definition(folder: Path | None, flow: Flow) -> str:
    """The flow's YAML mappings as JSON, when its files are there and say this version."""
    if folder is None or not (folder / f"{flow.id}.yaml").exists():
        return "{}"
    try:     # `flow` was loaded and checked from these files: read them, not check them again
        structure, texts = raw_flow_files(folder, flow.id, tuple(flow.texts))
    except (OSError, ValueError, yaml.YAMLError):
        return "{}"
    if not isinstance(structure, dict):
        return "{}"
    if int(structure.get("version", 1)) != flow.version:
        return "{}"
    return json.dumps({"structure": structure, "texts": texts}, ensure_ascii=False, default=str)


def record_versions(store: Store, flows: Mapping[str, Flow], folder: Path | None, now: datetime) -> None:
    """Note each flow's version once; warn when a version seen before now has other questions."""
    v = F.flow_versions
    with store.begin() as conn:
        seen = {(r[0], r[1]): r[2] for r in conn.execute(select(v.c.flow_id, v.c.version, v.c.definition))}
        for flow in flows.values():
            definition = _definition(folder, flow)
            before = seen.get((flow.id, flow.version))
            if before is None:
                _insert_ignore(conn, v, flow_id=flow.id, version=flow.version, definition=definition,
                               seen_at=now)
            elif before != "{}" and definition != "{}" and _changed(before, definition):
                log.warning("flow %s: version %d changed since it was first used; raise its version "
                            "so that the drafts are carried over to the change", flow.id, flow.version)


def _changed(before: str, now: str) -> bool:
    return json.loads(before).get("structure") != json.loads(now).get("structure")


def _old_flow(conn: Connection, flow_id: str, version: int) -> Flow | None:
    raw = conn.execute(select(F.flow_versions.c.definition).where(
        F.flow_versions.c.flow_id == flow_id, F.flow_versions.c.version == version)).scalar()
    data = json.loads(raw or "{}")
    if not data:
        return None
    try:
        return build_flow(flow_id, data["structure"], data["texts"])
    except (FlowError, KeyError, TypeError, ValueError):
        return None


def _behind(conn: Connection, flows: Mapping[str, Flow]) -> list[tuple[int, str, int]]:
    """(candidature, flow id, its version) of the candidatures on an older version of their flow."""
    k, g, v, m = T.candidatures, T.campaigns, F.flow_versions, F.draft_migrations
    versions: dict[str, list[tuple[datetime, int]]] = {}
    for flow_id, version, seen_at in conn.execute(select(v.c.flow_id, v.c.version, v.c.seen_at)).all():
        versions.setdefault(flow_id, []).append((seen_at, version))
    migrated = {r[0]: r[1] for r in conn.execute(select(m.c.candidature_id, func.max(m.c.to_version))
                                                  .group_by(m.c.candidature_id))}
    rows = conn.execute(select(k.c.id, k.c.created_at, g.c.flow_id).join(g, g.c.id == k.c.campaign_id)
                        .where(g.c.state != "closed", k.c.status.in_(ACTIVE)).order_by(k.c.id)).all()
    behind = []
    for cand, created_at, flow_id in rows:
        flow, seen = flows.get(flow_id), sorted(versions.get(flow_id, []))
        if flow is None or not seen:
            continue
        started = max((ver for at, ver in seen if at < created_at), default=min(ver for _, ver in seen))
        current = migrated.get(cand, started)
        if current < flow.version:
            behind.append((cand, flow_id, current))
    return behind


def _apply(conn: Connection, cand: int, answers: dict[str, JSON], carry: Plan, shown: list[dict[str, str]],
           new: Flow, versions: tuple[int, int], now: datetime) -> None:
    a = T.answers
    for key, value in carry.changes:
        if value is None:
            conn.execute(delete(a).where(a.c.candidature_id == cand, a.c.key == key))
        else:
            conn.execute(update(a).where(a.c.candidature_id == cand, a.c.key == key)
                         .values(value=dumps(value), answered_at=now))
        conn.execute(T.answer_history.insert().values(
            candidature_id=cand, key=key, old_value=dumps(answers[key]),
            new_value=None if value is None else dumps(value), changed_by=None, changed_at=now))
    for item, said in zip(carry.aside, shown):
        conn.execute(F.answers_aside.insert().values(
            candidature_id=cand, key=item.key, value=dumps(item.value), reason=item.reason,
            flow_id=new.id, from_version=versions[0], to_version=versions[1],
            shown=json.dumps(said, ensure_ascii=False),
            set_aside_at=now))


def _report(carry: Plan, old: Flow | None, new: Flow, after: dict[str, JSON]) -> dict[str, list[str]]:
    report: dict[str, list[str]] = {reason: [a.key for a in carry.aside if a.reason == reason]
                                    for reason in ("withdrawn", "choice_withdrawn", "to_check")}
    report["added"], report["moved"] = [], []
    if old is not None:
        from .diff import compare
        diff = compare(old, new)
        report["added"] = [c.question for c in diff.of("added") if new.questions[c.question].required
                           and c.question not in after]
        report["moved"] = [c.question for c in diff.of("moved") if c.question in after]
    return report


def migrate_one(store: Store, cand: int, new: Flow, from_version: int, catalog: Catalog,
                now: datetime) -> Migrated | None:
    """Carry one candidature to `new`'s version, in one transaction; None when another did it."""
    from .carry import plan
    from .notice import conversations_told, shown_values
    k = T.candidatures
    with store.begin() as conn:
        row = conn.execute(select(k.c.status, k.c.amended).where(k.c.id == cand).with_for_update()).first()
        if row is None or row.status not in ACTIVE:
            return None
        if not _insert_ignore(conn, F.draft_migrations, candidature_id=cand, to_version=new.version,
                              flow_id=new.id, from_version=from_version, migrated_at=now, report="{}"):
            return None
        answers = store.answers(conn, cand)
        old = _old_flow(conn, new.id, from_version)
        carry = plan(new, answers)
        shown = [shown_values(old or new, catalog, item) for item in carry.aside]
        _apply(conn, cand, answers, carry, shown, new, (from_version, new.version), now)
        after = {**answers, **{key: value for key, value in carry.changes}}
        after = {key: value for key, value in after.items() if value is not None}
        report = _report(carry, old, new, after)
        conn.execute(update(F.draft_migrations).where(
            F.draft_migrations.c.candidature_id == cand, F.draft_migrations.c.to_version == new.version)
            .values(report=json.dumps(report)))
        if carry.changes:
            conn.execute(update(k).where(k.c.id == cand).values(
                updated_at=now, amended=True if row.status == "submitted" else row.amended))
        told = conversations_told(store, conn, cand, new, catalog, report,
                                  [(a.reason, said) for a, said in zip(carry.aside, shown)], after, now)
    return Migrated(cand, new.id, from_version, new.version, report, told)


def migrate_drafts(store: Store, flows: Mapping[str, Flow], catalog: Catalog, folder: Path | None,
                   now: datetime) -> list[Migrated]:
    """Record the flow versions, then carry every candidature still on an older one."""
    record_versions(store, flows, folder, now)
    with store.begin() as conn:
        behind = _behind(conn, flows)
    done = []
    for cand, flow_id, version in behind:
        migrated = migrate_one(store, cand, flows[flow_id], version, catalog, now)
        if migrated is not None:
            done.append(migrated)
    return done
