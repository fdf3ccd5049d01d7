"""Hostile input at every question kind, on SQLite and PostgreSQL (commands: test_bad_commands.py).

For each of the 19 target questions (one per kind of the 2022 flow, plus the
"other" text, a repeat item, the "add an item?" and "concerned?" steps) the
whole corpus (corpus.py: empty, 1 MB, NUL, lone surrogates, bidi, zero-width,
emoji, HTML/Markdown, formulas, SQL, odd numbers and dates, javascript: URLs,
confusables) is typed. Each input is either refused, with exactly one error
message of the person's language and nothing changed (answers and cursor),
or accepted, with only that answer changed and its value as typed (texts) or
in canonical form (numbers, dates, choices). Never an exception.
"""
from __future__ import annotations

from .corpus import CORPUS, FAMILIES, FILE_NAMES, ident
from .hostile import (Tally, attempt, judge_acceptance, judge_message_safety, judge_refusal,
                      prepare, side_by_side)
from .known_bugs import file_bug, text_bug
from .targets import TARGETS, Target, stored_problem

REQUIRED_FAMILIES = {"empty", "huge", "control", "surrogates", "bidi", "zero-width", "emoji",
                     "markup", "formulas", "sql", "numbers", "dates", "urls"}


def test_the_corpus_holds_at_least_200_hostile_inputs_of_every_family():
    assert len(CORPUS) >= 200
    assert REQUIRED_FAMILIES <= set(FAMILIES)
    assert any(len(text) >= 1_000_000 for _, text in CORPUS)
    assert {t.kind for t in TARGETS} >= {"short_text", "long_text", "single_choice",
                                         "multiple_choice", "integer", "decimal", "percentage",
                                         "date", "email", "url", "phone", "siren", "yes_no", "file"}


def one_target(flow, catalog, app, locale: str, target: Target, inputs) -> Tally:
    """The inputs typed at one question, by one person of its own."""
    probe = prepare(app, locale, f"{target.key}-{locale}")
    tally = Tally()
    before = probe.goto(target.key)
    for text in inputs:
        if text_bug(target.kind, text):
            tally.counts["known bug"] += 1
            continue
        seen = attempt(tally, target.key, text, lambda: probe.text(text))
        if seen is None:
            continue
        problem = (judge_acceptance(flow, target, text, before, seen) if seen.settled
                   else judge_refusal(catalog, locale, before, seen))
        tally.counts["accepted" if seen.settled else "refused"] += 1
        if problem:
            tally.fail(target.key, text, problem)
        if seen.settled:
            before = probe.goto(target.key)
    return tally


def hostile_answers(app, flows, catalog, locale: str, inputs: list[str]) -> None:
    """Each target question in a conversation of its own, side by side on PostgreSQL."""
    tallies = side_by_side(app, [lambda t=t: one_target(flows["tnl-2022"], catalog, app, locale, t, inputs)
                                 for t in TARGETS])
    tally = Tally.merge(tallies)
    print(f"\n{len(TARGETS)} questions × {len(inputs)} inputs ({locale}): {dict(tally.counts)}")
    assert not tally.problems, tally.report()
    assert tally.counts["refused"] > tally.counts["accepted"] > 0


def test_hostile_answers_to_every_question_kind(any_store, make_app, flows, catalog):
    hostile_answers(make_app(any_store), flows, catalog, "fr", [text for _, text in CORPUS])


def test_hostile_answers_in_english_get_english_errors(sqlite_store, make_app, flows, catalog):
    """One input in three, in English: the same refusals, in the other language."""
    hostile_answers(make_app(sqlite_store), flows, catalog, "en", [text for _, text in CORPUS[::3]])


SIZES = [0, -1, 1, 10_000_000, 10_000_001, 10**12]


def test_hostile_files_at_a_file_question(any_store, make_app, flows, catalog):
    probe = prepare(make_app(any_store), "fr")
    tally = Tally()
    target = Target("deliberation", "file")
    sends = [(name, 1000, "application/pdf") for name in FILE_NAMES]
    sends += [("x.pdf", size, "application/pdf") for size in SIZES]
    sends += [("x.pdf", 1000, mime) for mime in ("", "\x00", "text/html", "a" * 500, "\u202e")]
    before = probe.goto(target.key)
    for name, size, mime in sends:
        if file_bug(name, mime):
            tally.counts["known bug"] += 1
            continue
        seen = attempt(tally, f"file {ident(mime)} {size}", name, lambda: probe.file(name, size, mime))
        if seen is None:
            continue
        tally.counts["accepted" if seen.settled else "refused"] += 1
        if not seen.settled:
            problem = judge_refusal(catalog, "fr", before, seen)
        else:
            stored = seen.answers.get(target.key)
            problem = None if (isinstance(stored, dict) and stored.get("name") == name
                               and name.lower().endswith((".pdf", ".odt")) and 0 < size <= 10_000_000
                               ) else f"accepted and stored {stored!r:.120}"
            before = probe.goto(target.key)
        if problem:
            tally.fail(f"file {ident(mime)} {size}", name, problem)
    assert not tally.problems, tally.report()
    assert tally.counts["accepted"] > 0


def test_hostile_buttons_change_nothing(any_store, make_app, flows, catalog):
    """Pressed values and refs no keyboard ever offered: refused, nothing changed."""
    flow = flows["tnl-2022"]
    probe = prepare(make_app(any_store), "fr")
    tally = Tally()
    ways = (("press", Target("dernier_niveau", "single_choice"), lambda text: probe.press("dernier_niveau", text)),
            ("toggle", Target("annees_label", "multiple_choice"), lambda text: probe.toggle("annees_label", text)),
            ("stale ref", Target("consultation_rgi", "yes_no"), lambda text: probe.press(text, "yes")))
    for how, target, send in ways:
        before = probe.goto(target.key)
        for _, text in CORPUS:
            seen = attempt(tally, how, text, lambda: send(text))
            if seen is None:
                continue
            tally.counts[how] += 1
            problem = judge_message_safety(seen)
            if seen.settled:
                problem = problem or stored_problem(flow, target, text, seen.answers[target.key])
                before = probe.goto(target.key)
            elif how != "toggle":
                problem = problem or judge_refusal(catalog, "fr", before, seen)
            elif seen.answers != before.answers:
                problem = "a toggle changed the answers"
            if problem:
                tally.fail(how, text, problem)
    assert not tally.problems, tally.report()
