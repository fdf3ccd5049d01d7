"""`tnlbot claims ...`: the operator verifies who speaks for a body.

    tnlbot claims list [--campaign SLUG] [--all]
    tnlbot claims verify CLAIM          (other claims of the body are released)
    tnlbot claims release CLAIM
    tnlbot claims reassign CANDIDATURE --to TRANSPORT:USER   (a member becomes responsible)
    tnlbot claims elu CANDIDATURE       (record the élu's confirmation, after checking)

Each decision is told to the candidature's responsible, in their language,
through the outbox (the running bot sends it). What the operator reads is in their
own language (LC_ALL, LC_MESSAGES or LANG), from locales/ (claims.cli.*).
"""
from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone

from sqlalchemy import Connection, select, update

from ..settings import Settings
from ..i18n import load_catalog
from ..say import Say
from ..store import Store
from ..store import tables as T
from ..store.campaigns import campaign_by_slug
from . import claims
from .elu import confirm_by_operator


def register(subparsers: argparse._SubParsersAction) -> None:
    top = subparsers.add_parser("claims", help="verify, release or reassign who speaks for a body")
    sub = top.add_subparsers(dest="claims_command", required=True)
    listing = sub.add_parser("list", help="claims of bodies, pending first; conflicts flagged")
    listing.add_argument("--campaign", help="campaign slug (default: all)")
    listing.add_argument("--all", action="store_true", help="released claims too")
    listing.set_defaults(func=_list)
    for name, func, text in (("verify", _verify, "verify a claim (other claims of the body are released)"),
                             ("release", _release, "release a claim (the candidature keeps its answers)")):
        parser = sub.add_parser(name, help=text)
        parser.add_argument("claim", type=int, help="claim number (see `tnlbot claims list`)")
        parser.set_defaults(func=func)
    reassign = sub.add_parser("reassign", help="make a team member the candidature's responsible")
    reassign.add_argument("candidature", type=int)
    reassign.add_argument("--to", required=True, help="the member's account, TRANSPORT:USER "
                          "(e.g. telegram:123456789, matrix:@camille:example.org)")
    reassign.set_defaults(func=_reassign)
    elu = sub.add_parser("elu", help="record the élu référent's confirmation, after checking it yourself")
    elu.add_argument("candidature", type=int)
    elu.set_defaults(func=_elu)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _desk(store: Store, conn: Connection, settings: Settings) -> claims.Desk:
    from pathlib import Path
    return claims.Desk(store, conn, load_catalog(Path(settings.locales_dir)), _now())


def _list(settings: Settings, args: argparse.Namespace) -> int:
    say = Say(settings)
    store = Store(settings.store_url())
    with store.begin() as conn:
        campaign_id = None
        if args.campaign:
            campaign = campaign_by_slug(conn, args.campaign)
            if campaign is None:
                print(say("claims.cli.unknown_campaign", slug=args.campaign), file=sys.stderr)
                return 1
            campaign_id = campaign.id
        rows = claims.listing(conn, campaign_id, every=args.all)
    store.close()
    if not rows:
        print(say("claims.cli.none"))
    statuses = {s: say(f"claims.cli.status.{s}") for s in ("pending", "verified", "released")}
    width = max(len(s) for s in statuses.values())
    for c in rows:
        conflict = say("claims.cli.conflict", n=c.rivals) if c.rivals else ""
        print(say("claims.cli.line", id=c.id, status=statuses.get(c.status, c.status).ljust(width),
                  campaign=c.campaign, candidature=c.candidature_id, siren=c.siren, body=c.body or "?",
                  responsible=c.responsible, since=f"{c.created_at:%Y-%m-%d %H:%M}", conflict=conflict))
    return 0


def _decide(settings: Settings, claim_id: int, verb: str) -> int:
    say = Say(settings)
    store = Store(settings.store_url())
    with store.begin() as conn:
        desk = _desk(store, conn, settings)
        problem = claims.verify(desk, claim_id) if verb == "verified" else claims.release(desk, claim_id)
    store.close()
    if problem:
        print(say(problem, claim=claim_id), file=sys.stderr)
        return 1
    print(say(f"claims.cli.{verb}", claim=claim_id))
    return 0


def _verify(settings: Settings, args: argparse.Namespace) -> int:
    return _decide(settings, args.claim, "verified")


def _release(settings: Settings, args: argparse.Namespace) -> int:
    return _decide(settings, args.claim, "released")


def _reassign(settings: Settings, args: argparse.Namespace) -> int:
    say = Say(settings)
    transport, _, user = args.to.partition(":")
    store = Store(settings.store_url())
    with store.begin() as conn:
        desk = _desk(store, conn, settings)
        problem = reassign(desk, args.candidature, transport, user)
    store.close()
    if problem:
        print(say(problem, account=args.to, candidature=args.candidature), file=sys.stderr)
        return 1
    print(say("claims.cli.reassigned", candidature=args.candidature, account=args.to))
    return 0


def reassign(desk: claims.Desk, candidature_id: int, transport: str, user: str) -> str:
    """The member behind this account becomes responsible; the former one stays a member.
    Returns "" or a problem (its catalog key)."""
    conn, a, m = desk.conn, T.accounts, T.members
    person = conn.execute(select(a.c.person_id).where(a.c.transport == transport,
                                                      a.c.external_id == user)).scalar()
    if person is None:
        return "claims.cli.no_account"
    role = conn.execute(select(m.c.role).where(m.c.candidature_id == candidature_id,
                                               m.c.person_id == person)).scalar()
    if role is None:
        return "claims.cli.not_in_team"
    conn.execute(update(m).where(m.c.candidature_id == candidature_id, m.c.role == "responsible")
                 .values(role="member"))
    conn.execute(update(m).where(m.c.candidature_id == candidature_id, m.c.person_id == person)
                 .values(role="responsible"))
    conn.execute(update(T.candidatures).where(T.candidatures.c.id == candidature_id)
                 .values(responsible_id=person, next_action_at=None))     # an élu made responsible is reminded
    desk.tell(candidature_id, "claims.told_responsible")
    return ""


def _elu(settings: Settings, args: argparse.Namespace) -> int:
    say = Say(settings)
    store = Store(settings.store_url())
    with store.begin() as conn:
        name = confirm_by_operator(conn, args.candidature, _now())
    store.close()
    if not name:
        print(say("claims.cli.no_elu", candidature=args.candidature), file=sys.stderr)
        return 1
    print(say("claims.cli.elu_recorded", candidature=args.candidature, name=name))
    return 0
