"""`/rappel`: a person's reminders for the campaign: log, snooze, opt-out.

    /rappel          what was sent, what is planned, the settings
    /rappel demain   "remind me tomorrow" (same time tomorrow, outside quiet hours)
    /rappel stop     no more reminders for this campaign
    /rappel oui      reminders again
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from ..core.answers import fold
from ..core.events import Addressed
from .schedule import snooze_until, timeline
from ..store import campaign_tables as C
from . import recheck
from .config import clock_of
from .context import Ctx, insert_or_skip
from .reminders import log_of

TOMORROW = ("demain", "tomorrow", "plus tard", "later")
STOP = ("stop", "non", "no", "jamais", "never", "off")
AGAIN = ("oui", "yes", "on", "reprendre", "resume")


def _save(ctx: Ctx, **values: Any) -> None:
    assert ctx.conv is not None
    p = C.reminder_prefs
    stmt = insert_or_skip(ctx.conn, p).values(campaign_id=ctx.campaign.id, person_id=ctx.conv.person_id,
                                              opted_out=values.get("opted_out", False),
                                              snoozed_until=values.get("snoozed_until"),
                                              updated_at=ctx.now)
    ctx.conn.execute(stmt.on_conflict_do_update(index_elements=[p.c.campaign_id, p.c.person_id],
                                                set_={**values, "updated_at": ctx.now}))
    recheck.person(ctx.conn, ctx.campaign.id, ctx.conv.person_id)     # a snooze may come sooner


def command(ctx: Ctx) -> list[Addressed]:
    word = fold(ctx.args)
    if word in TOMORROW:
        until = snooze_until(ctx.now, clock_of(ctx.campaign))
        if until >= ctx.campaign.closes_at:
            return ctx.say("reminder.prefs.too_late", when=ctx.when(ctx.campaign.closes_at))
        _save(ctx, snoozed_until=until)
        return ctx.say("reminder.prefs.snoozed", when=ctx.when(until))
    if word in STOP:
        _save(ctx, opted_out=True)
        return ctx.say("reminder.prefs.stopped")
    if word in AGAIN:
        _save(ctx, opted_out=False)
        return ctx.say("reminder.prefs.again")
    if word:
        return ctx.say("reminder.prefs.usage")
    return overview(ctx)


def slot_name(ctx: Ctx, slot: str) -> str:
    if slot.startswith("d") and slot[1:].isdigit():
        return ctx.t("reminder.slot.deadline", n=slot[1:])
    if slot.startswith("h") and slot[1:].isdigit():
        return ctx.t("reminder.slot.hours", n=slot[1:])
    return ctx.t("reminder.slot." + slot.split(":", 1)[0])


def overview(ctx: Ctx) -> list[Addressed]:
    assert ctx.conv is not None
    p = C.reminder_prefs
    pref = ctx.conn.execute(select(p.c.opted_out, p.c.snoozed_until).where(
        p.c.campaign_id == ctx.campaign.id, p.c.person_id == ctx.conv.person_id)).first()
    lines = [ctx.t("reminder.prefs.title")]
    entries = log_of(ctx.conn, ctx.campaign.id, ctx.conv.person_id)
    for slot, at, sent, reason in entries[-10:]:
        state = ctx.t("reminder.prefs.sent") if sent else ctx.t("reminder.prefs.skipped_" + _why(reason))
        lines.append(f"• {ctx.when(at)} : {slot_name(ctx, slot)} ({state})")
    if not entries:
        lines.append(ctx.t("reminder.prefs.none_yet"))
    if ctx.conv.status != "draft":
        lines.append(ctx.t("reminder.prefs.not_draft"))
    elif pref is not None and pref.opted_out:
        lines.append(ctx.t("reminder.prefs.is_stopped"))
    else:
        planned = [s for s in timeline(clock_of(ctx.campaign)) if s.due_at > ctx.now]
        if pref is not None and pref.snoozed_until is not None and pref.snoozed_until > ctx.now:
            lines.append(ctx.t("reminder.prefs.is_snoozed", when=ctx.when(pref.snoozed_until)))
        if planned:
            lines.append(ctx.t("reminder.prefs.planned", when=", ".join(ctx.when(s.due_at) for s in planned)))
        lines.append(ctx.t("reminder.prefs.help"))
    return [ctx.reply("\n".join(lines))]


def _why(reason: str) -> str:
    return reason if reason in ("stale", "opted_out", "max", "unreachable") else "stale"
