"""Matrix, logging in: the bot's device kept across restarts, its crypto store loaded.

How this file works:
- `connect` logs in once with the password and keeps the access token and
  device id in SQL (checkpoint "matrix.login"); later starts restore them
  while they still work and the device's crypto store is there, so the
  device, and with it every transaction id, survives restarts.
- Without its crypto store the device cannot read what was encrypted for it:
  the bot logs in again as a new device and logs the old one out, so agents
  stop encrypting for it.
"""
from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

from aiohttp import ClientError
from nio import AsyncClient, AsyncClientConfig, LoginError, WhoamiResponse

from ..runtime.transport import Refused, Unreachable
from ..store import Store
from . import matrix_crypto as crypto

log = logging.getLogger(__name__)
LOGIN = "matrix.login"
DEVICE_NAME = "tnlbot"


class LoginFailed(Exception):
    pass


def _same_user(configured: str, user_id: str) -> bool:
    return configured == user_id or (not configured.startswith("@")
                                     and user_id[1:].split(":", 1)[0] == configured)


async def connect(homeserver: str, user: str, password: str, store: Store, store_path: Path,
                  config: AsyncClientConfig | None = None) -> AsyncClient:
    """A logged-in client with its crypto store loaded: the stored login while it still
    works and its device's crypto store is there, else a password login (a new device)."""
    homeserver = homeserver.rstrip("/")
    crypto.prepare(store_path)
    client = AsyncClient(homeserver, user, store_path=str(store_path),
                         config=config or crypto.client_config())
    raw = store.checkpoint(LOGIN)
    saved = json.loads(raw) if raw else {}
    if saved.get("homeserver") == homeserver and _same_user(user, saved.get("user_id", "")):
        if crypto.store_file(store_path, saved["user_id"], saved["device_id"]).exists():
            client.restore_login(saved["user_id"], saved["device_id"], saved["access_token"])
            who = await client.whoami()
            if isinstance(who, WhoamiResponse):
                return await _ready(client, store_path)
            if who.status_code not in ("M_UNKNOWN_TOKEN", "M_FORBIDDEN"):
                await client.close()
                raise ConnectionError(f"homeserver not ready: {who}")
            log.warning("the stored Matrix login was refused (%s): logging in again", who.status_code)
        else:
            log.warning("no crypto store for device %s: logging in as a new device", saved["device_id"])
            await _retire(homeserver, saved)
        client = AsyncClient(homeserver, user, store_path=str(store_path),
                             config=config or crypto.client_config())
    if not password:
        await client.close()
        raise LoginFailed("no Matrix password and no valid stored login")
    answer = await client.login(password, device_name=DEVICE_NAME)
    if isinstance(answer, LoginError):
        await client.close()
        raise LoginFailed(f"Matrix login refused: {answer}")
    with store.begin() as conn:
        store.set_checkpoint(conn, LOGIN, json.dumps({
            "homeserver": homeserver, "user_id": answer.user_id, "device_id": answer.device_id,
            "access_token": answer.access_token}))
    return await _ready(client, store_path)


async def _ready(client: AsyncClient, store_path: Path) -> AsyncClient:
    crypto.secure(store_path)
    await crypto.maintain(client)         # publishes the device's keys on a first login
    return client


async def _retire(homeserver: str, saved: dict) -> None:
    """Log the device whose keys were lost out: agents stop encrypting for it."""
    old = AsyncClient(homeserver, saved["user_id"], config=AsyncClientConfig(
        max_limit_exceeded=0, max_timeouts=0, request_timeout=30, encryption_enabled=False))
    old.user_id, old.device_id, old.access_token = saved["user_id"], saved["device_id"], saved["access_token"]
    try:
        await old.logout()
    except (ClientError, asyncio.TimeoutError, OSError) as exc:
        log.warning("the previous device could not be logged out: %r", exc)
    finally:
        await old.close()



async def open_client(homeserver: str, user: str, password: str, store: Store,
                      store_path: Path) -> AsyncClient:
    """`connect`, its failures told as the runner's: `Unreachable` (it tries again), `Refused`."""
    try:
        client = await connect(homeserver, user, password, store, store_path)
    except (ConnectionError, ClientError, asyncio.TimeoutError, OSError) as exc:
        raise Unreachable(f"Matrix homeserver unreachable ({exc})") from exc
    except LoginFailed as exc:
        raise Refused(f"Matrix: {exc}") from exc
    log.info("Matrix: logged in as %s (device %s)", client.user_id, client.device_id)
    return client


__all__ = ["DEVICE_NAME", "LOGIN", "LoginFailed", "connect", "open_client"]
