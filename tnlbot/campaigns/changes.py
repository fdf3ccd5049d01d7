"""Changing a campaign after its creation: edit, extend, reopen, and the log of changes.

How this file works:
- `plan_*` compare the campaign as stored with what the operator asks and
  return the changes, each a field with its values before and after and the
  name of what it means for agents and the jury (the command line says both
  in the operator's language), or raise ConfigError with the reason a change
  is refused. Nothing is written.
- `apply` writes the new values and one `campaign_changes` row (who, when,
  which command, each field before and after as text, in English as the log
  has always kept them) in one transaction.
- Reopening a closed campaign sets it open with a new closing instant, forgets
  the previous closing (its summary stays in the log), and turns the drafts
  that closing froze back into drafts; the next closing sends its notices
  again (their dedup keys carry the number of reopenings).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, delete, func, insert, select, update

from ..i18n import local_time
from ..store import campaign_tables as C
from ..store import tables as T
from ..store.campaigns import Campaign
from ..store.store import dumps
from . import recheck
from .config import ConfigError, Destination, offset, settings as parse_settings
from .schedule import ReminderPlan


@dataclass(frozen=True, slots=True)
class Change:
    """One field before and after, as values: an instant in the campaign's zone, a
    ReminderPlan, jury destinations, a bool, a count or a state. `effect` names what the
    change means for agents and the jury (`campaign.change.effect.<effect>` in locales/)."""
    field: str          # as logged: opens, closes, reminders, jury, élu confirmation, invitation days,
                        # state, frozen drafts
    before: Any
    after: Any
    effect: str = ""

    def logged(self) -> dict[str, str]:
        return {"field": self.field, "before": _text(self.before), "after": _text(self.after)}


@dataclass(frozen=True, slots=True)
class Plan:
    command: str                          # edit | extend | reopen
    values: Mapping[str, Any]             # new column values of the campaign row
    changes: tuple[Change, ...]


def _zoned(campaign: Campaign, instant: datetime) -> datetime:
    return instant.astimezone(ZoneInfo(campaign.timezone))


def _text(value: Any) -> str:
    """A value as the log keeps it."""
    match value:
        case datetime():
            return local_time(value, "en", str(getattr(value.tzinfo, "key", "UTC")))
        case ReminderPlan():
            return _plan_text(value)
        case bool():
            return str(value).lower()
        case tuple():
            return ", ".join(d.key for d in value if isinstance(d, Destination)) or "none"
        case _:
            return str(value)


_PLAN = re.compile(r"(?P<offsets>\S+) before closing, inactivity (?P<idle>\d+) days, at most (?P<max>\d+)")


def reread(logged: Mapping[str, str], zone: str) -> Change:
    """A change as the log keeps it, read back into values (`_text` undone) for `campaign show`
    to say in the operator's language; a text that does not read back stays text."""
    return Change(logged["field"], _reread(logged["field"], logged["before"], zone),
                  _reread(logged["field"], logged["after"], zone))


def _reread(field: str, text: str, zone: str) -> Any:
    try:
        match field:
            case "opens" | "closes":
                return datetime.strptime(text, "%d %B %Y, %H:%M").replace(tzinfo=ZoneInfo(zone))
            case "reminders":
                found = _PLAN.fullmatch(text)
                if found is None:
                    return text
                parsed = [offset(o) for o in found["offsets"].split(",") if found["offsets"] != "none"]
                return ReminderPlan(tuple(n for kind, n in parsed if kind == "d"),
                                    tuple(n for kind, n in parsed if kind == "h"),
                                    int(found["idle"]), int(found["max"]))
            case "jury":
                return tuple(Destination(*d.split(":", 1)) for d in text.split(", ") if text != "none")
            case "élu confirmation":
                return {"true": True, "false": False}.get(text, text)
            case "invitation days" | "frozen drafts":
                return int(text)
    except (ValueError, TypeError):    # ConfigError is a ValueError
        pass
    return text


def _dates(campaign: Campaign, opens: datetime | None, closes: datetime | None,
           now: datetime) -> tuple[dict[str, Any], list[Change]]:
    values: dict[str, Any] = {}
    changes: list[Change] = []
    new_opens, new_closes = opens or campaign.opens_at, closes or campaign.closes_at
    if new_closes <= new_opens:
        raise ConfigError("a campaign must close after it opens", "close_after_open")
    if opens is not None and opens != campaign.opens_at:
        if campaign.opens_at <= now and opens > now:
            raise ConfigError("the campaign is already open: its opening cannot move to the future",
                              "opening_started")
        values["opens_at"] = opens
        changes.append(Change("opens", _zoned(campaign, campaign.opens_at), _zoned(campaign, opens), "opens"))
    if closes is not None and closes != campaign.closes_at:
        if closes <= now:
            raise ConfigError("the new closing is in the past: use `tnlbot campaign close` to close now",
                              "closing_past")
        values["closes_at"] = closes
        changes.append(Change("closes", _zoned(campaign, campaign.closes_at), _zoned(campaign, closes),
                              "closes_later" if closes > campaign.closes_at else "closes_earlier"))
    return values, changes


