"""The terminal transport: a real chat in the terminal, no account needed.

Each line typed (or piped, one line per message) is one inbound message;
`/fichier PATH` (or `/file PATH`) sends a file. Bot messages are printed as
they leave the outbox.
"""
from __future__ import annotations

import mimetypes
import sys
import uuid
from pathlib import Path
from typing import TextIO

from ..core.events import FileRef, Inbound, InboundKind, Outgoing, OutKind
from ..store import OutboxRow
from .base import SendResult, SendStatus, Sink

FILE_COMMANDS = ("fichier", "file")


def parse_line(line: str, chat_id: str, user_id: str, external_id: str = "") -> Inbound:
    """One typed line -> Inbound (pure)."""
    external_id = external_id or uuid.uuid4().hex
    text = line.rstrip("\r\n")
    base = dict(transport="console", external_id=external_id, chat_id=chat_id,
                user_id=user_id, display_name=user_id)
    if text.startswith("/") and len(text) > 1 and not text[1].isspace():
        name, _, args = text[1:].partition(" ")
        if name.lower() in FILE_COMMANDS:
            return Inbound(kind=InboundKind.FILE, file=_file(args.strip()), **base)
        return Inbound(kind=InboundKind.COMMAND, command=name.lower(), text=args.strip(), **base)
    return Inbound(kind=InboundKind.TEXT, text=text, **base)


def _file(path_text: str) -> FileRef | None:
    path = Path(path_text).expanduser()
    if not path_text or not path.is_file():
        return FileRef(name=path.name or "?", mime="", size=0, ref="")
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return FileRef(name=path.name, mime=mime, size=path.stat().st_size, ref=str(path.resolve()))


def render(item: Outgoing) -> str:
    """Outgoing -> terminal text (pure). Settled notes are not printed."""
    if item.kind is OutKind.SETTLED:
        return ""
    lines = []
    if item.header:
        lines.append(f"── {item.header}")
    lines.append(item.text)
    for number, option in enumerate(item.options, 1):
        mark = ("[x] " if option.value in item.selected else "[ ] ") if item.multi else ""
        lines.append(f"  {number}. {mark}{option.label}")
    if item.actions:
        lines.append("   " + " · ".join(f"{a.label} {a.value}" if a.value != a.label else a.value
                                         for a in item.actions))
    if item.kind is OutKind.DOCUMENT:
        lines.append(f"[{item.filename}]")
    return "\n".join(lines)


class Console:
    name = "console"

    def __init__(self, out: TextIO | None = None):
        self.out = out or sys.stdout

    async def start(self, sink: Sink) -> None:  # the console is driven by App.chat
        return None

    async def send(self, row: OutboxRow) -> SendResult:
        text = render(row.item)
        if text:
            self.out.write(text + "\n\n")
            self.out.flush()
        return SendResult(SendStatus.SENT, ref=str(row.id))

    async def stop(self) -> None:
        return None
