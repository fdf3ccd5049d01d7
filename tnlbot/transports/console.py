"""The terminal transport: a real chat in the terminal, no account needed.

Each line typed (or piped, one line per message) is one inbound message;
`/fichier PATH` (or `/file PATH`) sends a file. Bot messages are printed as
they leave the outbox: the runner sends a line's replies before the next one
is read (`inline_send`). The bot greets first (a /start of its own); the end
of the input ends the chat.

Input is read as bytes and decoded here: a line that is not UTF-8 (a Latin-1
terminal) keeps its odd bytes as lone surrogates, which the engine refuses
politely instead of the process dying on a decoding error. In a terminal,
bracketed paste is switched on, so a pasted block of several lines arrives as
one message (sent with Enter), not as one answer per line.
"""
from __future__ import annotations

import asyncio
import errno
import os
import stat
import sys
import threading
import uuid
from pathlib import Path
from typing import IO, Callable, Iterator, Mapping, TextIO

from ..core.events import FileRef, Inbound, InboundKind, Outgoing, OutKind
from ..core.kinds import Form, form_of
from ..runtime.attachments import Keep
from ..runtime.transport import SendResult, SendStatus, Sink
from ..store import OutboxRow

FILE_COMMANDS = ("fichier", "file")


def parse_line(line: str, chat_id: str, user_id: str, external_id: str = "",
               keep: Keep | None = None) -> Inbound:
    """One typed line -> Inbound; `/fichier PATH` reads the file and stores it with `keep`."""
    external_id = external_id or uuid.uuid4().hex
    text = line.rstrip("\r\n")
    base = dict(transport="console", external_id=external_id, chat_id=chat_id,
                user_id=user_id, display_name=user_id)
    if text.startswith("/") and len(text) > 1 and not text[1].isspace():
        name, _, args = text[1:].partition(" ")
        if name.lower() in FILE_COMMANDS:
            return Inbound(kind=InboundKind.FILE, file=read_file(args.strip(), keep), **base)
        return Inbound(kind=InboundKind.COMMAND, command=name.lower(), text=args.strip(), **base)
    return Inbound(kind=InboundKind.TEXT, text=text, **base)


MAX_READ = 50_000_000                     # bytes read at most; larger files are refused unread


def read_file(path_text: str, keep: Keep | None) -> FileRef:
    """The file at a typed path, read and stored (`keep`), or refused with a reason: not
    found, a symbolic link, not a regular file (a folder, a FIFO, a device), unreadable,
    or a path the system cannot take."""
    name = path_text.replace("\\", "/").rsplit("/", 1)[-1][:255] or "?"
    try:
        path = Path(path_text).expanduser()
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return _refused(name, "missing")
    except OSError as exc:
        reason = {errno.ELOOP: "symlink", errno.EACCES: "unreadable", errno.EPERM: "unreadable",
                  errno.ENOTDIR: "missing"}.get(exc.errno or 0, "path")
        return _refused(name, reason)
    except (RuntimeError, ValueError):          # no home folder for '~', a NUL in the path
        return _refused(name, "path")
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return _refused(name, "special")
        if info.st_size > MAX_READ:
            return FileRef(name=name, mime="", size=info.st_size, ref="")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(MAX_READ + 1)
    except OSError:
        return _refused(name, "unreadable")
    finally:
        os.close(fd)
    if not data or keep is None:
        return FileRef(name=name, mime="", size=len(data), ref="")
    return keep(data, name)


def _refused(name: str, reason: str) -> FileRef:
    return FileRef(name=name, mime="", size=0, ref="", refused=reason)


PASTE_START, PASTE_END = "\x1b[200~", "\x1b[201~"
PASTE_ON, PASTE_OFF = "\x1b[?2004h", "\x1b[?2004l"   # ask the terminal to mark pastes


def decode(raw: bytes) -> str:
    """Bytes typed or piped -> text; bytes that are not UTF-8 become lone surrogates
    (refused by the engine with a message), never an exception."""
    return raw.decode("utf-8", "surrogateescape")


def messages(lines: Iterator[str]) -> Iterator[str]:
    """Lines -> messages (pure). A bracketed paste (between ESC[200~ and ESC[201~, as a
    terminal sends it once asked) is one message, whatever its number of lines."""
    for line in lines:
        if PASTE_START not in line:
            yield line.rstrip("\r\n")
            continue
        block = [line.replace(PASTE_START, "", 1)]
        while PASTE_END not in block[-1]:
            following = next(lines, None)
            if following is None:
                break
            block.append(following)
        text = "".join(block).replace(PASTE_END, "")
        yield text.replace("\r\n", "\n").replace("\r", "\n").strip("\n")


