"""Two `tnlbot run --transport telegram` workers on one PostgreSQL database: what one of them
is sending is its own while it lives, and the other takes it over once it is dead.

The first worker is alone. Alice says /start; her question goes on the wire (the
test Bot API holds the answer to that sendMessage) and the worker is frozen there
(SIGSTOP): its row stays `sending`, and the worker is still alive. The second
worker starts: it answers Bruno, and leaves Alice's question to the first (a start
used to take every row in `sending` as its own crash's: the question went twice).
Then the first worker is killed -9 and never restarted: the second, still running,
sends Alice her question again within its next look (`worker_sweep`), and she can
answer it. The second stops cleanly; neither log holds a traceback.
"""
from __future__ import annotations

import asyncio
import signal
import socket

import pytest
from sqlalchemy import create_engine, select

from tnlbot.store import tables as T

from .processes import migrated_pg_database, start, until

ALICE, BRUNO = 910, 911
NAME_ASKED = "Quel est le nom de votre collectivité"
pytestmark = pytest.mark.postgres


@pytest.fixture
def database():
    with migrated_pg_database("tnlbot_workers") as url:
        yield url




class Database:
    def __init__(self, url: str):
        self.engine = create_engine(url)

    def leases(self) -> dict[str, str]:
        with self.engine.connect() as conn:
            return dict(conn.execute(select(T.leases.c.name, T.leases.c.holder)).all())

    def workers(self) -> set[str]:
        """The processes that say they are alive (their `worker:` lease)."""
        return {holder for lease, holder in self.leases().items() if lease.startswith("worker:")}

    def running(self, proc: asyncio.subprocess.Process) -> bool:
        """The process is up: it holds a lease (its worker's, or the poller's)."""
        return name(proc) in self.leases().values()

    def rows(self, chat: int) -> list[tuple[str, str | None]]:
        """(status, claimed by) of each row queued for `chat`, oldest first."""
        o = T.outbox
        with self.engine.connect() as conn:
            return [(r.status, r.claimed_by) for r in conn.execute(
                select(o.c.status, o.c.claimed_by).where(o.c.chat_id == str(chat)).order_by(o.c.id))]


def say(fake, user: int, text: str) -> int:
    sender = {"id": user, "is_bot": False, "first_name": f"Agent {user}", "language_code": "fr"}
    return fake.push({"message": fake.user_message(user, sender, text)})


def sent_to(fake, user: int) -> list[str]:
    return [c.params["text"] for c in fake.calls if c.method == "sendMessage" and c.params.get("chat_id") == user]


def name(proc: asyncio.subprocess.Process) -> str:
    return f"{socket.gethostname()}:{proc.pid}"


async def test_a_live_workers_question_is_left_to_it_and_a_dead_ones_is_taken_over(fake, database, tmp_path):
    config = tmp_path / "tnlbot.toml"
    config.write_text("telegram_poller_lease = 2\nworker_sweep = 0.5\nworker_lease = 120\n", encoding="utf-8")
    logs = [tmp_path / "first.log", tmp_path / "second.log"]
    db = Database(database)
    procs: list[asyncio.subprocess.Process] = []
    try:
        first = await start(fake, database, config, logs[0])
        procs.append(first)
        await until(lambda: db.running(first), logs)

        fake.stall_next("sendMessage", 60)                # Alice's question is on the wire...
        say(fake, ALICE, "/start")
        # on the wire: the greeting and the question go as one message, both rows claimed
        # first (frozen between its two claims, the question would be anybody's to send)
        await until(lambda: sent_to(fake, ALICE), logs)
        first.send_signal(signal.SIGSTOP)                 # ...and its worker is frozen there
        claims = db.rows(ALICE)
        assert ("sending", name(first)) in claims

        second = await start(fake, database, config, logs[1])
        procs.append(second)
        await until(lambda: db.running(second), logs)
        say(fake, BRUNO, "/start")
        await until(lambda: sent_to(fake, BRUNO), logs)
        assert db.rows(ALICE) == claims                  # the live worker's: left alone
        assert len(sent_to(fake, ALICE)) == 1

        first.send_signal(signal.SIGKILL)                 # killed -9, never started again
        await first.wait()
        await until(lambda: len(sent_to(fake, ALICE)) == 2, logs)
        greeting_and_question, again = sent_to(fake, ALICE)
        assert "Bonjour" in greeting_and_question and NAME_ASKED in greeting_and_question
        assert NAME_ASKED in again and "Bonjour" not in again   # she waits for the question:
        #                                                         sent again; the greeting: at most once
        await until(lambda: all(s != "sending" for s, _ in db.rows(ALICE)), logs)
        assert ("sent", name(second)) in db.rows(ALICE)

        say(fake, ALICE, "Mairie de Saint-Libre")         # and she goes on
        await until(lambda: len(sent_to(fake, ALICE)) > 2, logs)
        second.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(second.wait(), 30) == 0
        assert db.workers() == set()                      # a clean stop: no longer alive
    finally:
        for p in procs:
            if p.returncode is None:
                p.kill()
                await p.wait()
        db.engine.dispose()
    text = "\n".join(log.read_text() for log in logs)
    assert "Traceback" not in text
