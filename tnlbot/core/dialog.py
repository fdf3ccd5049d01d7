"""The dialog rules: answers, navigation and commands, one event at a time."""
from __future__ import annotations

from dataclasses import replace
from itertools import chain

from . import answers as parsing
from .problem import Problem
from .events import Inbound, Outgoing, OutKind
from .flow import JSON, Kind
from .kinds import KINDS, Form, parse
from .machine import ASKING, BEGIN, FINISH, IDLE
from .prompts import prompt, qtext, show_value
from .shown import show_date, show_number
from .turn import State, Turn
from .walk import Slot, is_answered, item_count, missing

# Enum members read on every event, as module constants: reading one through its class
# goes through the Enum metaclass's __getattr__ hook, a Python-level call each time
_NOTICE_KIND = Kind.NOTICE
_FILE_KIND = Kind.FILE
_DATE_KIND = Kind.DATE
_SETTLED = OutKind.SETTLED
_YES_NO = Form.YES_NO
_ONE = Form.ONE
_SEVERAL = Form.SEVERAL
_FILE_FORM = Form.FILE

# ------------------------------------------------------------------ moving

def ask(turn: Turn, slot: Slot, all_slots: list[Slot], intro: str = "") -> None:
    s = turn.state
    turn.state = State(s.mode, slot.key, s.locale, (), s.skipped)
    if s.mode is not ASKING:     # asking -> asking is the machine's no-op: not fired on every answer
        turn.fire(BEGIN)
    turn.out.append(prompt(turn, slot, all_slots, intro))


def advance(turn: Turn, after: int) -> None:
    """Ask the first open slot after position `after`, wrapping around."""
    skipped = set(turn.state.skipped)
    while True:
        all_slots = turn.slots()
        # lazily: the open slot is most often the next one
        order = chain(range(after + 1, len(all_slots)), range(0, min(after + 1, len(all_slots))))
        chosen = next((i for i in order if not is_answered(all_slots[i], turn.answers)
                       and all_slots[i].key not in skipped and may_answer(turn, all_slots[i])), None)
        if chosen is None:
            return idle(turn, all_slots)
        slot = all_slots[chosen]
        q = slot.question
        if slot.part == "adder" and q is not None and item_count(turn.answers, q.id) < q.min_items:
            turn.set(q.id, item_count(turn.answers, q.id) + 1)   # a required item: no need to ask
            after = chosen - 1
            continue
        if slot.question is not None and slot.question.kind is _NOTICE_KIND and not slot.part:
            turn.say_text(qtext(turn, slot.question.id).text)
            turn.set(slot.key, True)
            after = chosen
            continue
        previous = all_slots[after].volet.id if 0 <= after < len(all_slots) else ""
        intro = _volet_intro(turn, slot) if slot.volet.id != previous else ""
        return ask(turn, slot, all_slots, intro)


def _volet_intro(turn: Turn, slot: Slot) -> str:
    text = turn.flow.text(turn.state.locale).volets[slot.volet.id]
    return f"« {text.title} »" + (f"\n{text.intro}" if text.intro else "")


def idle(turn: Turn, all_slots: list[Slot]) -> None:
    turn.fire(FINISH)
    turn.state = replace(turn.state, cursor="", pending=())
    lacking = missing(turn.flow, turn.answers)
    if lacking:
        turn.say("idle.missing", n=str(len(lacking)))
    elif turn.dossier.status == "submitted" and not turn.dossier.amended:
        turn.say("idle.submitted", when=turn.dossier.submitted_at, version=str(turn.dossier.version))
    else:
        turn.say("idle.complete")


def reprompt(turn: Turn) -> None:
    found = turn.current()
    if found is None:
        return advance(turn, -1)
    index, slot = found
    turn.out.append(prompt(turn, slot, turn.slots()))


# ------------------------------------------------------------------ answers

