"""JSON text for the store: orjson on the path of every answer, the standard library behind it.

Stored values keep one shape whatever encoder wrote them: compact, keys sorted,
non-ASCII characters as they are. orjson refuses what it cannot represent
exactly (integers beyond 64 bits, non-text keys, lone surrogates): those go
through `json`. It would read a very long integer as a float, so text holding
a long run of digits is read by `json` too.
"""
from __future__ import annotations

import json
import re
from typing import Any

import orjson

_SORTED = orjson.OPT_SORT_KEYS
_LONG_NUMBER = re.compile(r"\d{16}").search


def dumps(value: Any) -> str:
    try:
        return orjson.dumps(value, option=_SORTED).decode()
    except TypeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def loads(text: str | bytes) -> Any:
    if _LONG_NUMBER(text if isinstance(text, str) else text.decode()) is None:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    return json.loads(text)
