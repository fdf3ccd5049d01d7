"""Teams: invitations (single-use, expiring codes), joining, the member list,
removing a member, handing the responsible role over, assigning volets.

Rules kept here:
- Only the responsible invites, removes, hands over and assigns.
- A code is claimed by one UPDATE ... WHERE used_at IS NULL AND expires_at > now:
  two people racing for one code cannot both join.
- Every conversation's person stays a member of the conversation's
  candidature: a removed member gets an empty draft of their own.
"""
from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any, Callable

from sqlalchemy import Row, delete, insert, select, update

from ..core.answers import ascii_number
from ..core.events import Addressed
from ..core.turn import State
from ..store import tables as T
from ..store import campaign_tables as C
from ..store.campaigns import Campaign
from ..store.store import dumps
from . import codes, recheck
from .codes import clean_code, new_code, show_code
from .claims import release_all
from .context import (Ctx, Member, insert_or_skip, load_campaign, members, organisation,
                      person_name, responsible_only)

ALL_WORDS = ("tous", "toutes", "all", "tout")


def body_name(ctx: Ctx, candidature_id: int) -> str:
    """The verified body's name, else the name the team itself gave (never another claimant's)."""
    org = organisation(ctx.conn, candidature_id)
    if org is not None and org.name:
        return org.name
    a = T.answers
    own = ctx.conn.execute(select(a.c.value).where(a.c.candidature_id == candidature_id,
                                                   a.c.key == "nom_collectivite")).scalar()
    return str(json.loads(own)) if own else ctx.t("teams.unnamed_body")


def role_of(ctx: Ctx, candidature_id: int, person_id: int) -> str:
    m = T.members
    return ctx.conn.execute(select(m.c.role).where(m.c.candidature_id == candidature_id,
                                                   m.c.person_id == person_id)).scalar() or ""


# ------------------------------------------------------------------ invitations

def create_invitation(ctx: Ctx, role: str) -> tuple[str, str]:
    """A fresh code for the sender's candidature: (code as shown, expiry in local text)."""
    assert ctx.conv is not None
    expires = ctx.now + timedelta(days=ctx.settings.invitation_days)
    for _ in range(5):
        code = new_code()
        stmt = (insert_or_skip(ctx.conn, C.invitations).values(
            code=code, candidature_id=ctx.conv.candidature_id, role=role,
            created_by=ctx.conv.person_id, created_at=ctx.now, expires_at=expires)
            .on_conflict_do_nothing().returning(C.invitations.c.id))
        if ctx.conn.execute(stmt).first() is not None:
            return code, ctx.when(expires)
    raise RuntimeError("could not draw a free invitation code")


def deep_link(ctx: Ctx, code: str) -> str:
    bot = ctx.settings.telegram_bot
    if ctx.inbound.transport != "telegram" or not bot:
        return ""
    return ctx.t("teams.invite.link", url=f"https://t.me/{bot}?start={code}")


def invite(ctx: Ctx) -> list[Addressed]:
    refused = responsible_only(ctx) or too_many_codes(ctx)
    if refused:
        return refused
    assert ctx.conv is not None
    code, until = create_invitation(ctx, "member")
    text = ctx.t("teams.invite.code", code=show_code(code), until=until,
                 body=body_name(ctx, ctx.conv.candidature_id))
    link = deep_link(ctx, code)
    return [ctx.reply(text + (("\n" + link) if link else ""))]


def too_many_codes(ctx: Ctx) -> list[Addressed] | None:
    assert ctx.conv is not None
    if codes.live_count(ctx, ctx.conv.candidature_id) >= codes.MAX_LIVE:
        return ctx.say("codes.too_many", max=str(codes.MAX_LIVE))
    return None


def _invitation_problem(ctx: Ctx, row: Row[Any] | None, person_id: int | None) -> str:
    if row is None:
        return "teams.join.unknown"
    if row.used_at is not None:
        return "teams.join.already" if row.used_by == person_id else "teams.join.used"
    if row.expires_at <= ctx.now:
        return "teams.join.expired"
    return codes.dead_reason(ctx, row)


