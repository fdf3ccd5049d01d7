"""Drive the hostile corpus at one question or command and judge each reply.

Every judge returns a list of problems (empty: all good) rather than raising
at the first one, so a run reports every faulty input at once.
"""
from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

from tnlbot.core.flow import Flow
from tnlbot.i18n import Catalog

from .corpus import ident
from .messages import message_key, unsafe_characters
from .probe import Probe, Seen
from .targets import SETUP, Target, stored_problem


@dataclass
class Tally:
    problems: list[str] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)

    def fail(self, where: str, text: str, problem: str) -> None:
        self.problems.append(f"{where} ← {ident(text, 40)}: {problem}")

    @staticmethod
    def merge(tallies: list["Tally"]) -> "Tally":
        total = Tally()
        for tally in tallies:
            total.problems += tally.problems
            total.counts.update(tally.counts)
        return total

    def report(self, limit: int = 40) -> str:
        shown = "\n".join(self.problems[:limit])
        return f"{len(self.problems)} problems ({dict(self.counts)}):\n{shown}"


def side_by_side(app, jobs: list[Callable[[], Tally]]) -> list[Tally]:
    """Run independent conversations at once on PostgreSQL (its commits wait on the server,
    not on us), one after the other on SQLite (one writer at a time anyway)."""
    if app.store.is_sqlite:
        return [job() for job in jobs]
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda job: job(), jobs))


def prepare(app, locale: str, user: str = "") -> Probe:
    """A conversation where every target question applies, speaking `locale`."""
    probe = Probe(app, user or f"hostile-{locale}")
    probe.command("start")
    for key, line in SETUP:
        probe.goto(key)
        seen = probe.text(line)
        assert seen.settled, f"setting up {key} with {line!r}: {seen.texts}"
    if locale != "fr":
        assert probe.command("langue", locale).state["locale"] == locale
    return probe


def attempt(tally: Tally, where: str, text: str, send: Callable[[], Seen]) -> Seen | None:
    try:
        return send()
    except Exception as exc:  # noqa: BLE001 - a crash is what we are looking for
        tally.counts["raised"] += 1
        tally.fail(where, text, f"raised {type(exc).__name__}: {str(exc)[:120]}")
        return None


def judge_refusal(catalog: Catalog, locale: str, before: Seen, seen: Seen) -> str | None:
    """A refused input: one error message of the locale, nothing changed."""
    if seen.answers != before.answers:
        changed = {k for k in set(seen.answers) | set(before.answers)
                   if seen.answers.get(k) != before.answers.get(k)}
        return f"refused but the answers changed: {sorted(changed)[:5]}"
    if seen.state.get("cursor") != before.state.get("cursor"):
        return f"refused but the cursor moved to {seen.state.get('cursor')!r}"
    if len(seen.messages) != 1:
        return f"expected one error message, got {len(seen.messages)}: {seen.texts}"
    if message_key(catalog, locale, seen.messages[0].text, ("error.",)) is None:
        return f"not a {locale} error message: {seen.messages[0].text[:120]!r}"
    return None


def judge_acceptance(flow: Flow, target: Target, text: str, before: Seen, seen: Seen) -> str | None:
    """An accepted input: settled for the target, stored as the kind requires, nothing else."""
    if [s.ref for s in seen.settled] != [target.key]:
        return f"settled {[s.ref for s in seen.settled]}, expected [{target.key!r}]"
    if target.kind == "file":
        return f"a typed text was accepted for a file question: {seen.answers.get(target.key)!r:.80}"
    changed = {k for k in set(seen.answers) | set(before.answers)
               if seen.answers.get(k) != before.answers.get(k)}
    if target.kind == "adder":
        repeat = target.key.rstrip("+")
        said_no_again = not changed and seen.answers.get(repeat + ".done") is True
        return None if said_no_again or changed and changed <= {repeat, repeat + ".done"} \
            else f"changed {sorted(changed)[:5]}"
    if not changed <= {target.key}:
        return f"changed {sorted(changed)[:5]}, expected only {target.key!r}"
    return stored_problem(flow, target, text, seen.answers[target.key])


def judge_message_safety(seen: Seen) -> str | None:
    for text in seen.texts:
        bad = unsafe_characters(text)
        if bad:
            return f"the reply carries {bad[:3]}: {text[:80]!r}"
    return None
