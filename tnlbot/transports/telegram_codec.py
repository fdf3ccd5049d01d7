"""Telegram updates -> Inbound, and the signed callback data of buttons (pure).

How this file works:
- `inbound_from_update` reads a raw Bot API update (a dict, as decoded from
  JSON) with plain dict lookups: no PTB object model on the hot path. It
  never raises: an update it cannot read becomes an UNRECOGNISED inbound, or
  None when it is not for the bot (service messages, other bots, chatter in
  a group that neither replies to the bot nor commands it).
- The external id is the update id plus the message or callback id, so a
  redelivery is recognised (same update) and an update id reused after a
  quiet week is not mistaken for an old one.
- Button data is `op + tag + body` (at most 64 bytes). The tag is an HMAC of
  (chat, person, op, body) under the bot's secret: a pressed button is
  verified on return, and a button pressed by another member of a group does
  not verify for them. When `ref|value` does not fit, the data names the
  option by its position (upper-case op) and the transport resolves it from
  the prompt stored for that message (`resolve_press`).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
from functools import lru_cache
from typing import Any

from ..core.events import FileRef, Inbound, InboundKind, Outgoing

# Enum members read on every event, as module constants: reading one through its class
# goes through the Enum metaclass's __getattr__ hook, a Python-level call each time
_TEXT = InboundKind.TEXT
_COMMAND = InboundKind.COMMAND

TRANSPORT = "telegram"
MAX_DATA = 64
TAG_LEN = 8                      # 6 bytes of HMAC, base64url
CHOICE, TOGGLE, VALIDATE, ACTION, EDIT = "c", "t", "v", "a", "e"
COMPACT = {"C": CHOICE, "T": TOGGLE, "V": VALIDATE, "E": EDIT}
INVALID_BUTTON = "button:invalid"
_GROUPS = ("group", "supergroup")
_SERVICE = frozenset(("new_chat_members", "left_chat_member", "migrate_to_chat_id", "migrate_from_chat_id",
            "group_chat_created", "supergroup_chat_created", "pinned_message", "new_chat_title",
            "new_chat_photo", "delete_chat_photo", "message_auto_delete_timer_changed"))


# ------------------------------------------------------------------ button data

def _signed(chat_id: str, user_id: str, op: str, body: str) -> bytes:
    """What a button's signature covers: whose button it is, and what it does."""
    return f"{chat_id}\x1f{user_id}\x1f{op}\x1f{body}".encode()


def tag(secret: bytes, chat_id: str, user_id: str, op: str, body: str) -> str:
    """The signature of a button: keyed BLAKE2b (a MAC in one call), 6 bytes, base64url."""
    mac = _recipient(secret, chat_id, user_id).copy()
    mac.update(f"{op}\x1f{body}".encode())     # the rest of _signed(...)
    return base64.urlsafe_b64encode(mac.digest()).decode()


@lru_cache(maxsize=256)
def _recipient(secret: bytes, chat_id: str, user_id: str) -> "hashlib._Hash":
    """The MAC's state after the key and the recipient, shared by a message's buttons (only
    ever copied, never updated)."""
    return hashlib.blake2b(f"{chat_id}\x1f{user_id}\x1f".encode(), key=secret[:64], digest_size=6)


def _hmac_tag(secret: bytes, chat_id: str, user_id: str, op: str, body: str) -> str:
    """The signature of buttons sent by earlier versions (HMAC-SHA256), still accepted."""
    mac = hmac.new(secret, _signed(chat_id, user_id, op, body), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()[:6]).decode()


def button_data(secret: bytes, chat_id: str, user_id: str, op: str, body: str,
                index: int = -1) -> str:
    """Signed data for one button; the compact form when `body` is too long."""
    signature = tag(secret, chat_id, user_id, op, body)
    data = op + signature + body
    if len(data.encode()) <= MAX_DATA:
        return data
    compact = next((k for k, v in COMPACT.items() if v == op), "")
    if not compact or (index < 0 and op != VALIDATE and op != EDIT):
        return ""
    return compact + signature + (str(index) if index >= 0 else "")


