"""PTB's Bot on aiohttp: the same Bot API client, a lighter HTTP layer, and the Bot
built on it (`make_bot`).

python-telegram-bot lets the HTTP layer be swapped (`BaseRequest`). Its
default, httpx, spent about half of the bot's CPU per answer under load
(profiled with py-spy on the whole process); aiohttp, already used for
the webhook, does the same requests for a fraction of it. Errors map to
PTB's own: a timeout is `TimedOut` (the send is then uncertain), any other
transport failure `NetworkError`.
"""
from __future__ import annotations

import hashlib
import re
from typing import Any

import aiohttp
from telegram import Bot
from telegram._utils.defaultvalue import DefaultValue
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData
from telegram.warnings import PTBUserWarning


class AiohttpRequest(BaseRequest):
    def __init__(self, pool_size: int = 16, read_timeout: float | None = 10.0,
                 connect_timeout: float | None = 5.0, pool_timeout: float | None = 30.0):
        self._pool_size = pool_size
        self._read, self._connect, self._pool = read_timeout, connect_timeout, pool_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._read

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size),
                headers={"User-Agent": self.USER_AGENT})

    async def shutdown(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         read_timeout: object = BaseRequest.DEFAULT_NONE,
                         write_timeout: object = BaseRequest.DEFAULT_NONE,
                         connect_timeout: object = BaseRequest.DEFAULT_NONE,
                         pool_timeout: object = BaseRequest.DEFAULT_NONE) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        connect = _given(connect_timeout, self._connect)
        pool = _given(pool_timeout, self._pool)
        timeout = aiohttp.ClientTimeout(
            total=None, sock_read=_given(read_timeout, self._read), sock_connect=connect,
            connect=None if connect is None or pool is None else connect + pool)
        try:
            async with self._session.request(method, url, data=_body(request_data),
                                             timeout=timeout) as response:
                return response.status, await response.read()
        except TimeoutError as exc:
            raise TimedOut from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"aiohttp.{type(exc).__name__}: {exc}") from exc


def _given(value: object, default: float | None) -> float | None:
    return default if isinstance(value, DefaultValue) else value  # type: ignore[return-value]  # PTB hands its DefaultValue sentinel or the float given, typed object


def _body(request_data: RequestData | None) -> aiohttp.FormData | dict[str, str] | None:
    """Form fields as PTB encodes them (JSON for nested values); files as multipart."""
    if request_data is None:
        return None
    fields = request_data.json_parameters
    files = request_data.multipart_data
    if not files:
        return fields
    form = aiohttp.FormData()
    for name, value in fields.items():
        form.add_field(name, value)
    for name, (filename, content, mime) in files.items():
        form.add_field(name, content, filename=filename, content_type=mime)
    return form


class ApiBot(Bot):
    """PTB's Bot, quiet about `do_api_request` on methods it also wraps: we send
    plain dict payloads on purpose (PTB's object model is the CPU cost)."""

    @classmethod
    def _warn(cls, message: Any, category: type[Warning] = PTBUserWarning, stacklevel: int = 0) -> None:
        if str(message).startswith("Please use 'Bot."):
            return
        super()._warn(message, category, stacklevel + 1)


def make_bot(token: str, base_url: str = "", *, read_timeout: float = 10.0,
             connect_timeout: float = 5.0) -> Bot:
    """A PTB Bot on `base_url` (the API root, e.g. https://api.telegram.org)."""
    root = re.sub(r"/bot/?$", "", (base_url or "https://api.telegram.org").rstrip("/"))
    request = AiohttpRequest(16, read_timeout=read_timeout, connect_timeout=connect_timeout)
    updates = AiohttpRequest(2, read_timeout=read_timeout, connect_timeout=connect_timeout)
    return ApiBot(token, base_url=f"{root}/bot", base_file_url=f"{root}/file/bot",
               request=request, get_updates_request=updates)


def callback_secret(token: str) -> bytes:
    """The key that signs button data: derived from the token, never shown."""
    return hashlib.sha256(b"tnlbot telegram buttons\x00" + token.encode()).digest()
