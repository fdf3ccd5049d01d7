"""A local HTTP server that speaks enough of the Telegram Bot API for the real
python-telegram-bot client, records every call and can inject faults.

It is strict where Telegram is: HTML must parse (only Telegram's tags, every
<, > and & escaped), a text is at most 4,096 UTF-16 units, button data at
most 64 bytes. Updates are confirmed the way getUpdates confirms them: an
update that was handed out is dropped once a later call's offset passes it.
Like Telegram, a getUpdates that arrives while another one is waiting ends the
waiting one with 409 Conflict ("terminated by other getUpdates request").
"""
from __future__ import annotations

import asyncio
import html
import itertools
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from aiohttp import web

JSON_FIELDS = {"reply_markup", "allowed_updates", "commands", "scope", "entities",
               "link_preview_options", "reply_parameters"}
INT_FIELDS = {"chat_id", "message_id", "offset", "limit", "timeout"}
BOOL_FIELDS = {"drop_pending_updates", "show_alert", "disable_notification"}
TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre",
        "tg-spoiler", "span", "blockquote"}
TOKEN = re.compile(r'<(/?)([a-zA-Z-]+)((?:\s+[a-z-]+="[^"<>]*")*)\s*>'
                   r'|&(lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);|[<>&]')


class ApiError(Exception):
    def __init__(self, status: int, description: str, parameters: dict | None = None):
        super().__init__(description)
        self.status, self.description, self.parameters = status, description, parameters


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def parse_html(text: str) -> tuple[str, list[dict]]:
    """Telegram's HTML parse mode: (plain text, entities) or ApiError 400."""
    plain, entities, stack = "", [], []
    position = 0
    for match in TOKEN.finditer(text):
        plain += text[position:match.start()]
        position = match.end()
        closing, tag, attrs, entity = match.group(1), match.group(2), match.group(3), match.group(4)
        if entity:
            plain += html.unescape(match.group(0))
        elif tag is None:
            raise ApiError(400, f"Bad Request: can't parse entities: unexpected {match.group(0)!r}")
        elif tag.lower() not in TAGS:
            raise ApiError(400, f"Bad Request: can't parse entities: unsupported tag {tag!r}")
        elif closing:
            if not stack or stack[-1][0] != tag.lower():
                raise ApiError(400, f"Bad Request: can't parse entities: unexpected end tag {tag!r}")
            name, start, href = stack.pop()
            mention = re.fullmatch(r"tg://user\?id=(\d+)", href or "")
            if mention:
                entities.append({"type": "text_mention", "offset": start,
                                 "length": utf16(plain) - start, "user": {"id": int(mention.group(1))}})
        else:
            href = re.search(r'href="([^"]*)"', attrs or "")
            stack.append((tag.lower(), utf16(plain), html.unescape(href.group(1)) if href else None))
    if stack:
        raise ApiError(400, "Bad Request: can't parse entities: unclosed tag")
    return plain + text[position:], entities


@dataclass
class Fault:
    method: str
    status: int = 0              # answer this HTTP error...
    description: str = ""
    parameters: dict | None = None
    stall: float = 0.0           # ...or do the call, then answer only after `stall` seconds
    times: int = 1


@dataclass
class Call:
    method: str
    params: dict
    outcome: str = "ok"
    result: Any = None


@dataclass
class Entry:
    update: dict
    delivered: bool = False