def _verified(secret: bytes, chat_id: str, user_id: str, op: str, body: str, signature: str) -> bool:
    return (hmac.compare_digest(tag(secret, chat_id, user_id, op, body), signature)
            or hmac.compare_digest(_hmac_tag(secret, chat_id, user_id, op, body), signature))


def _press(base: dict, op: str, body: str) -> Inbound | None:
    ref, _, value = body.partition("|")
    if op == CHOICE and ref and value:
        return Inbound(kind=InboundKind.CHOICE, ref=ref, values=(value,), **base)
    if op == TOGGLE and ref and value:
        return Inbound(kind=InboundKind.TOGGLE, ref=ref, values=(value,), **base)
    if op == VALIDATE and body:
        return Inbound(kind=InboundKind.CHOICE, ref=body, values=(), **base)
    if op == EDIT and body:
        return Inbound(kind=_COMMAND, command="edit", text=body, **base)
    if op == ACTION and body:
        name, _, args = body.lstrip("/").partition(" ")
        return Inbound(kind=_COMMAND, command=name.lower(), text=args.strip(), **base)
    return None


def decode_press(data: str, base: dict, secret: bytes) -> Inbound:
    """Callback data -> Inbound; a bad or foreign tag -> UNRECOGNISED (INVALID_BUTTON)."""
    invalid = Inbound(kind=InboundKind.UNRECOGNISED, text=INVALID_BUTTON, **base)
    if len(data) < 1 + TAG_LEN:
        return invalid
    op, signature, body = data[0], data[1:1 + TAG_LEN], data[1 + TAG_LEN:]
    if op in COMPACT:   # resolved later against the stored prompt
        return Inbound(kind=InboundKind.CHOICE, ref="", text=data, **base)
    if not _verified(secret, base["chat_id"], base["user_id"], op, body, signature):
        return invalid
    return _press(base, op, body) or invalid


def needs_resolving(inbound: Inbound) -> bool:
    return inbound.kind is InboundKind.CHOICE and not inbound.ref and inbound.text[:1] in COMPACT


def resolve_press(inbound: Inbound, prompt: Outgoing | None, secret: bytes) -> Inbound:
    """A compact press, given the prompt shown in that message -> the real Inbound."""
    base = _base_of(inbound)
    invalid = Inbound(kind=InboundKind.UNRECOGNISED, text=INVALID_BUTTON, **base)
    data = inbound.text
    op, signature, rest = COMPACT.get(data[:1], ""), data[1:1 + TAG_LEN], data[1 + TAG_LEN:]
    if prompt is None or not op or not prompt.ref:
        return invalid
    body = prompt.ref
    if op in (CHOICE, TOGGLE):
        if not rest.isdigit() or int(rest) >= len(prompt.options):
            return invalid
        body = f"{prompt.ref}|{prompt.options[int(rest)].value}"
    if not _verified(secret, inbound.chat_id, inbound.user_id, op, body, signature):
        return invalid
    return _press(base, op, body) or invalid


def _base_of(inbound: Inbound) -> dict:
    return dict(transport=inbound.transport, external_id=inbound.external_id,
                chat_id=inbound.chat_id, user_id=inbound.user_id,
                display_name=inbound.display_name, language=inbound.language)


# ------------------------------------------------------------------ updates

def inbound_from_update(raw: dict, bot_username: str = "", secret: bytes = b"") -> Inbound | None:
    """One raw Bot API update -> Inbound (or None: not for the bot). Never raises."""
    try:
        if "message" in raw:
            return _from_message(raw["update_id"], raw["message"], bot_username.lower())
        if "callback_query" in raw:
            return _from_callback(raw["update_id"], raw["callback_query"], secret)
        return None
    except Exception:  # noqa: BLE001 - malformed input must not stop the bot
        return _unreadable(raw)


