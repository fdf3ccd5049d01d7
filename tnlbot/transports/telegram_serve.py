"""`tnlbot run --transport telegram [--webhook]`: the bot as a long-running process.

Stopping (SIGTERM, SIGINT): the batch in hand is committed, receiving stops,
the relay sends what it can within `drain_seconds`, the process exits 0; a
second signal exits at once (ops/service.py).
"""
from __future__ import annotations

import asyncio
import logging
import sys
from typing import Any

from ..app import App
from ..core.events import Inbound
from ..ops.logs import event
from ..ops.service import Lifecycle, configure_logging, start_endpoint
from ..runtime.lease import Lease
from .telegram import Telegram, attach, callback_secret, make_bot

log = logging.getLogger(__name__)


def serve(settings: Any, webhook: bool = False) -> int:
    if not settings.telegram_token:
        print("The Telegram bot token is missing: set TNLBOT_TELEGRAM_TOKEN or telegram_token "
              "in the configuration file.", file=sys.stderr)
        return 2
    configure_logging(settings)
    app = App(settings)
    try:
        app.ensure_campaign()
        config = None
        if webhook:
            from .telegram_webhook import WebhookConfig
            config = WebhookConfig.from_settings(settings)
        bot = make_bot(settings.telegram_token, settings.telegram_base_url)
        # several processes may run: one receives (long polling) at a time, all relay and tick
        lease = None if webhook else Lease(app.store, "telegram-poller", app.clock,
                                           ttl=float(settings.extra.get("telegram_poller_lease", 15)))
        telegram = Telegram(bot, app.store, app.catalog, app.clock,
                            secret=callback_secret(settings.telegram_token), webhook=config, lease=lease)
        attach(app, telegram)
        return asyncio.run(_serve(app, telegram, Lifecycle(settings), settings))
    finally:
        app.close()


async def _serve(app: App, telegram: Telegram, life: Lifecycle, settings: Any) -> int:
    stop = asyncio.Event()
    life.install(stop)
    app.relay.recover()
    # webhook: Telegram calls us when there is news; polling: getUpdates answers every 25 s
    bound = None if telegram.webhook else telegram.poll_timeout + 95.0
    _, endpoint = await start_endpoint(app, settings, receive_bound=bound)

    async def sink(inbound: Inbound) -> object:
        handled = await app.dispatcher.submit(inbound)
        app.relay.wake.set()
        return handled

    async def batch(inbounds: list[Inbound]) -> list:
        """A getUpdates batch in one commit (group commit)."""
        return await app.dispatcher.submit_batch(inbounds)

    sending: set[asyncio.Task] = set()

    def committed(chats: set[str]) -> None:
        """Without send limits, the batch's replies leave at once, chat by chat (the relay's
        loop catches what is left, retries and deferred edits); with limits, the loop sends
        them oldest first (flushes side by side would race for the tokens, unfairly)."""
        limiter = app.relay.limiters.get(telegram.name)
        if limiter is not None and (limiter.per_chat or limiter.overall):
            app.relay.wake.set()
        elif chats:
            task = asyncio.create_task(app.relay.flush(telegram.name, chats))
            sending.add(task)
            task.add_done_callback(sending.discard)
    sink.batch = batch  # type: ignore[attr-defined]
    sink.committed = committed  # type: ignore[attr-defined]

    try:
        if not await _start(telegram, sink, stop):
            return 1 if not stop.is_set() else 0
        event(log, "started", transport="telegram", mode="webhook" if telegram.webhook else "polling")
        failed = await _run(app, telegram, stop)
        if sending:                      # a batch's replies on their way: let them land first
            await asyncio.wait(set(sending), timeout=life.drain_seconds)
        await life.drain(app)
        event(log, "stopped", transport="telegram", failed=failed)
        return 1 if failed else 0
    finally:
        await telegram.stop()
        if endpoint is not None:
            await endpoint.stop()


async def _run(app: App, telegram: Telegram, stop: asyncio.Event) -> bool:
    """Receive, relay and tick until `stop`; then stop receiving. True if receiving failed."""
    relay = asyncio.create_task(app.relay.run(stop))
    ticker = app.start_scheduler(stop)   # openings, reminders, closings: sent through the outbox
    waiting = {asyncio.create_task(stop.wait()), relay}
    if telegram.task is not None:
        waiting.add(telegram.task)
    done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
    failed = telegram.task in done and telegram.task.exception() is not None
    stop.set()
    await telegram.stop_receiving()      # the batch in hand is committed first
    await asyncio.gather(relay, ticker, return_exceptions=True)
    return failed


async def _start(telegram: Telegram, sink, stop: asyncio.Event) -> bool:  # noqa: ANN001
    """Start receiving; while Telegram cannot be reached, wait and try again."""
    from telegram.error import InvalidToken, NetworkError
    delay = 1.0
    while not stop.is_set():
        try:
            await telegram.start(sink)
            return True
        except InvalidToken:
            log.critical("Telegram refused the bot token")
            return False
        except NetworkError as exc:
            log.warning("Telegram cannot be reached (%s); trying again in %.0f s", exc, delay)
            try:
                await asyncio.wait_for(stop.wait(), delay)
            except asyncio.TimeoutError:
                delay = min(delay * 2, 60.0)
    return False
