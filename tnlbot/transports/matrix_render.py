"""Matrix, the pure part: native events -> Inbound, Outgoing -> event content.

No network, no store: what must be looked up (which prompt an event id is)
arrives through `Lookups`. The rules kept here:
- Bot output is m.notice with a plain `body` and an HTML `formatted_body` in
  which every text is escaped, and `"m.mentions": {}` so no mention fires.
- Choices are a numbered list; reactions (1️⃣ 2️⃣ …, ✅/❌ for yes/no) are
  one-tap shortcuts. A reaction or a reply to a question answers that
  question (CHOICE with its ref); a multiple choice is toggled by reactions
  and validated with ✅.
- Ignored (`Skip`): the bot's own events, m.notice (other bots), edits,
  reactions on someone else's question, anything that is not a message.
"""
from __future__ import annotations

import html
import mimetypes
import re
import unicodedata
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any, Iterable, Mapping, Protocol

from ..core.events import FileRef, Inbound, InboundKind, Option, Outgoing, OutKind
from ..core.kinds import YES_NO_VALUES, Form, form_of

NAME = "matrix"
KEYCAPS = ("1️⃣", "2️⃣", "3️⃣", "4️⃣", "5️⃣", "6️⃣", "7️⃣", "8️⃣", "9️⃣", "🔟")
YES, NO = "✅", "❌"
SETTLED_MARK = "✅"
FILE_TYPES = ("m.file", "m.image", "m.audio", "m.video")
COMMAND_PREFIXES = ("/", "!")


class Skip(str, Enum):
    """Why an event gives no Inbound."""
    OWN = "own"              # sent by the bot itself
    NOTICE = "notice"        # m.notice: another bot
    EDIT = "edit"            # m.replace: answers are never changed by an edit
    ENCRYPTED = "encrypted"  # end-to-end encrypted: unreadable here
    FOREIGN = "foreign"      # a reaction on a question meant for someone else
    STALE = "stale"          # a reaction on a question that is no longer the current one
    OTHER = "other"          # state, receipts, unknown types, unknown reactions


@dataclass(frozen=True, slots=True)
class SentPrompt:
    """A question the bot sent: its event id, for whom, and how it was rendered."""
    event_id: str
    user_id: str
    item: Outgoing
    room_id: str = ""


class Lookups(Protocol):
    def prompt(self, room_id: str, event_id: str) -> SentPrompt | None:
        """The question sent as this event, if any."""

    def toggle(self, event_id: str) -> Inbound | None:
        """The toggle a reaction made, to undo when the reaction is removed."""

    def current(self, room_id: str, user_id: str) -> str:
        """The event id of the question a person was asked last in a room."""


@dataclass(frozen=True, slots=True)
class Allow:
    """Who may talk to the bot: homeservers and user ids. Empty: no invitation is accepted
    (rooms joined before keep working)."""
    servers: frozenset[str] = frozenset()
    users: frozenset[str] = frozenset()

    @staticmethod
    def parse(text: str) -> "Allow":
        items = [part.strip() for part in text.replace(";", ",").split(",") if part.strip()]
        return Allow(frozenset(i.lower() for i in items if not i.startswith("@")),
                     frozenset(i for i in items if i.startswith("@")))

    @property
    def empty(self) -> bool:
        return not self.servers and not self.users

    def __call__(self, user_id: str) -> bool:
        if self.empty:
            return True
        return user_id in self.users or server_of(user_id).lower() in self.servers


def server_of(user_id: str) -> str:
    return user_id.split(":", 1)[1] if ":" in user_id else ""


# ------------------------------------------------------------------ inbound

def inbound_from_event(room_id: str, event: dict[str, Any], me: str, lookups: Lookups,
                       display_name: str = "") -> Inbound | Skip:
    """One timeline event -> the Inbound it means, or why there is none."""
    kind, sender = event.get("type"), event.get("sender", "")
    if sender == me:
        return Skip.OWN
    base = dict(transport=NAME, external_id=str(event.get("event_id", "")), chat_id=room_id,
                user_id=sender, display_name=display_name or sender)
    content = event.get("content") if isinstance(event.get("content"), dict) else {}
    if kind == "m.room.encrypted":
        return Skip.ENCRYPTED
    if kind == "m.reaction":
        return _reaction(room_id, content, sender, lookups, base)
    if kind == "m.room.redaction":
        redacts = event.get("redacts") or content.get("redacts") or ""
        undo = lookups.toggle(str(redacts)) if redacts else None
        if undo is None or undo.user_id != sender:
            return Skip.OTHER
        return Inbound(kind=InboundKind.TOGGLE, ref=undo.ref, values=undo.values, **base)
    if kind != "m.room.message":
        return Skip.OTHER
    return _message(room_id, content, lookups, base)


