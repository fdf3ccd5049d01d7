"""Start from last year's answers (`/copier`) and check them (`/verifier`).

The body's candidature in the latest earlier campaign gives its answers (its
last submitted version, else its draft). An answer is copied when its
question id exists in this year's flow and its value still fits (a choice
that no longer exists is left out); answers given this year are never
overwritten. Each copied answer is marked "to check" until someone changes
it or confirms it; a candidature with answers to check cannot be submitted.
"""
from __future__ import annotations

import json
import re
from typing import Mapping

from sqlalchemy import delete, insert, select, update

from ..core.answers import ascii_number
from ..core.events import Addressed, Option
from ..core.flow import JSON, Flow, Kind, Question
from ..core.kinds import KINDS, Form
from ..core.refit import same_shape
from ..core.prompts import show_value, slot_label
from ..core.numbers import label
from ..core.walk import slots
from ..store import tables as T
from ..store import campaign_tables as C
from ..store.store import dumps
from .context import Ctx, organisation
from .identity import reading
from .teams import responsible_only

_ITEM = re.compile(r"^(?P<repeat>[^\[\]]+)\[(?P<index>\d+)\]\.(?P<sub>.+)$")


def copyable(flow: Flow, key: str, value: JSON) -> bool:
    """Does this answer key (and value) fit this year's flow?"""
    if key.startswith("volet:"):
        return flow.volet(key[6:]) is not None and isinstance(value, bool)
    match = _ITEM.match(key)
    if match:
        repeat = flow.questions.get(match["repeat"])
        sub = flow.questions.get(match["sub"].removesuffix(".other"))
        return repeat is not None and sub is not None and sub.parent == repeat.id \
            and _fits(sub, value, match["sub"].endswith(".other"))
    if key.endswith(".done"):
        q = flow.questions.get(key[:-5])
        return q is not None and q.kind is Kind.REPEAT
    base = key.removesuffix(".other")
    q = flow.questions.get(base)
    return q is not None and not q.parent and _fits(q, value, key.endswith(".other"))


def _fits(q: Question, value: JSON, other: bool) -> bool:
    if other:
        return bool(q.other) and isinstance(value, str)
    form = KINDS[q.kind].form
    if form is Form.ONE:
        return value in q.choices
    if form is Form.SEVERAL:
        return isinstance(value, list) and all(v in q.choices for v in value)
    return same_shape(q, value)     # a yes/no answer is not copied into what became a text


def _checkable(flow: Flow, key: str) -> bool:
    """A key a person answers (not a repeat count or its "done" flag)."""
    q = flow.questions.get(key)
    return not key.endswith(".done") and not (q is not None and q.kind is Kind.REPEAT)


def _repeat_of(key: str) -> str:
    match = _ITEM.match(key)
    if match:
        return match["repeat"]
    return key[:-5] if key.endswith(".done") else ""


def source(ctx: Ctx) -> tuple[int, int, dict[str, JSON]] | None:
    """(candidature id, year, answers) of the body's latest earlier candidature."""
    assert ctx.conv is not None
    org = organisation(ctx.conn, ctx.conv.candidature_id)
    if org is None:
        return None
    k, g, s = T.candidatures, T.campaigns, T.submissions
    row = ctx.conn.execute(
        select(k.c.id, g.c.year).join(g, g.c.id == k.c.campaign_id)
        .where(k.c.organisation_id == org.id, g.c.id != ctx.campaign.id,
               g.c.opens_at < ctx.campaign.opens_at, k.c.status != "abandoned")
        .order_by(g.c.opens_at.desc()).limit(1)).first()
    if row is None:
        return None
    snapshot = ctx.conn.execute(select(s.c.snapshot).where(s.c.candidature_id == row.id)
                                .order_by(s.c.version.desc()).limit(1)).scalar()
    answers = json.loads(snapshot).get("answers") if snapshot else None
    if not isinstance(answers, dict):
        answers = ctx.store.answers(ctx.conn, row.id)
    return row.id, row.year, answers


