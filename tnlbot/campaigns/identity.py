"""The body behind a candidature (SIREN -> organisation), and who answered what.

Rules kept here:
- The SIREN answer makes a claim on the body (claims.py): the candidature is
  linked to the body only once the claim is verified, and nobody learns
  from typing a SIREN whether or by whom the body is claimed. One verified
  candidature per body and campaign (unique constraint).
- When an agent replaces an answer given by a colleague, the later answer
  wins, both stay in the history, and the colleague is told.
"""
from __future__ import annotations

import json
from typing import Mapping

from sqlalchemy import select

from ..core.engine import Dossier
from ..core.events import Addressed
from ..core import numbers
from ..core.flow import JSON
from ..core.prompts import show_value, slot_label
from ..core.turn import State, Turn
from ..core.walk import Slot
from ..store import tables as T
from ..store import campaign_tables as C
from . import claims
from .claims import ORG_FIELDS
from .context import Ctx, person_name



def reading(ctx: Ctx, locale: str, answers: Mapping[str, JSON]) -> Turn:
    """A Turn used only to render labels and values in a language."""
    return Turn(ctx.flow, ctx.catalog, State(locale=locale), Dossier(), dict(answers))


# ------------------------------------------------------------------ SIREN

def link_siren(ctx: Ctx, siren: str, answers: Mapping[str, JSON]) -> tuple[bool, list[Addressed]]:
    """The sender's candidature claims the body: (accepted, what to say).

    Not accepted: the answer must be refused (the candidature's body is already
    verified, or a member tried to change it). Whether another team claims the
    same body is never told here (see claims.py)."""
    assert ctx.conv is not None
    org_id = _organisation(ctx, siren, answers)
    body = claims.body_of_answers(answers) or siren
    return claims.claim(ctx, org_id, siren, body)


ORG_BY_SIREN = "SELECT id FROM organisations WHERE siren = ?"
CURRENT_ORG = "SELECT organisation_id FROM candidatures WHERE id = ?"
NEW_ORG_PLAIN = ("INSERT INTO organisations (siren, name, kind, departement) VALUES (?, ?, ?, ?) "
                 "ON CONFLICT DO NOTHING")
NEW_ORG = NEW_ORG_PLAIN + " RETURNING id"


def _organisation(ctx: Ctx, siren: str, answers: Mapping[str, JSON]) -> int:
    values = {column: str(answers.get(key) or "")[:200] for key, column in ORG_FIELDS.items()}
    hot = ctx.store.hot
    params = (siren, values["name"], values["kind"], values["departement"][:3])
    if hot.is_sqlite:     # RETURNING goes through a temporary table there; lastrowid is the id
        cursor = hot.run(ctx.conn, NEW_ORG_PLAIN, params)
        if cursor.rowcount == 1:
            return int(cursor.lastrowid)
    else:
        row = hot.run(ctx.conn, NEW_ORG, params).fetchone()
        if row is not None:
            return int(row[0])
    return int(hot.run(ctx.conn, ORG_BY_SIREN, (siren,)).fetchone()[0])


def sync_organisation(ctx: Ctx, changes: Mapping[str, JSON]) -> None:
    """Name, type and département answered after the SIREN update the body."""
    assert ctx.conv is not None
    values = {column: str(changes[key])[:200] for key, column in ORG_FIELDS.items()
              if changes.get(key) is not None}
    if not values or not ctx.conv.is_responsible:
        return
    if "departement" in values:
        values["departement"] = values["departement"][:3]
    columns = sorted(values)
    # the candidature's body, if it has one (nothing read back: queued with the event's writes)
    sql = ("UPDATE organisations SET " + ", ".join(f"{c} = ?" for c in columns)
           + " WHERE id = (" + CURRENT_ORG + ")")
    ctx.store.hot.queue(ctx.conn, sql, (*(values[c] for c in columns), ctx.conv.candidature_id))


# ------------------------------------------------------------------ overwrites

