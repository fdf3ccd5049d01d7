"""Composition root: the one place that wires concrete classes together.

`App(settings)` builds every long-lived object complete (store, flows,
catalog, the dispatcher with its hooks, relay, scheduler, runner); nothing
is patched after construction. `run_chat` and `run_transport` are the
processes of the `tnlbot` command: they build a transport and hand it to the
runner (runtime/runner.py), with the operations service (ops/service.py)
around network transports.
"""
from __future__ import annotations

import asyncio
import getpass
import sys
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Awaitable, Callable, TextIO

from .campaigns.hook import CampaignHook
from .campaigns.retention import EMPTY_DAYS, KEEP_DAYS
from .campaigns.scheduler import Scheduler
from .core.events import FileRef
from .core.flow import Flow
from .flowbook.drafts import migrate_drafts
from .flowbook.hook import AsideHook
from .flows import load_all
from .i18n import Catalog, load_catalog
from .jury.freeze import freeze
from .jury.hook import JuryHook
from .ops.backup import StoreBusy, hold_store
from .runtime.attachments import HeldFiles, wanted_by
from .runtime.clock import Clock
from .runtime.dispatcher import Dispatcher
from .runtime.relay import Relay
from .runtime.runner import Runner
from .runtime.transport import Transport
from .runtime.workers import SWEEP_EVERY, TTL, Workers
from .settings import DEFAULT_FLOW, Settings
from .startup import Reason, StartupError, check_campaigns
from .store import Store
from .store.campaigns import create_campaign, current_campaign
from .store.database import hold_start_lock
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
        # a running bot's store: `tnlbot restore` refuses to replace it (SQLite)
        try:
            self._lock = hold_store(settings.store_url()) if store is None else None
        except StoreBusy as exc:
            raise StartupError([Reason("store_restoring", (("path", exc.path),))]) from None
        self.store = store or Store(settings.store_url())
        # files read by a transport until their answer is saved; Telegram and Matrix fetch
        # again later a file they could not fetch on receipt
        self.held_files = HeldFiles(refetched=frozenset({"telegram", "matrix"}))
        self._wants_file = wanted_by(self.flows)
        hooks = [CampaignHook(self.store, self.flows, self.catalog, settings.campaign),
                 JuryHook(self.flows, self.catalog),
                 AsideHook(self.catalog),         # answers a flow change set aside, in /recap
                 FileSizeHook(self.catalog),
                 self.held_files]                 # last: it sees the final outcome
        self.dispatcher = Dispatcher(self.store, self.flows, self.catalog, self.clock,
                                     settings.campaign, hooks=list(hooks), freeze=freeze)
        self.transports: dict[str, Transport] = {}
        self.relay = Relay(self.store, self.transports, self.clock)
        self.scheduler = Scheduler(self.store, self.flows, self.catalog, self.clock,
                                   float(settings.extra.get("scheduler_interval", 60)),
                                   on_work=self.relay.wake.set,
                                   keep_days=int(settings.extra.get("delivery_retention_days", KEEP_DAYS)),
                                   empty_days=int(settings.extra.get("empty_candidature_days", EMPTY_DAYS)))
        # each process says it is alive; what a stopped one was sending is recovered
        workers = Workers(self.relay, self.clock, ttl=float(settings.extra.get("worker_lease", TTL)),
                          sweep_every=float(settings.extra.get("worker_sweep", SWEEP_EVERY)))
        self.runner = Runner(self.dispatcher, self.relay, self.clock, self.scheduler, workers=workers)

    def plug(self, transport: Transport) -> None:
        """Send through `transport` (tests that drive receiving by hand)."""
        self.relay.add(transport)

    def ensure_campaign(self) -> None:
        """With no campaign at all, open one on the default flow (embedded use); then carry the
        drafts of a flow that got a new version to it (see flowbook/drafts.py).

        Raises StartupError when the campaign to serve is unknown or its flow is not loaded.
        """
        now = self.clock.now()
        with self.store.begin() as conn:
            hold_start_lock(conn)         # workers started together open one campaign, not two
            check_campaigns(conn, self.flows, self.settings.campaign, self.settings.default_flow,
                            self.settings.flows_dir, now)
            if current_campaign(conn, now) is None:
                flow = self.flows[self.settings.default_flow]
                create_campaign(conn, slug=f"{flow.id}-{now.year}", year=flow.edition, track=flow.track,
                                flow_id=flow.id, opens_at=now - timedelta(minutes=1),
                                closes_at=now + timedelta(days=365), state="open")
        migrate_drafts(self.store, self.flows, self.catalog, Path(self.settings.flows_dir), now)

    async def chat(self, stream: TextIO, out: TextIO, user: str = "") -> int:
        """The terminal chat: one line, one message; greets first; ends with the input."""
        self.ensure_campaign()
        self.console = Console(out, stream, user or getpass.getuser(), keep=self.keep_file)
        return await self.runner.serve(self.console, asyncio.Event())

    def keep_file(self, data: bytes, name: str) -> FileRef:
        """An attached file's content, held until the answer taking it is saved with it."""
        return self.held_files.hold(data, name)

    def wants_file(self, file: FileRef) -> bool:
        """Whether a file a platform announces could answer a file question (worth fetching)."""
        return self._wants_file(file)

    def stopped_text(self) -> str:
        """What the terminal says when Ctrl-C stops the chat, in the person's language."""
        console = getattr(self, "console", None)
        locale = (self.store.conversation_locale("console", console.chat_id, console.user)
                  if console is not None else "fr")
        return self.catalog(locale, "terminal.stopped")

    def close(self) -> None:
        self.store.close()
        if self._lock is not None:
            self._lock.close()