def _fd(stream: IO) -> int | None:
    try:
        return stream.fileno()
    except (AttributeError, OSError, ValueError):   # an in-memory stream
        return None


def _raw_lines(fd: int) -> Iterator[bytes]:
    """Lines read with os.read: nothing holds a lock while waiting for the next one."""
    pending = b""
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        pending += chunk
        *complete, pending = pending.split(b"\n")
        for line in complete:
            yield line + b"\n"
    if pending:
        yield pending


class LineReader:
    """Reads messages from a byte stream in a daemon thread, so that Ctrl-C (or the end
    of the chat) never waits for a line that is not coming."""

    def __init__(self, stream: IO):
        self.stream = stream
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()
        self.loop = asyncio.get_running_loop()
        threading.Thread(target=self._run, name="console-input", daemon=True).start()

    def _run(self) -> None:
        def lines() -> Iterator[str]:
            if _fd(self.stream) is not None:     # read below Python's buffered reader: a thread
                yield from map(decode, _raw_lines(_fd(self.stream)))   # blocked in it would
                return                           # abort the interpreter's exit on Ctrl-C
            while True:
                raw = self.stream.readline()
                if not raw:
                    return
                yield raw if isinstance(raw, str) else decode(raw)
        try:
            for message in messages(lines()):
                self.loop.call_soon_threadsafe(self.queue.put_nowait, message)
            self.loop.call_soon_threadsafe(self.queue.put_nowait, None)
        except (OSError, ValueError, RuntimeError):   # the terminal or the loop went away
            return

    async def next(self) -> str | None:
        """The next message, or None at the end of the input."""
        return await self.queue.get()


def _no_options(item: Outgoing) -> list[str]:
    return []


def _numbered(item: Outgoing) -> list[str]:
    return [f"  {number}. {option.label}" for number, option in enumerate(item.options, 1)]


def _ticked(item: Outgoing) -> list[str]:
    return [f"  {number}. {'[x]' if option.value in item.selected else '[ ]'} {option.label}"
            for number, option in enumerate(item.options, 1)]


# How each form of answer is offered in a terminal: the options as a numbered list, ticked
# for a multiple choice (the answer is typed: a number, numbers, or the text; a file is sent
# with /fichier, which the file kind's hint says).
FORMS: Mapping[Form, Callable[[Outgoing], list[str]]] = {
    Form.TYPED: _no_options, Form.FILE: _no_options, Form.NOTHING: _no_options,
    Form.YES_NO: _numbered, Form.ONE: _numbered, Form.SEVERAL: _ticked,
}


def render(item: Outgoing) -> str:
    """Outgoing -> terminal text (pure). Settled notes are not printed."""
    if item.kind is OutKind.SETTLED:
        return ""
    lines = []
    if item.header:
        lines.append(f"── {item.header}")
    lines.append(item.text)
    lines += FORMS[form_of(item)](item)
    if item.actions:
        lines.append("   " + " · ".join(f"{a.label} {a.value}" if a.value != a.label else a.value
                                         for a in item.actions))
    if item.kind is OutKind.DOCUMENT:
        lines.append(f"[{item.filename}]")
    return "\n".join(lines)


class Console:
    name = "console"
    inline_send = True

    def __init__(self, out: TextIO | None = None, stream: TextIO | None = None, user: str = "",
                 keep: Keep | None = None):
        self.out = out or sys.stdout
        self.stream = stream or sys.stdin
        self.user = user
        self.keep = keep           # stores an attached file's content (`/fichier PATH`)
        self.chat_id = f"terminal:{user}"
        self.task: asyncio.Task[None] | None = None

    async def start(self, sink: Sink) -> None:
        """Greet (a /start of the bot's own), then read messages until the input ends."""
        await sink(Inbound("console", os.urandom(8).hex(), self.chat_id, self.user,
                           InboundKind.COMMAND, command="start", display_name=self.user))
        self.task = asyncio.create_task(self._read(sink))

    async def _read(self, sink: Sink) -> None:
        interactive = self.stream.isatty()
        reader = LineReader(getattr(self.stream, "buffer", self.stream))
        if interactive:
            self.out.write(PASTE_ON)   # a pasted block of lines arrives as one message
        try:
            while True:
                if interactive:
                    self.out.write("› ")
                    self.out.flush()
                line = await reader.next()
                if line is None:
                    return
                await sink(parse_line(line, self.chat_id, self.user, keep=self.keep))
        finally:
            if interactive:
                self.out.write(PASTE_OFF)
                self.out.flush()

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
