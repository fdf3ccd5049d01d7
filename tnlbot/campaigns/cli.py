"""`tnlbot campaign create/open/close/show/list`.

Dates are read in the campaign's time zone (default Europe/Paris): a date
alone opens at 00:00 that day and closes at the end of that day (midnight);
a date and time ("2024-11-08 18:00") is taken as is. A campaign file (YAML,
JSON or TOML) may hold every option; command-line options override it.
"""
from __future__ import annotations

import argparse
import json
import sys
import tomllib
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from babel import Locale
from sqlalchemy import func, select

from ..settings import Settings
from ..flows import load_all
from ..i18n import local_time
from ..runtime.clock import Clock
from ..say import Say
from ..store import Store
from ..store import campaign_tables as C
from ..store import tables as T
from ..store.campaigns import Campaign, campaign_by_slug, create_campaign, list_campaigns
from . import cli_changes, cli_report, cli_say
from .changes import history
from .cli_common import _destination, _find, _store, add_schedule_options, parse_instant, reminder_options
from .closing import Closer
from ..core.flow import Flow
from .config import Settings as CampaignSettings
from .elu import ELU_NAME
from .config import ConfigError, clock_of, lenient, settings as parse_settings
from .schedule import timeline

OPTIONS = ("slug", "year", "track", "flow", "opens", "closes", "timezone")


def register(subparsers: argparse._SubParsersAction) -> None:
    top = subparsers.add_parser("campaign", help="manage campaigns (editions)")
    sub = top.add_subparsers(dest="campaign_command", required=True)
    create = sub.add_parser("create", help="create a campaign")
    create.add_argument("slug", nargs="?", help="short name, e.g. tnl-2024")
    create.add_argument("--file", help="campaign file (YAML, JSON or TOML) with any of these options")
    create.add_argument("--flow", help="questionnaire flow id, e.g. tnl-2022")
    create.add_argument("--year", type=int)
    create.add_argument("--track", help="label or badge (default: the flow's)")
    add_schedule_options(create)
    create.add_argument("--timezone", help="time zone (default Europe/Paris)")
    create.add_argument("--jury", action="append", default=[],
                        help="jury destination TRANSPORT:CHAT, e.g. matrix:!room:example.org (repeatable)")
    create.add_argument("--no-elu-confirmation", action="store_true",
                        help="let the responsible submit without the élu référent's confirmation")
    create.add_argument("--no-claim-verification", action="store_true",
                        help="accept the first claim of a body without the operator's check "
                             "(a later claim of the same body still waits for `tnlbot claims`)")
    create.add_argument("--open", action="store_true", help="mark it open now (if its dates allow)")
    create.set_defaults(func=_create)
    for name, func_, text in (("open", _open, "open a campaign now"),
                              ("close", _close, "close a campaign now (freeze drafts, notify the jury)"),
                              ("show", _show, "show a campaign, its counts and its reminder timeline")):
        parser = sub.add_parser(name, help=text)
        parser.add_argument("slug")
        parser.set_defaults(func=func_)
    listing = sub.add_parser("list", help="list the campaigns")
    listing.set_defaults(func=_list)
    cli_changes.register(sub)
    cli_report.register(sub)


# ------------------------------------------------------------------ helpers

def read_file(path: str) -> dict[str, Any]:
    try:
        text = Path(path).read_text(encoding="utf-8")
        raw = tomllib.loads(text) if path.endswith(".toml") else yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ConfigError(f"{path} cannot be read: {reason}", "unreadable", path=path, reason=reason) from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of options", "not_a_mapping", path=path)
    return raw


def _options(args: argparse.Namespace) -> dict[str, Any]:
    raw = read_file(args.file) if args.file else {}
    for name in OPTIONS:
        value = getattr(args, name, None)
        if value is not None:
            raw[name] = value
    config = dict(raw.get("config", {}))
    for key in ("reminders", "jury", "invitation_days", "elu_confirmation", "telegram_bot", "verify_claims"):
        if key in raw:
            config[key] = raw[key]
    reminders = reminder_options(args, config.get("reminders", {}))
    if reminders:
        config["reminders"] = reminders
    if args.jury:
        config["jury"] = list(config.get("jury", [])) + [_destination(j) for j in args.jury]
    config.setdefault("elu_confirmation", True)
    if args.no_elu_confirmation:
        config["elu_confirmation"] = False
    config.setdefault("verify_claims", True)
    if getattr(args, "no_claim_verification", False):
        config["verify_claims"] = False
    raw["config"] = config
    return raw


