"""Load locales/*.yaml and render the bot's messages in a language.

French (`fr.yaml`) is the source: every other locale must hold exactly the
same keys (checked at load time). Adding a language is adding a file. A
feature may keep its messages apart in `<lang>.<feature>.yaml`.

A message that counts something is a mapping of CLDR plural categories
(`one`, `other`, and `few`, `many`... where the language has them); the form
is chosen by the language's plural rules (Babel) from the count given as `n`
(or `count`, `min`, `max`). Each language holds the categories it needs.
"""
from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Mapping
from zoneinfo import ZoneInfo

import yaml
from babel import Locale, UnknownLocaleError
from babel.dates import format_datetime

from .bundled import bundled

BUNDLED = bundled("locales")
SOURCE = "fr"

# libyaml's safe loader where PyYAML was built with it (ten times faster at start-up)
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class LocaleError(Exception):
    pass


PLURAL_FORMS = frozenset({"zero", "one", "two", "few", "many", "other"})
PLURAL = "#"                     # "idle.missing#one": the `one` form of idle.missing
_COUNTS = ("n", "count", "min", "max")


def _base(key: str) -> str:
    return key.partition(PLURAL)[0]


@lru_cache(maxsize=64)
def _plural_rule(locale: str) -> Callable[[float], str]:
    try:
        return Locale.parse(locale).plural_form
    except (UnknownLocaleError, ValueError):
        return Locale.parse(SOURCE).plural_form


def _flatten(raw: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in raw.items():
        if not isinstance(key, str):
            raise LocaleError(f"{prefix}{key!r}: a message key must be text: quote it "
                              "(YAML reads yes/no/on/off as true/false)")
        name = f"{prefix}{key}"
        if isinstance(value, dict) and "other" in value and set(value) <= PLURAL_FORMS:
            flat.update({f"{name}{PLURAL}{form}": str(text) for form, text in value.items()})
        elif isinstance(value, dict):
            flat.update(_flatten(value, name + "."))
        else:
            flat[name] = str(value)
    return flat


class Catalog:
    """Messages per locale; callable as `t(locale, key, **params)`."""

    def __init__(self, messages: Mapping[str, Mapping[str, str]]):
        self._messages = messages
        self.locales = tuple(sorted(messages, key=lambda c: (c != SOURCE, c)))

    def __call__(self, locale: str, key: str, **params: str) -> str:
        table = self._messages.get(locale) or self._messages[SOURCE]
        template = table.get(key) or self._messages[SOURCE].get(key)
        if template is None:
            template = self._plural(locale, table, key, params)
        if not params:
            return template
        try:
            return template.format(**params)
        except (KeyError, IndexError, ValueError):
            return template

    def _plural(self, locale: str, table: Mapping[str, str], key: str, params: Mapping[str, str]) -> str:
        """The plural form of `key` for the count among `params` (the `other` form without one)."""
        count = next((params[name] for name in _COUNTS if name in params), None)
        form = "other"
        if count is not None and str(count).lstrip("-").isdigit():
            form = _plural_rule(locale if table is self._messages.get(locale) else SOURCE)(int(count))
        for choice in (f"{key}{PLURAL}{form}", f"{key}{PLURAL}other"):
            if choice in table:
                return table[choice]
        return key

    def forms(self, locale: str, key: str) -> list[str]:
        """Every template of a message: the one text, or each of its plural forms."""
        table = self._messages.get(locale) or self._messages[SOURCE]
        if key in table:
            return [table[key]]
        return [text for name, text in table.items() if name.startswith(key + PLURAL)]

    def keys(self, locale: str = SOURCE) -> set[str]:
        return {_base(k) for k in self._messages[locale]}


def load_catalog(folder: Path = BUNDLED) -> Catalog:
    messages: dict[str, dict[str, str]] = {}
    for path in sorted(folder.glob("*.yaml")):   # fr.yaml, fr.telegram.yaml, en.yaml...
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER) or {}
        code = path.name.split(".")[0]
        table = messages.setdefault(code, {})
        for key, value in _flatten(raw).items():
            if key in table:
                raise LocaleError(f"{path.name}: {key}: defined twice for {code}")
            table[key] = value
    if SOURCE not in messages:
        raise LocaleError(f"{folder}: the source locale {SOURCE}.yaml is missing")
    problems = []
    source = {_base(k) for k in messages[SOURCE]}
    for code, table in messages.items():
        own = {_base(k) for k in table}
        for key in sorted(source - own):
            problems.append(f"{code}.yaml: {key}: missing text")
        for key in sorted(own - source):
            problems.append(f"{code}.yaml: {key}: not in {SOURCE}.yaml")
        for key in sorted(k for k in own if f"{k}{PLURAL}other" not in table and k not in table):
            problems.append(f"{code}.yaml: {key}: a plural message needs its `other` form")
    if problems:
        raise LocaleError("\n".join(problems))
    return Catalog(messages)


def local_time(instant: datetime, locale: str, zone: str = "Europe/Paris") -> str:
    """An instant shown in the campaign's zone, in the person's language (to the minute)."""
    return _local_minute(int(instant.timestamp() // 60), locale, zone)


@lru_cache(maxsize=4096)
def _local_minute(minute: int, locale: str, zone: str) -> str:
    instant = datetime.fromtimestamp(minute * 60, ZoneInfo(zone))
    return format_datetime(instant, "d MMMM y, HH:mm", locale=locale)
