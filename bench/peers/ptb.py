"""The python-telegram-bot way: a ConversationHandler of N states, answers in user_data.

Peer A keeps everything in memory (a crash loses it all). Peer B adds a
PicklePersistence written after every update (`update_persistence()` with
`on_flush=False`: every changed conversation or user_data rewrites the whole
file), the only way this design survives a crash.

Each update goes `json.loads` -> `Update.de_json` -> `Application.process_update`;
each reply builds an `InlineKeyboardMarkup` and calls `reply_text`. The Bot
never touches the network: `get_me` and `send_message` return objects built
locally. The application is driven by hand (initialize, start, process_update,
stop, shutdown): `run_polling` would close the event loop.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import gc
import json
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from telegram import Chat, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update, User
from telegram.ext import (Application, ApplicationBuilder, CommandHandler, ContextTypes,
                          ConversationHandler, ExtBot, MessageHandler, PicklePersistence, filters)

NOW = dt.datetime(2024, 6, 12, 8, 0, tzinfo=dt.timezone.utc)


class OfflineBot(ExtBot):
    """A Bot whose API calls are answered locally."""

    _ME = User(id=123456, first_name="tnl", is_bot=True, username="tnl_bench_bot")

    def __init__(self) -> None:
        super().__init__("123456:bench-token-not-used")
        with self._unfrozen():
            self.sent = 0

    async def get_me(self, *args: Any, **kwargs: Any) -> User:
        with self._unfrozen():
            self._bot_user = self._ME
        return self._ME

    async def send_message(self, chat_id: Any, text: str, *args: Any,
                           reply_markup: Any = None, **kwargs: Any) -> Message:
        with self._unfrozen():
            self.sent += 1
        message = Message(message_id=self.sent, date=NOW, chat=Chat(id=int(chat_id), type="private"),
                          from_user=self._ME, text=text, reply_markup=reply_markup)
        message.set_bot(self)
        return message


def keyboard(step: int) -> InlineKeyboardMarkup:
    """Like tnlbot's prompts: the options, then back and skip."""
    return InlineKeyboardMarkup([
        [InlineKeyboardButton("Oui", callback_data=f"q{step}:yes"),
         InlineKeyboardButton("Non", callback_data=f"q{step}:no")],
        [InlineKeyboardButton("Retour", callback_data="/retour"),
         InlineKeyboardButton("Passer", callback_data="/passer")],
    ])


def conversation(states: int, persistent: bool) -> ConversationHandler:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
        context.user_data.clear()
        await update.message.reply_text("Bonjour ! Question 1", reply_markup=keyboard(0))
        return 0

    def answer(step: int):
        async def callback(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
            context.user_data[f"q{step}"] = update.message.text
            if step + 1 == states:
                await update.message.reply_text("Merci, c'est noté.")
                return ConversationHandler.END
            await update.message.reply_text(f"Question {step + 2}", reply_markup=keyboard(step + 1))
            return step + 1
        return callback

    text = filters.TEXT & ~filters.COMMAND
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ConversationHandler(
            entry_points=[CommandHandler("start", start)],
            states={step: [MessageHandler(text, answer(step))] for step in range(states)},
            fallbacks=[], name="tnl", persistent=persistent)


@dataclass(frozen=True)
class PeerRun:
    seconds: float        # all updates processed
    start_seconds: float  # of which the first `starts` updates (the /start of each user)
    updates: int          # updates processed
    stored: int           # answers held in user_data afterwards
    complete: bool        # every update of the workload was processed
    file_bytes: int = 0


def build(states: int, pickle_path: Path | None) -> Application:
    builder = ApplicationBuilder().bot(OfflineBot()).updater(None)
    if pickle_path is not None:
        builder = builder.persistence(PicklePersistence(pickle_path, on_flush=False,
                                                        update_interval=3600))
    application = builder.build()
    application.add_handler(conversation(states, persistent=pickle_path is not None))
    return application


async def _run(raws: list[str], starts: int, states: int, pickle_path: Path | None,
               budget: float | None) -> PeerRun:
    """Process the updates; stop `budget` seconds after the first `starts` ones."""
    application = build(states, pickle_path)
    await application.initialize()
    await application.start()
    bot, persist = application.bot, pickle_path is not None
    processed, start_seconds = 0, 0.0
    gc.collect()
    start = time.perf_counter()
    try:
        for raw in raws:
            await application.process_update(Update.de_json(json.loads(raw), bot))
            if persist:
                await application.update_persistence()
            processed += 1
            if processed == starts:
                start_seconds = time.perf_counter() - start
            elif (budget is not None and processed > starts and processed % 20 == 0
                  and time.perf_counter() - start - start_seconds > budget):
                break
        seconds = time.perf_counter() - start
        stored = sum(len(data) for data in application.user_data.values())
    finally:
        await application.stop()
        await application.shutdown()
    size = pickle_path.stat().st_size if pickle_path is not None and pickle_path.exists() else 0
    return PeerRun(seconds, start_seconds, processed, stored, processed == len(raws), size)


def peer_a(raws: list[str], starts: int, states: int, budget: float | None = None) -> PeerRun:
    """In memory: no persistence; answers stop after `budget` seconds."""
    return asyncio.run(_run(raws, starts, states, None, budget))


def peer_b(raws: list[str], starts: int, states: int, budget: float | None = None) -> PeerRun:
    """PicklePersistence written after every update; answers stop after `budget` seconds."""
    with tempfile.TemporaryDirectory() as folder:
        return asyncio.run(_run(raws, starts, states, Path(folder) / "ptb.pickle", budget))
