"""Every value the bot stores, for every kind of question of the bundled flows, is shown
(in French and in English) in a form that, typed back, gives the same stored value."""
from __future__ import annotations

from datetime import date

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tnlbot.core.answers import Problem
from tnlbot.core.kinds import parse
from tnlbot.core.machine import Mode
from tnlbot.core.flow import Kind, Question
from tnlbot.core.prompts import show_value
from tnlbot.core.turn import Dossier, State, Turn
from tnlbot.core.walk import Slot
from tnlbot.flows import load_all
from tnlbot.i18n import load_catalog

FLOWS = load_all()
CATALOG = load_catalog()
QUESTIONS = [(flow, q) for flow in FLOWS.values() for q in flow.questions.values()
             if q.kind not in (Kind.FILE, Kind.REPEAT, Kind.NOTICE)]
KINDS = {q.kind for _, q in QUESTIONS}

_words = st.text(st.characters(whitelist_categories=("Lu", "Ll", "Nd"), whitelist_characters=" -'’.,()&/"),
                 min_size=1, max_size=40)


def typed(q: Question) -> st.SearchStrategy[str]:
    """What an agent may type at a question of this kind (valid or not)."""
    low = int(q.minimum) if q.minimum is not None else -10**6
    high = int(q.maximum) if q.maximum is not None else 10**9
    numbers = {
        Kind.INTEGER: st.integers(low, high).map(str),
        Kind.DECIMAL: st.decimals(low, high, places=2, allow_nan=False).map(lambda d: str(d).replace(".", ",")),
        Kind.PERCENT: st.decimals(0, 100, places=1, allow_nan=False).map(lambda d: f"{d} %"),
    }
    by_kind = {
        Kind.YES_NO: st.sampled_from(["oui", "non", "Oui, bien sûr", "Non, pas encore…", "yes", "no"]),
        Kind.SINGLE: st.integers(1, len(q.choices)).map(str),
        Kind.MULTI: st.lists(st.integers(1, max(1, len(q.choices))), min_size=1, max_size=4)
        .map(lambda ns: ", ".join(map(str, ns))),
        Kind.SHORT_TEXT: _words, Kind.LONG_TEXT: _words,
        Kind.DATE: st.dates(date(1990, 1, 1), date(2030, 12, 31)).map(lambda d: d.strftime("%d/%m/%Y")),
        Kind.EMAIL: st.sampled_from(["maire@münchen.de", "élodie@mairie.fr", "DSI@Ville.FR", "a.b+c@x-y.bzh"]),
        Kind.URL: st.sampled_from(["www.ville.fr", "https://Ville.FR/Open-Data?x=1", "http://münchen.de/a"]),
        Kind.PHONE: st.sampled_from(["01 23 45 67 89", "+33 (0)6 12 34 56 78", "0033467000001",
                                     "+32 2 123 45 67"]),
        Kind.SIREN: st.sampled_from(["732 829 320", "213300635"]),
        Kind.SIRET: st.sampled_from(["732 829 320 00074", "21330063500017"]),
        Kind.DEPARTEMENT: st.sampled_from(["34", "2a", "974", "1"]),
        **numbers,
    }
    return by_kind[q.kind]


def reader(flow, locale: str) -> Turn:
    return Turn(flow, CATALOG, State(Mode.ASKING, "", locale), Dossier(campaign_dates=("2026-01-01", "2026-12-31")), {})


def test_every_kind_of_the_bundled_flows_is_covered():
    assert KINDS >= {Kind.YES_NO, Kind.SINGLE, Kind.MULTI, Kind.SHORT_TEXT, Kind.LONG_TEXT,
                     Kind.INTEGER, Kind.DECIMAL, Kind.PERCENT, Kind.DATE, Kind.EMAIL, Kind.URL,
                     Kind.PHONE, Kind.SIREN, Kind.DEPARTEMENT}


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(QUESTIONS).flatmap(lambda fq: st.tuples(st.just(fq), typed(fq[1]))),
       st.sampled_from(["fr", "en"]))
def test_a_stored_value_shown_and_typed_back_is_the_same_value(case, locale):
    (flow, q), text = case
    q = Question(**{**{f: getattr(q, f) for f in q.__slots__}, "min_date": "", "max_date": ""}) \
        if q.kind is Kind.DATE else q
    labels = flow.text("fr").questions[q.id].choices
    stored = parse(text, q, labels, "fr")
    assume(not isinstance(stored, Problem))
    shown = show_value(reader(flow, locale), Slot(q.id, flow.volet(q.volet), q), stored)
    unit = flow.text(locale).questions[q.id].unit if q.unit else ""
    shown = shown.removesuffix(" " + unit) if unit else shown      # the unit is said apart
    again = parse(shown, q, flow.text(locale).questions[q.id].choices, locale)
    assert again == stored, (text, shown)


@pytest.mark.parametrize("label", ["Oui, sur notre propre portail", "Pas encore, c'est en projet"])
def test_a_choice_whose_label_holds_a_comma_is_read_back_among_others(label):
    q = Question("q", Kind.MULTI, "v", choices=("a", "b", "c"))
    labels = {"a": label, "b": "Autre", "c": "Troisième"}
    assert parse(f"Autre, {label}", q, labels) == ["a", "b"]
