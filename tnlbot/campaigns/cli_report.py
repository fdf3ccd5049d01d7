"""`tnlbot campaign report SLUG`: where every body stands, as an HTML page and a PNG."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..settings import Settings
from ..flows import load_all
from ..say import Say
from ..runtime.clock import Clock
from .cli_common import _find, _store
from .report import for_campaign
from .report_page import files


def register(sub: argparse._SubParsersAction) -> None:
    report = sub.add_parser("report", help="where every body stands: an HTML page and a PNG")
    report.add_argument("slug")
    report.add_argument("--out", default=".", help="folder to write into (default: here)")
    report.add_argument("--idle-days", type=int,
                        help="list drafts without activity for N days (default: the campaign's inactivity days)")
    report.add_argument("--locale", default="fr", help="language of the page (default: fr)")
    report.set_defaults(func=_report)


def _report(settings: Settings, args: argparse.Namespace) -> int:
    say = Say(settings)                  # the operator's language; the page's is --locale
    catalog = say.catalog
    flows = load_all(Path(settings.flows_dir), catalog.locales)
    locale = args.locale if args.locale in catalog.locales else "fr"
    store = _store(settings)
    try:
        campaign = _find(store, args.slug, settings)
        if campaign is None:
            return 1
        if campaign.flow_id not in flows:
            print(say("campaign.cli.unknown_flow", flow=campaign.flow_id), file=sys.stderr)
            return 1
        with store.begin() as conn:
            report = for_campaign(conn, campaign, flows[campaign.flow_id], Clock().now(), locale,
                                  args.idle_days)
    finally:
        store.close()
    folder = Path(args.out)
    folder.mkdir(parents=True, exist_ok=True)
    for name, _, data in files(report, lambda key, **p: catalog(locale, key, **p), locale):
        (folder / name).write_bytes(data)
        print(say("campaign.cli.written", file=folder / name, n=len(data)))
    print(say("campaign.cli.summary", started=report.started, submitted=report.count("submitted"),
              amended=report.count("amended"), drafts=report.count("draft"), frozen=report.count("frozen"),
              idle=len(report.idle), reminders=report.reminders_sent, days=report.days_left))
    return 0
