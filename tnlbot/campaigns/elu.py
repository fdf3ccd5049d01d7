"""The élu référent's confirmation, required before the responsible submits.

Two ways, both recorded (who, how, when, for which élu's name):
- the élu confirms from their own chat account: the responsible sends them
  an invitation code (`/elu inviter`), the élu joins with it and answers the
  confirmation prompt (or types /confirmer);
- the operator records it (`tnlbot claims elu CANDIDATURE`), having checked.
A team never confirms for its élu: `/elu declarer` explains these two ways.
A confirmation holds for the élu named in the identification volet: if that
name changes, a new confirmation is needed.
"""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Mapping

from sqlalchemy import Connection, Row, insert, select

from ..core.answers import fold
from ..core.events import Addressed, Option
from ..core.flow import JSON, Flow
from ..store import tables as T
from ..store import campaign_tables as C
from .config import Settings
from .context import Ctx, person_name
from .teams import (body_name, create_invitation, deep_link, responsible_only, role_of, show_code,
                    too_many_codes)

ELU_NAME, ELU_MANDATE = "elu_nom", "elu_mandat"
PROMPT_REF = "elu_confirm"


def required(flow: Flow, settings: Settings) -> bool:
    return settings.elu_confirmation and ELU_NAME in flow.questions


def latest(conn: Connection, candidature_id: int) -> Row[Any] | None:
    e = C.elu_confirmations
    return conn.execute(select(e).where(e.c.candidature_id == candidature_id)
                        .order_by(e.c.at.desc(), e.c.id.desc()).limit(1)).first()


def confirmed(conn: Connection, candidature_id: int, answers: Mapping[str, JSON], flow: Flow,
              settings: Settings) -> bool:
    if not required(flow, settings):
        return True
    name = answers.get(ELU_NAME)
    row = latest(conn, candidature_id)
    return bool(name) and row is not None and bool(row.confirmed) and row.elu_name == name


def _names(answers: Mapping[str, JSON]) -> tuple[str, str]:
    return str(answers.get(ELU_NAME) or ""), str(answers.get(ELU_MANDATE) or "")


def status(ctx: Ctx, answers: Mapping[str, JSON]) -> list[Addressed]:
    assert ctx.conv is not None
    if not required(ctx.flow, ctx.settings):
        return ctx.say("elu.not_required")
    name, mandate = _names(answers)
    if not name:
        return ctx.say("elu.no_name")
    row = latest(ctx.conn, ctx.conv.candidature_id)
    if row is not None and row.elu_name == name:
        key = f"elu.status.{'confirmed' if row.confirmed else 'refused'}.{row.method}"
        text = ctx.t(key, elu=name, when=ctx.when(row.at), by=person_name(ctx.conn, row.by_person))
    else:
        text = ctx.t("elu.status.pending", elu=name, mandate=mandate)
    actions: tuple[Option, ...] = ()
    if ctx.conv.is_responsible:
        actions = (Option("/elu inviter", ctx.t("elu.action.invite")),)
    return [ctx.reply(text, actions=actions)]


def command(ctx: Ctx, answers: Mapping[str, JSON]) -> list[Addressed]:
    word = fold(ctx.args.split()[0]) if ctx.args.split() else ""
    if word in ("declarer", "declare"):
        return declare(ctx, answers)
    if word in ("inviter", "invite"):
        return invite(ctx, answers)
    return status(ctx, answers)


def declare(ctx: Ctx, answers: Mapping[str, JSON]) -> list[Addressed]:
    """A self-declaration is not a confirmation: say who may confirm, record nothing."""
    if not required(ctx.flow, ctx.settings):
        return ctx.say("elu.not_required")
    name, _ = _names(answers)
    return ctx.say("elu.declare_refused", elu=name or "?")


def confirm_by_operator(conn: Connection, candidature_id: int, now: datetime) -> str:
    """The operator records the élu's confirmation for the name now answered: the name, or ""."""
    a = T.answers
    raw = conn.execute(select(a.c.value).where(a.c.candidature_id == candidature_id,
                                               a.c.key == ELU_NAME)).scalar()
    name = str(json.loads(raw)) if raw else ""
    if name:
        conn.execute(insert(C.elu_confirmations).values(
            candidature_id=candidature_id, elu_name=name[:200], method="operator", confirmed=True,
            by_person=None, at=now))
    return name


def invite(ctx: Ctx, answers: Mapping[str, JSON]) -> list[Addressed]:
    refused = responsible_only(ctx) or too_many_codes(ctx)
    if refused:
        return refused
    name, _ = _names(answers)
    if not name:
        return ctx.say("elu.no_name")
    code, until = create_invitation(ctx, "elu")
    link = deep_link(ctx, code)
    text = ctx.t("elu.invite", elu=name, code=show_code(code), until=until)
    return [ctx.reply(text + (("\n" + link) if link else ""))]


def ask_elu(ctx: Ctx, candidature_id: int) -> list[Addressed]:
    """The prompt an élu gets after joining with their code."""
    answers = _answers(ctx, candidature_id)
    name, mandate = _names(answers)
    responsible = ctx.conn.execute(select(T.candidatures.c.responsible_id).where(
        T.candidatures.c.id == candidature_id)).scalar()
    text = ctx.t("elu.ask", elu=name, mandate=mandate, body=body_name(ctx, candidature_id),
                 responsible=person_name(ctx.conn, responsible))
    options = (Option("yes", ctx.t("common.yes")), Option("no", ctx.t("common.no")))
    return [ctx.reply(text, options=options, ref=PROMPT_REF)]


def _answers(ctx: Ctx, candidature_id: int) -> dict[str, JSON]:
    return ctx.store.answers(ctx.conn, candidature_id)


def is_pending_elu(ctx: Ctx) -> bool:
    """The sender joined as élu and has not answered for the current name."""
    assert ctx.conv is not None
    if role_of(ctx, ctx.conv.candidature_id, ctx.conv.person_id) != "elu":
        return False
    name, _ = _names(_answers(ctx, ctx.conv.candidature_id))
    row = latest(ctx.conn, ctx.conv.candidature_id)
    return not (row is not None and row.elu_name == name and row.by_person == ctx.conv.person_id)


def answer(ctx: Ctx, yes: bool) -> list[Addressed]:
    """The élu's own answer, from their chat account."""
    assert ctx.conv is not None
    if role_of(ctx, ctx.conv.candidature_id, ctx.conv.person_id) != "elu":
        return ctx.say("elu.only_elu")
    if not ctx.campaign.accepting(ctx.now):
        return ctx.say("teams.campaign_closed")
    cand = ctx.conv.candidature_id
    name, _ = _names(_answers(ctx, cand))
    _record(ctx, name, "elu_account", yes)
    responsible = ctx.conn.execute(select(T.candidatures.c.responsible_id).where(
        T.candidatures.c.id == cand)).scalar()
    me = person_name(ctx.conn, ctx.conv.person_id)
    told = ctx.notify(responsible, cand, "elu.told_yes" if yes else "elu.told_no", {"elu": me})
    return ctx.say("elu.thanks_yes" if yes else "elu.thanks_no", body=body_name(ctx, cand)) + told


def _record(ctx: Ctx, name: str, method: str, yes: bool) -> None:
    assert ctx.conv is not None
    ctx.conn.execute(insert(C.elu_confirmations).values(
        candidature_id=ctx.conv.candidature_id, elu_name=name[:200], method=method, confirmed=yes,
        by_person=ctx.conv.person_id, at=ctx.now))
