"""JSON text for the store: orjson on the path of every answer, the standard library behind it.

Stored values keep one shape whatever encoder wrote them: compact, keys sorted,
non-ASCII characters as they are. orjson refuses what it cannot represent
exactly (integers beyond 64 bits, non-text keys, lone surrogates): those go
through `json`. It reads an integer beyond 64 bits as a float; tnlbot never
stores floats (decimal answers are text), so a float in what orjson read
means such an integer, and the text is read again by `json`.
"""
from __future__ import annotations

import json
from typing import Any

import orjson

_SORTED = orjson.OPT_SORT_KEYS


def dumps(value: Any) -> str:
    try:
        return orjson.dumps(value, option=_SORTED).decode()
    except TypeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def loads(text: str | bytes) -> Any:
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)
    return json.loads(text) if _has_float(value) else value


def _has_float(value: Any) -> bool:
    kind = type(value)
    if kind is float:
        return True
    if kind is dict:
        value = value.values()
    elif kind is not list:
        return False
    kinds = set(map(type, value))         # one pass in C over the values
    if float in kinds:
        return True
    if dict in kinds or list in kinds:
        return any(_has_float(v) for v in value if type(v) is dict or type(v) is list)
    return False
