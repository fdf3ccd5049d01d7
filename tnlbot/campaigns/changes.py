"""Changing a campaign after its creation: edit, extend, reopen, and the log of changes.

How this file works:
- `plan_*` compare the campaign as stored with what the operator asks and
  return the changes, each with what it means for agents and the jury, or
  raise ConfigError with the reason a change is refused. Nothing is written.
- `apply` writes the new values and one `campaign_changes` row (who, when,
  which command, each field before and after) in one transaction.
- Reopening a closed campaign sets it open with a new closing instant, forgets
  the previous closing (its summary stays in the log), and turns the drafts
  that closing froze back into drafts; the next closing sends its notices
  again (their dedup keys carry the number of reopenings).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping

from sqlalchemy import Connection, delete, func, insert, select, update

from ..i18n import local_time
from ..store import campaign_tables as C
from ..store import tables as T
from ..store.campaigns import Campaign
from ..store.store import dumps
from . import recheck
from .config import ConfigError, settings as parse_settings


@dataclass(frozen=True, slots=True)
class Change:
    field: str
    before: str
    after: str
    effect: str = ""


@dataclass(frozen=True, slots=True)
class Plan:
    command: str                          # edit | extend | reopen
    values: Mapping[str, Any]             # new column values of the campaign row
    changes: tuple[Change, ...]


def _when(campaign: Campaign, instant: datetime) -> str:
    return local_time(instant, "en", campaign.timezone)


def _dates(campaign: Campaign, opens: datetime | None, closes: datetime | None,
           now: datetime) -> tuple[dict[str, Any], list[Change]]:
    values: dict[str, Any] = {}
    changes: list[Change] = []
    new_opens, new_closes = opens or campaign.opens_at, closes or campaign.closes_at
    if new_closes <= new_opens:
        raise ConfigError("a campaign must close after it opens")
    if opens is not None and opens != campaign.opens_at:
        if campaign.opens_at <= now and opens > now:
            raise ConfigError("the campaign is already open: its opening cannot move to the future")
        values["opens_at"] = opens
        changes.append(Change("opens", _when(campaign, campaign.opens_at), _when(campaign, opens),
                              "agents can answer from this instant"))
    if closes is not None and closes != campaign.closes_at:
        if closes <= now:
            raise ConfigError("the new closing is in the past: use `tnlbot campaign close` to close now")
        values["closes_at"] = closes
        later = closes > campaign.closes_at
        changes.append(Change("closes", _when(campaign, campaign.closes_at), _when(campaign, closes),
                              ("more time to answer and submit" if later else "less time to answer")
                              + "; reminders not sent yet follow the new date, those already sent "
                                "are not sent again"))
    return values, changes


def _config_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[Change]:
    old, new = parse_settings(before), parse_settings(after)
    pairs = [
        ("reminders", _plan_text(old.plan), _plan_text(new.plan), "applies from the next scheduler tick"),
        ("jury", ", ".join(d.key for d in old.jury) or "none", ", ".join(d.key for d in new.jury) or "none",
         "where the jury's closing notice and exports go"),
        ("élu confirmation", str(old.elu_confirmation).lower(), str(new.elu_confirmation).lower(),
         "whether submitting waits for the élu référent"),
        ("invitation days", str(old.invitation_days), str(new.invitation_days), "for new invitation codes"),
    ]
    return [Change(name, a, b, effect) for name, a, b, effect in pairs if a != b]


def _plan_text(plan: Any) -> str:
    offsets = [f"{d}d" for d in sorted(plan.before_days, reverse=True)]
    offsets += [f"{h}h" for h in sorted(plan.before_hours, reverse=True)]
    return (f"{','.join(offsets) or 'none'} before closing, inactivity {plan.inactivity_days} days, "
            f"at most {plan.max_per_person}")


def plan_edit(campaign: Campaign, now: datetime, *, opens: datetime | None = None,
              closes: datetime | None = None, config: Mapping[str, Any] | None = None) -> Plan:
    if campaign.state == "closed" and (opens or closes):
        raise ConfigError(f"{campaign.slug} is closed: use `tnlbot campaign reopen` to give it a new closing")
    values, changes = _dates(campaign, opens, closes, now)
    if config is not None:
        changes += _config_changes(campaign.config, config)
        values["config"] = dumps(dict(config))
    return Plan("edit", values, tuple(changes))


def plan_extend(campaign: Campaign, now: datetime, closes: datetime) -> Plan:
    if campaign.state == "closed":
        raise ConfigError(f"{campaign.slug} is closed: use `tnlbot campaign reopen {campaign.slug} "
                          "--closes ...` to reopen it")
    if closes <= campaign.closes_at:
        raise ConfigError(f"the new closing must be later than the current one ({_when(campaign, campaign.closes_at)})")
    values, changes = _dates(campaign, None, closes, now)
    return Plan("extend", values, tuple(changes))


def plan_reopen(conn: Connection, campaign: Campaign, now: datetime, closes: datetime) -> Plan:
    if campaign.state != "closed":
        raise ConfigError(f"{campaign.slug} is not closed ({campaign.state}): use `tnlbot campaign extend` "
                          "to move its closing")
    if closes <= now:
        raise ConfigError("the new closing must be in the future")
    k = T.candidatures
    frozen = conn.execute(select(func.count()).where(k.c.campaign_id == campaign.id,
                                                     k.c.status == "frozen")).scalar() or 0
    changes = (
        Change("state", "closed", "open", "agents can answer, amend and submit again"),
        Change("closes", _when(campaign, campaign.closes_at), _when(campaign, closes),
               "the jury gets a new closing notice with the exports at this instant"),
        Change("frozen drafts", str(frozen), "0", f"{frozen} draft(s) frozen at the closing can be "
                                                  "completed and submitted again"),
    )
    return Plan("reopen", {"state": "open", "closes_at": closes, "closed_at": None}, changes)


def apply(conn: Connection, campaign: Campaign, plan: Plan, now: datetime, by: str) -> None:
    """Write the plan and its log row (one transaction, the caller's)."""
    g = T.campaigns
    if plan.values:
        conn.execute(update(g).where(g.c.id == campaign.id).values(**plan.values))
    logged = [{"field": c.field, "before": c.before, "after": c.after} for c in plan.changes]
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
