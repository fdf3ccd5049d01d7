"""Helpers shared by the campaign commands (cli.py, cli_changes.py)."""
from __future__ import annotations

import sys
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from ..settings import Settings
from ..store import Store
from ..store.campaigns import Campaign, campaign_by_slug
from .config import ConfigError


def parse_instant(text: str, zone: str, end_of_day: bool) -> datetime:
    """Local date or date-time -> UTC instant."""
    text = str(text).strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            local = datetime.combine(day + timedelta(days=1 if end_of_day else 0), time(0),
                                     tzinfo=ZoneInfo(zone))
        else:
            local = datetime.fromisoformat(text.replace(" ", "T"))
            local = local if local.tzinfo else local.replace(tzinfo=ZoneInfo(zone))
    except ValueError:
        raise ConfigError(f"not a date: {text!r} (expected 2024-11-08 or 2024-11-08 18:00)") from None
    return local.astimezone(timezone.utc)


def _destination(text: str) -> dict[str, str]:
    transport, _, chat = text.partition(":")
    return {"transport": transport, "chat_id": chat}


def _store(settings: Settings) -> Store:
    return Store(settings.store_url())


def _find(store: Store, slug: str) -> Campaign | None:
    with store.begin() as conn:
        found = campaign_by_slug(conn, slug)
    if found is None:
        print(f"no campaign {slug!r}", file=sys.stderr)
    return found
