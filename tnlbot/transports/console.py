"""The terminal transport: a real chat in the terminal, no account needed.

Each line typed (or piped, one line per message) is one inbound message;
`/fichier PATH` (or `/file PATH`) sends a file. Bot messages are printed as
they leave the outbox: the runner sends a line's replies before the next
line is read (`inline_send`). The bot greets first (a /start of its own);
the end of the input ends the run. Lines are read by a daemon thread, so a
signal stops the bot even while it waits for a line.
"""
from __future__ import annotations

import asyncio
import mimetypes
import os
import sys
import threading
import uuid
from pathlib import Path
from typing import TextIO

from ..core.events import FileRef, Inbound, InboundKind, Outgoing, OutKind
from ..runtime.transport import SendResult, SendStatus, Sink
from ..store import OutboxRow

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
    inline_send = True

    def __init__(self, out: TextIO | None = None, stream: TextIO | None = None, user: str = ""):
        self.out = out or sys.stdout
        self.stream = stream or sys.stdin
        self.user = user
        self.task: asyncio.Task[None] | None = None

    async def start(self, sink: Sink) -> None:
        """Greet (a /start of the bot's own), then read lines until the input ends."""
        chat_id = f"terminal:{self.user}"
        await sink(Inbound("console", os.urandom(8).hex(), chat_id, self.user,
                           InboundKind.COMMAND, command="start", display_name=self.user))
        self.task = asyncio.create_task(self._read(sink, chat_id))

    async def _read(self, sink: Sink, chat_id: str) -> None:
        interactive = self.stream.isatty()
        lines = _lines(self.stream)
        while True:
            if interactive:
                self.out.write("› ")
                self.out.flush()
            line = await lines.get()
            if not line:
                return
            if not line.strip() and not interactive:
                continue
            await sink(parse_line(line, chat_id, self.user))

    async def send(self, row: OutboxRow) -> SendResult:
        text = render(row.item)
        if text:
            self.out.write(text + "\n\n")
            self.out.flush()
        return SendResult(SendStatus.SENT, ref=str(row.id))

    async def stop(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()   # waiting for a line: nothing of it is committed yet
            await asyncio.gather(self.task, return_exceptions=True)
            if self.stream.isatty():
                self.out.write("\n")


def _lines(stream: TextIO) -> "asyncio.Queue[str]":
    """Lines of `stream` read by a daemon thread ("" at the end of the input)."""
    queue: asyncio.Queue[str] = asyncio.Queue()
    loop = asyncio.get_running_loop()

    def read() -> None:
        while True:
            line = stream.readline()
            loop.call_soon_threadsafe(queue.put_nowait, line)
            if not line:
                return
    threading.Thread(target=read, name="console-input", daemon=True).start()
    return queue
