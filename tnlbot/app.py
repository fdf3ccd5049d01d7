"""Composition root: the one place that wires concrete classes together."""
from __future__ import annotations

import asyncio
import getpass
import os
import sys
import tomllib
from dataclasses import dataclass, field, fields
from datetime import timedelta
from pathlib import Path
from typing import Any, TextIO

from platformdirs import user_data_dir

from .core.events import FileRef, Inbound, InboundKind
from .core.flow import Flow
from .flows import BUNDLED as BUNDLED_FLOWS
from .flows import load_all
from .i18n import BUNDLED as BUNDLED_LOCALES
from .i18n import Catalog, load_catalog
from .jury.hook import JuryHook
from .ops.backup import StoreBusy, hold_store
from .runtime.clock import Clock
from .runtime.dispatcher import Dispatcher
from .runtime.relay import Relay
from .startup import Reason, StartupError, check_campaigns
from .flowbook.drafts import migrate_drafts
from .flowbook.hook import AsideHook
from .store import Store
from .runtime.attachments import HeldFiles
from .store.files import private_folder
from .store.campaigns import create_campaign, current_campaign
from .transports.console import PASTE_OFF, PASTE_ON, Console, LineReader, parse_line
from .campaigns.hook import CampaignHook
from .campaigns.retention import EMPTY_DAYS, KEEP_DAYS
from .campaigns.scheduler import Scheduler

DEFAULT_FLOW = "tnl-2022"


@dataclass
class Settings:
    """Configuration: a TOML file (`--config`), then TNLBOT_* environment variables."""
    database_url: str = ""
    flows_dir: str = str(BUNDLED_FLOWS)
    locales_dir: str = str(BUNDLED_LOCALES)
    campaign: str = ""
    default_flow: str = DEFAULT_FLOW
    telegram_token: str = ""
    telegram_base_url: str = ""
    telegram_rate_per_chat: float = 1.0    # messages per second to one chat (0: no limit)
    telegram_rate_overall: float = 30.0    # messages per second to all chats (0: no limit)
    webhook_url: str = ""
    webhook_secret: str = ""
    webhook_listen: str = "127.0.0.1:8443"
    matrix_homeserver: str = ""
    matrix_user: str = ""
    matrix_password: str = ""
    matrix_allow: str = ""           # comma-separated homeservers or user ids
    matrix_store_dir: str = ""       # the E2E crypto store (default: beside the database)
    log_level: str = "INFO"          # DEBUG, INFO, WARNING, ERROR
    health_listen: str = ""          # e.g. 127.0.0.1:9464: /healthz and /metrics (empty: off)
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | None = None, env: dict[str, str] | None = None) -> "Settings":
        env = dict(os.environ if env is None else env)
        values: dict[str, Any] = {}
        if path:
            with open(path, "rb") as handle:
                values.update(tomllib.load(handle))
        for f in fields(cls):
            key = "TNLBOT_" + f.name.upper()
            if key in env and f.name != "extra":
                values[f.name] = env[key]
        known = {f.name for f in fields(cls)}
        extra = {k: v for k, v in values.items() if k not in known}
        return cls(**{k: v for k, v in values.items() if k in known}, extra=extra)

    def matrix_store_path(self) -> Path:
        """The Matrix crypto store: the device's keys (back it up with the database)."""
        from .transports.matrix_crypto import store_dir
        return store_dir(self.store_url(), self.matrix_store_dir)

    def store_url(self) -> str:
        if self.database_url:
            return self.database_url
        folder = private_folder(Path(user_data_dir("tnlbot", appauthor=False)))
        return Store.sqlite_url(folder / "tnlbot.db")


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
        self.dispatcher = Dispatcher(self.store, self.flows, self.catalog, self.clock,
                                     settings.campaign)
        self.held_files = HeldFiles()
        self.transports: dict[str, Any] = {}
        self.relay = Relay(self.store, self.transports, self.clock)
        self.dispatcher.hooks.append(CampaignHook(self.store, self.flows, self.catalog, settings.campaign))
        self.scheduler = Scheduler(self.store, self.flows, self.catalog, self.clock,
                                   float(settings.extra.get("scheduler_interval", 60)),
                                   on_work=self.relay.wake.set,
                                   keep_days=int(settings.extra.get("delivery_retention_days", KEEP_DAYS)),
                                   empty_days=int(settings.extra.get("empty_candidature_days", EMPTY_DAYS)))
        self.store.flows = self.flows  # submissions freeze the question texts as asked
        self.dispatcher.hooks.append(JuryHook(self.flows, self.catalog))
        self.dispatcher.hooks.append(AsideHook(self.catalog))   # answers a flow change set aside, in /recap

    def ensure_campaign(self) -> None:
        """With no campaign at all, open one on the default flow (embedded use); then carry the
        drafts of a flow that got a new version to it (see flowbook/drafts.py).

        Raises StartupError when the campaign to serve is unknown or its flow is not loaded.
        """
        now = self.clock.now()
        with self.store.begin() as conn:
            check_campaigns(conn, self.flows, self.settings.campaign, self.settings.default_flow,
                            self.settings.flows_dir, now)
            if current_campaign(conn, now) is None:
                flow = self.flows[self.settings.default_flow]
                create_campaign(conn, slug=f"{flow.id}-{now.year}", year=flow.edition, track=flow.track,
                                flow_id=flow.id, opens_at=now - timedelta(minutes=1),
                                closes_at=now + timedelta(days=365), state="open")
        migrate_drafts(self.store, self.flows, self.catalog, Path(self.settings.flows_dir), now)

    async def chat(self, stream: TextIO, out: TextIO, user: str = "") -> None:
        """The terminal chat: one line, one message; greets first."""
        console = Console(out)
        self.transports["console"] = console
        self.ensure_campaign()
        self.relay.recover()
        self._ticker = self.start_scheduler(asyncio.Event())
        user = user or getpass.getuser()
        chat_id = self.console_chat = f"terminal:{user}"
        await self.relay.flush("console")
        await self._say(Inbound("console", os.urandom(8).hex(), chat_id, user,
                                InboundKind.COMMAND, command="start", display_name=user))
        interactive = stream.isatty()
        reader = LineReader(getattr(stream, "buffer", stream))
        if interactive:
            out.write(PASTE_ON)   # a pasted block of lines arrives as one message
        try:
            while True:
                if interactive:
                    out.write("› ")
                    out.flush()
                line = await reader.next()
                if line is None:
                    break
                await self._say(parse_line(line, chat_id, user, keep=self.keep_file))
        finally:
            if interactive:
                out.write(PASTE_OFF)
                out.flush()

    def keep_file(self, data: bytes, name: str) -> FileRef:
        """An attached file's content, held until the answer taking it is saved with it."""
        if self.held_files not in self.dispatcher.hooks:
            self.dispatcher.hooks.append(self.held_files)    # last: it sees the final outcome
        return self.held_files.hold(data, name)

    def stopped_text(self) -> str:
        """What the terminal says when Ctrl-C stops the chat, in the person's language."""
        chat_id = getattr(self, "console_chat", "")
        locale = (self.store.conversation_locale("console", chat_id, chat_id.partition(":")[2])
                  if chat_id else "fr")
        return self.catalog(locale, "terminal.stopped")

    async def _say(self, inbound: Inbound) -> None:
        await self.dispatcher.submit(inbound)
        await self.relay.flush("console")

    def start_scheduler(self, stop: asyncio.Event) -> "asyncio.Task[None]":
        """Openings, reminders and closings, ticking until `stop` is set (where the bot runs)."""
        return asyncio.create_task(self.scheduler.run(stop))

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
