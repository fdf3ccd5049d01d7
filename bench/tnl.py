"""tnlbot on the path of one answer: raw update JSON -> committed answer -> reply.

Per update: `json.loads`, the Telegram transport's parser (`inbound_from_update`),
`Dispatcher.handle` (one committed transaction), then the messages it
committed to the outbox are rendered as the Telegram calls they become.
"""
from __future__ import annotations

import importlib
import json
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable

from sqlalchemy import func, select

from tnlbot.app import App, Settings
from tnlbot.core.events import Inbound, Outgoing, OutKind
from tnlbot.runtime.clock import Clock
from tnlbot.store import Store
from tnlbot.store import tables as T
from tnlbot.store.campaigns import create_campaign
from tnlbot.transports.console import parse_line
from tnlbot.transports.console import render as console_render

CAMPAIGN = "bench-2022"


def _telegram() -> Any:
    try:
        return importlib.import_module("tnlbot.transports.telegram")
    except ModuleNotFoundError as exc:
        if exc.name != "tnlbot.transports.telegram":
            raise
        return None


SECRET = b"bench secret for button data!!!!"


def _console_inbound(update: dict) -> Inbound:
    message = update["message"]
    return parse_line(message.get("text", ""), str(message["chat"]["id"]),
                      str(message["from"]["id"]), str(update["update_id"]))


def _console_render(item: Outgoing, chat_id: str, user_id: str) -> Any:
    return console_render(item)


Parse = Callable[[dict], Inbound]
Render = Callable[[Outgoing, str, str], Any]


def parser_and_renderer() -> tuple[Parse, Render, str]:
    """The Telegram transport's pure functions, or the terminal's while they are missing."""
    module = _telegram()
    found_parse = getattr(module, "inbound_from_update", None)
    found_render = getattr(module, "render", None)
    parse: Parse = _console_inbound
    render: Render = _console_render
    source = "console.parse_line"
    if found_parse is not None:
        def parse(update: dict) -> Inbound:
            inbound = found_parse(update, "tnl_bench_bot", SECRET)
            if inbound is None:
                raise ValueError(f"update {update.get('update_id')} is not for the bot")
            return inbound
        source = "telegram.inbound_from_update"
    if found_render is not None:
        def render(item: Outgoing, chat_id: str, user_id: str) -> Any:
            return found_render(item, chat_id, user_id=user_id, secret=SECRET)
        source += " + telegram.render"
    else:
        source += " + console.render"
    return parse, render, source


def open_campaign(store: Store, clock: Clock) -> None:
    now = clock.now()
    with store.begin() as conn:
        if conn.execute(select(T.campaigns.c.id).where(T.campaigns.c.slug == CAMPAIGN)).first():
            return
        create_campaign(conn, slug=CAMPAIGN, year=2024, track="label", flow_id="tnl-2022",
                        opens_at=now - timedelta(days=1), closes_at=now + timedelta(days=120),
                        state="open")


class TnlBot:
    """An App built like the tests' make_app, fed raw Telegram updates."""

    def __init__(self, url: str, campaign: bool = True):
        clock = Clock()
        store = Store(url)
        if campaign:
            open_campaign(store, clock)
        self.app = App(Settings(database_url=url, campaign=CAMPAIGN), clock=clock, store=store)
        self.parse, self.render, self.source = parser_and_renderer()
        self._payloads = select(T.outbox.c.payload)

    @classmethod
    def sqlite(cls, path: Path) -> "TnlBot":
        return cls(Store.sqlite_url(path))

    def handle_raw(self, raw: str) -> Outgoing | None:
        """One update end to end; returns the last prompt of the reply (for checks)."""
        update = json.loads(raw)
        inbound = self.parse(update)
        handled = self.app.dispatcher.handle(inbound)
        prompt = None
        for addressed in handled.messages:   # the rows just committed to the outbox
            item = addressed.item
            self.render(item, addressed.chat_id, addressed.user_id)
            if item.kind is OutKind.PROMPT:
                prompt = item
        return prompt

    def handle_batch(self, raws: list[str]) -> None:
        """Updates delivered together: one transaction, a savepoint each (group commit)."""
        inbounds = [self.parse(json.loads(raw)) for raw in raws]
        for result in self.app.dispatcher.handle_batch(inbounds):
            if isinstance(result, Exception):
                raise result
            for addressed in result.messages:
                self.render(addressed.item, addressed.chat_id, addressed.user_id)

    def answer_count(self) -> int:
        with self.app.store.begin() as conn:
            return int(conn.execute(select(func.count()).select_from(T.answers)).scalar() or 0)

    def answers_per_conversation(self) -> dict[str, int]:
        c, a = T.conversations, T.answers
        with self.app.store.begin() as conn:
            rows = conn.execute(select(c.c.user_id, func.count(a.c.key))
                                .join(a, a.c.candidature_id == c.c.candidature_id, isouter=True)
                                .group_by(c.c.user_id)).all()
        return {str(user): int(count) for user, count in rows}

    def close(self) -> None:
        self.app.close()
