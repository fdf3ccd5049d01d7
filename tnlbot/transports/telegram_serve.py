"""`tnlbot run --transport telegram [--webhook]`: the bot as a long-running process."""
from __future__ import annotations

import asyncio
import logging
import signal
import sys
from typing import Any

from ..app import App
from ..core.events import Inbound
from ..runtime.lease import Lease
from .telegram import Telegram, attach, callback_secret, make_bot

log = logging.getLogger(__name__)


def serve(settings: Any, webhook: bool = False) -> int:
    if not settings.telegram_token:
        print("The Telegram bot token is missing: set TNLBOT_TELEGRAM_TOKEN or telegram_token "
              "in the configuration file.", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("tnlbot").setLevel(logging.INFO)
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
        return asyncio.run(_serve(app, telegram))
    finally:
        app.close()


async def _serve(app: App, telegram: Telegram) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    app.relay.recover()

    async def sink(inbound: Inbound) -> object:
        handled = await app.dispatcher.submit(inbound)
        app.relay.wake.set()
        return handled

    if not await _start(telegram, sink, stop):
        return 1 if not stop.is_set() else 0
    log.info("Telegram bot @%s started (%s)", telegram.username,
             "webhook" if telegram.webhook else "polling")
    relay = asyncio.create_task(app.relay.run(stop))
    ticker = app.start_scheduler(stop)   # openings, reminders, closings: sent through the outbox
    waiting = {asyncio.create_task(stop.wait()), relay}
    if telegram.task is not None:
        waiting.add(telegram.task)
    done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
    failed = telegram.task in done and telegram.task.exception() is not None
    stop.set()
    await telegram.stop()
    await asyncio.gather(relay, ticker, return_exceptions=True)
    return 1 if failed else 0


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
