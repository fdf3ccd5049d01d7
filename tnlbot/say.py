"""What the command line tells the operator, in their language.

The language comes from LC_ALL, LC_MESSAGES or LANG (French when none is set, English
for a language the bot does not speak); the texts from locales/. An instant given as a
value is shown in the operator's language, in the zone it carries (UTC when naive).
"""
from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from .flowbook.report import operator_locale
from .i18n import Catalog, load_catalog, local_time


class Say:
    def __init__(self, settings: Any):
        self.catalog: Catalog = load_catalog(Path(settings.locales_dir))
        self.locale = operator_locale(self.catalog.locales)

    def __call__(self, key: str, **values: object) -> str:
        return str(self.catalog(self.locale, key, **{k: self.value(v) for k, v in values.items()}))

    def value(self, value: object) -> str:
        if isinstance(value, datetime):
            return local_time(value, self.locale, str(getattr(value.tzinfo, "key", "UTC")))
        return str(value)

    def reason(self, exc: Exception, prefix: str = "campaign.error.") -> str:
        """Why something was refused: its message under `prefix` when the error names one
        (`key` and `values`), else the error's own text."""
        key = getattr(exc, "key", "")
        return self(prefix + key, **getattr(exc, "values", {})) if key else str(exc)

    def yes(self, answer: str) -> bool:
        """A yes to a confirmation, in any language the bot speaks ("oui", "o", "yes", "y")."""
        words = {w.strip() for code in self.catalog.locales
                 for w in self.catalog(code, "campaign.change.yes_words").split(",")}
        return answer.strip().lower() in words - {""}
