"""How the campaign commands word a campaign's settings and changes for the operator.

Shared by `campaign show` (cli.py) and `campaign edit/extend/reopen` (cli_changes.py).
Words come from locales/ (`campaign.show.*`, `campaign.change.*`) in the operator's
language; values (slugs, flow ids, jury chats, reminder slots) stay as they are. The
changes log keeps its fields' values as text (in English): `show` reads them back to say
them in the operator's language.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable

from babel.dates import format_datetime

from ..say import Say
from .changes import Plan, reread
from .config import Destination
from .schedule import ReminderPlan

# field as logged -> its key under campaign.change.field
FIELDS = {"opens": "opens", "closes": "closes", "reminders": "reminders", "jury": "jury",
          "élu confirmation": "elu_confirmation", "invitation days": "invitation_days",
          "state": "state", "frozen drafts": "frozen_drafts", "previous closing": "previous_closing"}
COMMANDS = ("edit", "extend", "reopen")                                # campaign.change.command.*
EFFECTS = ("opens", "closes_later", "closes_earlier", "reminders", "jury", "elu_confirmation",
           "invitation_days", "reopened", "closes_again", "frozen_drafts")   # campaign.change.effect.*
STATES = ("scheduled", "open", "closed")                               # campaign.cli.state.*
STATUSES = ("draft", "submitted", "amended", "frozen")                 # report.status.*


def field(say: Say, name: str) -> str:
    return say(f"campaign.change.field.{FIELDS[name]}") if name in FIELDS else name


def command(say: Say, name: str) -> str:
    return say(f"campaign.change.command.{name}") if name in COMMANDS else name


def state(say: Say, name: str) -> str:
    return say(f"campaign.cli.state.{name}") if name in STATES else name


def status(say: Say, name: str) -> str:
    return say(f"report.status.{name}") if name in STATUSES else name


def none(say: Say, items: Iterable[str], sep: str = ", ") -> str:
    """The items joined, or "none" in the operator's language."""
    return sep.join(items) or say("campaign.show.none")


LONG = {"d": "campaign.show.days", "h": "campaign.show.hours"}          # "14 days, 12 hours"
SHORT = {"d": "campaign.change.days", "h": "campaign.change.hours"}     # "14d,12h"


def offsets(say: Say, plan: ReminderPlan, words: dict[str, str] = LONG, sep: str = ", ") -> str:
    """The reminders before closing, each said with its unit's key in `words`."""
    return none(say, [say(words[unit], n=n) for unit, n in plan.offsets()], sep)


def jury(say: Say, destinations: Iterable[Destination]) -> str:
    return ", ".join(d.key for d in destinations) or say("campaign.show.no_jury")


def slot_time(say: Say, instant: datetime) -> str:
    """A reminder's instant, short, with its zone's abbreviation ("Sat 26 Oct 2024 00:00 CEST")."""
    return f"{format_datetime(instant, 'EEE dd MMM y HH:mm', locale=say.locale)} {instant:%Z}"


def value(say: Say, value: Any) -> str:
    """A field's value before or after a change."""
    match value:
        case datetime():
            return say.value(value)
        case ReminderPlan():
            return say("campaign.change.reminders", offsets=offsets(say, value, SHORT, ","),
                       idle=say("campaign.show.days", n=value.inactivity_days), max=value.max_per_person)
        case bool():
            return say("campaign.change.yes" if value else "campaign.change.no")
        case tuple():
            return jury(say, (d for d in value if isinstance(d, Destination)))
        case str():
            return state(say, value)
        case _:
            return str(value)


def plan(say: Say, slug: str, planned: Plan) -> list[str]:
    """What a change command is about to do, field by field, with what each change means."""
    lines = [say("campaign.change.plan", slug=slug, command=command(say, planned.command))]
    for change in planned.changes:
        lines.append(say("campaign.change.line", field=field(say, change.field),
                         before=value(say, change.before), after=value(say, change.after)))
        if change.effect:   # n: the count before (the frozen drafts' effect says it)
            effect = say(f"campaign.change.effect.{change.effect}", n=change.before)
            lines.append(say("campaign.change.effect_line", effect=effect))
    return lines


def logged(say: Say, when: str, zone: str, name: str, by: str, fields: list[dict[str, str]]) -> str:
    """One entry of the changes log (`when`: its local time): each field and value read back from
    the log (a value that does not read back is shown as it was logged)."""
    changes = [reread(f, zone) for f in fields if f["field"] != "previous closing"]
    said = say("campaign.show.change_sep").join(
        say("campaign.show.change_field", field=field(say, c.field), before=value(say, c.before),
            after=value(say, c.after)) for c in changes)
    return say("campaign.show.change", when=when, command=command(say, name), by=by or "?", fields=said)
