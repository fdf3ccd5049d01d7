"""Deliver the Bot API calls of one outbox row and say how it went.

The rules: a message is never sent twice. So only what certainly did not
reach Telegram is retried: a 429 (Telegram says when), a connection that
was refused, a full connection pool. A timeout or a connection lost after
the request left is UNCERTAIN. Edits are idempotent and are retried. When a
long message is split, the parts after the first are retried here (after
the wait Telegram asks for) rather than by the relay, which would send the
first part again.
"""
from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any, Callable, Protocol

from telegram import InputFile
from telegram.error import (BadRequest, ChatMigrated, Forbidden, InvalidToken, NetworkError,
                            RetryAfter, TimedOut)

from ..runtime.clock import Clock
from ..runtime.transport import SendResult, SendStatus

Calls = Callable[[str, str], list[dict]]   # (chat id, message id to edit) -> API calls
PART_ATTEMPTS = 4
NETWORK_WAIT = 5.0


class Api(Protocol):
    """The Bot API as the transport calls it (telegram.Telegram)."""
    clock: Clock

    async def call(self, method: str, params: dict | None = None, **timeouts: Any) -> Any: ...


class _Gone(Exception):
    """The message to edit no longer exists (or can no longer be edited)."""


async def deliver(tg: Api, chat_id: str, calls_for: Calls, message_id: str) -> SendResult:
    try:
        try:
            return await _deliver(tg, calls_for(chat_id, message_id), bool(message_id))
        except _Gone:
            return await _deliver(tg, calls_for(chat_id, ""), False)
    except ChatMigrated as exc:   # the group became a supergroup: follow it
        new_chat = str(exc.new_chat_id)
        result = await _deliver(tg, calls_for(new_chat, ""), False)
        return SendResult(result.status, result.ref, result.retry_after, result.error, new_chat)


async def _deliver(tg: Api, calls: list[dict], editing: bool) -> SendResult:
    ref = ""
    for index, call in enumerate(calls):
        for _ in range(PART_ATTEMPTS):
            outcome = await _attempt(tg, call, editing)
            if isinstance(outcome, SendResult) and outcome.status is SendStatus.RETRY and index > 0:
                await tg.clock.sleep(outcome.retry_after)   # later parts wait here
                continue
            break
        if isinstance(outcome, SendResult):
            if index > 0 and outcome.status is SendStatus.RETRY:
                return SendResult(SendStatus.UNCERTAIN, ref, error="only partly sent: " + outcome.error)
            return outcome
        ref = outcome or ref
    return SendResult(SendStatus.SENT, ref=ref)


async def _attempt(tg: Api, call: dict, editing: bool) -> str | SendResult:
    """One API call -> the message id it produced, or why not."""
    try:
        answer = await _post(tg, call)
    except RetryAfter as exc:
        return SendResult(SendStatus.RETRY, retry_after=_seconds(exc), error=str(exc))
    except Forbidden as exc:
        return SendResult(SendStatus.UNREACHABLE, error=str(exc))
    except TimedOut as exc:
        if editing or "Pool timeout" in str(exc):
            return SendResult(SendStatus.RETRY, retry_after=NETWORK_WAIT, error=str(exc) or "timed out")
        return SendResult(SendStatus.UNCERTAIN, error=str(exc) or "timed out")
    except BadRequest as exc:
        return _bad_request(exc, call, editing)
    except NetworkError as exc:
        if editing or "ConnectError" in str(exc):
            return SendResult(SendStatus.RETRY, retry_after=NETWORK_WAIT, error=str(exc))
        return SendResult(SendStatus.UNCERTAIN, error=str(exc))
    except InvalidToken as exc:
        return SendResult(SendStatus.RETRY, retry_after=60, error=str(exc))
    return str(answer.get("message_id", "")) if isinstance(answer, dict) else ""


def _bad_request(exc: BadRequest, call: dict, editing: bool) -> str | SendResult:
    text = str(exc).lower()
    if "not modified" in text:
        return str(call["params"].get("message_id", ""))
    if editing and ("not found" in text or "can't be edited" in text):
        raise _Gone(text)
    return SendResult(SendStatus.FAILED, error=str(exc))


async def _post(tg: Api, call: dict) -> Any:
    params = dict(call["params"])
    file = call.get("file")
    if file is not None:
        params["document"] = InputFile(base64.b64decode(file["data"] or b""), filename=file["name"])
    return await tg.call(call["method"], params)


def _seconds(exc: RetryAfter) -> float:
    value: Any = getattr(exc, "_retry_after", None)
    if value is None:
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)
