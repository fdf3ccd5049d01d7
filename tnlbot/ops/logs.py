"""Structured logs: one line per event that matters.

How this file works:
- `setup(level, secrets)` installs one handler on the root logger: JSON lines
  when the stream is not a terminal (journald, a container's log driver, a
  file), `HH:MM:SS LEVEL logger: event key=value` when it is.
- An event is logged with `event(logger, "name", key=value, ...)`: the keys
  are identifiers and counts (transport, kind, conversation, candidature,
  outbox row, result, milliseconds), never an answer's text, a token or a
  person's name. Those never reach a log call in tnlbot's own code.
- As a last guard, every line is scrubbed before it is written: the secrets
  of the configuration (tokens, passwords) and anything shaped like a
  Telegram bot token (libraries log request URLs that hold it) become `***`.
- Libraries (python-telegram-bot, httpx, matrix-nio, aiohttp…) stay at
  WARNING whatever the level: at DEBUG they print request payloads, which
  hold the questions and answers.
"""
from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, TextIO

FIELDS = "tnl"          # the LogRecord attribute that carries an event's fields
_TELEGRAM_TOKEN = re.compile(r"\b\d{5,}:[A-Za-z0-9_-]{30,}")
_HANDLER_NAME = "tnlbot"
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def event(logger: logging.Logger, name: str, level: int = logging.INFO, **fields: Any) -> None:
    """One event: a short name and its identifiers (never content)."""
    if logger.isEnabledFor(level):
        logger.log(level, name, extra={FIELDS: fields})


class Scrubber(logging.Filter):
    """Masks configured secrets and token-shaped strings in a record's text."""

    def __init__(self, secrets: Iterable[str] = ()):
        super().__init__()
        self.secrets = sorted({s for s in secrets if s and len(s) >= 6}, key=len, reverse=True)

    def scrub(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return _TELEGRAM_TOKEN.sub("***", text)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        clean = self.scrub(message)
        if clean != message or record.args:
            record.msg, record.args = clean, None
        if record.exc_text:
            record.exc_text = self.scrub(record.exc_text)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, event, then the event's fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(), "logger": record.name, "event": record.getMessage()}
        line.update(getattr(record, FIELDS, None) or {})
        if record.exc_text:
            line["exc"] = record.exc_text
        return json.dumps(line, ensure_ascii=False, default=str)


class TerminalFormatter(logging.Formatter):
    """Readable on a terminal: time, level, logger, event, key=value."""

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        fields = getattr(record, FIELDS, None) or {}
        extra = "".join(f" {k}={v}" for k, v in fields.items())
        text = f"{when} {record.levelname:<7} {record.name}: {record.getMessage()}{extra}"
        if record.exc_text:
            text += "\n" + record.exc_text
        return text


def level_of(name: str | int) -> int:
    if isinstance(name, int):
        return name
    upper = str(name or "INFO").strip().upper()
    if upper not in LEVELS:
        raise ValueError(f"unknown log level {name!r}: use one of {', '.join(LEVELS)}")
    return getattr(logging, upper)


def setup(level: str | int = "INFO", secrets: Iterable[str] = (), stream: TextIO | None = None,
          json_lines: bool | None = None) -> logging.Handler:
    """Install (or replace) tnlbot's handler on the root logger; returns it."""
    stream = stream if stream is not None else sys.stderr
    if json_lines is None:
        json_lines = not (hasattr(stream, "isatty") and stream.isatty())
    wanted = level_of(level)
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    handler = logging.StreamHandler(stream)
    handler.set_name(_HANDLER_NAME)
    handler.addFilter(Scrubber(secrets))
    handler.setFormatter(JsonFormatter() if json_lines else TerminalFormatter())
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    logging.getLogger("tnlbot").setLevel(wanted)
    return handler