# ------------------------------------------------------------------ commands

def _create(settings: Settings, args: argparse.Namespace) -> int:
    say = Say(settings)
    try:
        raw = _options(args)
        zone = str(raw.get("timezone") or "Europe/Paris")
        _zone(zone)
        missing = [k for k in ("slug", "flow", "opens", "closes") if not raw.get(k)]
        if missing:
            raise ConfigError("missing: " + ", ".join(missing), "missing", names=", ".join(missing))
        parse_settings(raw["config"])
        opens = parse_instant(raw["opens"], zone, end_of_day=False)
        closes = parse_instant(raw["closes"], zone, end_of_day=True)
        if closes <= opens:
            raise ConfigError("a campaign must close after it opens", "close_after_open")
    except (ConfigError, ValueError) as exc:
        return _not_created(say, exc)
    flows = load_all(Path(settings.flows_dir), say.catalog.locales)
    flow = flows.get(str(raw["flow"]))
    if flow is None:
        return _not_created(say, ConfigError(f"unknown flow {raw['flow']!r}", "unknown_flow", flow=raw["flow"],
                                             flows=", ".join(sorted(flows))))
    now = Clock().now()
    state = "open" if args.open and opens <= now < closes else "scheduled"
    store = _store(settings)
    try:
        with store.begin() as conn:
            if campaign_by_slug(conn, str(raw["slug"])) is not None:
                return _not_created(say, ConfigError(f"{raw['slug']!r} exists", "exists", slug=raw["slug"]))
            create_campaign(conn, slug=str(raw["slug"]), year=int(raw.get("year") or flow.edition),
                            track=str(raw.get("track") or flow.track), flow_id=flow.id,
                            opens_at=opens, closes_at=closes, timezone=zone, config=raw["config"],
                            state=state)
    except ValueError as exc:
        return _not_created(say, exc)
    finally:
        store.close()
    print(say("campaign.cli.created", slug=raw["slug"], state=cli_say.state(say, state)))
    return 0


def _zone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"unknown time zone {name!r}", "unknown_zone", zone=name) from None


def _not_created(say: Say, exc: Exception) -> int:
    print(say("campaign.cli.not_created", reason=say.reason(exc)), file=sys.stderr)
    return 2


def _open(settings: Settings, args: argparse.Namespace) -> int:
    say = Say(settings)
    store = _store(settings)
    try:
        campaign = _find(store, args.slug, settings)
        if campaign is None:
            return 1
        now = Clock().now()
        if campaign.state == "closed" or campaign.closes_at <= now:
            print(say("campaign.cli.is_closed", slug=args.slug), file=sys.stderr)
            return 1
        with store.begin() as conn:
            conn.execute(T.campaigns.update().where(T.campaigns.c.id == campaign.id).values(
                state="open", opens_at=min(campaign.opens_at, now)))
        print(say("campaign.cli.opened", slug=args.slug))
        return 0
    finally:
        store.close()


def _close(settings: Settings, args: argparse.Namespace) -> int:
    say = Say(settings)
    catalog = say.catalog
    flows = load_all(Path(settings.flows_dir), catalog.locales)
    store = _store(settings)
    try:
        campaign = _find(store, args.slug, settings)
        if campaign is None:
            return 1
        now = Clock().now()
        report = Closer(store, flows, catalog).close(campaign.id, now, early=now < campaign.closes_at)
        if report is None:
            print(say("campaign.cli.already_closed", slug=args.slug))
            return 0
        files = ", ".join(say("campaign.cli.file", name=n, size=s) for n, s in report.files)
        print(say("campaign.cli.closed", slug=args.slug, counts=json.dumps(report.counts, ensure_ascii=False),
                  notices=report.notices, files=files or say("campaign.cli.no_file")))
        return 0
    finally:
        store.close()


def _show(settings: Settings, args: argparse.Namespace) -> int:
    say = Say(settings)
    store = _store(settings)
    try:
        campaign = _find(store, args.slug, settings)
        if campaign is None:
            return 1
        flow = load_all(Path(settings.flows_dir), say.catalog.locales).get(campaign.flow_id)
        print("\n".join(describe(say, store, campaign, flow)))
        return 0
    finally:
        store.close()


