"""Property-based: random sequences of commands and answers never break the engine's invariants."""
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tnlbot.core.engine import Dossier, State, handle
from tnlbot.core.events import Inbound, InboundKind, OutKind
from tnlbot.core.flow import Kind
from tnlbot.core.walk import applicable_answers, is_required, missing, slots

from .autofill import valid_answer

COMMANDS = ["aide", "retour", "passer", "recap", "manquant", "deposer", "langue", "statut",
            "annuler", "start", "modifier", "aller", "help", "skip", "back", "submit"]
TEXTS = ["oui", "non", "1", "2", "3", "1, 2", "0", "99", "", "abc", "12", "-4", "3,5", "150 %",
         "31/02/2024", "15/03/2022", "x@y.fr", "https://a.fr", "javascript:alert(1)", "01 23 45 67 89",
         "732829320", "123456789", "\x00", "\u202e", "=SUM(A1)", "Testbourg", "a" * 300]

step = st.one_of(
    st.tuples(st.just("command"), st.sampled_from(COMMANDS),
              st.sampled_from(["", "1", "2", "3", "7", "40", "en", "fr", "x", "siren", "logiciels"])),
    st.tuples(st.just("text"), st.sampled_from(TEXTS), st.just("")),
    st.tuples(st.just("valid"), st.just(""), st.just("")),
    st.tuples(st.just("press"), st.sampled_from(["yes", "no", "commune", "libreoffice", ""]),
              st.sampled_from(["", "deja_labellise", "type_collectivite", "confirm", "siren"])),
    st.tuples(st.just("toggle"), st.sampled_from(["libreoffice", "firefox", "autre", "x"]), st.just("")),
)


def inbound(kind, a, b, state, n):
    base = dict(transport="t", external_id=str(n), chat_id="c", user_id="u")
    if kind == "command":
        return Inbound(kind=InboundKind.COMMAND, command=a, text=b, **base)
    if kind == "press":
        return Inbound(kind=InboundKind.CHOICE, ref=b or state.cursor, values=(a,) if a else (), **base)
    if kind == "toggle":
        return Inbound(kind=InboundKind.TOGGLE, ref=state.cursor, values=(a,), **base)
    return Inbound(kind=InboundKind.TEXT, text=a, **base)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(step, min_size=1, max_size=60))
def test_random_conversations_keep_the_invariants(flows, catalog, steps):
    flow = flows["tnl-2022"]
    state, dossier, answers = State(), Dossier(), {}
    for n, (kind, a, b) in enumerate(steps):
        if kind == "valid":
            a = valid_answer(flow, state.cursor, {"__items__": "non"}) if state.cursor and state.cursor != "confirm" else "oui"
            kind = "text"
        outcome = handle(flow, catalog, state, dossier, answers, inbound(kind, a, b, state, n))
        state, dossier = outcome.state, outcome.dossier
        answers = outcome.applied(answers)
        applicable = slots(flow, answers)
        # the cursor always points at an applicable question (or nowhere when idle)
        if state.mode == "asking":
            assert state.cursor in {s.key for s in applicable}
        # every reply is said with at least one message
        assert outcome.messages
        # a submission holds only applicable answers, and nothing required is missing
        if outcome.submission is not None:
            assert dict(outcome.submission) == applicable_answers(flow, answers)
            assert not missing(flow, answers)
            assert dossier.status == "submitted"
        # a recap never shows an answer whose condition is false
        for message in outcome.messages:
            if message.kind is OutKind.NOTICE and message.text.startswith(("Récapitulatif", "Summary")):
                shown = {line.split(".", 1)[0] for line in message.text.splitlines() if ". " in line}
                assert len(shown) <= len(applicable)


def test_required_slots_are_a_subset_of_applicable_slots(flows):
    flow = flows["tnl-2022"]
    answers = {"deja_labellise": True, "type_collectivite": "autre", "volet:logiciels": False}
    keys = {s.key for s in slots(flow, answers)}
    assert "annees_label" in keys and "type_collectivite.other" in keys
    assert not any(k.startswith("postes_linux") for k in keys)
    for _number, slot in missing(flow, answers):
        assert is_required(slot, answers) and slot.key in keys
    assert all(q.kind is not Kind.NOTICE or not q.required for q in flow.questions.values())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(step, min_size=1, max_size=40))
def test_a_walk_handed_back_with_its_answers_changes_nothing(flows, catalog, steps):
    """An Outcome's `view` is the walk of the answers after it: handed back with them to the
    next event (as the store's copy of the answers does), the engine answers the same."""
    flow = flows["tnl-2022"]
    state, dossier, answers, kept = State(), Dossier(), {}, None
    for n, (kind, a, b) in enumerate(steps):
        if kind == "valid":
            a = valid_answer(flow, state.cursor, {"__items__": "non"}) if state.cursor and state.cursor != "confirm" else "oui"
            kind = "text"
        event = inbound(kind, a, b, state, n)
        outcome = handle(flow, catalog, state, dossier, answers, event, kept)
        fresh = handle(flow, catalog, state, dossier, answers, event)
        assert (outcome.state, outcome.changes, outcome.messages) == (fresh.state, fresh.changes, fresh.messages)
        state, dossier = outcome.state, outcome.dossier
        answers = outcome.applied(answers)
        kept = outcome.view
        if kept is not None:
            assert kept.slots == slots(flow, answers)