def _message(room_id: str, content: dict, lookups: Lookups, base: dict) -> Inbound | Skip:
    relates = content.get("m.relates_to") if isinstance(content.get("m.relates_to"), dict) else {}
    if relates.get("rel_type") == "m.replace" or "m.new_content" in content:
        return Skip.EDIT
    msgtype = content.get("msgtype")
    if msgtype == "m.notice":
        return Skip.NOTICE
    if msgtype in FILE_TYPES:
        return Inbound(kind=InboundKind.FILE, file=file_ref(content), **base)
    body = content.get("body")
    if not isinstance(body, str) or msgtype not in ("m.text", "m.emote"):
        return Inbound(kind=InboundKind.UNRECOGNISED, **base)
    reply_to = relates.get("m.in_reply_to") if isinstance(relates.get("m.in_reply_to"), dict) else {}
    if reply_to:
        body = strip_reply_fallback(body)
        prompt = lookups.prompt(room_id, str(reply_to.get("event_id", "")))
        if prompt is not None and prompt.user_id in ("", base["user_id"]) and prompt.item.options:
            values = match_options(body, prompt.item.options, prompt.item.multi)
            if values:
                return Inbound(kind=InboundKind.CHOICE, ref=prompt.item.ref, values=values, **base)
    return text_inbound(body, base)


def text_inbound(body: str, base: dict) -> Inbound:
    """Typed text; `/name args` or `!name args` is a command (`!` spares Element's own commands)."""
    text = body.strip("\r\n")
    stripped = text.strip()
    if (len(stripped) > 1 and stripped[0] in COMMAND_PREFIXES and not stripped[1].isspace()
            and stripped[1] not in COMMAND_PREFIXES):
        name, _, args = stripped[1:].partition(" ")
        return Inbound(kind=InboundKind.COMMAND, command=name.lower(), text=args.strip(), **base)
    return Inbound(kind=InboundKind.TEXT, text=text, **base)


def _reaction(room_id: str, content: dict, sender: str, lookups: Lookups, base: dict) -> Inbound | Skip:
    relates = content.get("m.relates_to") if isinstance(content.get("m.relates_to"), dict) else {}
    if relates.get("rel_type") != "m.annotation":
        return Skip.OTHER
    prompt = lookups.prompt(room_id, str(relates.get("event_id", "")))
    if prompt is None:
        return Skip.OTHER
    if prompt.user_id not in ("", sender):
        return Skip.FOREIGN
    if prompt.event_id != lookups.current(room_id, sender):
        return Skip.STALE       # a tap under an old question changes nothing
    item, key = prompt.item, _plain_key(str(relates.get("key", "")))
    options = item.options
    if item.multi:
        if key == _plain_key(YES):
            return Inbound(kind=InboundKind.CHOICE, ref=item.ref, values=(), **base)
        index = _keycap_index(key)
        if index is None or index >= len(options):
            return Skip.OTHER
        return Inbound(kind=InboundKind.TOGGLE, ref=item.ref, values=(options[index].value,), **base)
    index = _keycap_index(key)
    if is_yes_no(options) and key in (_plain_key(YES), _plain_key(NO)):
        index = 0 if key == _plain_key(YES) else 1
    if index is None or index >= len(options):
        return Skip.OTHER
    return Inbound(kind=InboundKind.CHOICE, ref=item.ref, values=(options[index].value,), **base)


def _plain_key(key: str) -> str:
    """Reaction keys without variation selectors ("✅" and "✅️" are one key)."""
    return key.replace("\ufe0f", "").replace("\ufe0e", "")


def _keycap_index(key: str) -> int | None:
    for index, keycap in enumerate(KEYCAPS):
        if key == _plain_key(keycap):
            return index
    return None


