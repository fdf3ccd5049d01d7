"""Random conversations keep the invariants (see fuzz.py); a small budget here, 5 minutes in the soak."""
from __future__ import annotations

from hypothesis.stateful import run_state_machine_as_test

from .fuzz import Conversations, fuzz_settings


def test_random_conversations_keep_the_invariants():
    examples, submitted = Conversations.examples, Conversations.submissions
    run_state_machine_as_test(Conversations, settings=fuzz_settings(examples=30, steps=40))
    assert Conversations.examples - examples >= 30
    assert Conversations.submissions > submitted     # "submitted implies complete" was exercised
