"""What the engine shows: prompts, values, progress, recap and receipt."""
from __future__ import annotations

from .events import Option, Outgoing, OutKind
from .flow import JSON, Kind, QuestionText, Volet
from .kinds import CHOICE_KINDS, KINDS, Form, show_kind
from .numbers import label
from .turn import Turn
from .walk import Slot, is_answered, is_required, item_count, remember

# Enum members read on every event, as module constants: reading one through its class
# goes through the Enum metaclass's __getattr__ hook, a Python-level call each time
_FILE_KIND = Kind.FILE
_NOTICE_KIND = Kind.NOTICE
_SEVERAL = Form.SEVERAL
_PROMPT = OutKind.PROMPT


def qtext(turn: Turn, question_id: str) -> QuestionText:
    return turn.flow.text(turn.state.locale).questions[question_id]


def volet_title(turn: Turn, volet_id: str) -> str:
    return turn.flow.text(turn.state.locale).volets[volet_id].title


def yes_no_options(turn: Turn) -> tuple[Option, ...]:
    return (Option("yes", turn.tr("common.yes")), Option("no", turn.tr("common.no")))


def options(turn: Turn, slot: Slot) -> tuple[Option, ...]:
    q = slot.question
    if slot.part in ("concerned", "adder") or (q is not None and KINDS[q.kind].form is Form.YES_NO and not slot.part):
        return yes_no_options(turn)
    if q is not None and q.kind in CHOICE_KINDS and not slot.part:
        labels = qtext(turn, q.id).choices
        return tuple(Option(c, labels.get(c, c)) for c in q.choices)
    return ()


