"""`tnlbot campaign edit / extend / reopen`: say what changes, then (after a yes) change it.

Each command prints every change with its value before and after and what it
means for agents and the jury, then asks for a confirmation (`--yes` skips
the question, for scripts; without a terminal and without `--yes` nothing is
changed), all in the operator's language (a yes in French or English is a
yes). Every applied change is logged (`tnlbot campaign show` lists them).
"""
from __future__ import annotations

import argparse
import getpass
import sys
from datetime import datetime
from typing import Any, Callable

from ..settings import Settings
from ..runtime.clock import Clock
from ..say import Say
from ..store.campaigns import Campaign
from . import cli_say
from .changes import Plan, apply, plan_edit, plan_extend, plan_reopen
from .cli_common import _destination, _find, _store, add_schedule_options, parse_instant, reminder_options
from .config import ConfigError, destinations, settings as parse_settings


def register(sub: argparse._SubParsersAction) -> None:
    edit = sub.add_parser("edit", help="change a campaign's dates, reminders or jury (says what changes first)")
    edit.add_argument("slug")
    add_schedule_options(edit)
    edit.add_argument("--jury", action="append", default=[],
                      help="replace the jury destinations with these TRANSPORT:CHAT (repeatable)")
    edit.add_argument("--add-jury", action="append", default=[], help="add a jury destination TRANSPORT:CHAT")
    edit.add_argument("--remove-jury", action="append", default=[], help="remove a jury destination TRANSPORT:CHAT")
    edit.add_argument("--elu-confirmation", choices=("yes", "no"),
                      help="whether submitting waits for the élu référent's confirmation")
    extend = sub.add_parser("extend", help="move the closing of an open campaign later")
    extend.add_argument("slug")
    extend.add_argument("--closes", required=True, help="new closing date (end of that day) or date and time")
    reopen = sub.add_parser("reopen", help="reopen a closed campaign until a new closing")
    reopen.add_argument("slug")
    reopen.add_argument("--closes", required=True, help="new closing date (end of that day) or date and time")
    for parser, func in ((edit, _edit), (extend, _extend), (reopen, _reopen)):
        parser.add_argument("--yes", action="store_true", help="apply without asking")
        parser.set_defaults(func=func)


def _config(campaign: Campaign, args: argparse.Namespace) -> dict[str, Any] | None:
    config = dict(campaign.config)
    reminders = reminder_options(args, config.get("reminders", {}))
    jury = [dict(d) for d in config.get("jury", [])] if not args.jury else [_destination(j) for j in args.jury]
    jury += [_destination(j) for j in args.add_jury]
    gone = {tuple(_destination(j).values()) for j in args.remove_jury}
    unknown = gone - {(d.get("transport"), d.get("chat_id")) for d in jury}
    if unknown:
        named = ", ".join(f"{t}:{c}" for t, c in sorted(unknown))
        raise ConfigError("not a jury destination of this campaign: " + named, "not_jury", destinations=named)
    jury = [d for d in jury if (d.get("transport"), d.get("chat_id")) not in gone]
    destinations(jury)
    new = {**config, "reminders": reminders, "jury": jury} if reminders else {**config, "jury": jury}
    if args.elu_confirmation is not None:
        new["elu_confirmation"] = args.elu_confirmation == "yes"
    parse_settings(new)
    return new


def _run(settings: Settings, args: argparse.Namespace,
         planner: Callable[[Any, Campaign], Plan]) -> int:
    say = Say(settings)
    store = _store(settings)
    try:
        campaign = _find(store, args.slug, settings)
        if campaign is None:
            return 1
        now = Clock().now()
        with store.begin() as conn:
            try:
                plan = planner(conn, campaign)
            except (ConfigError, ValueError) as exc:
                print(say("campaign.change.refused", slug=args.slug, reason=say.reason(exc)), file=sys.stderr)
                return 2
            if not plan.changes:
                print(say("campaign.change.nothing", slug=args.slug))
                return 0
            print("\n".join(cli_say.plan(say, args.slug, plan)))
            if not (args.yes or _confirmed(say)):
                print(say("campaign.change.declined", slug=args.slug))
                return 1
            apply(conn, campaign, plan, now, getpass.getuser())
        print(say("campaign.change.done", slug=args.slug, command=cli_say.command(say, plan.command)))
        return 0
    finally:
        store.close()


def _confirmed(say: Say) -> bool:
    if not sys.stdin.isatty():
        return False
    return say.yes(input(say("campaign.change.confirm")))


def _instant(campaign: Campaign, text: str | None, end_of_day: bool) -> datetime | None:
    return parse_instant(text, campaign.timezone, end_of_day) if text else None


def _edit(settings: Settings, args: argparse.Namespace) -> int:
    touched = any(v not in (None, []) for v in (args.reminders, args.idle_days, args.max_reminders, args.jury,
                                                  args.add_jury, args.remove_jury, args.elu_confirmation))
    return _run(settings, args, lambda conn, c: plan_edit(
        c, Clock().now(), opens=_instant(c, args.opens, False), closes=_instant(c, args.closes, True),
        config=_config(c, args) if touched else None))


def _extend(settings: Settings, args: argparse.Namespace) -> int:
    return _run(settings, args, lambda conn, c: plan_extend(c, Clock().now(), _instant(c, args.closes, True)))


def _reopen(settings: Settings, args: argparse.Namespace) -> int:
    return _run(settings, args, lambda conn, c: plan_reopen(conn, c, Clock().now(),
                                                            _instant(c, args.closes, True)))
