"""Load locales/*.yaml and render the bot's messages in a language.

French (`fr.yaml`) is the source: every other locale must hold exactly the
same keys (checked at load time). Adding a language is adding a file. A
feature may keep its messages apart in `<lang>.<feature>.yaml`.
"""
from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping
from zoneinfo import ZoneInfo

import yaml
from babel.dates import format_datetime

BUNDLED = Path(__file__).resolve().parent.parent / "locales"
SOURCE = "fr"

# libyaml's safe loader where PyYAML was built with it (ten times faster at start-up)
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class LocaleError(Exception):
    pass


def _flatten(raw: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in raw.items():
        if not isinstance(key, str):
            raise LocaleError(f"{prefix}{key!r}: a message key must be text: quote it "
                              "(YAML reads yes/no/on/off as true/false)")
        name = f"{prefix}{key}"
        if isinstance(value, dict):
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
        template = table.get(key) or self._messages[SOURCE].get(key, key)
        if not params:
            return template
        try:
            return template.format(**params)
        except (KeyError, IndexError, ValueError):
            return template

    def keys(self, locale: str = SOURCE) -> set[str]:
        return set(self._messages[locale])


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
    for code, table in messages.items():
        for key in sorted(set(messages[SOURCE]) - set(table)):
            problems.append(f"{code}.yaml: {key}: missing text")
        for key in sorted(set(table) - set(messages[SOURCE])):
            problems.append(f"{code}.yaml: {key}: not in {SOURCE}.yaml")
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
