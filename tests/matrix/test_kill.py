"""kill -9 of the bot process in the middle of a batch of answers, in an end-to-end encrypted
room: nothing lost, nothing twice, and every later message still decrypted by the same device."""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from .conftest import QUESTION, Room
from .synapse import _die_with_parent

pytestmark = pytest.mark.synapse
ROOT = Path(__file__).resolve().parents[2]

ANSWERS = [
    ("Mairie de Saint-Libre", "nom_collectivite", "Mairie de Saint-Libre"),
    ("1", "type_collectivite", "commune"),
    ("213105554", "siren", "213105554"),
    ("31", "departement", "31"),
    ("1200", "population", 1200),
    ("15", "nombre_agents", 15),
    ("10", "nombre_postes", 10),
    ("Jean Dupont", "elu_nom", "Jean Dupont"),
]


def start_bot(synapse, user, database: Path, log: Path) -> subprocess.Popen:
    env = {**os.environ, "TNLBOT_DATABASE_URL": f"sqlite:///{database}",
           "TNLBOT_MATRIX_HOMESERVER": synapse.url, "TNLBOT_MATRIX_USER": user.localpart,
           "TNLBOT_MATRIX_PASSWORD": user.password, "TNLBOT_MATRIX_ALLOW": "localhost",
           "PYTHONPATH": str(ROOT)}
    with open(log, "ab") as out:
        return subprocess.Popen([sys.executable, "-m", "tnlbot", "run", "--transport", "matrix"],
                                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                preexec_fn=_die_with_parent)


def query(database: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30) as conn:
        return conn.execute(sql).fetchall()


def devices(synapse, user) -> int:
    request = urllib.request.Request(synapse.url + "/_matrix/client/v3/devices",
                                     headers={"Authorization": f"Bearer {user.access_token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return len(json.loads(response.read())["devices"])


async def test_kill_9_in_the_middle_of_a_batch_loses_nothing_and_repeats_nothing(
        synapse, register, agents, tmp_path):
    user = register("bot")
    database, log = tmp_path / "x.db", tmp_path / "bot.log"
    process = start_bot(synapse, user, database, log)
    try:
        agent = await agents("agent")
        room = Room(agent, user.user_id, await agent.direct_room(user.user_id, encrypted=True))
        await room.read(2)                                 # greeting and first question
        login = query(database, "SELECT value FROM checkpoints WHERE name = 'matrix.login'")
        assert json.loads(login[0][0])["device_id"]

        process.send_signal(signal.SIGSTOP)                # the burst reaches it as one batch
        for text, _, _ in ANSWERS:
            await agent.say(room.id, text)
        process.send_signal(signal.SIGCONT)
        done_at_kill = kill_when(process, database, lambda done: done >= 3)
        assert 0 < done_at_kill < len(ANSWERS), "the kill should land in the middle of the batch"

        process = start_bot(synapse, user, database, log)
        await agent.until(lambda: count_questions(room) >= 1 + len(ANSWERS), timeout=300)
        rows = query(database, "SELECT key, value FROM answers")
        assert {k: json.loads(v) for k, v in rows} == {key: value for _, key, value in ANSWERS}
        writes = query(database, "SELECT key, count(*) FROM answer_history GROUP BY key")
        assert {n for _, n in writes} == {1}
        asked = [m.body for m in room.all() if QUESTION.search(m.body)]
        assert len(asked) == 1 + len(ANSWERS) and len(set(asked)) == len(asked)
        assert login == query(database, "SELECT value FROM checkpoints WHERE name = 'matrix.login'")
        assert devices(synapse, user) == 2                 # registration + one login, reused
        assert {agent.wire[e["event_id"]] for e in agent.from_bot(room.id, user.user_id)
                if e["type"] != "m.room.member"} == {"m.room.encrypted"}
        crypto = tmp_path / "matrix-crypto"                # beside the database, owner only
        assert stat.S_IMODE(crypto.stat().st_mode) == 0o700
        assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in crypto.iterdir())

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    replayed = log.read_text().count("was already handled")
    print(f"answers committed at the kill: {done_at_kill}/{len(ANSWERS)}; replays skipped: {replayed}")


def kill_when(process: subprocess.Popen, database: Path, ready) -> int:
    """SIGKILL as soon as `ready(answers committed)`; returns how many were committed."""
    for _ in range(60_000):
        done = query(database, "SELECT count(*) FROM answers")[0][0]
        if ready(done):
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
            return query(database, "SELECT count(*) FROM answers")[0][0]
        time.sleep(0.001)
    raise AssertionError("the bot never started on the batch")


def count_questions(room: Room) -> int:
    return sum(1 for m in room.all() if QUESTION.search(m.body))