def is_yes_no(options: tuple[Option, ...]) -> bool:
    return tuple(o.value for o in options) == YES_NO_VALUES


# How each form of answer is offered on Matrix: the locale key of the hint under the
# question (options are a numbered list answered by reaction or reply: ✅/❌ for yes/no,
# keycaps then ✅ for a multiple choice); typed answers and files need no hint.
FORMS: Mapping[Form, str] = {
    Form.TYPED: "", Form.FILE: "", Form.NOTHING: "",
    Form.YES_NO: "matrix.hint_yes_no", Form.ONE: "matrix.hint_single", Form.SEVERAL: "matrix.hint_multi",
}


def hint_key(item: Outgoing) -> str:
    """The locale key of the Matrix hint under a question with choices."""
    if item.kind is not OutKind.PROMPT or not item.options:
        return ""
    return FORMS[form_of(item)]


_SLASH = re.compile(r"(?<![\w/:.\-])/([^\W\d_][\w-]*)")


def command_names(texts: Iterable[str]) -> frozenset[str]:
    """The commands the bot's own texts mention ("/aide" -> "aide")."""
    return frozenset(m.group(1).lower() for text in texts for m in _SLASH.finditer(text))


def bang(text: str, names: frozenset[str]) -> str:
    """Show commands as `!aide`: Element asks about, or drops, a message starting with an
    unknown `/command`, while `!aide` is sent as typed (both are understood)."""
    return _SLASH.sub(lambda m: "!" + m.group(1) if m.group(1).lower() in names else m.group(0), text)


def for_matrix(item: Outgoing, names: frozenset[str]) -> Outgoing:
    """The bot's own texts and shortcuts with their commands shown as `!name`."""
    if not names:
        return item
    return replace(item, text=bang(item.text, names),
                   actions=tuple(Option(bang(a.value, names), a.label) for a in item.actions))


def strip_reply_fallback(body: str) -> str:
    """Drop the "> <@user> quoted text" block older clients put before a reply."""
    lines = body.split("\n")
    if not lines or not lines[0].startswith("> <"):
        return body
    index = 0
    while index < len(lines) and lines[index].startswith(">"):
        index += 1
    if index < len(lines) and lines[index] == "":
        index += 1
    return "\n".join(lines[index:])


def fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).strip()


def match_options(text: str, options: tuple[Option, ...], multi: bool) -> tuple[str, ...]:
    """The values a reply names, by number or by text; () when it names none exactly."""
    tokens = [t.strip() for t in text.replace(";", ",").split(",")] if multi else [text.strip()]
    chosen: list[str] = []
    for token in tokens:
        if not token:
            continue
        if token.isdigit() and 1 <= int(token) <= len(options):
            value = options[int(token) - 1].value
        else:
            value = next((o.value for o in options
                          if fold(token) in (fold(o.label), fold(o.value))), "")
        if not value:
            return ()
        if value not in chosen:
            chosen.append(value)
    return tuple(chosen)


