"""Composition root: the one place that wires concrete classes together.

`App(settings)` builds every long-lived object complete (store, flows,
catalog, dispatcher with its hooks, relay, scheduler, runner); nothing is
patched after construction. The `run_*` functions are the processes of the
`tnlbot` command: they build a transport, then hand it to the runner.
"""
from __future__ import annotations

import asyncio
import getpass
import logging
import sys
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Awaitable, Callable, TextIO

from .campaigns.hook import CampaignHook
from .campaigns.scheduler import Scheduler
from .core.flow import Flow
from .flows import load_all
from .i18n import Catalog, load_catalog
from .jury.hook import JuryHook
from .runtime.clock import Clock
from .runtime.dispatcher import Dispatcher
from .runtime.relay import Relay
from .runtime.runner import Runner
from .runtime.transport import Transport
from .settings import DEFAULT_FLOW, Settings
from .store import Store
from .store.campaigns import create_campaign, current_campaign
from .transports.console import Console
from .transports.telegram_hook import FileSizeHook

__all__ = ["App", "DEFAULT_FLOW", "Settings", "run_chat", "run_transport"]


class App:
    def __init__(self, settings: Settings, clock: Clock | None = None,
                 store: Store | None = None, flows: dict[str, Flow] | None = None,
                 catalog: Catalog | None = None):
        self.settings = settings
        self.clock = clock or Clock()
        self.catalog: Catalog = catalog or load_catalog(Path(settings.locales_dir))
        self.flows: dict[str, Flow] = flows or load_all(Path(settings.flows_dir), self.catalog.locales)
        self.store = store or Store(settings.store_url())
        hooks = [CampaignHook(self.store, self.flows, self.catalog, settings.campaign),
                 JuryHook(self.flows, self.catalog), FileSizeHook(self.catalog)]
        self.dispatcher = Dispatcher(self.store, self.flows, self.catalog, self.clock,
                                     settings.campaign, hooks=list(hooks))
        self.transports: dict[str, Transport] = {}
        self.relay = Relay(self.store, self.transports, self.clock)
        self.scheduler = Scheduler(self.store, self.flows, self.catalog, self.clock,
                                   float(settings.extra.get("scheduler_interval", 60)),
                                   on_work=self.relay.wake.set)
        self.runner = Runner(self.dispatcher, self.relay, self.clock, self.scheduler)

    def plug(self, transport: Transport) -> None:
        """Send through `transport` (tests that drive receiving by hand)."""
        self.relay.add(transport)

    def ensure_campaign(self) -> None:
        """With no campaign at all, open one on the default flow (embedded use)."""
        now = self.clock.now()
        flow = self.flows[self.settings.default_flow]
        with self.store.begin() as conn:
            if current_campaign(conn, now) is not None:
                return
            create_campaign(conn, slug=f"{flow.id}-{now.year}", year=flow.edition, track=flow.track,
                            flow_id=flow.id, opens_at=now - timedelta(minutes=1),
                            closes_at=now + timedelta(days=365), state="open")

    async def chat(self, stream: TextIO, out: TextIO, user: str = "") -> int:
        """The terminal chat: one line, one message; greets first; ends with the input."""
        self.ensure_campaign()
        console = Console(out, stream, user or getpass.getuser())
        return await self.runner.serve(console, asyncio.Event())

    def close(self) -> None:
        self.store.close()


def run_chat(settings: Settings) -> int:
    app = App(settings)
    try:
        app.ensure_campaign()
        user = getpass.getuser()
        return asyncio.run(app.runner.run(_opened(Console(sys.stdout, sys.stdin, user))))
    finally:
        app.close()


def _opened(transport: Transport) -> Callable[[], Awaitable[Transport]]:
    """An opener for a transport that needs no connection."""
    async def opened() -> Transport:
        return transport
    return opened


def run_transport(settings: Settings, name: str, webhook: bool = False) -> int:
    """`tnlbot run --transport NAME`: the bot as a long-running process."""
    if name == "console":
        return run_chat(settings)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("tnlbot").setLevel(logging.INFO)
    if name == "telegram":
        return _run_telegram(settings, webhook)
    if name == "matrix":
        return _run_matrix(settings)
    raise SystemExit(f"unknown transport {name!r}")


def _run_telegram(settings: Settings, webhook: bool) -> int:
    from .transports.telegram import Telegram, callback_secret, make_bot
    from .transports.telegram_webhook import WebhookConfig
    if not settings.telegram_token:
        print("The Telegram bot token is missing: set TNLBOT_TELEGRAM_TOKEN or telegram_token "
              "in the configuration file.", file=sys.stderr)
        return 2
    config = WebhookConfig.from_settings(settings) if webhook else None
    app = App(settings)
    try:
        app.ensure_campaign()
        bot = make_bot(settings.telegram_token, settings.telegram_base_url)
        telegram = Telegram(bot, app.store, app.catalog, app.clock,
                            secret=callback_secret(settings.telegram_token), webhook=config)
        return asyncio.run(app.runner.run(telegram.connect))
    finally:
        app.close()


def _run_matrix(settings: Settings) -> int:
    """TNLBOT_MATRIX_HOMESERVER, _USER, _PASSWORD (first login), _ALLOW."""
    from .transports.matrix import open_matrix
    from .transports.matrix_render import Allow
    if not settings.matrix_homeserver or not settings.matrix_user:
        print("Matrix: set TNLBOT_MATRIX_HOMESERVER and TNLBOT_MATRIX_USER "
              "(and TNLBOT_MATRIX_PASSWORD for the first login).", file=sys.stderr)
        return 2
    app = App(settings)
    try:
        app.ensure_campaign()

        opener = partial(open_matrix, settings.matrix_homeserver, settings.matrix_user,
                         settings.matrix_password, app.store, app.catalog,
                         Allow.parse(settings.matrix_allow), app.clock, app.relay.wake.set)
        return asyncio.run(app.runner.run(opener))
    finally:
        app.close()