def store(turn: Turn, index: int, slot: Slot, value: JSON) -> None:
    q = slot.question
    if slot.part == "adder" and q is not None:
        if value is True:
            count = item_count(turn.answers, q.id)
            turn.set(q.id, count + 1)
            turn.set(q.id + ".done", None)
            settle(turn, slot, value)
            first = next(i for i, s in enumerate(turn.slots()) if s.key.startswith(f"{q.id}[{count}]."))
            return advance(turn, first - 1)
        if item_count(turn.answers, q.id) < q.min_items:
            return turn.say("error.min_items", min=str(q.min_items))
        turn.set(q.id + ".done", True)
    else:
        confirm(turn, slot, turn.answers.get(slot.key), value)
        turn.set(slot.key, value)
    if slot.key in turn.state.skipped:
        turn.state = replace(turn.state, skipped=tuple(k for k in turn.state.skipped if k != slot.key))
    settle(turn, slot, value)
    position = turn.position(slot.key)
    advance(turn, index if position is None else position)


def confirm(turn: Turn, slot: Slot, previous: JSON, value: JSON) -> None:
    """Say that a file was kept, or that an answer given before was changed."""
    q = slot.question
    if q is not None and q.kind is _FILE_KIND and not slot.part and isinstance(value, dict):
        turn.say("file.saved", name=str(value.get("name", "")), size=str(max(1, int(value.get("size", 0)) // 1000)))
    elif previous is not None and previous != value:
        turn.say("edit.changed", old=show_value(turn, slot, previous), value=show_value(turn, slot, value))


def settle(turn: Turn, slot: Slot, value: JSON) -> None:
    turn.out.append(Outgoing(_SETTLED, show_value(turn, slot, value), ref=slot.key))


def parse_for(turn: Turn, slot: Slot, text: str) -> JSON | Problem:
    q = slot.question
    if slot.part in ("concerned", "adder"):
        cleaned = parsing.clean_text(text)
        return cleaned if isinstance(cleaned, Problem) else parsing.parse_yes_no(cleaned, q, {})
    assert q is not None
    if q.kind is _DATE_KIND and (q.min_date.startswith(CAMPAIGN) or q.max_date.startswith(CAMPAIGN)):
        q = replace(q, min_date=campaign_day(turn, q.min_date), max_date=campaign_day(turn, q.max_date))
    if slot.part == "other":
        cleaned = parsing.clean_text(text)
        if isinstance(cleaned, Problem):
            return cleaned
        return cleaned if len(cleaned) <= 200 else Problem("error.too_long", {"max": "200"})
    result = parse(text, q, qtext(turn, q.id).choices, turn.state.locale)
    if isinstance(result, Problem):
        said = KINDS[q.kind].key(turn.transport, result.key)
        return result if said == result.key else Problem(said, result.params)
    return result


CAMPAIGN = "campaign."


def campaign_day(turn: Turn, bound: str) -> str:
    """A date bound of the flow: an ISO date, or `campaign.opens` / `campaign.closes` (the
    day the candidature's campaign opens or closes)."""
    opens, closes = turn.dossier.campaign_dates
    return {"campaign.opens": opens, "campaign.closes": closes}.get(bound, bound)


def shown_problem(turn: Turn, problem: Problem) -> dict[str, str]:
    """A problem's values (dates, bounds) written the way the person reads them."""
    params = dict(problem.params)
    locale = turn.state.locale
    for name in ("min", "max"):
        if name in params and problem.key in ("error.date_before", "error.date_after"):
            params[name] = show_date(params[name], locale)
        elif name in params and problem.key in ("error.below", "error.above"):
            params[name] = show_number(params[name], locale)
    return params


def values_for(turn: Turn, slot: Slot, values: tuple[str, ...]) -> JSON | Problem:
    q = slot.question
    form = KINDS[q.kind].form if q is not None and not slot.part else None
    if slot.part in ("concerned", "adder") or form is _YES_NO:
        if values in (("yes",), ("no",)):
            return values == ("yes",)
        return Problem("error.yes_no")
    if q is None or slot.part:
        return Problem("error.unrecognised")
    if form is _ONE and len(values) == 1 and values[0] in q.choices:
        return values[0]
    if form is _SEVERAL:
        return parsing.check_selection(list(values or turn.state.pending), q)
    return Problem("error.unrecognised")


def answer(turn: Turn, result: JSON | Problem, index: int, slot: Slot) -> None:
    if isinstance(result, Problem):
        return turn.say(result.key, **shown_problem(turn, result))
    if not turn.dossier.accepting:
        return turn.say_text(turn.dossier.closed_text)
    if not may_answer(turn, slot):
        return not_assigned(turn)
    store(turn, index, slot, result)


def may_answer(turn: Turn, slot: Slot) -> bool:
    """A member assigned some volets (/assigner) answers only those."""
    allowed = turn.dossier.allowed_volets
    return not allowed or slot.volet.id in allowed


def not_assigned(turn: Turn) -> None:
    titles = turn.flow.text(turn.state.locale).volets
    names = ", ".join(titles[v].title for v in turn.dossier.allowed_volets if v in titles)
    turn.say("teams.volet.not_assigned", volets=names)


def on_text(turn: Turn, event: Inbound) -> None:
    found = turn.current()
    if found is None:
        return on_no_question(turn)
    index, slot = found
    answer(turn, parse_for(turn, slot, event.text), index, slot)


def on_file(turn: Turn, event: Inbound) -> None:
    found = turn.current()
    if found is None or event.file is None:
        return on_no_question(turn)
    index, slot = found
    q = slot.question
    if q is None or KINDS[q.kind].form is not _FILE_FORM or slot.part:
        return turn.say("error.file_unexpected")
    answer(turn, parsing.check_file(event.file, q), index, slot)


def on_choice(turn: Turn, event: Inbound) -> None:
    all_slots = turn.slots()
    index = next((i for i, s in enumerate(all_slots) if s.key == event.ref), None)
    if index is None:
        return turn.say("error.stale_button")
    slot = all_slots[index]
    result = values_for(turn, slot, event.values)
    if slot.key == turn.state.cursor:
        return answer(turn, result, index, slot)
    if isinstance(result, Problem) or not turn.dossier.accepting or slot.part == "adder":
        return turn.say("error.stale_button")   # an old "add an item?" adds nothing here
    if not may_answer(turn, slot):
        return not_assigned(turn)
    turn.set(slot.key, result)   # a valid edit from an older keyboard
    settle(turn, slot, result)
    turn.say("edit.done")
    if turn.state.mode == ASKING and turn.current() is None:
        advance(turn, -1)        # the edit closed the question being asked: ask the next open one


def on_toggle(turn: Turn, event: Inbound) -> None:
    found = turn.current()
    if found is None or event.ref != turn.state.cursor or len(event.values) != 1:
        return turn.say("error.stale_button")
    index, slot = found
    q = slot.question
    if q is None or KINDS[q.kind].form is not _SEVERAL or slot.part or event.values[0] not in q.choices:
        return turn.say("error.stale_button")
    pending = list(turn.state.pending)
    value = event.values[0]
    pending = [v for v in pending if v != value] if value in pending else pending + [value]
    turn.state = replace(turn.state, pending=tuple(c for c in q.choices if c in pending))
    turn.out.append(prompt(turn, slot, turn.slots(), update=True))


def on_no_question(turn: Turn) -> None:
    if turn.state.mode == IDLE:
        return idle(turn, turn.slots())
    turn.say("error.not_applicable")
    advance(turn, -1)


def welcome(turn: Turn, language_hint: str) -> None:
    code = language_hint.split("-")[0].lower() if language_hint else ""
    if code in turn.t.locales:
        turn.state = replace(turn.state, locale=code)
    texts = turn.flow.text(turn.state.locale)
    intro = turn.tr("welcome", title=texts.title) + (f"\n\n{texts.intro}" if texts.intro else "")
    turn.say_text(intro + "\n\n" + status_text(turn))
    advance(turn, -1)


def status_text(turn: Turn) -> str:
    d = turn.dossier
    if d.status == "frozen":
        return turn.tr("status.frozen")
    if d.status == "submitted":
        key = "status.amended" if d.amended else "status.submitted"
        return turn.tr(key, when=d.submitted_at, version=str(d.version))
    return turn.tr("status.draft")


