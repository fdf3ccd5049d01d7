"""Recognise the bot's own messages: is this reply one of the locale's error texts?"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from tnlbot.i18n import Catalog

_PLACEHOLDER = re.compile(r"\{[a-z_]+\}")

_BIDI = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))}


def pattern(template: str) -> re.Pattern[str]:
    """A message template ("Indiquez ... entre 1 et {max}") as a full-match regex."""
    parts = _PLACEHOLDER.split(template)
    return re.compile("(?s)" + "(.*?)".join(re.escape(p) for p in parts))


@lru_cache(maxsize=None)
def _patterns(catalog: Catalog, locale: str, prefixes: tuple[str, ...]) -> list[tuple[str, re.Pattern]]:
    keys = sorted(k for k in catalog.keys(locale) if k.startswith(prefixes))
    return [(k, pattern(form)) for k in keys for form in catalog.forms(locale, k)]


def message_key(catalog: Catalog, locale: str, text: str, prefixes: tuple[str, ...]) -> str | None:
    """The key of the locale message `text` is, among keys starting with `prefixes`."""
    for key, regex in _patterns(catalog, locale, prefixes):
        if regex.fullmatch(text):
            return key
    return None


def visible(text: str) -> bool:
    """Something a reader would see: not only spaces and format (zero-width) characters."""
    return any(not c.isspace() and unicodedata.category(c) != "Cf" for c in text)


def unsafe_characters(text: str) -> list[str]:
    """Characters a message must never carry to a screen: controls, bidi overrides, surrogates."""
    return [f"U+{ord(c):04X}" for c in text
            if (unicodedata.category(c) in ("Cc", "Cs") and c not in "\n\t") or c in _BIDI]
