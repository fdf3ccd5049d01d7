"""`tnlbot jury ...`: register the jury, export a campaign, purge old drafts.

    tnlbot jury add --campaign SLUG --telegram 123456789 --name "Camille"
    tnlbot jury add --campaign SLUG --matrix @camille:example.org
    tnlbot jury add --campaign SLUG --matrix '!room:example.org'      (a jury room: no access by itself)
    tnlbot jury remove --campaign SLUG --telegram 123456789
    tnlbot jury list [--campaign SLUG]
    tnlbot jury export --campaign SLUG --format csv|ods|json|dossiers|all [--out DIR] [--csv spreadsheet|rfc4180]
    tnlbot jury purge-drafts [--campaign SLUG] [--days N]

What the operator reads is in their language (LC_ALL, LC_MESSAGES or LANG; French when
none is set), from locales/ (jury.cli.*, jury.purged).
"""
from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone
from pathlib import Path

from ..settings import Settings
from ..flows import load_all
from ..say import Say as OperatorSay
from ..store import Store
from ..store.campaigns import Campaign, campaign_by_slug, list_campaigns
from . import queries as Q
from .rules import CsvDialect
from .exports import FORMATS, exports
from .privacy import purge_drafts


def register(subparsers: argparse._SubParsersAction) -> None:
    jury = subparsers.add_parser("jury", help="the jury: members, exports, draft retention")
    sub = jury.add_subparsers(dest="jury_command", required=True)
    for name, func, text in (("add", _add, "register a jury member or a jury room"),
                             ("remove", _remove, "remove a jury member or room")):
        parser = sub.add_parser(name, help=text)
        parser.add_argument("--campaign", required=True, help="campaign slug")
        who = parser.add_mutually_exclusive_group(required=True)
        who.add_argument("--telegram", help="Telegram user id (a negative id is a group chat)")
        who.add_argument("--matrix", help="Matrix user id (@user:server) or room id (!room:server)")
        who.add_argument("--console", help="terminal user name")
        parser.add_argument("--room", action="store_true",
                            help="the id is a chat or room: a jury room (no questionnaire there); "
                                 "being in it gives no access, jurors are listed one by one")
        parser.add_argument("--name", default="", help="display name")
        parser.set_defaults(func=func)
    listing = sub.add_parser("list", help="list jury members")
    listing.add_argument("--campaign", help="campaign slug (default: all)")
    listing.set_defaults(func=_list)
    export = sub.add_parser("export", help="export a campaign's submitted candidatures")
    export.add_argument("--campaign", required=True, help="campaign slug")
    export.add_argument("--format", choices=[*FORMATS, "all"], default="all")
    export.add_argument("--out", default=".", help="folder to write into (default: here)")
    export.add_argument("--locale", default="fr", help="language of labels (default: fr)")
    export.add_argument("--csv", choices=[d.value for d in CsvDialect], default=CsvDialect.SPREADSHEET.value,
                        help="CSV dialect: spreadsheet (default: UTF-8 with BOM, semicolons, opens right in "
                             "French Excel and LibreOffice) or rfc4180 (no BOM, commas, for programs)")
    export.set_defaults(func=_export)
    purge = sub.add_parser("purge-drafts", help="delete the working answers of finished campaigns")
    purge.add_argument("--campaign", help="campaign slug (default: every finished campaign)")
    purge.add_argument("--days", type=int, help="retention in days (default: the campaign's "
                       "draft_retention_days, else 90)")
    purge.set_defaults(func=_purge)


def _address(args: argparse.Namespace) -> tuple[str, str, str]:
    """(transport, kind, external id) from the command line."""
    if args.telegram is not None:
        room = args.room or args.telegram.startswith("-")
        return "telegram", "room" if room else "user", args.telegram
    if args.matrix is not None:
        room = args.room or args.matrix.startswith("!")
        return "matrix", "room" if room else "user", args.matrix
    return "console", "room" if args.room else "user", args.console


