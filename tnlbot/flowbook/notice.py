"""What a team is told when its draft was carried to a new version of the flow.

Each conversation of the candidature (one per member and chat) gets one
notice in its own language: the answers set aside (question withdrawn,
choice withdrawn, no longer fitting), the new required questions and the
questions moved to another volet; then the first question that needs the
person is asked, so the next message answers what they see.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from ..core.dialog import ask
from ..core.events import Addressed, Outgoing, OutKind
from ..core.flow import JSON, Flow
from ..core.kinds import CHOICE_KINDS
from ..core.machine import IDLE, NEW
from ..core.turn import Dossier, State, Turn
from ..core.walk import Slot, is_answered
from ..i18n import Catalog, local_time
from ..store import Store
from ..store import tables as T
from ..store.store import dumps
from .carry import Aside


def _value_text(flow: Flow, catalog: Catalog, locale: str, qid: str, value: JSON) -> str:
    q = flow.questions.get(qid)
    if isinstance(value, bool):
        return catalog(locale, "common.yes" if value else "common.no")
    if q is not None and q.kind in CHOICE_KINDS and qid in flow.text(locale).questions:
        labels = flow.text(locale).questions[qid].choices
        chosen = value if isinstance(value, list) else [value]
        return ", ".join(labels.get(str(c), str(c)) for c in chosen)
    if isinstance(value, dict):
        return str(value.get("name", ""))
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def shown_values(flow: Flow, catalog: Catalog, item: Aside) -> dict[str, str]:
    """{locale: "question → value"}, as the flow the answer was given under showed them."""
    shown = {}
    for locale in flow.texts:
        qtext = flow.text(locale).questions.get(item.question)
        question = qtext.text if qtext is not None else item.question
        shown[locale] = catalog(locale, "flowbook.changed.shown", question=question,
                                value=_value_text(flow, catalog, locale, item.question, item.value))
    return shown


def _text(catalog: Catalog, locale: str, flow: Flow, report: Mapping[str, list[str]],
          aside: list[tuple[str, dict[str, str]]], now: datetime, zone: str) -> str:
    texts = flow.text(locale)
    lines = [catalog(locale, "flowbook.changed.title", title=texts.title, version=str(flow.version),
                     when=local_time(now, locale, zone))]
    for reason, shown in aside:
        lines.append(catalog(locale, f"flowbook.changed.{reason}", shown=shown.get(locale) or
                             next(iter(shown.values()), "")))
    for qid in report.get("added", []):
        lines.append(catalog(locale, "flowbook.changed.added", text=texts.questions[qid].text))
    for qid in report.get("moved", []):
        volet = texts.volets[flow.questions[qid].volet].title
        lines.append(catalog(locale, "flowbook.changed.moved", text=texts.questions[qid].text, volet=volet))
    lines.append(catalog(locale, "flowbook.changed.kept"))
    return "\n".join(lines)


def _target(turn: Turn, need: set[str]) -> Slot | None:
    """The first question that needs the person: to check or new, else where they were, else the first open."""
    slots = turn.slots()
    askable = [s for s in slots if s.part in ("", "other", "concerned") and not is_answered(s, turn.answers)
               and s.key not in turn.state.skipped]
    for slot in askable:
        if slot.key in need or (slot.question is not None and slot.question.id in need):
            return slot
    found = turn.current()
    if found is not None and not is_answered(found[1], turn.answers):
        return found[1]
    return askable[0] if askable and turn.state.mode != IDLE else None


def conversations_told(store: Store, conn: Connection, cand: int, flow: Flow, catalog: Catalog,
                       report: Mapping[str, list[str]], aside: list[tuple[str, dict[str, str]]],
                       answers: dict[str, JSON], now: datetime) -> int:
    """Tell each started conversation of the candidature, once; returns how many were told."""
    if not aside and not report.get("added") and not report.get("moved"):
        return 0
    c, k, g = T.conversations, T.candidatures, T.campaigns
    zone = conn.execute(select(g.c.timezone).join(k, k.c.campaign_id == g.c.id).where(k.c.id == cand)).scalar()
    rows = conn.execute(select(c.c.id, c.c.transport, c.c.chat_id, c.c.user_id, c.c.state)
                        .where(c.c.candidature_id == cand).order_by(c.c.id)).all()
    need = set(report.get("to_check", [])) | set(report.get("added", []))
    told = 0
    for row in rows:
        state = State.from_json(json.loads(row.state or "{}"))
        if state.mode == NEW:
            continue
        state = State(state.mode, state.cursor, state.locale, (), state.skipped)
        text = _text(catalog, state.locale, flow, report, aside, now, zone or "Europe/Paris")
        turn = Turn(flow, catalog, state, Dossier(), dict(answers), transport=row.transport)
        slot = _target(turn, need)
        if slot is not None:
            ask(turn, slot, turn.slots())
        items: list[Any] = [Outgoing(OutKind.NOTICE, text), *turn.out]
        store.enqueue(conn, [Addressed(row.transport, row.chat_id, item, row.user_id,
                                       dedup_key=f"flowchange:{row.id}:{flow.version}" if i == 0 else "")
                             for i, item in enumerate(items)], now)
        conn.execute(update(c).where(c.c.id == row.id).values(state=dumps(turn.state.to_json()),
                                                                updated_at=now))
        told += 1
    return told
