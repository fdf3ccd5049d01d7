"""The plain python-telegram-bot way, as a whole process: Application + ConversationHandler.

The same questions as tnlbot's flow (texts and choices read from the flow's
files), answers kept in `user_data` (in memory: a crash loses them), polling
with PTB's own Updater. With `--limits` it goes through a BaseRateLimiter
holding the same token buckets tnlbot uses (1 message/s per chat with a
burst of 3, 30/s overall). On SIGTERM it writes how many answers it holds
per user to `--held` (the benchmark's check of what survived a kill -9).

    python -m bench.e2e.plainbot --base-url http://127.0.0.1:PORT --token T [--limits] [--held FILE]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import time
import warnings
from pathlib import Path
from typing import Any

import yaml
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    Application,
    BaseRateLimiter,
    CommandHandler,
    ContextTypes,
    ConversationHandler,
    MessageHandler,
    filters,
)

FLOWS = Path(__file__).resolve().parents[2] / "flows"
FLOW = "tnl-2025-badge"


def questions(flows: Path, flow: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """(text, [(choice id, label)]) of every question, in order, in French."""
    model = yaml.safe_load((flows / f"{flow}.yaml").read_text(encoding="utf-8"))
    texts = yaml.safe_load((flows / f"{flow}.fr.yaml").read_text(encoding="utf-8"))["questions"]
    found = []
    for volet in model["volets"]:
        for question in volet["questions"]:
            text = texts[question["id"]]
            labels = text.get("choices") or {}
            found.append((text["text"], [(c, labels.get(c, c)) for c in question.get("choices", [])]))
    return found


def keyboard(step: int, choices: list[tuple[str, str]]) -> InlineKeyboardMarkup:
    rows = [[InlineKeyboardButton(label[:60], callback_data=f"q{step}:{n}")]
            for n, (_, label) in enumerate(choices)]
    rows.append([InlineKeyboardButton("Retour", callback_data="/retour"),
                 InlineKeyboardButton("Passer", callback_data="/passer")])
    return InlineKeyboardMarkup(rows)


def conversation(asked: list[tuple[str, list[tuple[str, str]]]]) -> ConversationHandler:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
        context.user_data.clear()
        await update.message.reply_text("Bonjour ! Je vais vous accompagner, question par question.")
        text, choices = asked[0]
        await update.message.reply_text(text, reply_markup=keyboard(0, choices))
        return 0

    def answer(step: int):
        async def callback(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
            context.user_data[step] = update.message.text
            if step + 1 == len(asked):
                await update.message.reply_text("Merci, toutes les questions ont une réponse.")
                return ConversationHandler.END
            text, choices = asked[step + 1]
            await update.message.reply_text(text, reply_markup=keyboard(step + 1, choices))
            return step + 1
        return callback

    typed = filters.TEXT & ~filters.COMMAND
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ConversationHandler(
            entry_points=[CommandHandler("start", start)],
            states={step: [MessageHandler(typed, answer(step))] for step in range(len(asked))},
            fallbacks=[])


class Bucket:
    """A token bucket, as tnlbot's runtime.ratelimit."""

    def __init__(self, rate: float, burst: float):
        self.rate, self.burst, self.tokens, self.stamp = rate, burst, burst, time.monotonic()

    def wait(self) -> float:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate


class Limits(BaseRateLimiter):
    """1 message/s per chat (burst 3) and 30/s overall, the limits tnlbot applies."""

    def __init__(self) -> None:
        self.chats: dict[Any, Bucket] = {}
        self.overall = Bucket(30, 30)

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def process_request(self, callback, args, kwargs, endpoint, data, rate_limit_args):
        chat = data.get("chat_id")
        if chat is not None:
            buckets = [self.chats.setdefault(chat, Bucket(1, 3)), self.overall]
            while True:
                wait = max(b.wait() for b in buckets)
                if wait <= 0:
                    break
                await asyncio.sleep(wait)
            for bucket in buckets:
                bucket.tokens -= 1
        return await callback(*args, **kwargs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--limits", action="store_true")
    parser.add_argument("--held", default="")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    builder = (Application.builder().token(args.token).base_url(f"{args.base_url}/bot")
               .concurrent_updates(False))   # PTB's default; concurrent updates break
    #                                            ConversationHandler (a reply can arrive before
    #                                            the handler has returned its next state)
    if args.limits:
        builder = builder.rate_limiter(Limits())
    application = builder.build()
    application.add_handler(conversation(questions(FLOWS, FLOW)))
    try:
        application.run_polling(poll_interval=0.0, timeout=10, drop_pending_updates=False)
    finally:
        if args.held:
            held = {str(user): len(data) for user, data in application.user_data.items()}
            Path(args.held).write_text(json.dumps(held), encoding="utf-8")


if __name__ == "__main__":
    main()