class Say(OperatorSay):
    """The operator's messages, in their language."""

    def member(self, key: str, transport: str, kind: str, external_id: str, campaign: str) -> str:
        return self(key, transport=transport, kind=self(f"jury.cli.kind.{kind}"), id=external_id,
                    campaign=campaign)


def _campaign(store: Store, slug: str, say: Say) -> Campaign | None:
    with store.begin() as conn:
        found = campaign_by_slug(conn, slug)
    if found is None:
        print(say("jury.cli.unknown_campaign", slug=slug), file=sys.stderr)
    return found


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _add(settings: Settings, args: argparse.Namespace) -> int:
    say = Say(settings)
    store = Store(settings.store_url())
    try:
        campaign = _campaign(store, args.campaign, say)
        if campaign is None:
            return 1
        transport, kind, external_id = _address(args)
        with store.begin() as conn:
            added = Q.add_member(conn, campaign.id, transport, kind, external_id, args.name, _now())
        print(say.member("jury.cli.added" if added else "jury.cli.already", transport, kind, external_id,
                         campaign.slug))
        return 0
    finally:
        store.close()


def _remove(settings: Settings, args: argparse.Namespace) -> int:
    say = Say(settings)
    store = Store(settings.store_url())
    try:
        campaign = _campaign(store, args.campaign, say)
        if campaign is None:
            return 1
        transport, kind, external_id = _address(args)
        with store.begin() as conn:
            removed = Q.remove_member(conn, campaign.id, transport, kind, external_id)
        print(say.member("jury.cli.removed" if removed else "jury.cli.not_member", transport, kind,
                         external_id, campaign.slug))
        return 0 if removed else 1
    finally:
        store.close()


def _list(settings: Settings, args: argparse.Namespace) -> int:
    say = Say(settings)
    store = Store(settings.store_url())
    try:
        campaign_id = None
        if args.campaign:
            campaign = _campaign(store, args.campaign, say)
            if campaign is None:
                return 1
            campaign_id = campaign.id
        with store.begin() as conn:
            found = Q.members(conn, campaign_id)
        for m in found:
            print(say("jury.cli.member", campaign=m.campaign, transport=m.transport,
                      kind=say(f"jury.cli.kind.{m.kind}"), id=m.external_id, name=m.display_name))
        if not found:
            print(say("jury.cli.no_member"))
        return 0
    finally:
        store.close()


def _export(settings: Settings, args: argparse.Namespace) -> int:
    say = Say(settings)
    catalog = say.catalog
    flows = load_all(Path(settings.flows_dir), catalog.locales)
    store = Store(settings.store_url())
    try:
        campaign = _campaign(store, args.campaign, say)
        if campaign is None:
            return 1
        formats = FORMATS if args.format == "all" else (args.format,)
        locale = args.locale if args.locale in catalog.locales else "fr"
        with store.begin() as conn:
            files = exports(conn, campaign.id, formats, flows, catalog, locale=locale, now=_now(),
                            dialect=CsvDialect(args.csv))
        folder = Path(args.out)
        folder.mkdir(parents=True, exist_ok=True)
        for name, _, data in files:
            (folder / name).write_bytes(data)
            print(say("jury.cli.written", file=folder / name, n=len(data)))
        return 0
    finally:
        store.close()


def _purge(settings: Settings, args: argparse.Namespace) -> int:
    say = Say(settings)
    store = Store(settings.store_url())
    try:
        with store.begin() as conn:
            campaigns = list_campaigns(conn)
            if args.campaign:
                campaigns = [c for c in campaigns if c.slug == args.campaign]
                if not campaigns:
                    print(say("jury.cli.unknown_campaign", slug=args.campaign), file=sys.stderr)
                    return 1
            for campaign in campaigns:
                count = purge_drafts(conn, campaign, _now(), args.days)
                print(say("jury.purged", campaign=campaign.slug, n=count))
        return 0
    finally:
        store.close()