def show_value(turn: Turn, slot: Slot, value: JSON) -> str:
    q = slot.question
    if isinstance(value, bool):
        return turn.tr("common.yes" if value else "common.no")
    if q is None or slot.part:
        return str(value)
    if q.kind in CHOICE_KINDS:
        labels = qtext(turn, q.id).choices
        chosen = value if isinstance(value, list) else [value]
        return ", ".join(labels.get(str(c), str(c)) for c in chosen)
    if q.kind is _FILE_KIND and isinstance(value, dict):
        return turn.tr("value.file", name=str(value.get("name", "")),
                       size=str(max(1, int(value.get("size", 0)) // 1000)))
    if q.kind is _NOTICE_KIND:
        return turn.tr("value.notice")
    shown = show_kind(q.kind, value, turn.state.locale)
    unit = qtext(turn, q.id).unit if q.unit else ""
    return f"{value if shown is None else shown} {unit}".strip()


def slot_label(turn: Turn, slot: Slot) -> str:
    if slot.part == "concerned":
        return turn.tr("volet.concerned", title=volet_title(turn, slot.volet.id))
    assert slot.question is not None
    text = qtext(turn, slot.question.id)
    if slot.part == "adder":
        count = item_count(turn.answers, slot.question.id)
        return turn.tr("repeat.items", question=text.text, item=text.item, count=str(count))
    if slot.part == "other":
        return text.other
    if slot.item >= 0 and slot.question.parent:
        item = qtext(turn, slot.question.parent).item
        return f"[{item} {slot.item + 1}] {text.text}"
    return text.text


def progress(turn: Turn, slot: Slot, all_slots: list[Slot]) -> str:
    place = turn.view().place.get(slot.key) if all_slots is turn.slots() else None
    if place is None:        # another list than the turn's: count in it
        volet = slot.volet
        in_volet = [s for s in all_slots if s.volet is volet]
        position = next(i for i, s in enumerate(in_volet, 1) if s.key == slot.key)
        index = next(i for i, v in enumerate(turn.flow.volets, 1) if v.id == volet.id)
        place = (index, position, len(in_volet))
    v, n, nt = place
    # the volet's kind of counter is looked at only when the line is built
    return remember(turn.flow, ("progress", turn.t, turn.state.locale, slot.volet.id, place),
                    lambda: turn.tr("progress" if _fixed_total(slot.volet) else "progress_about",
                                    volet=volet_title(turn, slot.volet.id), v=str(v),
                                    vt=str(len(turn.flow.volets)), n=str(n), nt=str(nt)))


def _fixed_total(volet: Volet) -> bool:
    """Whether a volet always asks the same number of questions (no condition, no repeat
    block, no "other" text): its counter then says "4/10", else "4 · environ 10"."""
    return not any(q.when is not None or q.kind is Kind.REPEAT or q.other for q in volet.questions)


def _prompt_text(turn: Turn, slot: Slot) -> str:
    q = slot.question
    if slot.part == "adder":
        assert q is not None
        text = qtext(turn, q.id)
        count = item_count(turn.answers, q.id)
        key = "repeat.first" if count == 0 else "repeat.more"
        return turn.tr(key, question=text.text, item=text.item, count=str(count))
    lines = [slot_label(turn, slot)]
    if q is not None and not slot.part:
        text = qtext(turn, q.id)
        spec = KINDS[q.kind]
        if spec.hint:
            lines.append(turn.tr(spec.key(turn.transport, spec.hint), **spec.hint_params(q)))
        if q.unit and text.unit:
            lines.append(turn.tr("hint.unit", unit=text.unit))
        if text.help:
            lines.append(turn.tr("hint.help_available"))
    return "\n".join(lines)


def _fixed(turn: Turn, slot: Slot) -> tuple[str, tuple[Option, ...], tuple[Option, ...]]:
    """What a prompt shows that depends only on the flow, the messages, the language and the
    slot (its text and hints, its choices, the shortcuts), built once."""
    return remember(turn.flow, (turn.t, turn.state.locale, turn.transport, slot.key, slot.part),
                    lambda: (_prompt_text(turn, slot), options(turn, slot), _actions(turn)))


def _actions(turn: Turn) -> tuple[Option, ...]:
    """The shortcuts, one tuple per flow, messages and language (shared by every prompt, so a
    transport may keep what it builds from them by identity)."""
    return remember(turn.flow, ("actions", turn.t, turn.state.locale), lambda: (
        Option(turn.tr("action.back_command"), turn.tr("action.back")),
        Option(turn.tr("action.skip_command"), turn.tr("action.skip"))))


def prompt(turn: Turn, slot: Slot, all_slots: list[Slot], intro: str = "",
           update: bool = False) -> Outgoing:
    lines = [intro] if intro else []
    if slot.part == "adder":    # its text counts the items already given
        text, choices, actions = _prompt_text(turn, slot), options(turn, slot), _fixed(turn, slot)[2]
    else:
        text, choices, actions = _fixed(turn, slot)
    if all_slots and all_slots[0].key == slot.key:
        first = actions     # nothing comes before the first question (the tuple shared too)
        actions = remember(turn.flow, ("first", first), lambda: first[1:])
    lines.append(text)
    value = turn.answers.get(slot.key)
    if value is not None and slot.part != "adder":
        lines.append(turn.tr("prompt.current", value=show_value(turn, slot, value)))
    q = slot.question
    if not is_answered(slot, turn.answers) and not is_required(slot, turn.answers):
        lines.append(turn.tr("hint.optional"))
    multi = q is not None and KINDS[q.kind].form is _SEVERAL and not slot.part
    selected = turn.state.pending if multi else ()
    if multi and not selected and isinstance(value, list):
        selected = tuple(value)
    return Outgoing(_PROMPT, "\n".join(lines), header=progress(turn, slot, all_slots),
                    ref=slot.key, options=choices, multi=multi,
                    selected=selected, actions=actions, update=update)


def recap(turn: Turn, all_slots: list[Slot], volet_id: str = "") -> str:
    lines: list[str] = []
    current = ""
    for slot in all_slots:
        if volet_id and slot.volet.id != volet_id:
            continue
        if slot.volet.id != current:
            current = slot.volet.id
            lines.append("")
            lines.append(f"== {volet_title(turn, current)} ==")
        if slot.part == "adder":
            continue
        value = turn.answers.get(slot.key)
        shown = show_value(turn, slot, value) if value is not None else turn.tr("value.none")
        lines.append(f"{label(turn.flow, slot)}. {slot_label(turn, slot)} → {shown}")
    return "\n".join(lines).strip()


def volet_summary(turn: Turn, all_slots: list[Slot]) -> str:
    lines = []
    for volet in turn.flow.volets:
        own = [s for s in all_slots if s.volet.id == volet.id and s.part != "adder"]
        if not own:
            continue
        done = sum(1 for s in own if is_answered(s, turn.answers))
        if turn.answers.get(f"volet:{volet.id}") is False:
            lines.append(turn.tr("summary.not_concerned", title=volet_title(turn, volet.id)))
        else:
            lines.append(turn.tr("summary.volet", title=volet_title(turn, volet.id),
                                 done=str(done), total=str(len(own))))
    return "\n".join(lines)
