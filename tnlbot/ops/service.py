"""The life cycle of a long-running bot: logs, signals, the operator endpoint, draining.

How this file works:
- `configure_logging(settings)` sets the structured logs (logs.py) at the
  configured level, with the configured secrets masked.
- `Lifecycle.install(stop)`: the first SIGTERM or SIGINT sets `stop` (the
  transport finishes the batch in hand and stops receiving, then `drain`
  sends what the relay can within `drain_seconds`, then the process exits
  0); a second signal exits at once (status 128 + signal). Nothing
  acknowledged is lost either way: every answer is committed before its
  platform is told.
- `start_endpoint(app, settings)` starts /healthz and /metrics when
  `health_listen` is set, and returns the Monitor and the Endpoint.
"""
from __future__ import annotations

import asyncio
import logging
import os
import signal
from typing import Any

from .http import Endpoint, parse_listen
from .logs import event, setup
from .monitor import Bounds, Monitor, outbox_backlog

log = logging.getLogger("tnlbot.service")
DEFAULT_DRAIN = 10.0


def secrets_of(settings: Any) -> list[str]:
    return [settings.telegram_token, settings.matrix_password, settings.webhook_secret]


def configure_logging(settings: Any) -> None:
    setup(getattr(settings, "log_level", "") or "INFO", secrets_of(settings))


def setting(settings: Any, name: str, default: float) -> float:
    value = getattr(settings, name, None) or settings.extra.get(name)
    return float(value) if value not in (None, "") else default


class Lifecycle:
    def __init__(self, settings: Any):
        self.drain_seconds = setting(settings, "drain_seconds", DEFAULT_DRAIN)
        self.signals = 0

    def install(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self._on_signal, signum, stop)

    def _on_signal(self, signum: int, stop: asyncio.Event) -> None:
        self.signals += 1
        if self.signals > 1:
            event(log, "stop-now", logging.WARNING, signal=signal.Signals(signum).name)
            logging.shutdown()
            os._exit(128 + signum)
        event(log, "stopping", signal=signal.Signals(signum).name, drain_seconds=self.drain_seconds)
        stop.set()

    async def drain(self, app: Any) -> int:
        """Send what is due now, for at most `drain_seconds`; returns how many were sent.
        Under send limits, edits settling answered questions (cosmetic) are left deferred
        for the next start: the budget left goes to what people wait for."""
        sent = 0

        async def flush_all() -> None:
            nonlocal sent
            while True:
                done = 0
                for name in list(app.transports):
                    done += await app.relay.flush(name, edits=False)   # edits wait for the next start
                sent += done
                if not done:
                    return
        try:
            await asyncio.wait_for(flush_all(), self.drain_seconds)
        except TimeoutError:
            event(log, "drain-timeout", logging.WARNING, sent=sent)
        left = sum(n for _, n, _ in outbox_backlog(app.store, app.transports))
        event(log, "drained", sent=sent, pending=left)
        return sent


async def start_endpoint(app: Any, settings: Any, receive_bound: float | None = 120.0
                         ) -> tuple[Monitor, Endpoint | None]:
    """The monitor always (metrics and event logs); the HTTP endpoint when configured."""
    interval = float(settings.extra.get("scheduler_interval", 60))
    bounds = Bounds(receive=receive_bound, tick=max(3 * interval, interval + 60))
    monitor = Monitor(app, bounds)
    listen = getattr(settings, "health_listen", "")
    if not listen:
        return monitor, None
    host, port = parse_listen(listen)
    endpoint = Endpoint(monitor)
    port = await endpoint.start(host, port)
    event(log, "endpoint", host=host, port=port)
    return monitor, endpoint


class Operations:
    """The runner's `Service` (runtime/runner.py) for a long-running bot: two-step signals,
    /healthz and /metrics while it runs, `started`/`stopped` events, draining on the way out."""

    def __init__(self, app: Any, settings: Any, receive_bound: float | None = 120.0):
        self.app, self.settings, self.receive_bound = app, settings, receive_bound
        self.life = Lifecycle(settings)
        self.endpoint: Endpoint | None = None
        self.transport = ""

    def install(self, stop: asyncio.Event) -> None:
        self.life.install(stop)

    async def open(self) -> None:
        _, self.endpoint = await start_endpoint(self.app, self.settings, self.receive_bound)

    async def started(self, transport: Any) -> None:
        self.transport = transport.name
        event(log, "started", transport=transport.name, mode=getattr(transport, "mode", ""))

    async def drain(self) -> None:
        await self.life.drain(self.app)

    async def close(self, status: int) -> None:
        if self.transport:
            event(log, "stopped", transport=self.transport, failed=bool(status))
        if self.endpoint is not None:
            await self.endpoint.stop()
            self.endpoint = None
