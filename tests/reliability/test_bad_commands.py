"""Hostile arguments to every command, and hostile command names, on SQLite and PostgreSQL.

Every command the bot knows (the questionnaire's, and those of the features
that answer commands in the dispatch: teams and campaigns, jury, personal
data) gets each corpus input as its argument; then each input is typed as
a command name, with the confusables of corpus.COMMAND_NAMES. Never an
exception, always an answer, no answer changed, no control or bidi
character echoed; an argument /modifier, /aller, /recap or /langue cannot
use gets the usage or an error message of the person's language.
"""
from __future__ import annotations

import importlib

from tnlbot.core.answers import fold
from tnlbot.core.commands import COMMANDS

from .corpus import COMMAND_NAMES, CORPUS
from .hostile import Tally, attempt, judge_message_safety, prepare, side_by_side
from .known_bugs import command_bug, command_name_bug
from .messages import message_key

NAVIGATION = {"edit": "edit.usage", "goto": "goto.usage", "recap": "recap.usage",
              "language": "language.usage"}


def every_command() -> list[tuple[str, str]]:
    """(what it does, a name it answers to): one name per handler, French first."""
    chosen: dict[object, str] = {}
    for alias, handler in COMMANDS.items():
        chosen.setdefault(handler, alias)
    commands = [(str(handler), alias) for handler, alias in chosen.items()]
    for module, table in (("tnlbot.campaigns.hook", "COMMANDS"),):
        try:
            features = getattr(importlib.import_module(module), table)
        except (ImportError, AttributeError):
            continue
        seen: dict[object, str] = {}
        for alias, handler in features.items():
            seen.setdefault(handler, alias)
        commands += [(f"{module.split('.')[1]}:{alias}", alias) for alias in seen.values()]
    for name in ("jury", "mes_donnees", "oublier"):
        commands.append((f"jury:{name}", name))
    return commands


def erasing(handler: str, args: str) -> bool:
    """/oublier oui: the person asked, and confirmed, to be forgotten."""
    return handler == "jury:oublier" and fold(args) in ("oui", "yes", "confirmer", "confirm")


def plainly_unusable(args: str, flow_keys: set[str]) -> bool:
    """An argument no navigation command can use: not a number, a key or a language."""
    word = args.strip()
    return bool(word) and not (word.isdecimal() or word in flow_keys or word.lower() in ("fr", "en"))


def judge(catalog, handler: str, args: str, before, seen, keys: set[str]) -> str | None:
    if not seen.items:
        return "no answer at all"
    if seen.answers != before.answers and not erasing(handler, args):
        return "the answers changed"
    problem = judge_message_safety(seen)
    if problem or handler not in NAVIGATION or not plainly_unusable(args, keys):
        return problem
    locale = before.state.get("locale", "fr")
    first = seen.texts[0] if seen.texts else ""
    if message_key(catalog, locale, first, (NAVIGATION[handler], "error.")) is None:
        return f"not the usage or an error of {locale}: {first[:100]!r}"
    return None


def one_command(app, flows, catalog, handler: str, name: str) -> Tally:
    """Every corpus input as the argument of one command, by one person of its own."""
    probe = prepare(app, "fr", f"cmd-{name}")
    keys = {s.key for s in _slots(flows, probe)} | {v.id for v in flows["tnl-2022"].volets}
    if handler == "edit":       # /modifier takes a recap number as the recap shows it: "12." too
        shown = _numbers(flows, probe)
        keys |= shown | {n + "." for n in shown}
    tally = Tally()
    for _, text in CORPUS:
        if command_bug(handler, text):
            tally.counts["known bug"] += 1
            continue
        before = probe.last
        seen = attempt(tally, f"/{name}", text, lambda: probe.command(name, text))
        if seen is None:
            continue
        tally.counts["answered"] += 1
        problem = judge(catalog, handler, text, before, seen, keys)
        if problem:
            tally.fail(f"/{name}", text, problem)
        if seen.state.get("locale") != "fr" or seen.state.get("mode") == "confirming":
            probe.command("annuler")
            probe.command("langue", "fr")
    return tally


def test_hostile_arguments_to_every_command(any_store, make_app, flows, catalog):
    app = make_app(any_store)
    commands = every_command()
    tally = Tally.merge(side_by_side(app, [lambda h=h, n=n: one_command(app, flows, catalog, h, n)
                                           for h, n in commands]))
    print(f"\n{len(commands)} commands × {len(CORPUS)} arguments: {dict(tally.counts)}")
    assert not tally.problems, tally.report()


def _slots(flows, probe):
    from tnlbot.core.walk import slots
    return slots(flows["tnl-2022"], probe.last.answers)


def _numbers(flows, probe) -> set[str]:
    from tnlbot.core.numbers import label
    return {label(flows["tnl-2022"], s) for s in _slots(flows, probe)} - {""}


def test_hostile_command_names(any_store, make_app, catalog):
    hostile_command_names(make_app(any_store), catalog, "fr")


def test_hostile_command_names_in_english(sqlite_store, make_app, catalog):
    hostile_command_names(make_app(sqlite_store), catalog, "en")


def hostile_command_names(app, catalog, locale: str) -> None:
    probe = prepare(app, locale)
    tally = Tally()
    lines = COMMAND_NAMES + ["/" + text for _, text in CORPUS if text[:1] not in ("", " ", "/")]
    for line in lines:
        if command_name_bug(line.split(" ")[0]):
            tally.counts["known bug"] += 1
            continue
        before = probe.last
        seen = attempt(tally, "typed", line, lambda: probe.typed(line))
        if seen is None:
            continue
        tally.counts["answered"] += 1
        problem = judge(catalog, "", line, before, seen, set())
        if problem:
            tally.fail("typed", line, problem)
        if seen.state.get("locale") != locale:
            probe.command("langue", locale)
    assert not tally.problems, tally.report()