def clean_name(name: str) -> str:
    """A file name as shown and stored: no folders, no control characters."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(c for c in base if unicodedata.category(c)[0] != "C").strip()
    return base[:200] or "fichier"


def file_ref(content: dict) -> FileRef:
    info = content.get("info") if isinstance(content.get("info"), dict) else {}
    name = content.get("filename") or content.get("body") or ""
    name = clean_name(name if isinstance(name, str) else "")
    mime = info.get("mimetype") if isinstance(info.get("mimetype"), str) else ""
    size = info.get("size")
    url = content.get("url")
    if not isinstance(url, str):
        encrypted = content.get("file") if isinstance(content.get("file"), dict) else {}
        url = encrypted.get("url", "") if isinstance(encrypted.get("url"), str) else ""
    return FileRef(name=name, mime=mime or mimetypes.guess_type(name)[0] or "application/octet-stream",
                   size=size if isinstance(size, int) and not isinstance(size, bool) and size > 0 else 0,
                   ref=url)


# ------------------------------------------------------------------ outgoing

def _lines(text: str) -> str:
    return "<br>".join(html.escape(line, quote=False) for line in text.split("\n"))


@dataclass(frozen=True, slots=True)
class Addressee:
    """Whom a message in a group room is for: named, and mentioned when it asks them to act."""
    user_id: str = ""
    name: str = ""


@dataclass(frozen=True, slots=True)
class Look:
    """How a message is shown: `loud` ones notify (m.text), the others are quiet (m.notice)."""
    loud: bool = False
    to: Addressee = Addressee()
    hint: str = ""


def _pill(to: Addressee) -> str:
    return f'<a href="https://matrix.to/#/{html.escape(to.user_id)}">{_lines(to.name or to.user_id)}</a>'


def _parts(item: Outgoing, look: Look, settled: str = "") -> tuple[list[str], list[str]]:
    """The plain lines and the HTML blocks of one message."""
    plain: list[str] = []
    rich: list[str] = []
    name = look.to.name if look.to.user_id else ""
    top = " · ".join(p for p in (name, item.header) if p)
    if top:
        plain.append(top)
        lead = _pill(look.to) if look.loud and name else _lines(name)
        rich.append(f"<p><b>{' · '.join(p for p in (lead, _lines(item.header)) if p)}</b></p>")
    if item.text:
        plain.append(item.text)
        rich.append(f"<p>{_lines(item.text)}</p>")
    if item.options:
        marks = [("☑ " if o.value in item.selected else "☐ ") if item.multi else "" for o in item.options]
        plain += [f"{n}. {mark}{o.label}" for n, (mark, o) in enumerate(zip(marks, item.options), 1)]
        rich.append("<ol>" + "".join(f"<li>{_lines(mark + o.label)}</li>"
                                     for mark, o in zip(marks, item.options)) + "</ol>")
    if settled:
        plain.append(f"{SETTLED_MARK} {settled}")
        rich.append(f"<p><b>{SETTLED_MARK} {_lines(settled)}</b></p>")
        return plain, rich
    if look.hint:
        plain.append(look.hint)
        rich.append(f"<p><em>{_lines(look.hint)}</em></p>")
    if item.actions:
        shown = " · ".join(f"{a.label} {a.value}" if a.value != a.label else a.value for a in item.actions)
        plain.append(shown)
        rich.append(f"<p><em>{_lines(shown)}</em></p>")
    return plain, rich


def _content(plain: list[str], rich: list[str], look: Look) -> dict[str, Any]:
    """m.text notifies under default push rules; m.notice never does (.m.rule.suppress_notices).
    Only a loud message in a group room mentions anyone: the person it asks to act."""
    mentions = {"user_ids": [look.to.user_id]} if look.loud and look.to.user_id and look.to.name else {}
    return {"msgtype": "m.text" if look.loud else "m.notice", "body": "\n".join(plain),
            "format": "org.matrix.custom.html", "formatted_body": "".join(rich), "m.mentions": mentions}


def render(item: Outgoing, look: Look = Look()) -> dict[str, Any]:
    """A prompt or a notice -> m.room.message content (DOCUMENT: its caption)."""
    return _content(*_parts(item, look), look)


def edit(target: str, new: dict[str, Any]) -> dict[str, Any]:
    """An m.replace of event `target` with new content."""
    return {"msgtype": new["msgtype"], "body": "* " + new["body"], "format": new["format"],
            "formatted_body": "* " + new["formatted_body"], "m.new_content": new,
            "m.relates_to": {"rel_type": "m.replace", "event_id": target}, "m.mentions": {}}


def render_settled(prompt: Outgoing, settled: Outgoing, target: str, look: Look = Look()) -> dict[str, Any]:
    """The question edited to show the answer it received (an edit never notifies:
    .m.rule.suppress_edits; its m.mentions is empty, nobody is pinged again)."""
    return edit(target, _content(*_parts(prompt, look, settled=settled.text or "…"), look))


def render_update(item: Outgoing, target: str, look: Look = Look()) -> dict[str, Any]:
    """A question re-rendered in place (multiple choice toggled)."""
    return edit(target, render(item, look))


def file_content(item: Outgoing, url: str, size: int, mime: str) -> dict[str, Any]:
    name = clean_name(item.filename or "document")
    return {"msgtype": "m.file", "body": name, "filename": name, "url": url,
            "info": {"mimetype": mime, "size": size}, "m.mentions": {}}


def document_mime(item: Outgoing) -> str:
    return item.mime or mimetypes.guess_type(clean_name(item.filename))[0] or "application/octet-stream"
