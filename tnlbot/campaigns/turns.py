"""Two members of one team are not asked the same question at once.

How this file works: when the engine is about to put a question to a member
(its outcome moves the cursor to a question and carries a prompt), the other
members' conversations of the same candidature are read (only for a team of
more than one member; `conversations.candidature_id` is indexed). If one of
them has been on that very question, in asking mode, within `ACTIVE`, the
member is told who, before the question, and that /passer goes on to the next
one.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy import Connection, select

from ..core.engine import Outcome
from ..core.events import Outgoing, OutKind
from ..core.machine import ASKING
from ..core.turn import State
from ..i18n import Catalog
from ..store import ConversationRow
from ..store import tables as T
from ..store.jsontext import loads

ACTIVE = timedelta(minutes=10)


def about_to_ask(conv: ConversationRow, outcome: Outcome) -> bool:
    """The outcome puts a new question to the member (no I/O)."""
    state = outcome.state
    if state.mode != ASKING or not state.cursor:
        return False
    if conv.state.mode == ASKING and conv.state.cursor == state.cursor:
        return False                   # the same question again: told when it was first asked
    return any(m.kind is OutKind.PROMPT for m in outcome.messages)


def on_it(conn: Connection, conv: ConversationRow, cursor: str, now: datetime) -> str | None:
    """The display name of another member who is on `cursor` now, if any."""
    c, p = T.conversations, T.people
    rows = conn.execute(
        select(p.c.display_name, c.c.state).join(p, p.c.id == c.c.person_id)
        .where(c.c.candidature_id == conv.candidature_id, c.c.person_id != conv.person_id,
               c.c.updated_at >= now - ACTIVE)).all()
    for name, raw in rows:
        state = State.from_json(loads(raw))
        if state.mode == ASKING and state.cursor == cursor:
            return str(name or "")
    return None


def tell_who_is_on_it(conn: Connection, conv: ConversationRow, outcome: Outcome, now: datetime,
                      catalog: Catalog) -> Outcome:
    """A notice before the question when another member is already answering it."""
    if not conv.team or not about_to_ask(conv, outcome):
        return outcome
    name = on_it(conn, conv, outcome.state.cursor, now)
    if name is None:
        return outcome
    locale = outcome.state.locale
    text = (catalog(locale, "teams.on_it", name=name) if name
            else catalog(locale, "teams.on_it_someone"))
    items = list(outcome.messages)
    at = next(i for i, m in enumerate(items) if m.kind is OutKind.PROMPT)
    items.insert(at, Outgoing(OutKind.NOTICE, text))
    return replace(outcome, messages=tuple(items))
