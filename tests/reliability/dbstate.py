"""The content of a store that matters to people, independent of row ids and order of creation.

Two runs that handled the same events per conversation must give equal
`content()`: answers, history, conversation state, candidature status,
submissions and the outbox payloads, all keyed by conversation address.
"""
from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select

from tnlbot.store import Store
from tnlbot.store import tables as T


def content(store: Store) -> dict[str, Any]:
    c, k = T.conversations, T.candidatures
    out: dict[str, Any] = {}
    with store.begin() as conn:
        rows = conn.execute(select(c.c.transport, c.c.chat_id, c.c.user_id, c.c.state,
                                   c.c.candidature_id, k.c.status, k.c.version, k.c.amended)
                            .join(k, k.c.id == c.c.candidature_id)).all()
        for row in rows:
            address = f"{row.transport}|{row.chat_id}|{row.user_id}"
            out[address] = {
                "state": json.loads(row.state),
                "candidature": (row.status, row.version, bool(row.amended)),
                **_candidature(conn, row.candidature_id),
            }
        out["outbox"] = _outbox(conn)
        out["inbound_seen"] = conn.execute(select(func.count()).select_from(T.inbound_seen)).scalar()
        out["people"] = conn.execute(select(func.count()).select_from(T.people)).scalar()
    return out


def _candidature(conn, candidature_id: int) -> dict[str, Any]:
    a, h, s = T.answers, T.answer_history, T.submissions
    answers = {key: json.loads(value) for key, value in conn.execute(
        select(a.c.key, a.c.value).where(a.c.candidature_id == candidature_id)).all()}
    history = [tuple(r) for r in conn.execute(
        select(h.c.key, h.c.old_value, h.c.new_value).where(h.c.candidature_id == candidature_id)
        .order_by(h.c.id)).all()]
    submissions = [(r.version, json.loads(r.snapshot).get("answers")) for r in conn.execute(
        select(s.c.version, s.c.snapshot).where(s.c.candidature_id == candidature_id)
        .order_by(s.c.version)).all()]    # the rest of a snapshot names rows by their ids
    return {"answers": answers, "history": history, "submissions": submissions}


def _outbox(conn) -> dict[str, list[Any]]:
    o = T.outbox
    chats: dict[str, list[Any]] = {}
    for row in conn.execute(select(o.c.transport, o.c.chat_id, o.c.user_id, o.c.payload)
                            .order_by(o.c.id)).all():
        chats.setdefault(f"{row.transport}|{row.chat_id}|{row.user_id}", []).append(
            json.loads(row.payload))
    return chats


def differences(left: dict[str, Any], right: dict[str, Any], limit: int = 5) -> list[str]:
    """The first few places where two contents differ, for a readable failure."""
    found: list[str] = []
    for key in sorted(set(left) | set(right)):
        a, b = left.get(key), right.get(key)
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            found += [f"{key}.{d}" for d in differences(a, b, limit - len(found))]
        else:
            found.append(f"{key}: {str(a)[:300]} != {str(b)[:300]}")
        if len(found) >= limit:
            break
    return found[:limit]
