"""What the fuzzer reads back from its store after each step."""
from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from tnlbot.core.events import Outgoing
from tnlbot.store import Store
from tnlbot.store import tables as T


def conversations(store: Store) -> dict[str, tuple[dict, dict[str, Any]]]:
    """chat|user -> (state, answers of its candidature)."""
    c, a = T.conversations, T.answers
    with store.engine.connect() as conn:
        rows = conn.execute(select(c.c.chat_id, c.c.user_id, c.c.state, c.c.candidature_id)).all()
        answers: dict[int, dict[str, Any]] = {}
        for key_row in conn.execute(select(a.c.candidature_id, a.c.key, a.c.value)).all():
            answers.setdefault(key_row.candidature_id, {})[key_row.key] = json.loads(key_row.value)
        conn.rollback()
    return {f"{r.chat_id}|{r.user_id}": (json.loads(r.state), answers.get(r.candidature_id, {}))
            for r in rows}


def shared_conversations(store: Store) -> dict[str, int]:
    """chat|user -> how many conversations its candidature has."""
    c = T.conversations
    with store.engine.connect() as conn:
        rows = conn.execute(select(c.c.chat_id, c.c.user_id, c.c.candidature_id)).all()
        conn.rollback()
    count: dict[int, int] = {}
    for r in rows:
        count[r.candidature_id] = count.get(r.candidature_id, 0) + 1
    return {f"{r.chat_id}|{r.user_id}": count[r.candidature_id] for r in rows}


def answers_of(store: Store, person: str) -> dict[str, Any]:
    return conversations(store).get(f"chat-{person}|{person}", ({}, {}))[1]


def items(store: Store, ids: tuple[int, ...]) -> list[Outgoing]:
    if not ids:
        return []
    o = T.outbox
    with store.engine.connect() as conn:
        rows = conn.execute(select(o.c.payload).where(o.c.id.in_(ids)).order_by(o.c.id)).all()
        conn.rollback()
    return [Outgoing.from_json(json.loads(r.payload)) for r in rows]


def submissions(store: Store) -> list[tuple[str, int, str, list[dict[str, Any]]]]:
    """(candidature, version, status, the answers of each submission in version order)."""
    k, s = T.candidatures, T.submissions
    with store.engine.connect() as conn:
        candidatures = conn.execute(select(k.c.id, k.c.version, k.c.status)).all()
        snapshots: dict[int, list[dict[str, Any]]] = {}
        for row in conn.execute(select(s.c.candidature_id, s.c.snapshot).order_by(s.c.version)).all():
            snapshots.setdefault(row.candidature_id, []).append(json.loads(row.snapshot)["answers"])
        conn.rollback()
    return [(f"candidature {r.id}", r.version, r.status, snapshots.get(r.id, [])) for r in candidatures]
