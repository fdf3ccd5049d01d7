"""What the first answers after a start would otherwise pay for, paid beside the receiving.

A process loads some things on first use, so that it reaches its first prompt
sooner: the e-mail checker (`email_validator`, about 20 ms to import) and Babel's
data for each language (about 25 ms the first time a number or a date is shown
in it). Without this, the first person to give an e-mail address or a number
after a start waits that long once.

A long-running runner calls `warm_in_background` once its transport receives:
each kind of question its flows ask is parsed and shown once, in each language
the bot speaks, on a thread of its own (the event loop keeps receiving). What it
does is never kept anywhere but in those caches, and a failure is only logged.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping

from ..core.flow import Flow, Kind, Question
from ..core.kinds import parse, show_kind
from ..core.problem import Problem

log = logging.getLogger(__name__)

# a typed answer of each kind that loads something on first use
SAMPLES: Mapping[Kind, str] = {
    Kind.EMAIL: "contact@example.org",
    Kind.URL: "https://example.org",
    Kind.INTEGER: "1250",
    Kind.DECIMAL: "62.5",
    Kind.PERCENT: "62.5",
    Kind.DATE: "14/03/2021",
}


def first_of_each_kind(flows: Iterable[Flow]) -> list[Question]:
    """One question of each kind in SAMPLES that the flows ask."""
    found: dict[Kind, Question] = {}
    for flow in flows:
        for q in flow.questions.values():
            if q.kind in SAMPLES:
                found.setdefault(q.kind, q)
    return list(found.values())


def warm(flows: Iterable[Flow], locales: Iterable[str]) -> int:
    """Parse and show a sample answer to each such question in each language; returns
    how many were parsed."""
    questions = first_of_each_kind(flows)
    done = 0
    for locale in locales:
        for q in questions:
            value = parse(SAMPLES[q.kind], q, {}, locale)
            done += 1
            if not isinstance(value, Problem):
                show_kind(q.kind, value, locale)
    return done


def warm_in_background(flows: Mapping[str, Flow], locales: Iterable[str]) -> threading.Thread:
    """`warm` on a daemon thread (a stop never waits for it)."""
    chosen, languages = list(flows.values()), list(locales)

    def run() -> None:
        try:
            log.debug("answer kinds warmed (%d samples parsed)", warm(chosen, languages))
        except Exception:   # a sample a flow's limits refuse oddly is no reason to stop
            log.warning("warming up the answer kinds failed", exc_info=True)

    thread = threading.Thread(target=run, name="tnlbot-warm", daemon=True)
    thread.start()
    return thread
