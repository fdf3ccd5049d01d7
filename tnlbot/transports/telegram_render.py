"""Outgoing -> Bot API calls (pure): HTML escaped, split, native keyboards.

How this file works:
- Every text from the engine (questions, answers echoed, names) is escaped
  with html.escape before it meets the few tags added here (<i>, <a>), and
  the message is sent with parse_mode HTML.
- A message longer than Telegram's 4,096 characters (counted in UTF-16
  units, as Telegram does) is split on paragraph, then line, then word
  boundaries; the progress header goes on the first part, the keyboard on
  the last.
- Choices become an inline keyboard: one button per choice, toggles
  (☐/☑) and a "validate" button for multiple choice, then the navigation
  shortcuts (Retour, Passer...). Each button carries signed data (see
  telegram_codec). A SETTLED item replaces the keyboard of its prompt with
  one button showing the answer (pressing it asks the question again); a
  PROMPT with `update` edits the prompt in place. A question that follows a
  choice starts with a line recording it (`answered`, given by the relay): the
  settling edit is cosmetic, and dropped when the send budget has no room.
"""
from __future__ import annotations

import html
from collections import OrderedDict
from functools import lru_cache
from typing import Callable, Mapping

from ..core.events import Option, Outgoing, OutKind
from ..core.kinds import Form, form_of
from .telegram_codec import ACTION, CHOICE, EDIT, TOGGLE, VALIDATE, button_data

# Enum members read on every event, as module constants: reading one through its class
# goes through the Enum metaclass's __getattr__ hook, a Python-level call each time
_SETTLED = OutKind.SETTLED
_DOCUMENT = OutKind.DOCUMENT
_PROMPT = OutKind.PROMPT
_TYPED = Form.TYPED

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_LABEL = 60
LONG_CHOICE = 30      # longer choices are listed in full in the text, numbered on buttons
WORDS = {"validate": "✅ Valider ({n})", "for_member": "Pour {name} (répondez en citant ce message) :",
         "answered": "✓ {value}"}
_NO_PREVIEW = {"is_disabled": True}


def _esc(text: str) -> str:
    return html.escape(text, quote=False)


def units(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units)."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le")) // 2


def split_text(text: str, limit: int = MAX_TEXT, first_limit: int | None = None) -> list[str]:
    """Cut `text` into parts of at most `limit` units, at the cleanest boundary."""
    parts: list[str] = []
    rest = text
    budget = limit if first_limit is None else first_limit
    while units(rest) > budget:
        cut = _cut(rest, budget)
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip("\n ")
        budget = limit
    parts.append(rest)
    return [p for p in parts if p] or [""]


def _cut(text: str, budget: int) -> int:
    end = _fit(text, budget)
    for sep in ("\n\n", "\n", " "):
        at = text.rfind(sep, 0, end + len(sep))   # a separator starting within the budget
        if at > end // 3:
            return at
    return end


def _fit(text: str, budget: int) -> int:
    """The longest prefix within `budget` units, never inside a surrogate pair."""
    count = 0
    for index, char in enumerate(text):
        count += 2 if ord(char) > 0xFFFF else 1
        if count > budget:
            return max(index, 1)
    return len(text)