def join(ctx: Ctx, text: str, ask_elu: Callable[[Ctx, int], list[Addressed]]) -> list[Addressed]:
    """`/rejoindre CODE`; an élu who joins is asked to confirm (`ask_elu`, from elu.py)."""
    code = clean_code(text)
    if not code:
        return ctx.say("teams.join.usage")
    waiting = codes.held(ctx)
    if waiting:
        return waiting
    inv = C.invitations
    row = ctx.conn.execute(select(inv).where(inv.c.code == code)).first()
    me = ctx.conv.person_id if ctx.conv is not None else None
    problem = _invitation_problem(ctx, row, me)
    if problem:
        if problem != "teams.join.already":
            codes.failed(ctx)
        return ctx.say(problem, code=show_code(code))
    codes.succeeded(ctx)
    target = row.candidature_id
    if not load_campaign(ctx.conn, _campaign_of(ctx, target)).accepting(ctx.now):
        return ctx.say("teams.campaign_closed")
    if ctx.conv is not None and ctx.conv.candidature_id == target:
        return ctx.say("teams.join.already", code=show_code(code))
    if ctx.conv is not None and not _may_leave(ctx):
        return ctx.say("teams.join.other_team", body=body_name(ctx, ctx.conv.candidature_id))
    person = me if me is not None else ctx.store.person_for(
        ctx.conn, ctx.inbound.transport, ctx.inbound.user_id, ctx.inbound.chat_id,
        ctx.inbound.display_name, ctx.now)
    claimed = ctx.conn.execute(update(inv).where(inv.c.id == row.id, inv.c.used_at.is_(None),
                                                 inv.c.expires_at > ctx.now)
                               .values(used_at=ctx.now, used_by=person).returning(inv.c.id)).first()
    if claimed is None:
        return ctx.say("teams.join.used", code=show_code(code))
    _enter(ctx, person, target, row.role)
    return _welcome(ctx, person, target, row.role, ask_elu)


def _campaign_of(ctx: Ctx, candidature_id: int) -> int:
    return int(ctx.conn.execute(select(T.candidatures.c.campaign_id).where(
        T.candidatures.c.id == candidature_id)).scalar_one())


def _may_leave(ctx: Ctx) -> bool:
    """Someone may join another team only from a draft with no body and no colleague."""
    assert ctx.conv is not None
    cand = ctx.conv.candidature_id
    if organisation(ctx.conn, cand) is not None or ctx.conv.status != "draft":
        return False
    return len(members(ctx.conn, cand)) <= 1


def _enter(ctx: Ctx, person: int, target: int, role: str) -> None:
    conn = ctx.conn
    conn.execute(insert(T.members).values(candidature_id=target, person_id=person, role=role,
                                          volets="[]", joined_at=ctx.now))
    recheck.candidatures(conn, [target])          # the newcomer's reminders
    if ctx.conv is None:
        conn.execute(insert(T.conversations).values(
            transport=ctx.inbound.transport, chat_id=ctx.inbound.chat_id,
            user_id=ctx.inbound.user_id, person_id=person, candidature_id=target,
            state=dumps(State(locale=ctx.locale).to_json()), updated_at=ctx.now))
        return
    fresh = dumps(ctx.conv.state.restarted(ctx.locale).to_json())   # every chat of theirs starts over
    old = ctx.conv.candidature_id
    release_all(conn, old, ctx.now, "its team joined another candidature")
    conn.execute(delete(T.members).where(T.members.c.candidature_id == old,
                                         T.members.c.person_id == person))
    conn.execute(update(T.candidatures).where(T.candidatures.c.id == old)
                 .values(status="abandoned", updated_at=ctx.now))
    conn.execute(update(T.conversations).where(T.conversations.c.person_id == person,
                                               T.conversations.c.candidature_id == old)
                 .values(candidature_id=target, state=fresh, updated_at=ctx.now))