def run_chat(settings: Settings) -> int:
    app = App(settings)
    try:
        asyncio.run(app.chat(sys.stdin, sys.stdout))
    except KeyboardInterrupt:   # Ctrl-C: every answer given is already committed
        sys.stdout.write("\n" + app.stopped_text() + "\n")
        sys.stdout.flush()
    finally:
        app.close()
    return 0


def run_transport(settings: Settings, name: str, webhook: bool = False) -> int:
    """`tnlbot run --transport NAME`: the bot as a long-running process."""
    if name == "console":
        return run_chat(settings)
    if name == "telegram":
        return _run_telegram(settings, webhook)
    if name == "matrix":
        return _run_matrix(settings)
    raise SystemExit(f"unknown transport {name!r}")


def _run_telegram(settings: Settings, webhook: bool) -> int:
    from .ops.service import Operations, configure_logging
    from .runtime.lease import Lease
    from .transports.telegram import Telegram, callback_secret, make_bot
    from .transports.telegram_webhook import WebhookConfig
    if not settings.telegram_token:
        print("The Telegram bot token is missing: set TNLBOT_TELEGRAM_TOKEN or telegram_token "
              "in the configuration file.", file=sys.stderr)
        return 2
    configure_logging(settings)
    app = App(settings)
    try:
        app.ensure_campaign()
        config = WebhookConfig.from_settings(settings) if webhook else None
        # several processes may run: one receives (long polling) at a time, all relay and tick
        lease = None if webhook else Lease(app.store, "telegram-poller", app.clock,
                                           ttl=float(settings.extra.get("telegram_poller_lease", 15)))
        telegram = Telegram(make_bot(settings.telegram_token, settings.telegram_base_url),
                            app.store, app.catalog, app.clock,
                            secret=callback_secret(settings.telegram_token), webhook=config, lease=lease,
                            rate_limit=(float(settings.telegram_rate_per_chat),
                                        float(settings.telegram_rate_overall)),
                            keep=app.keep_file, wants=app.wants_file)
        # webhook: Telegram calls us when there is news; polling: getUpdates answers every 25 s
        bound = None if webhook else telegram.poll_timeout + 95.0
        return asyncio.run(app.runner.run(telegram.connect, service=Operations(app, settings, bound)))
    finally:
        app.close()


def _run_matrix(settings: Settings) -> int:
    """TNLBOT_MATRIX_HOMESERVER, _USER, _PASSWORD (first login), _ALLOW."""
    from .ops.service import Operations, configure_logging
    from .transports.matrix import open_matrix
    from .transports.matrix_render import Allow
    configure_logging(settings)
    if not settings.matrix_homeserver or not settings.matrix_user:
        print("Matrix: set TNLBOT_MATRIX_HOMESERVER and TNLBOT_MATRIX_USER "
              "(and TNLBOT_MATRIX_PASSWORD for the first login).", file=sys.stderr)
        return 2
    app = App(settings)
    try:
        app.ensure_campaign()
        opener: Callable[[], Awaitable[Transport]] = partial(
            open_matrix, settings.matrix_homeserver, settings.matrix_user, settings.matrix_password,
            app.store, settings.matrix_store_path(), app.catalog, Allow.parse(settings.matrix_allow),
            app.clock, app.relay.wake.set, keep=app.keep_file)
        service = Operations(app, settings, receive_bound=30_000 / 1000 + 90)   # Matrix.poll_ms
        return asyncio.run(app.runner.run(opener, service=service))
    finally:
        app.close()
