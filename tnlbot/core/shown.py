"""Stored values shown the way a person of the conversation's language writes them
(Babel): dates `14/03/2021`, numbers `1 250` and `62,5`, percentages `62,5 %` in
French; `1,250`, `62.5`, `62.5%` in English. What is shown parses back to the same
stored value (see kinds.parse, which reads both). Which kind is shown how is declared
in `core.kinds`."""
from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from babel.dates import format_date
from babel.numbers import format_decimal

# Babel's locale for each conversation language: English dates day first, as in the UK
_BABEL = {"en": "en_GB"}


def _babel(locale: str) -> str:
    return _BABEL.get(locale, locale)


@lru_cache(maxsize=4096)
def show_date(iso: str, locale: str) -> str:
    try:
        day = date.fromisoformat(iso)
    except ValueError:
        return iso
    return format_date(day, "dd/MM/yyyy", locale=_babel(locale))


@lru_cache(maxsize=4096)
def show_number(value: str, locale: str) -> str:
    try:
        number = Decimal(value)
    except (InvalidOperation, ValueError):
        return value
    exponent = number.as_tuple().exponent
    places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    pattern = "#,##0" + ("." + "0" * places if places else "")
    return format_decimal(number, pattern, locale=_babel(locale))


def show_percent(value: str, locale: str) -> str:
    sign = "\u00a0%" if locale == "fr" else "%"
    return show_number(value, locale) + sign