def _welcome(ctx: Ctx, person: int, target: int, role: str,
             ask_elu: Callable[[Ctx, int], list[Addressed]]) -> list[Addressed]:
    responsible = ctx.conn.execute(select(T.candidatures.c.responsible_id).where(
        T.candidatures.c.id == target)).scalar()
    name = person_name(ctx.conn, person)
    notices = ctx.notify(responsible, target, "teams.join.told_responsible",
                         lambda loc: {"name": name, "role": ctx.catalog(loc, f"teams.role.{role}")})
    if role == "elu":
        return ask_elu(ctx, target) + notices
    text = ctx.t("teams.join.done", body=body_name(ctx, target),
                 responsible=person_name(ctx.conn, responsible))
    return [ctx.reply(text)] + notices


# ------------------------------------------------------------------ members

def _volet_titles(ctx: Ctx, volets: tuple[str, ...], locale: str = "") -> str:
    locale = locale or ctx.locale
    if not volets:
        return ctx.catalog(locale, "teams.all_volets")
    texts = ctx.flow.text(locale).volets
    return ", ".join(texts[v].title if v in texts else v for v in volets)


def team(ctx: Ctx) -> list[Addressed]:
    assert ctx.conv is not None
    cand = ctx.conv.candidature_id
    lines = [ctx.t("teams.list.title", body=body_name(ctx, cand))]
    for number, m in enumerate(members(ctx.conn, cand), 1):
        lines.append(ctx.t("teams.list.line", n=str(number), name=ctx.name_of(m.person_id, m.name),
                           role=ctx.t(f"teams.role.{m.role}"), volets=_volet_titles(ctx, m.volets),
                           since=ctx.when(m.joined_at)))
    lines.append(ctx.t("teams.list.help_responsible" if ctx.conv.is_responsible else "teams.list.help"))
    return [ctx.reply("\n".join(lines))]


def _pick(ctx: Ctx, args: str) -> tuple[Member | None, list[Addressed] | None]:
    assert ctx.conv is not None
    team_ = members(ctx.conn, ctx.conv.candidature_id)
    token = args.split()[0] if args.split() else ""
    if not ascii_number(token) or not 1 <= int(token) <= len(team_):
        return None, ctx.say("teams.pick_usage", max=str(len(team_)))
    return team_[int(token) - 1], None


def remove(ctx: Ctx) -> list[Addressed]:
    refused = responsible_only(ctx)
    if refused:
        return refused
    assert ctx.conv is not None
    member, problem = _pick(ctx, ctx.args)
    if member is None:
        return problem or []
    if member.person_id == ctx.conv.person_id:
        return ctx.say("teams.remove.self")
    cand = ctx.conv.candidature_id
    told = ctx.notify(member.person_id, cand, "teams.remove.told",
                      {"body": body_name(ctx, cand), "by": person_name(ctx.conn, ctx.conv.person_id)})
    _detach(ctx, member.person_id, cand)
    return ctx.say("teams.remove.done", name=member.name) + told


def _detach(ctx: Ctx, person: int, cand: int) -> None:
    """The removed person gets an empty draft of their own in the same campaign."""
    conn = ctx.conn
    conn.execute(delete(T.members).where(T.members.c.candidature_id == cand,
                                         T.members.c.person_id == person))
    own = conn.execute(insert(T.candidatures).values(
        campaign_id=ctx.campaign.id, responsible_id=person, status="draft", version=0,
        amended=False, created_at=ctx.now, updated_at=ctx.now)).inserted_primary_key[0]
    conn.execute(insert(T.members).values(candidature_id=own, person_id=person, role="responsible",
                                          volets="[]", joined_at=ctx.now))
    c = T.conversations
    for conv_id, state in conn.execute(select(c.c.id, c.c.state).where(
            c.c.person_id == person, c.c.candidature_id == cand)).all():
        restarted = State.from_json(json.loads(state or "{}")).restarted()
        conn.execute(update(c).where(c.c.id == conv_id).values(
            candidature_id=own, state=dumps(restarted.to_json()),
            updated_at=ctx.now))


