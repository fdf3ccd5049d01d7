"""Commands (/aide, /retour, /deposer...) and the routing of every event."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Mapping

from . import answers as parsing
from . import numbers
from .problem import Problem
from .dialog import (advance, ask, idle, on_choice, on_file, on_text, on_toggle,
                     reprompt, status_text, values_for)
from .events import Inbound, InboundKind, Option, Outgoing, OutKind
from .flow import JSON
from .machine import ASKING, ASK_CONFIRMATION, CANCEL, CONFIRM, CONFIRMING, LEAVE, Condition, Refused
from .prompts import qtext, recap, volet_summary, yes_no_options
from .turn import Turn
from .walk import Slot, applicable_answers, is_answered, missing

@dataclass(frozen=True, slots=True)
class Command:
    """A command, declared once: what it does, its French and English names (the menu's),
    other spellings people type, and whether Telegram's menu shows it."""
    intent: str
    fr: str
    en: str
    aliases: tuple[str, ...] = ()
    menu: bool = True


# In the order of Telegram's menu; each intent has its handler in HANDLERS below.
REGISTRY: tuple[Command, ...] = (
    Command("help", "aide", "help"),
    Command("back", "retour", "back"),
    Command("skip", "passer", "skip"),
    Command("recap", "recap", "recap", ("récap",)),
    Command("edit", "modifier", "edit"),
    Command("missing", "manquant", "missing"),
    Command("goto", "aller", "goto"),
    Command("status", "statut", "status"),
    Command("submit", "deposer", "submit", ("déposer",)),
    Command("cancel", "annuler", "cancel"),
    Command("language", "langue", "language"),
    Command("start", "start", "start", ("demarrer", "démarrer", "reprendre"), menu=False),
)
COMMANDS: Mapping[str, str] = {name: command.intent for command in REGISTRY
                               for name in (command.fr, command.en, *command.aliases)}

Handler = Callable[[Turn, str], None]
_YES_NO: Mapping[tuple[str, ...], JSON | Problem] = {("yes",): True, ("no",): False}


def dispatch(turn: Turn, event: Inbound) -> None:
    if turn.state.mode == CONFIRMING:
        if event.kind is InboundKind.TEXT:
            return on_confirmation(turn, parsing.parse_yes_no(event.text.strip(), None, {}))
        if event.kind is InboundKind.CHOICE and event.ref == "confirm":
            return on_confirmation(turn, _YES_NO.get(event.values, Problem("x")))
    handler = ROUTES.get(event.kind)
    if handler is None:
        return turn.say("error.unrecognised")
    handler(turn, event)


def on_command(turn: Turn, event: Inbound) -> None:
    name = COMMANDS.get(parsing.fold(event.command)) or COMMANDS.get(event.command.lower())
    if name is None:   # echoed without control or bidi characters: a terminal would run them
        shown = "".join(c for c in event.command[:40] if c.isprintable())
        return turn.say("error.unknown_command", name=shown)
    args = parsing.clean_text(event.text) if event.text.strip() else ""
    if isinstance(args, Problem):
        return turn.say(args.key, **args.params)
    if name not in ("cancel", "submit"):
        turn.fire(LEAVE)   # any other command leaves a confirmation (refused when there is none)
    HANDLERS[name](turn, args)


def _help(turn: Turn, args: str) -> None:
    found = turn.current()
    more = "\n" + turn.tr("help.terminal") if turn.transport == "console" else ""
    text = turn.tr("help.commands", more=more)
    if found is not None and found[1].question is not None and not found[1].part:
        help_text = qtext(turn, found[1].question.id).help
        if help_text:
            text = turn.tr("help.question", help=help_text) + "\n\n" + text
    turn.say_text(text)
    reprompt(turn)


def _back(turn: Turn, args: str) -> None:
    all_slots = turn.slots()
    found = turn.current()
    index = found[0] if found else len(all_slots)
    previous = [i for i in range(index) if not _is_notice(all_slots[i])]
    if not previous:
        turn.say("error.no_previous")
        return reprompt(turn)
    ask(turn, all_slots[previous[-1]], all_slots)


def _is_number(text: str) -> bool:
    """ASCII digits only, and a sane length: '²' or '٣' are digits to str.isdigit()."""
    return text.isascii() and text.isdigit() and len(text) <= 9


def _is_notice(slot: Slot) -> bool:
    return slot.question is not None and slot.question.kind.value == "notice" and not slot.part


def _skip(turn: Turn, args: str) -> None:
    found = turn.current()
    if found is None:
        return reprompt(turn)
    index, slot = found
    all_slots = turn.slots()
    if is_answered(slot, turn.answers) and index + 1 < len(all_slots):
        return ask(turn, all_slots[index + 1], all_slots)   # reviewing: step to the next one
    if slot.key not in turn.state.skipped:
        turn.state = replace(turn.state, skipped=turn.state.skipped + (slot.key,))
    advance(turn, index)


def _find(turn: Turn, arg: str, all_slots: list[Slot]) -> int | None:
    """A slot by its number in the recap (`12`, `14.2`, `3a`) or by its key."""
    arg = arg.strip()
    found = numbers.find(turn.flow, all_slots, arg)
    if found is not None:
        return found
    return next((i for i, s in enumerate(all_slots) if s.key == arg), None)


def _edit(turn: Turn, args: str) -> None:
    all_slots = turn.slots()
    index = _find(turn, args, all_slots) if args else None
    if index is None or _is_notice(all_slots[index]):
        return turn.say("edit.usage", max=str(numbers.highest(turn.flow)))
    ask(turn, all_slots[index], all_slots)


def _goto(turn: Turn, args: str) -> None:
    all_slots = turn.slots()
    volets = turn.flow.volets
    target = args.strip()
    volet_id = ""
    if _is_number(target) and 1 <= int(target) <= len(volets) and not target.startswith("0"):
        volet_id = volets[int(target) - 1].id
    elif any(v.id == target for v in volets):
        volet_id = target
    if not volet_id:   # a number is a volet's, never a recap item's (`12.`, `14.2`: /modifier N)
        if any(s.key == target for s in all_slots):   # a question's key
            return _edit(turn, target)
        return turn.say("goto.usage", max=str(len(volets)))
    own = [i for i, s in enumerate(all_slots) if s.volet.id == volet_id]
    if not own:
        return turn.say("goto.not_applicable")
    open_ = [i for i in own if turn.answers.get(all_slots[i].key) is None and not _is_notice(all_slots[i])]
    ask(turn, all_slots[(open_ or own)[0]], all_slots)


def _recap(turn: Turn, args: str) -> None:
    volet_id = ""
    if args:
        volets = turn.flow.volets
        if _is_number(args) and 1 <= int(args) <= len(volets):
            volet_id = volets[int(args) - 1].id
        elif any(v.id == args for v in volets):
            volet_id = args
        else:
            return turn.say("recap.usage", max=str(len(volets)))
    all_slots = turn.slots()
    turn.out.append(Outgoing(OutKind.NOTICE, turn.tr("recap.title") + "\n" + recap(turn, all_slots, volet_id)))
    _pending_again(turn)


def _pending_again(turn: Turn) -> None:
    """After reading (/recap, /manquant, /statut), the question still waiting is asked again."""
    if turn.state.mode == ASKING and turn.current() is not None:
        reprompt(turn)


def _missing(turn: Turn, args: str) -> None:
    _list_missing(turn)
    _pending_again(turn)


def _list_missing(turn: Turn) -> None:
    lacking = missing(turn.flow, turn.answers)
    if not lacking:
        return turn.say("missing.none")
    from .prompts import slot_label
    lines = [turn.tr("missing.title", n=str(len(lacking)))]
    shown = [(numbers.label(turn.flow, s), s) for _, s in lacking]
    lines += [f"{n}. {slot_label(turn, s)}" for n, s in shown[:30]]
    actions = tuple(Option(f"/modifier {n}", n) for n, _ in shown[:10])
    turn.out.append(Outgoing(OutKind.NOTICE, "\n".join(lines), actions=actions))


def _language(turn: Turn, args: str) -> None:
    code = args.lower().strip()
    if code not in turn.t.locales:
        options = tuple(Option(f"/langue {c}", turn.t(c, "language.name")) for c in turn.t.locales)
        return turn.out.append(Outgoing(OutKind.NOTICE, turn.tr("language.usage"), actions=options))
    turn.state = replace(turn.state, locale=code)
    turn.say("language.changed")
    reprompt(turn) if turn.state.mode == ASKING else None


def _start(turn: Turn, args: str) -> None:
    turn.say_text(turn.tr("resume") + "\n" + status_text(turn))
    if turn.state.mode == ASKING:
        return reprompt(turn)
    advance(turn, -1)


def _status(turn: Turn, args: str) -> None:
    turn.say_text(status_text(turn) + "\n" + volet_summary(turn, turn.slots()))
    _pending_again(turn)


def _cancel(turn: Turn, args: str) -> None:
    if turn.fire(CANCEL) is not None:
        return turn.say("cancel.nothing")
    turn.say("submit.cancelled")
    advance(turn, -1)


def _submit(turn: Turn, args: str) -> None:
    refused = turn.fire(ASK_CONFIRMATION)
    if refused is not None:
        return _not_now(turn, refused)
    all_slots = turn.slots()
    turn.out.append(Outgoing(OutKind.NOTICE, turn.tr("recap.title") + "\n" + recap(turn, all_slots)))
    turn.out.append(Outgoing(OutKind.PROMPT, turn.tr("submit.confirm"), ref="confirm",
                             options=yes_no_options(turn)))


def _not_now(turn: Turn, refused: Refused) -> None:
    """What stands in the way of a submission, as the machine found it."""
    d = turn.dossier
    condition = refused.condition
    if condition is Condition.ACCEPTING:
        return turn.say_text(d.closed_text)
    if condition is Condition.RESPONSIBLE:
        return turn.say("submit.not_responsible")
    if condition is Condition.COMPLETE:
        return _list_missing(turn)
    if condition is Condition.CHECKED:   # answers copied from last year (campaigns feature)
        text = turn.tr("teams.submit.to_check", n=str(d.to_check))
        return turn.out.append(Outgoing(OutKind.NOTICE, text, actions=(Option("/verifier", "/verifier"),)))
    if condition is Condition.CLAIM_VERIFIED:
        return turn.say("claims.submit_pending")
    if condition is Condition.ELU_CONFIRMED:
        return turn.out.append(Outgoing(OutKind.NOTICE, turn.tr("teams.submit.elu_missing"),
                                        actions=(Option("/elu", "/elu"),)))
    if condition is Condition.SOMETHING_NEW:
        return turn.say("submit.nothing_new", when=d.submitted_at)
    reprompt(turn)       # not from this mode (a conversation not started yet)


def on_confirmation(turn: Turn, result: JSON | Problem) -> None:
    if isinstance(result, Problem):
        return turn.say("submit.confirm_again")
    if result is False:
        turn.say("submit.cancelled")
        return advance(turn, -1)
    if turn.fire(CONFIRM) is not None:   # no longer ready: say why, from the start
        turn.fire(LEAVE)
        return _submit(turn, "")
    submitted(turn)


def submitted(turn: Turn) -> None:
    """The confirmed submission (the machine moved to idle): its answers, version and receipt."""
    turn.submission = applicable_answers(turn.flow, turn.answers)
    version = turn.dossier.version + 1
    turn.dossier = replace(turn.dossier, status="submitted", version=version, amended=False,
                           submitted_at=turn.dossier.now_local)
    turn.state = replace(turn.state, cursor="", skipped=())
    summary = volet_summary(turn, turn.slots())
    turn.say("submit.receipt", version=str(version), summary=summary,
             when=turn.dossier.now_local)


HANDLERS: Mapping[str, Handler] = {
    "help": _help, "back": _back, "skip": _skip, "edit": _edit, "goto": _goto,
    "recap": _recap, "missing": _missing, "language": _language, "start": _start,
    "status": _status, "cancel": _cancel, "submit": _submit,
}

__all__ = ["COMMANDS", "REGISTRY", "Command", "dispatch", "idle", "values_for"]

# Each kind of event to its handler (built once: reading an Enum's member goes through its
# metaclass's __getattr__, a Python call each time)
ROUTES: Mapping[InboundKind, Callable[[Turn, Inbound], None]] = {
    InboundKind.TEXT: on_text, InboundKind.COMMAND: on_command,
    InboundKind.CHOICE: on_choice, InboundKind.TOGGLE: on_toggle,
    InboundKind.FILE: on_file,
}
