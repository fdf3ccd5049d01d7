"""What the command line tells the operator, in their language.

The language comes from LC_ALL, LC_MESSAGES or LANG (French when none is set, English
for a language the bot does not speak); the texts from locales/.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from .flowbook.report import operator_locale
from .i18n import Catalog, load_catalog


class Say:
    def __init__(self, settings: Any):
        self.catalog: Catalog = load_catalog(Path(settings.locales_dir))
        self.locale = operator_locale(self.catalog.locales)

    def __call__(self, key: str, **values: object) -> str:
        return str(self.catalog(self.locale, key, **{k: str(v) for k, v in values.items()}))