def tell_overwritten(ctx: Ctx, changes: Mapping[str, JSON], before: Mapping[str, JSON],
                     authors: Mapping[str, int | None]) -> list[Addressed]:
    """Colleagues whose answers this event replaced are told, once each."""
    assert ctx.conv is not None
    by_person: dict[int, list[str]] = {}
    for key, value in changes.items():
        person = authors.get(key)
        if before.get(key) is not None and value != before[key] and person is not None \
                and person != ctx.conv.person_id:
            by_person.setdefault(person, []).append(key)
    if not by_person:
        return []
    after = {**before, **changes}
    name = person_name(ctx.conn, ctx.conv.person_id)
    out: list[Addressed] = []
    for person, replaced in by_person.items():
        out += ctx.notify(person, ctx.conv.candidature_id, "teams.overwritten",
                          lambda loc, r=replaced: {"name": name,
                                                   "lines": _changes_text(ctx, loc, r, before, after)})
    return out


def _changes_text(ctx: Ctx, locale: str, keys: list[str], before: Mapping[str, JSON],
                  after: Mapping[str, JSON]) -> str:
    turn = reading(ctx, locale, after)
    slots = {s.key: s for s in turn.slots()}
    lines = []
    for key in keys:
        slot = slots.get(key)
        if slot is None:
            continue
        old, new = show_value(turn, slot, before[key]), show_value(turn, slot, after[key])
        lines.append(f"• {slot_label(turn, slot)} : « {old} » → « {new} »")
    return "\n".join(lines)


# ------------------------------------------------------------------ /qui

def who(ctx: Ctx, answers: Mapping[str, JSON]) -> list[Addressed]:
    assert ctx.conv is not None
    turn = reading(ctx, ctx.locale, answers)
    all_slots = turn.slots()
    arg = ctx.args.strip()
    if arg:      # the number the answer carries in /recap
        found = numbers.find(turn.flow, all_slots, arg)
        if found is None:
            return ctx.say("teams.who.usage", max=str(numbers.highest(turn.flow)))
        return _history(ctx, turn, all_slots[found])
    a, p = T.answers, T.people
    rows = {r.key: r for r in ctx.conn.execute(
        select(a.c.key, a.c.answered_at, a.c.answered_by, p.c.display_name).join(p, p.c.id == a.c.answered_by, isouter=True)
        .where(a.c.candidature_id == ctx.conv.candidature_id)).all()}
    lines = [ctx.t("teams.who.title")]
    for slot in all_slots:
        row = rows.get(slot.key)
        if row is None or slot.part == "adder" or (slot.question and slot.question.kind.value == "notice"):
            continue
        lines.append(ctx.t("teams.who.line", n=numbers.label(turn.flow, slot), label=slot_label(turn, slot),
                           value=show_value(turn, slot, answers[slot.key]),
                           name=ctx.name_of(row.answered_by, row.display_name),
                           when=ctx.when(row.answered_at)))
    if len(lines) == 1:
        lines.append(ctx.t("teams.who.none"))
    return [ctx.reply("\n".join(lines))]


def _history(ctx: Ctx, turn: Turn, slot: Slot) -> list[Addressed]:
    assert ctx.conv is not None
    h, p = T.answer_history, T.people
    rows = ctx.conn.execute(
        select(h.c.old_value, h.c.new_value, h.c.changed_at, h.c.changed_by, p.c.display_name)
        .join(p, p.c.id == h.c.changed_by, isouter=True)
        .where(h.c.candidature_id == ctx.conv.candidature_id, h.c.key == slot.key)
        .order_by(h.c.changed_at, h.c.id)).all()
    lines = [ctx.t("teams.who.history", label=slot_label(turn, slot))]
    none = ctx.t("value.none")
    for row in rows:
        old = show_value(turn, slot, json.loads(row.old_value)) if row.old_value else none
        new = show_value(turn, slot, json.loads(row.new_value)) if row.new_value else none
        lines.append(ctx.t("teams.who.change", when=ctx.when(row.changed_at),
                           name=ctx.name_of(row.changed_by, row.display_name), old=old, new=new))
    checked = ctx.conn.execute(select(C.answer_checks.c.key).where(
        C.answer_checks.c.candidature_id == ctx.conv.candidature_id,
        C.answer_checks.c.key == slot.key)).first()
    if checked is not None:
        lines.append(ctx.t("lastyear.marked"))
    if len(lines) == 1:
        lines.append(ctx.t("teams.who.none"))
    return [ctx.reply("\n".join(lines))]
