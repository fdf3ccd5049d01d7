"""Invitation codes the responsible controls, and guessing slowed down.

Rules kept here:
- At most MAX_LIVE unused, unexpired, unrevoked codes per candidature:
  /inviter beyond that asks to revoke one first.
- /codes lists the live codes; /revoquer CODE (or /revoquer tous) revokes.
- A code is dead once its author is no longer the candidature's responsible
  (handover, removal, erasure): a removed person's kept code lets nobody in.
- Wrong codes, counted per account: from SLOW_AFTER on, one try per
  SLOW_SECONDS; at LOCK_AFTER, no try for LOCK_MINUTES. A right code clears
  the count.
"""
from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Row, func, select, update

from ..core.events import Addressed
from ..store import campaign_tables as C
from ..store import tables as T
from .context import Ctx, insert_or_skip, responsible_only

ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"   # no 0/O, 1/I: read aloud safely
CODE_LENGTH = 8


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def show_code(code: str) -> str:
    return f"{code[:4]}-{code[4:]}"


def clean_code(text: str) -> str:
    """What a person typed -> the stored form ("abcd-efgh " -> "ABCDEFGH"), or ""."""
    code = re.sub(r"[\s\-.]", "", text).upper()
    return code if re.fullmatch(f"[{ALPHABET}]{{{CODE_LENGTH}}}", code) else ""


MAX_LIVE = 10
SLOW_AFTER, SLOW_SECONDS = 3, 30
LOCK_AFTER, LOCK_MINUTES = 8, 60
ALL = ("tous", "toutes", "all")


def _live(ctx: Ctx, candidature_id: int) -> ColumnElement[bool]:
    inv = C.invitations
    return (inv.c.candidature_id == candidature_id) & inv.c.used_at.is_(None) \
        & inv.c.revoked_at.is_(None) & (inv.c.expires_at > ctx.now)


def live_count(ctx: Ctx, candidature_id: int) -> int:
    return int(ctx.conn.execute(select(func.count()).select_from(C.invitations)
                                .where(_live(ctx, candidature_id))).scalar() or 0)


def dead_reason(ctx: Ctx, row: Row[Any]) -> str:
    """Why a stored, unused, unexpired code no longer opens the door ("" if it does)."""
    if row.revoked_at is not None:
        return "teams.join.revoked"
    responsible = ctx.conn.execute(select(T.candidatures.c.responsible_id).where(
        T.candidatures.c.id == row.candidature_id)).scalar()
    return "" if responsible == row.created_by else "teams.join.revoked"


def listing(ctx: Ctx) -> list[Addressed]:
    refused = responsible_only(ctx)
    if refused:
        return refused
    assert ctx.conv is not None
    inv = C.invitations
    rows = ctx.conn.execute(select(inv.c.code, inv.c.role, inv.c.expires_at)
                            .where(_live(ctx, ctx.conv.candidature_id)).order_by(inv.c.id)).all()
    if not rows:
        return ctx.say("codes.none")
    lines = [ctx.t("codes.title", n=str(len(rows)), max=str(MAX_LIVE))]
    lines += [ctx.t("codes.line", code=show_code(r.code), role=ctx.t(f"teams.role.{r.role}"),
                    until=ctx.when(r.expires_at)) for r in rows]
    return [ctx.reply("\n".join(lines))]


def revoke(ctx: Ctx) -> list[Addressed]:
    refused = responsible_only(ctx)
    if refused:
        return refused
    assert ctx.conv is not None
    inv, arg = C.invitations, ctx.args.strip()
    where = _live(ctx, ctx.conv.candidature_id)
    if arg.lower() in ALL:
        n = ctx.conn.execute(update(inv).where(where).values(revoked_at=ctx.now)).rowcount
        return ctx.say("codes.revoked_all", n=str(n))
    code = clean_code(arg)
    if not code:
        return ctx.say("codes.usage")
    n = ctx.conn.execute(update(inv).where(where, inv.c.code == code).values(revoked_at=ctx.now)).rowcount
    return ctx.say("codes.revoked" if n else "codes.not_live", code=show_code(code))


# ------------------------------------------------------------------ wrong codes

def held(ctx: Ctx) -> list[Addressed] | None:
    """A refusal while this account must wait before trying another code."""
    f = C.code_failures
    row = ctx.conn.execute(select(f.c.failures, f.c.last_at, f.c.locked_until).where(
        f.c.transport == ctx.inbound.transport, f.c.user_id == ctx.inbound.user_id)).first()
    if row is None:
        return None
    if row.locked_until is not None and row.locked_until > ctx.now:
        return ctx.say("codes.locked", until=ctx.when(row.locked_until))
    if row.failures >= SLOW_AFTER and row.last_at + timedelta(seconds=SLOW_SECONDS) > ctx.now:
        return ctx.say("codes.slow", seconds=str(SLOW_SECONDS))
    return None


def failed(ctx: Ctx) -> None:
    f = C.code_failures
    key = (f.c.transport == ctx.inbound.transport) & (f.c.user_id == ctx.inbound.user_id)
    ctx.conn.execute(insert_or_skip(ctx.conn, f).values(
        transport=ctx.inbound.transport, user_id=ctx.inbound.user_id, failures=0, last_at=ctx.now)
        .on_conflict_do_nothing())
    failures = int(ctx.conn.execute(select(f.c.failures).where(key)).scalar() or 0) + 1
    locked: datetime | None = ctx.now + timedelta(minutes=LOCK_MINUTES) if failures >= LOCK_AFTER else None
    ctx.conn.execute(update(f).where(key).values(failures=0 if locked else failures, last_at=ctx.now,
                                                 locked_until=locked))


def succeeded(ctx: Ctx) -> None:
    f = C.code_failures
    ctx.conn.execute(f.delete().where(f.c.transport == ctx.inbound.transport,
                                      f.c.user_id == ctx.inbound.user_id))


def words(text: str) -> list[str]:
    return [w for w in re.split(r"\s+", text.strip()) if w]
