"""The walk keeps slot lists by the answers it reads: a kept list is always the fresh walk.

Random candidatures (choices, "other" texts, optional volets, repeat blocks with
sub-answers, numbers next to booleans) are walked twice: once to fill the
table, then again; every list served from the table must equal a walk done
from scratch on the same answers.
"""
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tnlbot.core.flow import Kind
from tnlbot.core.walk import _plan, _walk, concerned_key, slots


def values_for(question):
    pool = [None, True, False, 0, 1, 2, "1", "", "autre texte", 3500, 3501, 49, 50]
    if question.choices:
        pool += list(question.choices) + [list(question.choices[:2]), [question.choices[-1]]]
    return st.sampled_from(pool)


@st.composite
def candidature(draw, flow):
    answers = {}
    for volet in flow.volets:
        if volet.optional:
            answers[concerned_key(volet.id)] = draw(st.sampled_from([None, True, False]))
        for q in volet.questions:
            if q.kind is Kind.REPEAT:
                count = draw(st.sampled_from([None, 0, 1, 2, 3, True]))
                if count is not None:
                    answers[q.id] = count
                for index in range(3):
                    for sub in q.questions:
                        value = draw(values_for(sub))
                        if value is not None:
                            answers[f"{q.id}[{index}].{sub.id}"] = value
                continue
            value = draw(values_for(q))
            if value is not None:
                answers[q.id] = value
            if q.other and draw(st.booleans()):
                answers[q.id + ".other"] = "précisé"
    return answers


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_slot_lists_from_the_table_are_the_fresh_walk(flows, data):
    for flow in flows.values():
        plan = _plan(flow)
        batch = [data.draw(candidature(flow)) for _ in range(6)]
        for answers in batch:
            slots(flow, answers)
        for answers in batch:
            assert [s.key for s in slots(flow, answers)] == [s.key for s in _walk(plan, answers)]


def test_a_changed_condition_answer_changes_the_list(flows):
    flow = flows["tnl-2022"]
    before = [s.key for s in slots(flow, {"deja_labellise": False})]
    after = [s.key for s in slots(flow, {"deja_labellise": True})]
    assert len(after) > len(before)
    assert [s.key for s in slots(flow, {"deja_labellise": False})] == before


def test_the_returned_list_is_the_callers_own(flows):
    flow = flows["tnl-2022"]
    mine = slots(flow, {})
    mine.clear()
    assert slots(flow, {}) != []
