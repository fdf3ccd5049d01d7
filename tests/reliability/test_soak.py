"""The long runs, excluded from the default test run (pyproject: -m 'not soak').

Run them with `python -m pytest -m soak tests/reliability`, or through the
entry point bench/run uses: `python -m tests.reliability.soak --minutes 5`.
"""
from __future__ import annotations

import pytest

from .soak import fuzz_for, kill_for


@pytest.mark.soak
def test_fuzzing_for_five_minutes_keeps_the_invariants():
    figures = fuzz_for(5)
    print(f"\nfuzzing: {figures}")
    assert figures["examples"] > 30 and figures["submissions checked"] > 0


@pytest.mark.soak
def test_kill9_loop_for_four_minutes_loses_nothing(seed):
    figures = kill_for(4, seed)
    print(f"\nkill -9 (seed {seed}): {figures}")
    assert all(f["kills"] > 0 and f["verified"] >= f["acknowledged"] for f in figures.values())