def _unreadable(raw: Any) -> Inbound | None:       # any JSON value: checked by trying
    try:
        event = raw.get("message") or raw.get("callback_query") or {}
        message = event.get("message", event)   # a callback carries its message
        chat = str(message["chat"]["id"])
        user = str((event.get("from") or {}).get("id") or chat)
        return Inbound(TRANSPORT, f"{raw['update_id']}:?", chat, user,
                       InboundKind.UNRECOGNISED)
    except Exception:  # noqa: BLE001 - not even a chat to tell: the update is dropped
        return None


def _person(sender: dict) -> tuple[str, str, str]:
    name = " ".join(p for p in (sender.get("first_name", ""), sender.get("last_name", "")) if p)
    return str(sender["id"]), name or sender.get("username", ""), sender.get("language_code", "")


def _from_callback(update_id: int, query: dict, secret: bytes) -> Inbound | None:
    message = query.get("message")
    sender = query["from"]
    if not message or "chat" not in message:
        return None
    user, name, language = _person(sender)
    chat = str(message["chat"]["id"])
    base = dict(transport=TRANSPORT, external_id=f"{update_id}:q{query['id']}", chat_id=chat,
                user_id=user, display_name=name, language=language)
    return decode_press(str(query.get("data") or ""), base, secret)


def _from_message(update_id: int, message: dict, bot: str) -> Inbound | None:
    sender = message.get("from")
    chat = message["chat"]
    if not sender or sender.get("is_bot") or chat.get("type") == "channel":
        return None
    if not _SERVICE.isdisjoint(message):
        return None
    group = chat.get("type") in _GROUPS
    user, name, language = _person(sender)
    base = dict(transport=TRANSPORT, external_id=f"{update_id}:{chat['id']}/{message['message_id']}",
                chat_id=str(chat["id"]), user_id=user, display_name=name, language=language)
    text = message.get("text")
    if isinstance(text, str):
        return _from_text(text, message, base, bot, group)
    if group and not _replies_to_bot(message, bot, user):
        return None
    if "document" in message:
        doc = message["document"]
        return Inbound(kind=InboundKind.FILE, file=FileRef(
            name=str(doc.get("file_name") or "document"), mime=str(doc.get("mime_type") or ""),
            size=int(doc.get("file_size") or 0), ref=str(doc["file_id"])), **base)
    if message.get("photo"):
        photo = max(message["photo"], key=lambda p: p.get("file_size") or 0)
        return Inbound(kind=InboundKind.FILE, file=FileRef(
            name="photo.jpg", mime="image/jpeg", size=int(photo.get("file_size") or 0),
            ref=str(photo["file_id"])), **base)
    if "contact" in message and str(message["contact"].get("user_id", "")) == user:
        return Inbound(kind=_TEXT, text=str(message["contact"]["phone_number"]), **base)
    return Inbound(kind=InboundKind.UNRECOGNISED, **base)


def _from_text(text: str, message: dict, base: dict, bot: str, group: bool) -> Inbound | None:
    if text.startswith("/") and len(text) > 1 and not text[1].isspace():
        head, _, args = text[1:].partition(" ")
        name, _, target = head.partition("@")
        if target and bot and target.lower() != bot:
            return None   # a command for another bot
        return Inbound(kind=_COMMAND, command=name.lower(), text=args.strip(), **base)
    if group:
        mention = f"@{bot}" if bot else ""
        if mention and mention in text.lower():
            start = text.lower().index(mention)
            text = (text[:start] + text[start + len(mention):]).strip()
        elif not _replies_to_bot(message, bot, base["user_id"]):
            return None
    return Inbound(kind=_TEXT, text=text, **base)


def _replies_to_bot(message: dict, bot: str, user: str) -> bool:
    """A reply to one of the bot's messages meant for this member (groups)."""
    replied = message.get("reply_to_message")
    if not replied:
        return False
    author = replied.get("from") or {}
    if not author.get("is_bot") or (bot and str(author.get("username", "")).lower() != bot):
        return False
    for_whom = {str((e.get("user") or {}).get("id")) for e in replied.get("entities") or ()
                if e.get("type") == "text_mention"}
    return not for_whom or user in for_whom
