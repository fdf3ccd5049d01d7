"""The campaigns feature inside the dispatch transaction (a dispatcher Hook).

How this file works:
- `before`: first contact before the opening or after the closing gets an
  explanation and creates nothing; `/rejoindre CODE` (or `/start CODE` from
  a Telegram deep link) joins a team; the team commands (/inviter, /equipe,
  /retirer, /responsable, /assigner, /qui, /elu, /copier, /verifier,
  /rappel) and the élu's confirmation are answered here, without the engine.
- `dossier`: fills what the engine needs to know about the team (volets
  assigned to the sender; at submission, the élu's confirmation and the
  copied answers still to check).
- `after`: the commit decides (a change is refused if, read again under the
  candidature's lock, the campaign no longer accepts answers); the SIREN
  answer links the body (or is refused when another candidature holds it);
  colleagues whose answers were replaced are told; copied answers that
  changed are no longer "to check"; a member about to be asked the question
  another member of the team is on is told who (turns.py).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Callable, Mapping

from sqlalchemy import Connection, func, select

from ..core.answers import Problem, fold, parse_yes_no
from ..core.engine import Dossier, Outcome
from ..core.events import Addressed, Inbound, InboundKind, Outgoing, OutKind
from ..core.flow import JSON, Flow
from ..core.machine import CONFIRMING, NEW
from ..core.walk import slots
from ..i18n import Catalog
from ..jury.queries import is_jury_room
from ..store import ConversationRow, Store
from ..store import campaign_tables as C
from ..store.campaigns import Campaign, campaign_by_slug, current_campaign
from . import claims, codes, elu, identity, lastyear, prefs, teams, turns
from .config import lenient
from .context import Ctx, load_campaign
from .wording import time_left


Handler = Callable[[Ctx], "list[Addressed] | None"]

COMMANDS: Mapping[str, Handler] = {
    "inviter": teams.invite, "invite": teams.invite,
    "rejoindre": lambda ctx: teams.join(ctx, ctx.args, elu.ask_elu),
    "join": lambda ctx: teams.join(ctx, ctx.args, elu.ask_elu),
    "equipe": teams.team, "team": teams.team,
    "retirer": teams.remove, "remove": teams.remove,
    "responsable": teams.handover, "handover": teams.handover,
    "assigner": teams.assign, "assign": teams.assign,
    "qui": lambda ctx: identity.who(ctx, ctx.answers()), "who": lambda ctx: identity.who(ctx, ctx.answers()),
    "elu": lambda ctx: elu.command(ctx, ctx.answers()),
    "confirmer": lambda ctx: elu.answer(ctx, True),
    "copier": lambda ctx: lastyear.copy(ctx, ctx.answers()),
    "copy": lambda ctx: lastyear.copy(ctx, ctx.answers()),
    "verifier": lambda ctx: lastyear.check(ctx, ctx.answers()),
    "check": lambda ctx: lastyear.check(ctx, ctx.answers()),
    "codes": codes.listing, "revoquer": codes.revoke, "revoke": codes.revoke,
    "rappel": prefs.command, "rappels": prefs.command, "remind": prefs.command,
    "reminders": prefs.command,
}
START = ("start", "demarrer")
HELP = ("aide", "help")
SUBMIT = ("deposer", "submit")


@dataclass
class CampaignHook:
    store: Store
    flows: Mapping[str, Flow]
    catalog: Catalog
    campaign_slug: str = ""

    def _ctx(self, conn: Connection, inbound: Inbound, conv: ConversationRow | None,
             campaign: Campaign | None, now: datetime) -> Ctx:
        return Ctx(conn, self.store, self.flows, self.catalog, now, inbound, conv, campaign)

    # ------------------------------------------------------------------ before
    def before(self, conn: Connection, inbound: Inbound, conv: ConversationRow | None,
               now: datetime) -> list[Addressed] | None:
        if conv is None:
            return self._first_contact(conn, inbound, now)
        ended = now >= conv.closes_at or conv.campaign_state == "closed"
        handler = self._route(inbound, conv)
        if handler is None and not ended:
            return None            # the common case (an answer): no query at all
        ctx = self._ctx(conn, inbound, conv, None, now)
        ctx.args = inbound.text.strip() if inbound.kind is InboundKind.COMMAND else ""
        if ended:
            moved = self._next_campaign(ctx)
            if moved is not None:
                return moved
        return handler(ctx) if handler is not None else None

    def _route(self, inbound: Inbound, conv: ConversationRow) -> Handler | None:
        """Which of our handlers takes this event, if any (no I/O)."""
        if inbound.kind is InboundKind.COMMAND:
            name = fold(inbound.command)
            if name in START and teams.clean_code(inbound.text):
                return lambda ctx: teams.join(ctx, ctx.args, elu.ask_elu)
            return COMMANDS.get(name)
        if inbound.kind is InboundKind.CHOICE and inbound.ref == elu.PROMPT_REF:
            return _elu_pressed
        if inbound.kind is InboundKind.TEXT and conv.state.mode == NEW:
            return _elu_typed      # the first words of someone who just joined: an élu's answer?
        return None

    def _first_contact(self, conn: Connection, inbound: Inbound, now: datetime) -> list[Addressed] | None:
        campaign = (campaign_by_slug(conn, self.campaign_slug) if self.campaign_slug
                    else current_campaign(conn, now))
        if campaign is None:
            return None
        ctx = self._ctx(conn, inbound, None, campaign, now)
        name = fold(inbound.command) if inbound.kind is InboundKind.COMMAND else ""
        if name not in START + HELP + tuple(COMMANDS) and inbound.kind is InboundKind.COMMAND:
            return None          # another feature's command (e.g. /jury): not ours to answer
        if is_jury_room(conn, inbound.transport, inbound.chat_id):
            return ctx.say("opening.jury_room")      # the jury's room never starts a questionnaire
        if inbound.kind is InboundKind.COMMAND:
            if name in ("rejoindre", "join") or (name in START and teams.clean_code(inbound.text)):
                return teams.join(ctx, inbound.text, elu.ask_elu)
        title = self.flows[campaign.flow_id].text(ctx.locale).title if campaign.flow_id in self.flows else ""
        if now < campaign.opens_at:
            return ctx.say("opening.not_yet", title=title, when=ctx.when(campaign.opens_at),
                           left=time_left(campaign.opens_at - now, ctx.locale))
        if not campaign.accepting(now):
            return ctx.say("opening.closed", title=title, when=ctx.when(campaign.closes_at))
        return None

    def _next_campaign(self, ctx: Ctx) -> list[Addressed] | None:
        """A conversation of a closed campaign moves on to the next one when it opens."""
        assert ctx.conv is not None
        target = (campaign_by_slug(ctx.conn, self.campaign_slug) if self.campaign_slug
                  else current_campaign(ctx.conn, ctx.now))
        if target is None or target.id == ctx.campaign.id or target.state == "closed" \
                or ctx.now >= target.closes_at or target.flow_id not in self.flows:
            return None
        title = self.flows[target.flow_id].text(ctx.locale).title
        if ctx.now < target.opens_at:
            return [ctx.reply(ctx.t("opening.not_yet", title=title, when=ctx.when(target.opens_at),
                                    left=time_left(target.opens_at - ctx.now, ctx.locale)))]
        teams.move_to_campaign(ctx, target)
        return ctx.say("opening.next", title=title, when=ctx.when(target.closes_at))

    # ------------------------------------------------------------------ dossier
    def dossier(self, conn: Connection, inbound: Inbound, conv: ConversationRow,
                answers: Mapping[str, JSON], dossier: Dossier, now: datetime) -> Dossier:
        if conv.volets and conv.volets != "[]":     # most members answer every volet
            dossier = replace(dossier, allowed_volets=tuple(json.loads(conv.volets)))
        submitting = conv.state.mode == CONFIRMING or (
            inbound.kind is InboundKind.COMMAND and fold(inbound.command) in SUBMIT)
        if not submitting or conv.flow_id not in self.flows:
            return dossier
        flow = self.flows[conv.flow_id]
        settings = lenient(load_campaign(conn, conv.campaign_id).config)
        return replace(dossier, elu_confirmed=elu.confirmed(conn, conv.candidature_id, answers, flow, settings),
                       claim_verified=claims.may_submit(conn, conv.candidature_id, settings.verify_claims),
                       to_check=_to_check(conn, conv.candidature_id, flow, answers))

    # ------------------------------------------------------------------ after
    def after(self, conn: Connection, inbound: Inbound, conv: ConversationRow, outcome: Outcome,
              now: datetime, answers: Mapping[str, JSON]) -> Outcome:
        outcome = self._after(conn, inbound, conv, outcome, now, answers)
        # a team's member about to be asked what another member is answering is told who
        return turns.tell_who_is_on_it(conn, conv, outcome, now, self.catalog)

    def _after(self, conn: Connection, inbound: Inbound, conv: ConversationRow, outcome: Outcome,
               now: datetime, answers: Mapping[str, JSON]) -> Outcome:
        changes = dict(outcome.changes)
        if not changes and outcome.submission is None:
            if inbound.kind is InboundKind.COMMAND and fold(inbound.command) in HELP:
                text = self.catalog(outcome.state.locale, "teams.help")
                messages = list(outcome.messages)    # before the question still waiting, if any
                at = next((i for i in range(len(messages) - 1, -1, -1)
                           if messages[i].kind is OutKind.PROMPT), len(messages))
                messages.insert(at, Outgoing(OutKind.NOTICE, text))
                return replace(outcome, messages=tuple(messages))
            return outcome
        # conv was read in this transaction under the candidature's lock: the commit decides
        if not (conv.campaign_state != "closed" and conv.opens_at <= now < conv.closes_at
                and conv.status in ("draft", "submitted")):
            when = self._ctx(conn, inbound, conv, None, now).when(conv.closes_at)
            text = self.catalog(conv.state.locale, "campaign.closed", when=when)
            return _refused(conv, outcome, [Outgoing(OutKind.NOTICE, text)])
        if not changes:
            return outcome
        siren = changes.get("siren")
        keys = list(changes) + (list(identity.ORG_FIELDS) if siren is not None else [])
        before = {k: answers[k] for k in keys if answers.get(k) is not None}
        replaced = [k for k in changes if k in before and before[k] != changes[k]]
        if siren is None and not replaced and not conv.marked \
                and not any(changes.get(k) is not None for k in identity.ORG_FIELDS):
            return outcome       # the common case: a new answer that touches nobody else
        ctx = self._ctx(conn, inbound, conv, None, now)
        # who gave the answers this event replaces (read only when there are some)
        authors = ({k: by for k, (_value, by) in
                    self.store.answers_of(conn, conv.candidature_id, replaced).items()}
                   if replaced else {})
        here: list[Addressed] = []
        if siren is not None:
            linked, said = identity.link_siren(ctx, str(siren), {**before, **changes})
            if not linked:
                self._elsewhere(conn, inbound, said, now)
                return _refused(conv, outcome, [a.item for a in said if _is_here(a, inbound)])
            here += said
        identity.sync_organisation(ctx, changes)
        self._elsewhere(conn, inbound, identity.tell_overwritten(ctx, changes, before, authors), now)
        if conv.marked:
            lastyear.clear(ctx, list(changes))
        return _with(outcome, [a.item for a in here if _is_here(a, inbound)])

    def _elsewhere(self, conn: Connection, inbound: Inbound, items: list[Addressed], now: datetime) -> None:
        others = [a for a in items if not _is_here(a, inbound)]
        if others:
            self.store.enqueue(conn, others, now)


def _elu_pressed(ctx: Ctx) -> list[Addressed]:
    if ctx.inbound.values not in (("yes",), ("no",)):
        return ctx.say("error.stale_button")
    return elu.answer(ctx, ctx.inbound.values == ("yes",))


def _elu_typed(ctx: Ctx) -> list[Addressed] | None:
    assert ctx.conv is not None
    if not elu.is_pending_elu(ctx):
        return None
    said = parse_yes_no(ctx.inbound.text.strip()[:20], None, {})
    if isinstance(said, Problem):
        return elu.ask_elu(ctx, ctx.conv.candidature_id)
    return elu.answer(ctx, bool(said))


def _is_here(item: Addressed, inbound: Inbound) -> bool:
    return (item.transport, item.chat_id, item.user_id) == (inbound.transport, inbound.chat_id,
                                                            inbound.user_id)


def _with(outcome: Outcome, extra: list[Outgoing]) -> Outcome:
    """Extra notices go before the next question."""
    if not extra:
        return outcome
    items = list(outcome.messages)
    at = next((i for i, m in enumerate(items) if m.kind is OutKind.PROMPT), len(items))
    return replace(outcome, messages=tuple(items[:at] + extra + items[at:]))


def _refused(conv: ConversationRow, outcome: Outcome, said: list[Outgoing]) -> Outcome:
    """Nothing of this event is saved: state, answers and candidature stay as they were."""
    dossier = replace(outcome.dossier, status=conv.status, version=conv.version, amended=conv.amended)
    return Outcome(conv.state, dossier, (), tuple(said), None)


def _to_check(conn: Connection, candidature_id: int, flow: Flow, answers: Mapping[str, JSON]) -> int:
    a = C.answer_checks
    if not conn.execute(select(func.count()).select_from(a).where(a.c.candidature_id == candidature_id)).scalar():
        return 0
    keys = set(conn.execute(select(a.c.key).where(a.c.candidature_id == candidature_id)).scalars())
    return sum(1 for s in slots(flow, answers) if s.key in keys and s.key in answers)
