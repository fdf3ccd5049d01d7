"""Webhook mode: Telegram posts each update; we answer 200 only after the commit.

- The secret token Telegram sends back (X-Telegram-Bot-Api-Secret-Token) is
  compared in constant time; missing or wrong -> 403, nothing is read.
- A body that is not JSON is answered 200 (Telegram would only send it again);
  an update whose commit failed is answered 500, so Telegram sends it again
  and the processed-events set drops it if it was in fact committed.
- setWebhook never drops pending updates.
"""
from __future__ import annotations

import hmac
import logging
import secrets
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from aiohttp import web

from ..runtime.transport import Sink

log = logging.getLogger(__name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    url: str          # the public https URL Telegram calls
    secret: str       # 1-256 characters of A-Z a-z 0-9 _ -
    host: str = "127.0.0.1"
    port: int = 8443
    path: str = "/telegram"

    @classmethod
    def from_settings(cls, settings: Any) -> "WebhookConfig":
        if not settings.webhook_url:
            raise SystemExit("webhook mode needs webhook_url (TNLBOT_WEBHOOK_URL)")
        host, _, port = (settings.webhook_listen or "127.0.0.1:8443").rpartition(":")
        path = urlsplit(settings.webhook_url).path or "/telegram"
        secret = settings.webhook_secret or secrets.token_urlsafe(32)
        return cls(settings.webhook_url, secret, host or "127.0.0.1", int(port or 8443), path)


class Receiving(Protocol):
    """What the webhook needs of the transport (telegram.Telegram)."""

    async def process(self, raw: dict, sink: Sink) -> None: ...

    async def call(self, method: str, params: dict | None = None, **timeouts: Any) -> Any: ...


def handler(telegram: Receiving, sink: Sink, expected: str):
    token = expected.encode()

    async def on_update(request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, token):
            return web.Response(status=403)
        try:
            raw = await request.json()
        except ValueError:
            return web.Response(status=200)
        if not isinstance(raw, dict):
            return web.Response(status=200)
        try:
            await telegram.process(raw, sink)
        except Exception:  # logged; Telegram will deliver it again
            log.exception("webhook update %s failed", raw.get("update_id"))
            return web.Response(status=500)
        telegram.received_at = telegram.clock.now()
        return web.Response(status=200)
    return on_update


async def start_webhook(telegram: Receiving, sink: Sink, config: WebhookConfig) -> web.AppRunner:
    app = web.Application(client_max_size=1 << 20)
    app.router.add_post(config.path, handler(telegram, sink, config.secret))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, config.host, config.port).start()
    await telegram.call("setWebhook", {
        "url": config.url, "secret_token": config.secret, "drop_pending_updates": False,
        "allowed_updates": ["message", "callback_query"]})
    telegram.connected = True
    return runner
