"""Helpers shared by the campaign commands (cli.py, cli_changes.py)."""
from __future__ import annotations

import argparse
import sys
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from ..settings import Settings
from ..store import Store
from ..store.campaigns import Campaign, campaign_by_slug
from .config import ConfigError, offsets


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
        raise ConfigError(f"not a date: {text!r} (expected 2024-11-08 or 2024-11-08 18:00)", "not_a_date",
                          text=text) from None
    return local.astimezone(timezone.utc)


def add_schedule_options(parser: argparse.ArgumentParser) -> None:
    """The schedule options of `campaign create` and `campaign edit`, declared once."""
    parser.add_argument("--opens", help="opening date or date and time, local")
    parser.add_argument("--closes", help="closing date (end of that day) or date and time, local")
    parser.add_argument("--reminders", help="reminders before closing, in days or hours, e.g. 14,7,2,1,12h")
    parser.add_argument("--idle-days", type=int, help="inactivity reminder after N days (0: none)")
    parser.add_argument("--max-reminders", type=int, help="most reminders per person")


def reminder_options(args: argparse.Namespace, reminders: dict[str, Any]) -> dict[str, Any]:
    """`reminders` (a campaign's config) with the reminder options given on the command line."""
    reminders = dict(reminders)
    if args.reminders is not None:
        reminders["before_days"] = offsets(args.reminders)
    if args.idle_days is not None:
        reminders["inactivity_days"] = args.idle_days
    if args.max_reminders is not None:
        reminders["max_per_person"] = args.max_reminders
    return reminders


def _destination(text: str) -> dict[str, str]:
    transport, _, chat = text.partition(":")
    return {"transport": transport, "chat_id": chat}


def _store(settings: Settings) -> Store:
    return Store(settings.store_url())


def _find(store: Store, slug: str, settings: Settings) -> Campaign | None:
    """The campaign, or None when there is none (said in the operator's language)."""
    with store.begin() as conn:
        found = campaign_by_slug(conn, slug)
    if found is None:
        from ..say import Say
        print(Say(settings)("campaign.cli.unknown", slug=slug), file=sys.stderr)
    return found
