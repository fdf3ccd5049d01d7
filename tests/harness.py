"""A chat with the bot for tests: say something, read what the bot answered.

Replies are read back from the outbox (what was committed), not from the
engine's return value, so a test sees exactly what a transport would send.
"""
from __future__ import annotations

import itertools
import json
from dataclasses import dataclass

from sqlalchemy import select

from tnlbot.core.events import FileRef, Inbound, InboundKind, Outgoing, OutKind
from tnlbot.store import tables as T
from tnlbot.transports.console import parse_line, render

_ids = itertools.count(1)


@dataclass
class Reply:
    items: list[Outgoing]
    duplicate: bool = False

    @property
    def messages(self) -> list[Outgoing]:
        """What a person sees as new messages (settled notes are edits)."""
        return [i for i in self.items if i.kind is not OutKind.SETTLED]

    @property
    def text(self) -> str:
        return "\n\n".join(render(i) for i in self.messages)

    @property
    def prompt(self) -> Outgoing | None:
        prompts = [i for i in self.items if i.kind is OutKind.PROMPT]
        return prompts[-1] if prompts else None

    @property
    def ref(self) -> str:
        return self.prompt.ref if self.prompt else ""

    def __contains__(self, fragment: str) -> bool:
        return fragment in self.text

    def __repr__(self) -> str:
        return f"Reply({self.text!r})"


class Chat:
    def __init__(self, app, user: str, chat: str = "", transport: str = "console",
                 language: str = ""):
        self.app = app
        self.user = user
        self.chat = chat or f"chat-{user}"
        self.transport = transport
        self.language = language

    def deliver(self, inbound: Inbound) -> Reply:
        handled = self.app.dispatcher.handle(inbound)
        if handled.duplicate:
            return Reply([], duplicate=True)
        return Reply(self._read(handled.outbox_ids))

    def _read(self, ids) -> list[Outgoing]:
        if not ids:
            return []
        o = T.outbox
        with self.app.store.begin() as conn:
            rows = conn.execute(select(o.c.payload).where(o.c.id.in_(ids)).order_by(o.c.id)).all()
            conn.execute(o.update().where(o.c.id.in_(ids)).values(status="sent"))
        return [Outgoing.from_json(json.loads(r.payload)) for r in rows]

    def _base(self, external_id: str = "") -> dict:
        return dict(transport=self.transport, external_id=external_id or f"t{next(_ids)}",
                    chat_id=self.chat, user_id=self.user, display_name=self.user,
                    language=self.language)

    def say(self, text: str, external_id: str = "") -> Reply:
        inbound = parse_line(text, self.chat, self.user, external_id or f"t{next(_ids)}")
        return self.deliver(Inbound(**{**self._base(inbound.external_id), "kind": inbound.kind,
                                       "text": inbound.text, "command": inbound.command}))

    def press(self, ref: str, *values: str, external_id: str = "") -> Reply:
        return self.deliver(Inbound(kind=InboundKind.CHOICE, ref=ref, values=tuple(values),
                                    **self._base(external_id)))

    def toggle(self, ref: str, value: str) -> Reply:
        return self.deliver(Inbound(kind=InboundKind.TOGGLE, ref=ref, values=(value,), **self._base()))

    def send_file(self, name: str, size: int, mime: str = "application/pdf") -> Reply:
        file = FileRef(name=name, mime=mime, size=size, ref=f"file-{name}")
        return self.deliver(Inbound(kind=InboundKind.FILE, file=file, **self._base()))

    def answers(self) -> dict:
        """The stored answers of this person's candidature."""
        c, a = T.conversations, T.answers
        with self.app.store.begin() as conn:
            cid = conn.execute(select(c.c.candidature_id).where(
                c.c.transport == self.transport, c.c.chat_id == self.chat,
                c.c.user_id == self.user)).scalar()
            rows = conn.execute(select(a.c.key, a.c.value).where(a.c.candidature_id == cid)).all()
        return {k: json.loads(v) for k, v in rows}
