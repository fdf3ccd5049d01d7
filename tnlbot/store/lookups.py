"""What transports look up: prompts already sent, people and chats, inbound ids, checkpoints."""
from __future__ import annotations

import json
from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import Connection, select, update

from ..core.events import Outgoing
from . import tables as T
from .database import Database
from .outbox import OutboxRow


class Lookups(Database):
    @contextmanager
    def _joined(self, conn: Connection | None) -> Iterator[Connection]:
        """The caller's transaction when given (an event's), else one of its own."""
        if conn is not None:
            yield conn
            return
        with self.begin() as own:
            yield own

    # ------------------------------------------------------------ checkpoints
    def checkpoint(self, name: str) -> str | None:
        with self.begin() as conn:
            return conn.execute(select(T.checkpoints.c.value).where(T.checkpoints.c.name == name)).scalar()

    def set_checkpoint(self, conn: Connection, name: str, value: str) -> None:
        stmt = self._insert(T.checkpoints).values(name=name, value=value)
        conn.execute(stmt.on_conflict_do_update(index_elements=[T.checkpoints.c.name],
                                                set_={"value": stmt.excluded.value}))

    # ------------------------------------------------------------ sent prompts, resends
    def sent_prompt(self, transport: str, chat_id: str, user_id: str, prompt_ref: str,
                    before: int | None = None) -> tuple[str, Outgoing] | None:
        """The platform id and latest rendering of the prompt `prompt_ref` sent to one person
        (queued before the outbox row `before`, when given: the prompt an edit settles)."""
        o = T.outbox
        marker = '"ref":' + json.dumps(prompt_ref, ensure_ascii=False)
        query = select(o.c.payload, o.c.sent_ref).where(
            o.c.transport == transport, o.c.chat_id == chat_id, o.c.user_id == user_id,
            o.c.status == "sent", o.c.sent_ref != "", o.c.payload.contains(marker, autoescape=True))
        if before is not None:
            query = query.where(o.c.id < before)
        with self.begin() as conn:
            rows = conn.execute(query.order_by(o.c.id.desc()).limit(20)).all()
        for payload, ref in rows:
            item = Outgoing.from_json(json.loads(payload))
            if item.kind.value == "prompt" and item.ref == prompt_ref:
                return str(ref), item
        return None

    def prompt_sent_as(self, transport: str, chat_id: str, sent_ref: str, conn: Connection | None = None) -> tuple[str, Outgoing] | None:
        """Whom a sent prompt was for and its latest rendering, from its platform id."""
        o = T.outbox
        with self._joined(conn) as conn:
            rows = conn.execute(select(o.c.user_id, o.c.payload).where(
                o.c.transport == transport, o.c.chat_id == chat_id, o.c.sent_ref == sent_ref,
                o.c.status == "sent").order_by(o.c.id.desc()).limit(20)).all()
        for user_id, payload in rows:
            item = Outgoing.from_json(json.loads(payload))
            if item.kind.value == "prompt":
                return str(user_id), item
        return None

    def was_handled(self, transport: str, external_id: str, conn: Connection | None = None) -> bool:
        """Whether an inbound event was handed to the dispatcher (its id was recorded)."""
        s = T.inbound_seen
        with self._joined(conn) as conn:
            return conn.execute(select(s.c.external_id).where(
                s.c.transport == transport, s.c.external_id == external_id)).first() is not None

    def conversation_locale(self, transport: str, chat_id: str, user_id: str, conn: Connection | None = None) -> str:
        """The language one person speaks with the bot in a chat ("fr" before any message)."""
        c = T.conversations
        with self._joined(conn) as conn:
            state = conn.execute(select(c.c.state).where(
                c.c.transport == transport, c.c.chat_id == chat_id, c.c.user_id == user_id)).scalar()
        return str(json.loads(state).get("locale") or "fr") if state else "fr"


    def person_name(self, transport: str, user_id: str, conn: Connection | None = None) -> str:
        """The display name of the person behind a platform account ("" if unknown)."""
        a, p = T.accounts, T.people
        with self._joined(conn) as conn:
            name = conn.execute(select(p.c.display_name).join(a, a.c.person_id == p.c.id).where(
                a.c.transport == transport, a.c.external_id == user_id)).scalar()
        return str(name or "")

    def move_chat(self, transport: str, old_chat: str, new_chat: str, conn: Connection | None = None) -> int:
        """A chat got a new id (Telegram group -> supergroup): conversations, accounts and
        unsent messages follow it. Idempotent; returns how many conversations moved."""
        c, a, o = T.conversations, T.accounts, T.outbox
        if not old_chat or not new_chat or old_chat == new_chat:
            return 0
        with self._joined(conn) as conn:
            taken = select(c.c.user_id).where(c.c.transport == transport, c.c.chat_id == new_chat)
            moved = conn.execute(update(c).where(
                c.c.transport == transport, c.c.chat_id == old_chat,
                c.c.user_id.not_in(taken)).values(chat_id=new_chat)).rowcount
            conn.execute(update(a).where(a.c.transport == transport, a.c.chat_id == old_chat)
                         .values(chat_id=new_chat))
            conn.execute(update(o).where(o.c.transport == transport, o.c.chat_id == old_chat,
                                         o.c.status.in_(("pending", "deferred")))
                         .values(chat_id=new_chat))
        return int(moved)

    def last_prompt_message(self, transport: str, chat_id: str, user_id: str, conn: Connection | None = None) -> str:
        """The platform id of the last prompt sent to one person in a chat ("" if none)."""
        o = T.outbox
        with self._joined(conn) as conn:
            rows = conn.execute(select(o.c.payload, o.c.sent_ref).where(
                o.c.transport == transport, o.c.chat_id == chat_id, o.c.user_id == user_id,
                o.c.status == "sent", o.c.sent_ref != "",
                o.c.payload.contains('"kind":"prompt"', autoescape=True))
                .order_by(o.c.id.desc()).limit(1)).all()
        return str(rows[0].sent_ref) if rows else ""

    # ------------------------------------------------------------ what sending needs
    def locale_for(self, row: OutboxRow) -> str:
        """The language of the row's addressee: as queued, else looked up ("fr" for nobody)."""
        if row.locale:
            return row.locale
        return self.conversation_locale(row.transport, row.chat_id, row.user_id) if row.user_id else "fr"

    def name_for(self, row: OutboxRow) -> str:
        """The name of the row's addressee: as queued, else looked up ("" if unknown)."""
        if row.display_name is not None:
            return row.display_name
        return self.person_name(row.transport, row.user_id)
