"""Telegram tests: the real python-telegram-bot client against the fake Bot API.

`bot_session(flow)` gives a Session: the App on SQLite with an open campaign,
the Telegram transport wired in (relay, rate limits on the fake clock), and
people who type, press buttons and send documents in Telegram. Each action
returns a Screen: what that person saw happen in the chat afterwards.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest
from sqlalchemy import select

from tnlbot.store import tables as T
from tnlbot.transports.telegram import Telegram, callback_secret, make_bot

from .fake_api import FakeBotApi


@pytest.fixture
async def fake():
    api = FakeBotApi()
    await api.start()
    yield api
    await api.stop()


@dataclass
class Screen:
    events: list[tuple]

    @property
    def messages(self) -> list[dict]:
        return [e[2] for e in self.events if e[0] == "message"]

    @property
    def text(self) -> str:
        return "\n\n".join(m["text"] for m in self.messages)

    @property
    def toasts(self) -> list[str]:
        return [e[2] for e in self.events if e[0] == "toast"]

    @property
    def keyboard_edits(self) -> list[dict]:
        return [e[2] for e in self.events if e[0] == "keyboard"]

    @property
    def edits(self) -> list[dict]:
        return [e[2] for e in self.events if e[0] == "edit"]

    @property
    def documents(self) -> list[dict]:
        return [e[2] for e in self.events if e[0] == "document"]

    def __contains__(self, fragment: str) -> bool:
        return fragment in self.text

    def __repr__(self) -> str:
        return f"Screen({[(e[0], e[2] if e[0] == 'toast' else e[2].get('text')) for e in self.events]!r})"


def buttons(message: dict) -> list[dict]:
    return [b for row in (message.get("reply_markup") or {}).get("inline_keyboard", []) for b in row]


def labels(message: dict) -> list[str]:
    return [b["text"] for b in buttons(message)]


def _shows(text: str, label: str) -> bool:
    """A button shows `label`, maybe after a toggle mark or a number, maybe cut short."""
    visible = re.sub(r"^(?:[☐☑] )?(?:\d+\. )?", "", text)
    return visible == label or (visible.endswith("…") and label.startswith(visible[:-1]))


@dataclass
class Session:
    fake: FakeBotApi
    app: object
    telegram: Telegram
    people: list["Person"] = field(default_factory=list)

    async def sink(self, inbound, step=None):
        return await self.app.dispatcher.submit(inbound, step)

    async def pump(self) -> None:
        """Fetch and handle every pending update, then send what the outbox holds."""
        for _ in range(20):
            if not await self.telegram.poll_once(self.sink, 0):
                break
        await self.flush()

    async def flush(self) -> None:
        """Run the relay until nothing due is left (a held chat waits one round); edits the
        chat's send budget deferred go out once it refills (the person waits a second)."""
        for _ in range(50):
            sent = await self.app.relay.flush("telegram")
            now = self.app.clock.now()
            due = [r for r in self.app.store.due_messages("telegram", now)
                   if r.not_before is None or r.not_before <= now]
            if not sent and not due:
                if not self.deferred():
                    break
                self.app.clock.advance(1)

    def deferred(self) -> int:
        o = T.outbox
        with self.app.store.begin() as conn:
            return len(conn.execute(select(o.c.id).where(o.c.status == "deferred")).all())

    def person(self, user_id: int, name: str, chat_id: int | None = None, language: str = "fr") -> "Person":
        return Person(self, {"id": user_id, "is_bot": False, "first_name": name,
                             "language_code": language}, chat_id or user_id)


@dataclass
class Person:
    session: Session
    user: dict
    chat_id: int

    @property
    def fake(self) -> FakeBotApi:
        return self.session.fake

    async def _act(self, push) -> Screen:
        mark = len(self.fake.events)
        push()
        await self.session.pump()
        return Screen(self.fake.seen_by(self.chat_id, mark))

    async def says(self, text: str, reply_to: dict | None = None) -> Screen:
        message = self.fake.user_message(self.chat_id, self.user, text, reply_to)
        return await self._act(lambda: self.fake.push({"message": message}))

    async def sends_document(self, name: str, size: int, mime: str = "application/pdf",
                             data: bytes | None = None) -> Screen:
        """A document announced with this name and size; `data` is what getFile hands over
        (without it, Telegram cannot give the file)."""
        document = {"file_id": f"up-{name}", "file_unique_id": f"u-{name}", "file_name": name,
                    "mime_type": mime, "file_size": size}
        if data is not None:
            self.fake.files[document["file_id"]] = data
        message = self.fake.user_message(self.chat_id, self.user, None, document=document)
        return await self._act(lambda: self.fake.push({"message": message}))

    def mine(self, message: dict) -> bool:
        mentioned = {e["user"]["id"] for e in message.get("entities") or [] if e["type"] == "text_mention"}
        return not mentioned or self.user["id"] in mentioned

    def last_keyboard(self) -> dict:
        """The latest message of the bot in this chat with buttons, meant for this person."""
        shown = [m for (chat, _), m in self.fake.messages.items()
                 if chat == self.chat_id and buttons(m) and self.mine(m)]
        assert shown, "no keyboard on screen"
        return max(shown, key=lambda m: m["message_id"])

    def button(self, label: str, message: dict | None = None) -> str:
        message = message or self.last_keyboard()
        found = ([b for b in buttons(message) if _shows(b["text"], label)]
                 or [b for b in buttons(message) if b["text"].startswith(label)])
        assert found, f"no button {label!r} in {labels(message)}"
        return found[0]["callback_data"]

    async def presses(self, label: str, message: dict | None = None) -> Screen:
        message = message or self.last_keyboard()
        data = self.button(label, message)
        return await self._act(lambda: self.fake.press(self.user, message, data))

    async def presses_data(self, message: dict, data: str) -> Screen:
        return await self._act(lambda: self.fake.press(self.user, message, data))


@pytest.fixture
async def bot_session(fake, make_app, sqlite_store):
    """bot_session(flow_id) -> a started Session (getMe, setMyCommands done)."""
    made: list[Telegram] = []

    async def make(flow_id: str = "tnl-2025-badge", read_timeout: float = 5.0,
                   store=None) -> Session:
        app = make_app(store or sqlite_store, flow_id)
        bot = make_bot(fake.token, fake.base_url, read_timeout=read_timeout)
        telegram = Telegram(bot, app.store, app.catalog, app.clock,
                            secret=callback_secret(fake.token), poll_timeout=0,
                            keep=app.keep_file, wants=app.wants_file)
        app.plug(telegram)
        await bot.initialize()
        telegram.username = bot.username
        await telegram.register_commands()
        made.append(telegram)
        return Session(fake, app, telegram)
    yield make
    for telegram in made:
        await telegram.stop()
