"""A local HTTP server speaking the part of the Telegram Bot API both bots use.

getUpdates confirms the way Telegram does (an update handed out is dropped
once a later call's offset passes it, so a bot killed before confirming gets
it again), long polling wakes as soon as an update is pushed, and every
call is counted. `on_message` tells the load driver what each chat received.
"""
from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web

JSON_FIELDS = {"reply_markup", "allowed_updates", "commands", "entities"}
SETUP = {"getMe", "getUpdates", "setMyCommands", "deleteWebhook", "close", "logOut"}
TOKEN = "4242:BENCH-token"


@dataclass
class BotApi:
    on_message: Callable[[int, str, float], None]
    token: str = TOKEN
    calls: Counter = field(default_factory=Counter)
    queue: list[dict] = field(default_factory=list)
    base_url: str = ""

    def __post_init__(self) -> None:
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(100)
        self._arrived = asyncio.Event()
        self._texts: dict[tuple[int, int], str] = {}
        self._runner: web.AppRunner | None = None
        self.polled = asyncio.Event()      # the bot is receiving
        self.delivered: dict[int, float] = {}   # update id -> first handed to the bot

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._on_method)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}"
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def reset(self) -> None:
        """A new contest: no update waiting, nothing counted."""
        self.queue.clear()
        self.calls.clear()
        self.delivered.clear()
        self.polled.clear()

    def bot_calls(self) -> int:
        """Calls that carry something to a person (not polling or start-up)."""
        return sum(n for method, n in self.calls.items() if method not in SETUP)

    # ------------------------------------------------------------ people
    def push(self, update: dict) -> int:
        update["update_id"] = next(self._update_ids)
        self.queue.append(update)
        self._arrived.set()
        return update["update_id"]

    # ------------------------------------------------------------ the Bot API
    async def _on_method(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"},
                                     status=401)
        method = request.match_info["method"]
        self.calls[method] += 1
        try:
            params = await _params(request)
        except ConnectionResetError:     # the bot was killed mid-request
            return web.Response(status=499)
        handler = getattr(self, "api_" + method, None)
        if handler is None:
            return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"},
                                     status=404)
        result = await handler(params)
        if isinstance(result, web.Response):
            return result
        return web.json_response({"ok": True, "result": result})

    async def api_getMe(self, p: dict) -> dict:
        return {"id": 4242, "is_bot": True, "first_name": "TNL", "username": "tnl_bench_bot",
                "can_join_groups": True, "can_read_all_group_messages": False,
                "supports_inline_queries": False}

    async def api_setMyCommands(self, p: dict) -> bool:
        return True

    async def api_deleteWebhook(self, p: dict) -> bool:
        return True

    async def api_getUpdates(self, p: dict) -> list[dict]:
        self.polled.set()
        offset = p.get("offset")
        if isinstance(offset, int):
            self.queue = [u for u in self.queue if u["update_id"] >= offset]
        if not self.queue and int(p.get("timeout") or 0) > 0:
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), timeout=int(p["timeout"]))
            except TimeoutError:
                pass
        batch = self.queue[: int(p.get("limit") or 100)]
        now = time.perf_counter()
        for update in batch:
            self.delivered.setdefault(update["update_id"], now)
        return batch

    def _message(self, chat_id: int, text: str, markup: dict | None, message_id: int = 0) -> dict:
        message = {"message_id": message_id or next(self._message_ids), "date": int(time.time()),
                   "chat": {"id": chat_id, "type": "private"},
                   "from": {"id": 4242, "is_bot": True, "first_name": "TNL"}, "text": _plain(text)}
        if markup:
            message["reply_markup"] = markup
        return message

    async def api_sendMessage(self, p: dict) -> dict:
        chat = int(p["chat_id"])
        message = self._message(chat, str(p.get("text", "")), p.get("reply_markup"))
        self._texts[(chat, message["message_id"])] = message["text"]
        self.on_message(chat, message["text"], time.perf_counter())
        return message

    async def api_editMessageText(self, p: dict) -> dict | web.Response:
        chat, number = int(p["chat_id"]), int(p["message_id"])
        if (chat, number) not in self._texts:
            return web.json_response({"ok": False, "error_code": 400,
                                      "description": "Bad Request: message to edit not found"},
                                     status=400)
        message = self._message(chat, str(p.get("text", "")), p.get("reply_markup"), number)
        self._texts[(chat, number)] = message["text"]
        return message

    async def api_editMessageReplyMarkup(self, p: dict) -> dict:
        chat, number = int(p["chat_id"]), int(p["message_id"])
        return self._message(chat, self._texts.get((chat, number), "?"), p.get("reply_markup"), number)

    async def api_answerCallbackQuery(self, p: dict) -> bool:
        return True


async def _params(request: web.Request) -> dict:
    if request.content_type == "application/json":
        raw = await request.json()
    else:
        raw = dict(await request.post())
    params: dict = {}
    for key, value in raw.items():
        if key in JSON_FIELDS and isinstance(value, str):
            value = json.loads(value)
        elif isinstance(value, str) and re.fullmatch(r"-?\d+", value) and key != "text":
            value = int(value)
        params[key] = value
    return params


TAG = re.compile(r"<[^>]+>")


def _plain(text: str) -> str:
    """What a person reads of an HTML message."""
    import html
    return html.unescape(TAG.sub("", text))
