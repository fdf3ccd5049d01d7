"""A campaign's settings, read from its config JSON (set by `tnlbot campaign create`).

    {"reminders": {"before_days": [14, 7, 2, 1, "12h"], "inactivity_days": 10,
                   "max_per_person": 6,
                   "quiet": {"start": "20:00", "end": "08:00", "days": ["sunday"]}},
     "jury": [{"transport": "matrix", "chat_id": "!room:example.org", "locale": "fr"},
              {"transport": "telegram", "chat_id": "-1001234"}],
     "invitation_days": 7,
     "elu_confirmation": true,
     "telegram_bot": "tnl_label_bot"}

Bad values raise ConfigError with a readable reason (checked at creation).
A campaign created by `tnlbot campaign create` requires the élu's confirmation
("elu_confirmation": true, unless --no-elu-confirmation); one created without
configuration (the embedded terminal default) does not.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import time
from typing import Any, Mapping

from .schedule import CampaignClock, QuietHours, ReminderPlan
from ..store.campaigns import Campaign

DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
TRANSPORTS = ("console", "telegram", "matrix")


class ConfigError(ValueError):
    """A refused value. `str()` is the reason in English (logs, tests); `key` (under
    `campaign.error.` in locales/) and `values` let the command line say it in the
    operator's language."""

    def __init__(self, reason: str, key: str = "", **values: object):
        super().__init__(reason)
        self.key = key
        self.values = values


@dataclass(frozen=True, slots=True)
class Destination:
    transport: str
    chat_id: str
    locale: str = "fr"

    @property
    def key(self) -> str:
        return f"{self.transport}:{self.chat_id}"


@dataclass(frozen=True, slots=True)
class Settings:
    plan: ReminderPlan
    jury: tuple[Destination, ...]
    invitation_days: int = 7
    elu_confirmation: bool = False   # `tnlbot campaign create` writes true unless told otherwise
    telegram_bot: str = ""
    verify_claims: bool = False      # the operator verifies each claim of a body; `tnlbot campaign
                                     # create` writes true unless told otherwise (false: the first
                                     # claim of a body is accepted, later ones wait for the operator)


def _time(raw: Any, where: str) -> time:
    try:
        hours, minutes = str(raw).split(":")
        return time(int(hours), int(minutes))
    except (ValueError, TypeError):
        raise ConfigError(f"{where}: expected HH:MM, got {raw!r}", "not_a_time", where=where, raw=raw) from None


def _int(raw: Any, where: str, low: int, high: int) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or not low <= raw <= high:
        raise ConfigError(f"{where}: expected a whole number between {low} and {high}, got {raw!r}",
                          "not_in_range", where=where, low=low, high=high, raw=raw)
    return raw


def quiet_hours(raw: Mapping[str, Any] | None) -> QuietHours:
    raw = raw or {}
    default = QuietHours()
    days = raw.get("days", [DAYS[d] for d in default.days])
    if not isinstance(days, list) or any(d not in DAYS for d in days):
        raise ConfigError(f"reminders.quiet.days: expected names among {', '.join(DAYS)}", "quiet_days",
                          days=", ".join(DAYS))
    return QuietHours(start=_time(raw.get("start", "20:00"), "reminders.quiet.start"),
                      end=_time(raw.get("end", "08:00"), "reminders.quiet.end"),
                      days=tuple(sorted(DAYS.index(d) for d in days)))


OFFSET = re.compile(r"(?:(\d{1,3})\s*[dj])?\s*(?:(\d{1,4})\s*h)?")
OFFSET_HELP = ("write whole days (14 or 14d) or hours (12h, 1d12h), between 1 hour and 365 days, "
               "e.g. 14,7,2,1,12h")


def offset(raw: Any, where: str = "reminders.before_days") -> tuple[str, int]:
    """One reminder offset before the closing: ("d", days) or ("h", hours)."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        text = str(raw)
    elif isinstance(raw, str):
        text = raw.strip().lower()
    else:
        raise ConfigError(f"{where}: {raw!r} is not an offset: {OFFSET_HELP}", "not_an_offset", where=where, raw=raw)
    if text.isdigit():
        days, hours = int(text), 0
    else:
        found = OFFSET.fullmatch(text)
        if not text or found is None or not any(found.groups()):
            raise ConfigError(f"{where}: {raw!r} is not an offset: {OFFSET_HELP}", "not_an_offset", where=where, raw=raw)
        days, hours = int(found.group(1) or 0), int(found.group(2) or 0)
    total = days * 24 + hours
    if not 1 <= total <= 365 * 24:
        raise ConfigError(f"{where}: {raw!r} is out of range: {OFFSET_HELP}", "offset_range", where=where, raw=raw)
    return ("h", total) if hours else ("d", days)


def offsets(text: str) -> list[int | str]:
    """`--reminders 14,7,2,1,12h` -> [14, 7, 2, 1, "12h"] (checked; raises ConfigError)."""
    out: list[int | str] = []
    for item in (part.strip() for part in text.split(",")):
        if item:
            kind, n = offset(item, "--reminders")
            out.append(n if kind == "d" else f"{n}h")
    return out


def reminder_plan(raw: Mapping[str, Any] | None) -> ReminderPlan:
    raw = raw or {}
    before = raw.get("before_days", [14, 7, 2, 1])
    if not isinstance(before, list):
        raise ConfigError("reminders.before_days: expected a list of offsets: " + OFFSET_HELP, "offset_list")
    parsed = [offset(d) for d in before]
    return ReminderPlan(
        before_days=tuple(n for kind, n in parsed if kind == "d"),
        before_hours=tuple(n for kind, n in parsed if kind == "h"),
        inactivity_days=_int(raw.get("inactivity_days", 10), "reminders.inactivity_days", 0, 365),
        max_per_person=_int(raw.get("max_per_person", 6), "reminders.max_per_person", 0, 100),
        quiet=quiet_hours(raw.get("quiet")))


def destinations(raw: Any) -> tuple[Destination, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ConfigError("jury: expected a list of {transport, chat_id}", "jury_list")
    out = []
    for index, item in enumerate(raw):
        if not isinstance(item, Mapping) or item.get("transport") not in TRANSPORTS \
                or not str(item.get("chat_id", "")).strip():
            raise ConfigError(f"jury[{index}]: expected transport ({', '.join(TRANSPORTS)}) and chat_id", "jury_item",
                              where=f"jury[{index}]", transports=", ".join(TRANSPORTS))
        out.append(Destination(str(item["transport"]), str(item["chat_id"]).strip(),
                               str(item.get("locale", "fr"))))
    return tuple(out)


def settings(config: Mapping[str, Any]) -> Settings:
    return Settings(plan=reminder_plan(config.get("reminders")),
                    jury=destinations(config.get("jury")),
                    invitation_days=_int(config.get("invitation_days", 7), "invitation_days", 1, 90),
                    elu_confirmation=bool(config.get("elu_confirmation", False)),
                    telegram_bot=str(config.get("telegram_bot", "")),
                    verify_claims=config.get("verify_claims", False) is True)


def lenient(config: Mapping[str, Any]) -> Settings:
    """Settings of a stored campaign: a bad value falls back to the defaults."""
    try:
        return settings(config)
    except ConfigError:
        return Settings(plan=ReminderPlan(), jury=())


def clock_of(campaign: Campaign) -> CampaignClock:
    return CampaignClock(campaign.id, campaign.opens_at, campaign.closes_at, campaign.timezone,
                         lenient(campaign.config).plan)
