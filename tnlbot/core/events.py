"""What goes into the engine (Inbound) and what comes out of it (Outgoing).

Transports build `Inbound` values from native updates and render `Outgoing`
values natively. Both are plain frozen data that serialise to JSON (the
outbox stores `Outgoing` items as JSON), so they cross process restarts.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from .frozen import quick_init


class InboundKind(str, Enum):
    TEXT = "text"            # a typed message
    COMMAND = "command"      # "/name args"
    CHOICE = "choice"        # a button press: values chosen for the prompt `ref`
    TOGGLE = "toggle"        # a multiple-choice toggle for prompt `ref`
    FILE = "file"            # a document sent by the user
    UNRECOGNISED = "unrecognised"  # anything a transport could not read


@quick_init
@dataclass(frozen=True, slots=True)
class FileRef:
    name: str
    mime: str
    size: int
    ref: str  # transport-specific handle to fetch the bytes later, or "sha256:..." once stored
    sniffed: str = ""   # stored files: what the content is, as its usual extension ("pdf", "txt")
    refused: str = ""   # why the transport could not take the file (see error.file_<refused>)


@quick_init
@dataclass(frozen=True, slots=True)
class Inbound:
    transport: str
    external_id: str   # stable per delivery: update id, event id...
    chat_id: str
    user_id: str
    kind: InboundKind
    text: str = ""     # TEXT: the text; COMMAND: the arguments
    command: str = ""  # COMMAND: the name, without the slash, lower case
    ref: str = ""      # CHOICE/TOGGLE: the prompt the press belongs to
    values: tuple[str, ...] = ()
    file: FileRef | None = None
    display_name: str = ""
    language: str = ""  # the platform's language hint ("fr", "en-GB")
    group: bool = False  # the transport knows the chat has more people than the bot and this person


class OutKind(str, Enum):
    PROMPT = "prompt"        # a question, possibly with choices
    NOTICE = "notice"        # plain information
    SETTLED = "settled"      # the prompt `ref` was answered: show `text`
    DOCUMENT = "document"    # a file to send (receipt, export)


@quick_init
@dataclass(frozen=True, slots=True)
class Option:
    value: str
    label: str


@quick_init
@dataclass(frozen=True, slots=True)
class Outgoing:
    kind: OutKind
    text: str
    header: str = ""                     # progress line or title
    ref: str = ""                        # the prompt this is about
    options: tuple[Option, ...] = ()     # choices, answered by value
    multi: bool = False
    selected: tuple[str, ...] = ()       # multiple choice: toggled so far
    actions: tuple[Option, ...] = ()     # navigation shortcuts (value = command)
    filename: str = ""
    mime: str = ""
    data: str = ""                       # DOCUMENT: the bytes, base64-encoded
    update: bool = False                 # PROMPT: replaces the last prompt with this ref

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind.value, "text": self.text}
        if self.header:
            out["header"] = self.header
        if self.ref:
            out["ref"] = self.ref
        if self.filename:
            out["filename"] = self.filename
        if self.mime:
            out["mime"] = self.mime
        if self.data:
            out["data"] = self.data
        if self.options:
            out["options"] = [[o.value, o.label] for o in self.options]
        if self.actions:
            out["actions"] = [[o.value, o.label] for o in self.actions]
        if self.multi:
            out["multi"] = True
        if self.selected:
            out["selected"] = list(self.selected)
        if self.update:
            out["update"] = True
        return out

    @staticmethod
    def from_json(raw: dict[str, Any]) -> "Outgoing":
        return Outgoing(
            kind=OutKind(raw["kind"]),
            text=raw.get("text", ""),
            header=raw.get("header", ""),
            ref=raw.get("ref", ""),
            options=tuple(Option(v, label) for v, label in raw.get("options", ())),
            multi=bool(raw.get("multi", False)),
            selected=tuple(raw.get("selected", ())),
            actions=tuple(Option(v, label) for v, label in raw.get("actions", ())),
            filename=raw.get("filename", ""),
            mime=raw.get("mime", ""),
            data=raw.get("data", ""),
            update=bool(raw.get("update", False)),
        )


@quick_init
@dataclass(frozen=True, slots=True)
class Addressed:
    """An outgoing item and the chat it goes to."""
    transport: str
    chat_id: str
    item: Outgoing
    user_id: str = ""   # group chats: whom it is for
    dedup_key: str = field(default="")  # unique key for scheduled sends
    # what sending needs, known when queued ("": unknown, looked up when sent)
    locale: str = ""          # the language the person speaks with the bot
    display_name: str = ""    # their name, for a mention in a group chat
