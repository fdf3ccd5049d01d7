"""The benchmarks run, at a tiny size, and count what they claim to count.

Timings are never asserted here (these machines are noisy): only that every
contestant processed every update, that every answer tnlbot acknowledged is
stored exactly once per conversation, and that the table is built.
"""
from __future__ import annotations

import json
import os

import pytest

from bench import answers as A
from bench.memory import measure
from bench.peers.ptb import peer_a, peer_b
from bench.report import markdown
from bench.startup import flow_load
from bench.suite import Sizes, answers_rows
from bench.sweep import sweep
from bench.workload import learn_script, siren_for, updates

CONVERSATIONS, ANSWERS = 5, 3


@pytest.fixture(scope="module")
def script():
    return learn_script(ANSWERS)


def test_the_script_answers_what_the_bot_asks(script):
    assert script.refs == ("nom_collectivite", "type_collectivite", "siren")
    assert script.final_ref == "departement"
    assert script.text(2, 7) == siren_for(7) != siren_for(8)


def test_updates_are_raw_telegram_json_one_start_then_answers_round_robin(script):
    work = updates(script, CONVERSATIONS)
    assert len(work.starts) == CONVERSATIONS
    assert len(work.answers) == CONVERSATIONS * ANSWERS
    first = json.loads(work.starts[0])["message"]
    assert first["text"] == "/start" and first["entities"][0]["type"] == "bot_command"
    users = [json.loads(raw)["message"]["from"]["id"] for raw in work.answers[:CONVERSATIONS]]
    assert len(set(users)) == CONVERSATIONS
    ids = [json.loads(raw)["update_id"] for raw in work.all]
    assert len(set(ids)) == len(ids)


def test_tnlbot_stores_every_answer_once(script):
    run = A.tnlbot_sqlite(script, CONVERSATIONS)
    assert run.answers == run.stored == CONVERSATIONS * ANSWERS


def test_tnlbot_in_batches_stores_every_answer_once(script):
    run = A.tnlbot_sqlite(script, CONVERSATIONS, batch=4)
    assert run.answers == run.stored == CONVERSATIONS * ANSWERS


def test_floor_writes_the_same_answers(script):
    run = A.floor_sqlite_run(script, CONVERSATIONS)
    assert run.answers == run.stored == CONVERSATIONS * ANSWERS


def test_ptb_peers_hold_every_answer(script):
    work = updates(script, CONVERSATIONS)
    memory = peer_a(work.all, CONVERSATIONS, ANSWERS)
    pickled = peer_b(work.all, CONVERSATIONS, ANSWERS)
    for run in (memory, pickled):
        assert run.complete and run.updates == len(work.all)
        assert run.stored == CONVERSATIONS * ANSWERS
    assert pickled.file_bytes > 0 and memory.file_bytes == 0


def test_the_answers_section_has_its_four_targets():
    rows, _ = answers_rows(Sizes(conversations=CONVERSATIONS, answers=ANSWERS), lambda _text: None)
    targets = {row.measure: row.target for row in rows if row.target}
    assert targets == {"tnlbot / Peer A": ">= 1", "tnlbot / Peer B": ">= 10", "floor / tnlbot": "<= 2",
                       "tnlbot, batches of 100 / Peer A": ">= 1.5"}   # group commit
    assert all(row.met in ("yes", "no") for row in rows if row.target)
    assert markdown(rows).count("\n") == len(rows) + 1


def test_memory_counts_the_candidatures_it_opened_and_the_answers_it_sent(script):
    result = measure(existing=20, plan=(("start", 2), ("answer", 4), ("start", 1)), script=script)
    assert result.total == 23 and result.answers == 4
    assert [(m.created, m.events) for m in result.marks] == [(2, 2), (2, 4), (3, 1)]
    assert 0 < result.rss_app <= result.marks[-1].rss * 2


def test_sweep_reads_only_the_due_candidatures():
    result = sweep(30, members=3)
    if result.pending:
        pytest.skip(result.pending)
    assert result.candidatures == 30
    assert result.due == 1 and result.actions == 3    # one idle draft: an inactivity reminder per member
    assert result.sent == 3 and result.none_seen == 0


def test_flow_load_reads_every_shipped_flow():
    tnl, bare = flow_load(1)
    assert tnl.detail.startswith("2 flows") and tnl.seconds > 0 and bare.seconds > 0


@pytest.mark.postgres
def test_postgres_workers_share_the_conversations(script):
    from bench.pg import reachable
    why = reachable()
    if why:
        if os.environ.get("TNLBOT_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL is required here: {why}")
        pytest.skip(f"PostgreSQL not reachable: {why}")
    run = A.tnlbot_postgres(script, 4, workers=2)
    assert run.answers == run.stored == 4 * ANSWERS
    grouped = A.tnlbot_postgres(script, 4, workers=2, batch=3)   # each worker's answers, 3 at a time
    assert grouped.answers == grouped.stored == 4 * ANSWERS


@pytest.mark.postgres
def test_postgres_wire_counts_statements_and_round_trips(script):
    from bench.floor import prepare
    from bench.pg import database, reachable, wire
    if reachable():
        pytest.skip("PostgreSQL not reachable")
    found = []
    for batch in (1, 4):
        with database() as url:
            prepare(url)
            found.append(wire(url, script, 4, batch))
    one, grouped = found
    assert one.answers == grouped.answers == 4 * ANSWERS
    # one update at a time: at least its commit and its reads each wait for the server
    assert one.round_trips_per_answer > 2 and one.statements_per_answer > 3
    assert grouped.round_trips < one.round_trips and grouped.statements < one.statements