def move_to_campaign(ctx: Ctx, campaign: Campaign) -> None:
    """Point the sender's conversation at their candidature in `campaign` (new if none)."""
    assert ctx.conv is not None
    person, conn = ctx.conv.person_id, ctx.conn
    own = ctx.store.candidature_of(conn, person, campaign.id)
    if own is None:
        own = conn.execute(insert(T.candidatures).values(
            campaign_id=campaign.id, responsible_id=person, status="draft", version=0,
            amended=False, created_at=ctx.now, updated_at=ctx.now)).inserted_primary_key[0]
        conn.execute(insert(T.members).values(candidature_id=own, person_id=person, role="responsible",
                                              volets="[]", joined_at=ctx.now))
    conn.execute(update(T.conversations).where(T.conversations.c.id == ctx.conv.id).values(
        candidature_id=own, state=dumps(ctx.conv.state.restarted(ctx.locale).to_json()),
        updated_at=ctx.now))


def handover(ctx: Ctx) -> list[Addressed]:
    refused = responsible_only(ctx)
    if refused:
        return refused
    assert ctx.conv is not None
    member, problem = _pick(ctx, ctx.args)
    if member is None:
        return problem or []
    if member.person_id == ctx.conv.person_id:
        return ctx.say("teams.handover.self")
    if member.role != "member":
        return ctx.say("teams.handover.not_member", name=member.name)
    cand, m = ctx.conv.candidature_id, T.members
    ctx.conn.execute(update(m).where(m.c.candidature_id == cand, m.c.person_id == ctx.conv.person_id)
                     .values(role="member"))
    ctx.conn.execute(update(m).where(m.c.candidature_id == cand, m.c.person_id == member.person_id)
                     .values(role="responsible"))
    ctx.conn.execute(update(T.candidatures).where(T.candidatures.c.id == cand)
                     .values(responsible_id=member.person_id))
    told = ctx.notify(member.person_id, cand, "teams.handover.told",
                      {"body": body_name(ctx, cand), "by": person_name(ctx.conn, ctx.conv.person_id)})
    return ctx.say("teams.handover.done", name=member.name) + told


def parse_volets(ctx: Ctx, tokens: list[str]) -> tuple[str, ...] | None:
    """Volet numbers or ids -> ids in flow order; () for "all"; None if unknown."""
    volets = [v.id for v in ctx.flow.volets]
    if len(tokens) == 1 and tokens[0].lower() in ALL_WORDS:
        return ()
    chosen = set()
    for token in tokens:
        if ascii_number(token) and 1 <= int(token) <= len(volets):
            chosen.add(volets[int(token) - 1])
        elif token in volets:
            chosen.add(token)
        else:
            return None
    return tuple(v for v in volets if v in chosen) if chosen else None


def assign(ctx: Ctx) -> list[Addressed]:
    refused = responsible_only(ctx)
    if refused:
        return refused
    assert ctx.conv is not None
    member, problem = _pick(ctx, ctx.args)
    if member is None:
        return problem or []
    tokens = [t for t in re.split(r"[\s,;]+", ctx.args.strip())[1:] if t]
    chosen = parse_volets(ctx, tokens) if tokens else None
    if chosen is None:
        lines = [f"{i}. {v.id} ({ctx.flow.text(ctx.locale).volets[v.id].title})"
                 for i, v in enumerate(ctx.flow.volets, 1)]
        return [ctx.reply(ctx.t("teams.assign.usage") + "\n" + "\n".join(lines))]
    cand, m = ctx.conv.candidature_id, T.members
    ctx.conn.execute(update(m).where(m.c.candidature_id == cand, m.c.person_id == member.person_id)
                     .values(volets=dumps(list(chosen))))
    told = ctx.notify(member.person_id, cand, "teams.assign.told",
                      lambda loc: {"volets": _volet_titles(ctx, chosen, loc),
                                   "by": person_name(ctx.conn, ctx.conv.person_id)})
    return ctx.say("teams.assign.done", name=member.name, volets=_volet_titles(ctx, chosen)) + told
