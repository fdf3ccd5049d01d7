"""One person talking to the dispatcher, and what each event did to the store.

Like tests/harness.Chat, but every delivery also reads back the answers and
the conversation state in the same read, so a test can say "this changed
nothing" cheaply, thousands of times.
"""
from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select

from tnlbot.core.events import FileRef, Inbound, InboundKind, Outgoing, OutKind
from tnlbot.store import tables as T
from tnlbot.transports.console import parse_line

_ids = itertools.count(1)
_o, _c, _a = T.outbox, T.conversations, T.answers
# Built once: constructing SQLAlchemy statements costs more than running them.
_PAYLOADS = select(_o.c.payload).where(_o.c.id.in_(bindparam("ids", expanding=True))).order_by(_o.c.id)
_CONVERSATION = select(_c.c.state, _c.c.candidature_id).where(
    _c.c.transport == bindparam("transport"), _c.c.chat_id == bindparam("chat"),
    _c.c.user_id == bindparam("user"))
_ANSWERS = select(_a.c.key, _a.c.value).where(_a.c.candidature_id == bindparam("candidature"))


@dataclass(frozen=True)
class Seen:
    """What one event produced: the messages, then the answers and state after it."""
    items: tuple[Outgoing, ...]
    answers: dict[str, Any]
    state: dict[str, Any]
    duplicate: bool = False

    @property
    def messages(self) -> list[Outgoing]:
        return [i for i in self.items if i.kind is not OutKind.SETTLED]

    @property
    def settled(self) -> list[Outgoing]:
        return [i for i in self.items if i.kind is OutKind.SETTLED]

    @property
    def texts(self) -> list[str]:
        return [i.text for i in self.messages]


class Probe:
    def __init__(self, app, user: str, transport: str = "console"):
        self.app, self.user, self.transport = app, user, transport
        self.chat = f"chat-{user}"
        self.last = Seen((), {}, {})

    def _base(self) -> dict[str, Any]:
        return dict(transport=self.transport, external_id=f"probe-{next(_ids)}",
                    chat_id=self.chat, user_id=self.user, display_name=self.user)

    def deliver(self, inbound: Inbound) -> Seen:
        handled = self.app.dispatcher.handle(inbound)
        self.last = self._read(handled.outbox_ids, handled.duplicate)
        return self.last

    def _read(self, ids: tuple[int, ...], duplicate: bool) -> Seen:
        with self.app.store.engine.connect() as conn:
            rows = conn.execute(_PAYLOADS, {"ids": list(ids)}).all() if ids else []
            conv = conn.execute(_CONVERSATION, {"transport": self.transport, "chat": self.chat,
                                                "user": self.user}).first()
            answers = {} if conv is None else {k: json.loads(v) for k, v in conn.execute(
                _ANSWERS, {"candidature": conv.candidature_id}).all()}
            conn.rollback()
        items = tuple(Outgoing.from_json(json.loads(r.payload)) for r in rows)
        state = json.loads(conv.state) if conv is not None else {}
        return Seen(items, answers, state, duplicate)

    # ------------------------------------------------------------ ways to speak
    def text(self, text: str) -> Seen:
        return self.deliver(Inbound(kind=InboundKind.TEXT, text=text, **self._base()))

    def typed(self, line: str) -> Seen:
        """A line as typed in the terminal (a leading slash makes a command)."""
        parsed = parse_line(line, self.chat, self.user)
        return self.deliver(Inbound(kind=parsed.kind, text=parsed.text, command=parsed.command,
                                    file=parsed.file, **self._base()))

    def command(self, name: str, args: str = "") -> Seen:
        return self.deliver(Inbound(kind=InboundKind.COMMAND, command=name, text=args, **self._base()))

    def file(self, name: str, size: int = 1000, mime: str = "application/pdf") -> Seen:
        ref = FileRef(name=name, mime=mime, size=size, ref="file-0001")
        return self.deliver(Inbound(kind=InboundKind.FILE, file=ref, **self._base()))

    def press(self, ref: str, *values: str) -> Seen:
        return self.deliver(Inbound(kind=InboundKind.CHOICE, ref=ref, values=values, **self._base()))

    def toggle(self, ref: str, value: str) -> Seen:
        return self.deliver(Inbound(kind=InboundKind.TOGGLE, ref=ref, values=(value,), **self._base()))

    def goto(self, key: str) -> Seen:
        """Ask the question `key` again (/modifier with the slot key)."""
        seen = self.command("modifier", key)
        if seen.state.get("cursor") != key:
            raise AssertionError(f"/modifier {key} did not reach it: {seen.texts}")
        return seen