def describe(say: Say, store: Store, campaign: Campaign, flow: Flow | None = None) -> list[str]:
    """The campaign as the bot sees it, with its reminder timeline and its changes (local times)."""
    def local(instant: datetime) -> str:
        return local_time(instant, say.locale, campaign.timezone)
    conf = lenient(campaign.config)
    plan = conf.plan
    k, log = T.candidatures, C.reminder_log
    with store.begin() as conn:
        statuses = dict(conn.execute(select(k.c.status, func.count()).where(
            k.c.campaign_id == campaign.id).group_by(k.c.status)).all())
        sent = dict(conn.execute(select(log.c.slot, func.count()).where(
            log.c.campaign_id == campaign.id, log.c.sent.is_(True)).group_by(log.c.slot)).all())
        closing = conn.execute(select(C.closings).where(C.closings.c.campaign_id == campaign.id)).first()
        changes = history(conn, campaign.id)
    quiet = plan.quiet
    days = Locale.parse(say.locale).days["format"]["wide"]
    lines = [say("campaign.show.head", slug=campaign.slug, flow=campaign.flow_id, track=campaign.track,
                 year=campaign.year, state=cli_say.state(say, campaign.state)),
             say("campaign.show.opens", when=local(campaign.opens_at), zone=campaign.timezone),
             say("campaign.show.closes", when=local(campaign.closes_at)),
             say("campaign.show.candidatures", counts=cli_say.none(
                 say, (say("campaign.show.count", status=cli_say.status(say, s), n=n)
                       for s, n in sorted(statuses.items())))),
             say("campaign.show.reminders", offsets=cli_say.offsets(say, plan),
                 idle=say("campaign.show.days", n=plan.inactivity_days), max=plan.max_per_person,
                 start=f"{quiet.start:%H:%M}", end=f"{quiet.end:%H:%M}",
                 days=", ".join(days[d] for d in quiet.days) or say("campaign.show.no_day")),
             say("campaign.show.jury", jury=cli_say.jury(say, conf.jury)),
             say("campaign.show.elu", elu=_elu(say, conf, flow),
                 days=say("campaign.show.days", n=conf.invitation_days)),
             say("campaign.show.claims_verified" if conf.verify_claims else "campaign.show.claims_first"),
             say("campaign.show.timeline")]
    zone = ZoneInfo(campaign.timezone)
    planned = timeline(clock_of(campaign))
    for slot in planned:
        lines.append(say("campaign.show.slot", slot=f"{slot.slot:>4}", nominal=cli_say.slot_time(
            say, slot.nominal.astimezone(zone)), due=cli_say.slot_time(say, slot.due_at.astimezone(zone)),
            n=sent.get(slot.slot, 0)))
    others = {s: n for s, n in sent.items() if s not in {p.slot for p in planned}}
    if others:
        lines.append(say("campaign.show.others", counts=", ".join(f"{s} {n}" for s, n in sorted(others.items()))))
    if closing is not None:
        lines.append(say("campaign.show.closed", when=local(closing.closed_at), worker=closing.worker,
                         summary=closing.summary))
    if changes:
        lines.append(say("campaign.show.changes"))
    lines += [cli_say.logged(say, local(at), campaign.timezone, command, by, fields)
              for at, command, by, fields in changes]
    return lines


def _elu(say: Say, conf: CampaignSettings, flow: Flow | None) -> str:
    if flow is not None and ELU_NAME not in flow.questions:
        return say("campaign.show.elu_not_asked")
    return say("campaign.show.elu_required" if conf.elu_confirmation else "campaign.show.elu_not_required")


def _list(settings: Settings, args: argparse.Namespace) -> int:
    say = Say(settings)
    store = _store(settings)
    try:
        with store.begin() as conn:
            campaigns = list_campaigns(conn)
        states = {s: say(f"campaign.cli.state.{s}") for s in ("scheduled", "open", "closed")}
        width = max(len(s) for s in states.values())
        for c in campaigns:
            print(say("campaign.cli.line", slug=f"{c.slug:24}", state=states.get(c.state, c.state).ljust(width),
                      flow=f"{c.flow_id:16}", opens=local_time(c.opens_at, say.locale, c.timezone),
                      closes=local_time(c.closes_at, say.locale, c.timezone)))
        if not campaigns:
            print(say("campaign.cli.none"))
        return 0
    finally:
        store.close()