def _config_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[Change]:
    old, new = parse_settings(before), parse_settings(after)
    pairs: list[tuple[str, Any, Any, str]] = [
        ("reminders", old.plan, new.plan, "reminders"),
        ("jury", old.jury, new.jury, "jury"),
        ("élu confirmation", old.elu_confirmation, new.elu_confirmation, "elu_confirmation"),
        ("invitation days", old.invitation_days, new.invitation_days, "invitation_days"),
    ]   # compared as logged: a plan that differs only in its quiet hours is no change here
    return [Change(name, a, b, effect) for name, a, b, effect in pairs if _text(a) != _text(b)]


def _plan_text(plan: ReminderPlan) -> str:
    offsets = [f"{n}{unit}" for unit, n in plan.offsets()]
    return (f"{','.join(offsets) or 'none'} before closing, inactivity {plan.inactivity_days} days, "
            f"at most {plan.max_per_person}")


def plan_edit(campaign: Campaign, now: datetime, *, opens: datetime | None = None,
              closes: datetime | None = None, config: Mapping[str, Any] | None = None) -> Plan:
    if campaign.state == "closed" and (opens or closes):
        raise ConfigError(f"{campaign.slug} is closed: use `tnlbot campaign reopen` to give it a new closing",
                          "edit_closed", slug=campaign.slug)
    values, changes = _dates(campaign, opens, closes, now)
    if config is not None:
        changes += _config_changes(campaign.config, config)
        values["config"] = dumps(dict(config))
    return Plan("edit", values, tuple(changes))


def plan_extend(campaign: Campaign, now: datetime, closes: datetime) -> Plan:
    if campaign.state == "closed":
        raise ConfigError(f"{campaign.slug} is closed: use `tnlbot campaign reopen {campaign.slug} "
                          "--closes ...` to reopen it", "extend_closed", slug=campaign.slug)
    if closes <= campaign.closes_at:
        current = _zoned(campaign, campaign.closes_at)
        raise ConfigError(f"the new closing must be later than the current one ({_text(current)})", "not_later",
                          closes=current)
    values, changes = _dates(campaign, None, closes, now)
    return Plan("extend", values, tuple(changes))


def plan_reopen(conn: Connection, campaign: Campaign, now: datetime, closes: datetime) -> Plan:
    if campaign.state != "closed":
        raise ConfigError(f"{campaign.slug} is not closed ({campaign.state}): use `tnlbot campaign extend` "
                          "to move its closing", "not_closed", slug=campaign.slug, state=campaign.state)
    if closes <= now:
        raise ConfigError("the new closing must be in the future", "closing_not_future")
    k = T.candidatures
    frozen = conn.execute(select(func.count()).where(k.c.campaign_id == campaign.id,
                                                     k.c.status == "frozen")).scalar() or 0
    changes = (
        Change("state", "closed", "open", "reopened"),
        Change("closes", _zoned(campaign, campaign.closes_at), _zoned(campaign, closes), "closes_again"),
        Change("frozen drafts", int(frozen), 0, "frozen_drafts"),
    )
    return Plan("reopen", {"state": "open", "closes_at": closes, "closed_at": None}, changes)


def apply(conn: Connection, campaign: Campaign, plan: Plan, now: datetime, by: str) -> None:
    """Write the plan and its log row (one transaction, the caller's)."""
    g = T.campaigns
    if plan.values:
        conn.execute(update(g).where(g.c.id == campaign.id).values(**plan.values))
    logged = [c.logged() for c in plan.changes]
    if plan.command == "reopen":
        closing = conn.execute(select(C.closings.c.summary, C.closings.c.closed_at).where(
            C.closings.c.campaign_id == campaign.id)).first()
        if closing is not None:
            logged.append({"field": "previous closing", "before": closing.closed_at.isoformat(),
                           "after": closing.summary})
        conn.execute(delete(C.closings).where(C.closings.c.campaign_id == campaign.id))
        k = T.candidatures
        conn.execute(update(k).where(k.c.campaign_id == campaign.id, k.c.status == "frozen")
                     .values(status="draft", updated_at=now))
    recheck.campaign(conn, campaign.id)      # dates, reminder plan or drafts back: reminders move
    conn.execute(insert(C.campaign_changes).values(campaign_id=campaign.id, at=now, command=plan.command,
                                                   by=by[:64], changes=dumps(logged)))


def reopenings(conn: Connection, campaign_id: int) -> int:
    """How many times the campaign was reopened (a closing's notices carry this round)."""
    log = C.campaign_changes
    return int(conn.execute(select(func.count()).where(log.c.campaign_id == campaign_id,
                                                       log.c.command == "reopen")).scalar() or 0)


def history(conn: Connection, campaign_id: int) -> list[tuple[datetime, str, str, list[dict[str, str]]]]:
    log = C.campaign_changes
    rows = conn.execute(select(log.c.at, log.c.command, log.c.by, log.c.changes)
                        .where(log.c.campaign_id == campaign_id).order_by(log.c.at, log.c.id)).all()
    return [(r.at, r.command, r.by, json.loads(r.changes)) for r in rows]