@lru_cache(maxsize=4096)   # the flows' choices and shortcuts, on every keyboard
def _label(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_LABEL else text[:MAX_LABEL - 1] + "…"


class _Keys:
    """Builds signed buttons for one recipient."""

    def __init__(self, secret: bytes, chat_id: str, user_id: str):
        self.secret, self.chat_id, self.user_id = secret, chat_id, user_id or chat_id

    def button(self, label: str, op: str, body: str, index: int = -1) -> dict | None:
        data = button_data(self.secret, self.chat_id, self.user_id, op, body, index)
        return {"text": _label(label) or "·", "callback_data": data} if data else None


def _rows(buttons: list[dict | None], labels: list[str], wide: int = 30) -> list[list[dict]]:
    kept = [b for b in buttons if b is not None]
    if not kept:
        return []
    if len(kept) <= 5 and sum(len(x) for x in labels) <= wide:
        return [kept]
    return [[b] for b in kept]


def numbered(item: Outgoing) -> bool:
    """Choices too long for a button are listed in the text and numbered."""
    return bool(item.ref) and any(len(o.label) > LONG_CHOICE for o in item.options)


def _choice_labels(item: Outgoing) -> list[str]:
    if numbered(item):
        return [f"{n}. {o.label}" for n, o in enumerate(item.options, 1)]
    return [o.label for o in item.options]


Keyboard = Callable[[Outgoing, _Keys, Mapping[str, str]], list[list[dict]]]


def _no_keys(item: Outgoing, keys: _Keys, words: Mapping[str, str]) -> list[list[dict]]:
    return []


def _choice_keys(item: Outgoing, keys: _Keys, words: Mapping[str, str]) -> list[list[dict]]:
    shown = _choice_labels(item)
    buttons = [keys.button(shown[i], CHOICE, f"{item.ref}|{o.value}", i) for i, o in enumerate(item.options)]
    return _rows(buttons, shown)


def _toggle_keys(item: Outgoing, keys: _Keys, words: Mapping[str, str]) -> list[list[dict]]:
    rows: list[list[dict]] = []
    shown = _choice_labels(item)
    for index, option in enumerate(item.options):
        mark = "☑ " if option.value in item.selected else "☐ "
        rows.append([b for b in [keys.button(mark + shown[index], TOGGLE,
                                             f"{item.ref}|{option.value}", index)] if b])
    done = keys.button(words["validate"].format(n=len(item.selected)), VALIDATE, item.ref)
    rows.append([done] if done else [])
    return rows


# How each form of answer is offered on Telegram: typed answers and files have no keyboard,
# a choice is one button per option, a multiple choice toggles (☐/☑) and a "validate" button.
FORMS: Mapping[Form, Keyboard] = {
    Form.TYPED: _no_keys, Form.FILE: _no_keys, Form.NOTHING: _no_keys,
    Form.YES_NO: _choice_keys, Form.ONE: _choice_keys, Form.SEVERAL: _toggle_keys,
}


def keyboard(item: Outgoing, keys: _Keys, words: Mapping[str, str]) -> list[list[dict]]:
    """The answer's buttons (a button needs the prompt's ref), then the shortcuts."""
    rows = FORMS[form_of(item) if item.ref else _TYPED](item, keys, words)
    rows += _action_rows(item.actions, keys)
    return [row for row in rows if row]


def _action_rows(actions: tuple[Option, ...], keys: _Keys) -> list[list[dict]]:
    """The shortcuts' rows: the same on every question for one recipient, so kept per
    recipient (with the prompts' shared action tuple they were built from, compared by
    identity; the least recently used recipients go first) and copied out."""
    if not actions:
        return []
    key = (keys.secret, keys.chat_id, keys.user_id)
    found = _ACTION_ROWS.get(key)
    if found is None or found[0] is not actions:
        buttons = [keys.button(a.label, ACTION, a.value.lstrip("/")) for a in actions]
        kept = [b for b in buttons if b is not None]
        width = 5 if all(len(a.label) <= 4 for a in actions) else 3
        found = _ACTION_ROWS[key] = (actions, [kept[i:i + width] for i in range(0, len(kept), width)])
        if len(_ACTION_ROWS) > _ACTION_ROWS_MAX:
            _ACTION_ROWS.popitem(last=False)
    else:
        _ACTION_ROWS.move_to_end(key)
    return [[dict(button) for button in row] for row in found[1]]


_ACTION_ROWS: OrderedDict[tuple[bytes, str, str], tuple[tuple[Option, ...], list[list[dict]]]] = OrderedDict()
_ACTION_ROWS_MAX = 1024     # recipients (as many as the store's copies of answers)


def _head(item: Outgoing, chat_id: str, user_id: str, mention: str, words: Mapping[str, str],
          answered: str = "") -> tuple[str, str]:
    """(html, plain) of what goes before the text: the choice just made on the question
    before (its record in the chat, whether or not the edit settling that question is
    ever sent), progress and, in groups, whose turn."""
    html_parts, plain_parts = [], []
    if answered:
        line = words["answered"].format(value=answered)
        html_parts.append(_esc(line))
        plain_parts.append(line)
    if item.header:
        html_parts.append(f"<i>{_esc(item.header)}</i>")
        plain_parts.append(item.header)
    if chat_id.startswith("-") and user_id and mention:
        line = words["for_member"].format(name="\x00")
        before, _, after = line.partition("\x00")
        link = f'<a href="tg://user?id={html.escape(user_id)}">{_esc(mention)}</a>'
        html_parts.append(_esc(before) + link + _esc(after))
        plain_parts.append(before + mention + after)
    if not html_parts:
        return "", ""
    return "\n".join(html_parts) + "\n\n", "\n".join(plain_parts) + "\n\n"


def render(item: Outgoing, chat_id: str = "0", *, user_id: str = "", secret: bytes = b"",
           message_id: str = "", words: Mapping[str, str] | None = None,
           mention: str = "", answered: str = "") -> list[dict]:
    """One outbox item -> the Bot API calls that show it: [{"method", "params"}]. `answered`:
    the choice just made on the question before, shown atop this one."""
    words = {**WORDS, **words} if words else WORDS
    keys = _Keys(secret, chat_id, user_id)
    if item.kind is _SETTLED:
        return _settled(item, chat_id, message_id, keys)
    if item.kind is _DOCUMENT:
        return _document(item, chat_id, user_id, mention, words)
    head_html, head_plain = _head(item, chat_id, user_id, mention, words, answered)
    text = item.text or "…"
    if numbered(item):
        text += "\n\n" + "\n".join(_choice_labels(item))
    parts = split_text(text, MAX_TEXT, MAX_TEXT - units(head_plain))
    calls = [{"method": "sendMessage", "params": {
        "chat_id": chat_id, "text": (head_html if n == 0 else "") + _esc(part),
        "parse_mode": "HTML", "link_preview_options": _NO_PREVIEW}} for n, part in enumerate(parts)]
    markup = keyboard(item, keys, words)
    if markup:
        calls[-1]["params"]["reply_markup"] = {"inline_keyboard": markup}
    if item.kind is _PROMPT and item.update and message_id:
        last = calls[-1]["params"]
        last.pop("link_preview_options")
        return [{"method": "editMessageText", "params": {
            **last, "message_id": message_id, "link_preview_options": _NO_PREVIEW}}]
    return calls


def _settled(item: Outgoing, chat_id: str, message_id: str, keys: _Keys) -> list[dict]:
    if not message_id:
        return []
    button = keys.button(f"✅ {item.text} ✎", EDIT, item.ref)
    markup = {"inline_keyboard": [[button]] if button else []}
    return [{"method": "editMessageReplyMarkup",
             "params": {"chat_id": chat_id, "message_id": message_id, "reply_markup": markup}}]


def _document(item: Outgoing, chat_id: str, user_id: str, mention: str,
              words: Mapping[str, str]) -> list[dict]:
    head_html, head_plain = _head(item, chat_id, user_id, mention, words)
    calls: list[dict] = []
    caption = head_html + _esc(item.text)
    if units(head_plain + item.text) > MAX_CAPTION:
        calls = render(Outgoing(OutKind.NOTICE, item.text, header=item.header), chat_id,
                       user_id=user_id, words=words, mention=mention)
        caption = ""
    params: dict = {"chat_id": chat_id}
    if caption.strip():
        params.update(caption=caption, parse_mode="HTML")
    calls.append({"method": "sendDocument", "params": params,
                  "file": {"name": item.filename or "document", "mime": item.mime, "data": item.data}})
    return calls