@dataclass
class FakeBotApi:
    token: str = "4242:TEST-token"
    bot_id: int = 4242
    username: str = "tnl_test_bot"
    calls: list[Call] = field(default_factory=list)
    queue: list[Entry] = field(default_factory=list)
    confirmed: list[int] = field(default_factory=list)
    messages: dict[tuple[int, int], dict] = field(default_factory=dict)
    events: list[tuple] = field(default_factory=list)      # what people see, in order
    faults: list[Fault] = field(default_factory=list)
    after_batch: Callable[[list[dict]], None] | None = None
    before_confirm: Callable[[int], None] | None = None
    files: dict[str, bytes] = field(default_factory=dict)
    migrated: dict[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(100)
        self._queries = itertools.count(1)
        self._arrived = asyncio.Event()
        self._query_chat: dict[str, int] = {}
        self.pushed: dict[int, dict] = {}
        self._waiting: asyncio.Event | None = None   # set: the waiting getUpdates was overtaken
        self.conflicts = 0
        self.runner: web.AppRunner | None = None
        self.base_url = ""

    # ------------------------------------------------------------ server
    async def start(self) -> str:
        app = web.Application(client_max_size=64 << 20)
        app.router.add_route("*", "/bot{token}/{method}", self._on_method)
        app.router.add_get("/file/bot{token}/{path:.*}", self._on_file)
        self.runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}"
        return self.base_url

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    async def _on_method(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401,
                                      "description": "Unauthorized"}, status=401)
        method = request.match_info["method"]
        params = await self._params(request)
        call = Call(method, params)
        self.calls.append(call)
        fault = self._fault(method)
        try:
            moved = self.migrated.get(params.get("chat_id"))  # type: ignore[arg-type]
            if moved is not None:
                raise ApiError(400, "Bad Request: group chat was upgraded to a supergroup chat",
                               {"migrate_to_chat_id": moved})
            if fault is not None and fault.status:
                raise ApiError(fault.status, fault.description, fault.parameters)
            handler = getattr(self, "api_" + method, None)
            if handler is None:
                raise ApiError(404, "Not Found")
            call.result = await handler(params)
        except ApiError as exc:
            call.outcome = f"error {exc.status}"
            body: dict = {"ok": False, "error_code": exc.status, "description": exc.description}
            if exc.parameters:
                body["parameters"] = exc.parameters
            return web.json_response(body, status=exc.status)
        if fault is not None and fault.stall:
            call.outcome = "stalled"
            await asyncio.sleep(fault.stall)
        return web.json_response({"ok": True, "result": call.result})

    async def _params(self, request: web.Request) -> dict:
        if request.content_type == "application/json":
            raw = await request.json()
        else:
            raw = {}
            for key, value in (await request.post()).items():
                raw[key] = ({"filename": value.filename, "data": value.file.read()}
                            if hasattr(value, "file") else value)
        params: dict = {}
        for key, value in raw.items():
            if key in JSON_FIELDS and isinstance(value, str):
                value = json.loads(value)
            elif key in INT_FIELDS and isinstance(value, str) and re.fullmatch(r"-?\d+", value):
                value = int(value)
            elif key in BOOL_FIELDS and value in ("true", "false"):
                value = value == "true"
            params[key] = value
        return params

    def _fault(self, method: str) -> Fault | None:
        for fault in self.faults:
            if fault.method == method and fault.times > 0:
                fault.times -= 1
                return fault
        return None

    async def _on_file(self, request: web.Request) -> web.Response:
        data = self.files.get(request.match_info["path"])
        return web.Response(body=data) if data is not None else web.Response(status=404)

    # ------------------------------------------------------------ faults
    def fail_next(self, method: str, status: int, description: str, times: int = 1,
                  **parameters: Any) -> None:
        self.faults.append(Fault(method, status, description, parameters or None, times=times))

    def migrate(self, old_chat: int, new_chat: int) -> None:
        """The group became a supergroup: its old id is refused from now on."""
        self.migrated[old_chat] = new_chat

    def stall_next(self, method: str, seconds: float) -> None:
        self.faults.append(Fault(method, stall=seconds))

    # ------------------------------------------------------------ the Bot API
    def me(self) -> dict:
        return {"id": self.bot_id, "is_bot": True, "first_name": "TNL", "username": self.username,
                "can_join_groups": True, "can_read_all_group_messages": False,
                "supports_inline_queries": False}

    async def api_getMe(self, p: dict) -> dict:
        return self.me()

    async def api_setMyCommands(self, p: dict) -> bool:
        return True

    async def api_deleteWebhook(self, p: dict) -> bool:
        return True

    async def api_setWebhook(self, p: dict) -> bool:
        return True

    async def api_getUpdates(self, p: dict) -> list[dict]:
        offset = p.get("offset")
        if isinstance(offset, int) and self.before_confirm is not None \
                and any(e.delivered and e.update["update_id"] < offset for e in self.queue):
            hook, self.before_confirm = self.before_confirm, None
            hook(offset)                  # e.g. kill the bot: these stay unconfirmed
            return []
        if isinstance(offset, int):
            for entry in [e for e in self.queue if e.delivered and e.update["update_id"] < offset]:
                self.queue.remove(entry)
                self.confirmed.append(entry.update["update_id"])
        if self._waiting is not None:
            self._waiting.set()            # Telegram ends the other long poll with 409
        if not self.queue and int(p.get("timeout") or 0) > 0:
            await self._long_poll(int(p["timeout"]))
        batch = self.queue[: int(p.get("limit") or 100)]
        for entry in batch:
            entry.delivered = True
        updates = [e.update for e in batch]
        if updates and self.after_batch is not None:
            self.after_batch(updates)
        return updates

    async def _long_poll(self, timeout: int) -> None:
        overtaken = self._waiting = asyncio.Event()
        self._arrived.clear()
        arrived = asyncio.ensure_future(self._arrived.wait())
        ended = asyncio.ensure_future(overtaken.wait())
        try:
            await asyncio.wait({arrived, ended}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            arrived.cancel()
            ended.cancel()
            if self._waiting is overtaken:
                self._waiting = None
        if overtaken.is_set():
            self.conflicts += 1
            raise ApiError(409, "Conflict: terminated by other getUpdates request; "
                                "make sure that only one bot instance is running")

    def _chat(self, chat_id: int) -> dict:
        kind = "private" if chat_id > 0 else ("supergroup" if str(chat_id).startswith("-100") else "group")
        chat: dict = {"id": chat_id, "type": kind}
        if kind != "private":
            chat["title"] = "Groupe de test"
        return chat

    def _markup(self, markup: Any) -> dict | None:
        if not markup:
            return None
        for row in markup.get("inline_keyboard", []):
            for button in row:
                data = button.get("callback_data", "")
                if not button.get("text") or not 1 <= len(data.encode()) <= 64:
                    raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
        return markup

    def _text(self, p: dict) -> tuple[str, list[dict]]:
        text = str(p.get("text", ""))
        plain, entities = parse_html(text) if p.get("parse_mode") == "HTML" else (text, [])
        if not plain.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if utf16(plain) > 4096:
            raise ApiError(400, "Bad Request: message is too long")
        return plain, entities

    def _message(self, chat_id: int, sender: dict, **content: Any) -> dict:
        message = {"message_id": next(self._message_ids), "from": sender, "chat": self._chat(chat_id),
                   "date": int(time.time()), **{k: v for k, v in content.items() if v is not None}}
        return message

    async def api_sendMessage(self, p: dict) -> dict:
        plain, entities = self._text(p)
        markup = self._markup(p.get("reply_markup"))
        message = self._message(int(p["chat_id"]), self.me(), text=plain, entities=entities or None,
                                reply_markup=markup)
        message["html"] = p.get("text")
        self.messages[(message["chat"]["id"], message["message_id"])] = message
        self.events.append(("message", message["chat"]["id"], message))
        return {k: v for k, v in message.items() if k != "html"}

    def _stored(self, p: dict) -> dict:
        message = self.messages.get((int(p["chat_id"]), int(p["message_id"])))
        if message is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        return message

    async def api_editMessageText(self, p: dict) -> dict:
        message = self._stored(p)
        plain, entities = self._text(p)
        markup = self._markup(p.get("reply_markup"))
        if plain == message.get("text") and markup == message.get("reply_markup"):
            raise ApiError(400, "Bad Request: message is not modified")
        message.update(text=plain, entities=entities, html=p.get("text"))
        message.pop("reply_markup", None)
        if markup:
            message["reply_markup"] = markup
        self.events.append(("edit", message["chat"]["id"], message))
        return {k: v for k, v in message.items() if k != "html"}

    async def api_editMessageReplyMarkup(self, p: dict) -> dict:
        message = self._stored(p)
        markup = self._markup(p.get("reply_markup"))
        if markup == message.get("reply_markup"):
            raise ApiError(400, "Bad Request: message is not modified")
        message.pop("reply_markup", None)
        if markup and markup.get("inline_keyboard"):
            message["reply_markup"] = markup
        self.events.append(("keyboard", message["chat"]["id"], message))
        return {k: v for k, v in message.items() if k != "html"}

    async def api_answerCallbackQuery(self, p: dict) -> bool:
        chat = self._query_chat.get(str(p["callback_query_id"]), 0)
        self.events.append(("toast", chat, str(p.get("text", ""))))
        return True

    async def api_sendDocument(self, p: dict) -> dict:
        document = p.get("document") or {}
        caption, _ = parse_html(p.get("caption", "")) if p.get("parse_mode") == "HTML" else (p.get("caption"), [])
        file_id = f"doc{len(self.files) + 1}"
        self.files[file_id] = document.get("data", b"")
        message = self._message(int(p["chat_id"]), self.me(), caption=caption or None, document={
            "file_id": file_id, "file_unique_id": file_id, "file_name": document.get("filename"),
            "file_size": len(self.files[file_id])})
        self.events.append(("document", message["chat"]["id"], message))
        return message

    async def api_getFile(self, p: dict) -> dict:
        file_id = str(p["file_id"])
        if file_id not in self.files:
            raise ApiError(400, "Bad Request: invalid file_id")
        return {"file_id": file_id, "file_unique_id": file_id, "file_size": len(self.files[file_id]),
                "file_path": file_id}

    # ------------------------------------------------------------ people
    def push(self, body: dict, update_id: int | None = None) -> int:
        update_id = next(self._update_ids) if update_id is None else update_id
        self.pushed[update_id] = {"update_id": update_id, **body}
        self.queue.append(Entry(self.pushed[update_id]))
        self._arrived.set()
        return update_id

    def redeliver(self, update_id: int) -> None:
        """Telegram sends an update again (it was confirmed, or not: it does not matter)."""
        self.queue.append(Entry(json.loads(json.dumps(self.pushed[update_id]))))
        self._arrived.set()

    def user_message(self, chat_id: int, user: dict, text: str | None = None,
                     reply_to: dict | None = None, **content: Any) -> dict:
        body = self._message(chat_id, user, text=text, **content)
        if text and text.startswith("/"):
            body["entities"] = [{"type": "bot_command", "offset": 0,
                                 "length": utf16(text.split(" ")[0])}]
        if reply_to is not None:
            body["reply_to_message"] = {k: v for k, v in reply_to.items() if k != "html"}
        return body

    def press(self, user: dict, message: dict, data: str) -> int:
        query_id = f"q{next(self._queries)}"
        self._query_chat[query_id] = message["chat"]["id"]
        shown = {k: v for k, v in message.items() if k != "html"}
        return self.push({"callback_query": {"id": query_id, "from": user, "chat_instance": "ci",
                                             "message": json.loads(json.dumps(shown)), "data": data}})

    def seen_by(self, chat_id: int, since: int = 0) -> list[tuple]:
        return [e for e in self.events[since:] if e[1] == chat_id]
