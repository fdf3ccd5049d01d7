"""kill -9 at random points of the path of one answer, 100 times, then restart.

The terminal bot (`python -m tnlbot`) is fed a whole candidature; a reply
printed for a line means its answer is committed (the dispatcher commits
before the relay prints). After each kill and each restart: the SQLite file
passes `PRAGMA integrity_check`; the store holds every acknowledged answer
exactly once (answers and answer_history), plus at most the interrupted
one; the restart greets and asks exactly the next question; and every
outbox row was printed once, except those marked uncertain.
Two lanes run side by side on each store (60 kills on SQLite, 40 on
PostgreSQL). Replay a failure with TNLBOT_SEED=<the seed in the message>.
"""
from __future__ import annotations

import json

import pytest

from .conftest import pg_or_skip
from .killloop import run_lanes, summary


def _report(store: str, seed: int, results) -> dict:
    figures = summary(results)
    print(f"\nkill -9 on {store} (seed {seed}): {json.dumps(figures, ensure_ascii=False)}")
    return figures


def test_kill9_loop_on_sqlite_loses_nothing(references, seed, tmp_path):
    figures = _report("sqlite", seed, run_lanes("sqlite", 2, 30, seed, tmp_path, references))
    assert figures["kills"] == 60
    assert figures["verified"] >= figures["acknowledged"] > 0


@pytest.mark.postgres
def test_kill9_loop_on_postgresql_loses_nothing(references, seed, tmp_path):
    pg_or_skip()
    figures = _report("postgresql", seed, run_lanes("postgres", 2, 20, seed, tmp_path, references))
    assert figures["kills"] == 40
    assert figures["verified"] >= figures["acknowledged"] > 0