def copy(ctx: Ctx, current: Mapping[str, JSON]) -> list[Addressed]:
    refused = responsible_only(ctx)
    if refused:
        return refused
    assert ctx.conv is not None
    if organisation(ctx.conn, ctx.conv.candidature_id) is None:
        return ctx.say("lastyear.no_body")
    found = source(ctx)
    if found is None:
        return ctx.say("lastyear.none")
    origin, year, previous = found
    taken_repeats = {q for q in ctx.flow.questions if q in current
                     and ctx.flow.questions[q].kind is Kind.REPEAT}
    chosen = {k: v for k, v in previous.items()
              if k not in current and copyable(ctx.flow, k, v)
              and (k if k in taken_repeats else _repeat_of(k)) not in taken_repeats}
    _write(ctx, origin, chosen)
    if not chosen:
        return ctx.say("lastyear.nothing", year=str(year))
    applicable = {s.key for s in slots(ctx.flow, {**current, **chosen})}
    shown = sum(1 for k in chosen if _checkable(ctx.flow, k) and k in applicable)
    return [ctx.reply(ctx.t("lastyear.copied", n=str(shown), year=str(year)),
                      actions=(Option("/verifier", ctx.t("lastyear.action.check")),))]


def _write(ctx: Ctx, origin: int, chosen: Mapping[str, JSON]) -> None:
    assert ctx.conv is not None
    cand, person, now = ctx.conv.candidature_id, ctx.conv.person_id, ctx.now
    for key, value in chosen.items():
        ctx.conn.execute(insert(T.answers).values(candidature_id=cand, key=key, value=dumps(value),
                                                  answered_by=person, answered_at=now))
        ctx.conn.execute(insert(T.answer_history).values(
            candidature_id=cand, key=key, old_value=None, new_value=dumps(value),
            changed_by=person, changed_at=now))
        if _checkable(ctx.flow, key):
            ctx.conn.execute(insert(C.answer_checks).values(
                candidature_id=cand, key=key, from_candidature_id=origin, copied_at=now))
    if chosen:
        ctx.conn.execute(update(T.candidatures).where(T.candidatures.c.id == cand)
                         .values(updated_at=now))


def marked(ctx: Ctx) -> set[str]:
    assert ctx.conv is not None
    a = C.answer_checks
    return set(ctx.conn.execute(select(a.c.key).where(
        a.c.candidature_id == ctx.conv.candidature_id)).scalars())


def clear(ctx: Ctx, keys: list[str] | None = None) -> int:
    """Checked: drop the marks of these keys (all when None)."""
    assert ctx.conv is not None
    a = C.answer_checks
    stmt = delete(a).where(a.c.candidature_id == ctx.conv.candidature_id)
    if keys is not None:
        stmt = stmt.where(a.c.key.in_(keys))
    return ctx.conn.execute(stmt).rowcount or 0


def check(ctx: Ctx, answers: Mapping[str, JSON]) -> list[Addressed]:
    """/verifier: list the copied answers; /verifier ok; /verifier N."""
    keys = marked(ctx)
    if not keys:
        return ctx.say("lastyear.check.none")
    turn = reading(ctx, ctx.locale, answers)
    numbered = [(label(turn.flow, s), s) for s in turn.slots() if s.key in keys and s.key in answers]
    if not numbered:
        clear(ctx)       # only answers that no longer apply were left
        return ctx.say("lastyear.check.none")
    arg = ctx.args.strip().lower()
    if arg in ("ok", "oui", "yes", "tout", "all"):
        clear(ctx)
        return ctx.say("lastyear.check.all_done", n=str(len(numbered)))
    if ascii_number(arg) or any(n == arg for n, _ in numbered):
        hit = [s.key for n, s in numbered if n == arg]
        if not hit:
            return ctx.say("lastyear.check.not_marked", n=arg)
        clear(ctx, hit)
        return ctx.say("lastyear.check.one_done", n=arg, left=str(len(numbered) - 1))
    lines = [ctx.t("lastyear.check.title", n=str(len(numbered)))]
    for number, slot in numbered[:40]:
        value = answers.get(slot.key)
        shown = show_value(turn, slot, value) if value is not None else ctx.t("value.none")
        lines.append(f"{number}. {slot_label(turn, slot)} → {shown}")
    actions = tuple(Option(f"/modifier {n}", str(n)) for n, _ in numbered[:8])
    actions += (Option("/verifier ok", ctx.t("lastyear.action.all_ok")),)
    return [ctx.reply("\n".join(lines), actions=actions)]
