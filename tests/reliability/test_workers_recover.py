"""Several workers on one store: a message on the wire belongs to the worker sending it.

Each claim of an outbox row records the process that made it, and each
running worker renews a `worker:<host:pid>` lease. Here a worker is served
in this process (the runner, the relay, a Telegram-like phone that records
what it is sent), and the other workers are what they leave in the store: a
lease, rows claimed under their name. On SQLite and on PostgreSQL:

- a worker that starts while another live worker is sending a question and a
  notice leaves both alone: the other worker sends them, once;
- when that other worker dies (its lease expires, or its process is gone from
  this host), the running worker takes its rows over without any restart: the
  question is sent again (the person waits for it), the notice is `uncertain`;
- rows claimed before claims were recorded (no claimer) are settled at a
  start, as they always were, and only at a start.
"""
from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys

from sqlalchemy import select, update

from tnlbot.app import App, Settings
from tnlbot.core.events import Addressed, Outgoing, OutKind
from tnlbot.runtime.lease import Lease
from tnlbot.runtime.transport import SendResult, SendStatus
from tnlbot.store import tables as T

QUESTION = Outgoing(OutKind.PROMPT, "Quel est le nom de votre collectivité ?", ref="nom_collectivite")
NOTICE = Outgoing(OutKind.NOTICE, "SIREN noté.")
ELSEWHERE = "autre-serveur:4242"          # a worker on another host


class Phone:
    """Telegram as the relay sees it, in memory: what each chat was sent. Questions left
    half-sent by a worker that died are sent again (`resend_questions`), the rest at most once.
    Serving lasts until `done(phone)` holds (10 s at most)."""
    name = "telegram"
    resend_questions = True

    def __init__(self, done=lambda phone: True):
        self.done, self.sent, self.task = done, [], None

    async def start(self, sink) -> None:
        self.task = asyncio.create_task(self._serve())

    async def _serve(self) -> None:
        for _ in range(500):
            if self.done(self):
                return
            await asyncio.sleep(0.02)
        raise AssertionError(f"the phone got only {self.sent}")

    async def send(self, row) -> SendResult:
        self.sent.append((row.chat_id, row.item.text))
        return SendResult(SendStatus.SENT, ref=str(len(self.sent)))

    async def stop(self) -> None:
        return None


def worker(flows, catalog, clock, store) -> App:
    """A worker process on `store`, looking every 50 ms for what dead workers left."""
    return App(Settings(database_url=store.url, extra={"worker_sweep": 0.05}), clock=clock,
               store=store, flows=flows, catalog=catalog)


def serve(app: App, phone: Phone) -> int:
    return asyncio.run(app.runner.serve(phone, asyncio.Event(), schedule=False))


def alive(store, clock, name: str, ttl: float = 30) -> Lease:
    """Another worker says it is alive, as its own runner does."""
    lease = Lease(store, f"worker:{name}", clock, ttl=ttl, holder=name)
    assert lease.acquire()
    return lease


def claimed(store, clock, by: str | None, *messages: tuple[str, Outgoing]) -> list[int]:
    """Messages queued, then claimed by the worker `by` (None: before claims were recorded),
    which is sending them."""
    with store.begin() as conn:
        ids = store.enqueue(conn, [Addressed("telegram", chat, item) for chat, item in messages], clock.now())
        o = T.outbox
        conn.execute(update(o).where(o.c.id.in_(ids)).values(status="sending", attempts=1, claimed_by=by))
    return ids


def statuses(store, ids: list[int]) -> list[str]:
    o = T.outbox
    with store.begin() as conn:
        found = dict(conn.execute(select(o.c.id, o.c.status).where(o.c.id.in_(ids))).all())
    return [found[i] for i in ids]


def dead_process() -> str:
    """The name a process of this host had: it has exited since."""
    child = subprocess.Popen([sys.executable, "-c", ""])
    child.wait()
    return f"{socket.gethostname()}:{child.pid}"


def test_a_worker_that_starts_leaves_alone_what_a_live_worker_is_sending(any_store, clock, flows, catalog):
    alive(any_store, clock, ELSEWHERE)
    ids = claimed(any_store, clock, ELSEWHERE, ("alice", QUESTION), ("bruno", NOTICE))

    phone = Phone()
    assert serve(worker(flows, catalog, clock, any_store), phone) == 0

    assert phone.sent == []                                   # the other worker sends them
    assert statuses(any_store, ids) == ["sending", "sending"]


def test_a_worker_whose_lease_expired_is_taken_over_without_a_restart(any_store, clock, flows, catalog):
    alive(any_store, clock, ELSEWHERE)
    ids = claimed(any_store, clock, ELSEWHERE, ("alice", QUESTION), ("bruno", NOTICE))

    while_alive: list[list] = []

    def other_worker_dies(phone: Phone) -> bool:
        if not while_alive:                                   # once this worker runs:
            while_alive.append(list(phone.sent))
            clock.advance(31)                                 # the other stopped renewing its lease
        return bool(phone.sent)

    phone = Phone(other_worker_dies)
    assert serve(worker(flows, catalog, clock, any_store), phone) == 0

    assert while_alive == [[]]                                # nothing taken from the living
    assert phone.sent == [("alice", QUESTION.text)]           # Alice waits for it: sent again
    assert statuses(any_store, ids) == ["sent", "uncertain"]  # Bruno's notice: at most once


def test_a_worker_gone_from_this_host_is_taken_over_at_once(any_store, clock, flows, catalog):
    gone = dead_process()
    ids: list[int] = []

    def other_worker_dies(phone: Phone) -> bool:
        if not ids:                                           # once this worker runs, the other
            alive(any_store, clock, gone)                     # one is killed -9 mid-send: its
            ids.extend(claimed(any_store, clock, gone,        # lease has not expired yet
                               ("alice", QUESTION), ("bruno", NOTICE)))
        return bool(phone.sent)

    phone = Phone(other_worker_dies)
    assert serve(worker(flows, catalog, clock, any_store), phone) == 0

    assert phone.sent == [("alice", QUESTION.text)]
    assert statuses(any_store, ids) == ["sent", "uncertain"]


def test_rows_claimed_before_claims_were_recorded_are_settled_at_a_start_only(any_store, clock, flows, catalog):
    before = claimed(any_store, clock, None, ("alice", QUESTION), ("bruno", NOTICE))
    gone = dead_process()
    later: list[int] = []

    def a_dead_workers_row_and_an_unclaimed_one(phone: Phone) -> bool:
        if not later:
            later.extend(claimed(any_store, clock, None, ("carla", NOTICE)))
            later.extend(claimed(any_store, clock, gone, ("denis", QUESTION)))
        return ("denis", QUESTION.text) in phone.sent         # a sweep ran after the start

    phone = Phone(a_dead_workers_row_and_an_unclaimed_one)
    assert serve(worker(flows, catalog, clock, any_store), phone) == 0

    assert phone.sent == [("alice", QUESTION.text), ("denis", QUESTION.text)]
    assert statuses(any_store, before) == ["sent", "uncertain"]
    assert statuses(any_store, later) == ["sending", "sent"]  # unclaimed while running: left


def worker_leases(store) -> list[str]:
    with store.begin() as conn:
        return list(conn.execute(select(T.leases.c.name)).scalars())


def test_a_running_worker_says_it_is_alive_and_a_clean_stop_says_it_no_longer_is(any_store, clock, flows,
                                                                              catalog):
    seen: list[list[str]] = []
    phone = Phone(lambda phone: seen.append(worker_leases(any_store)) or True)
    assert serve(worker(flows, catalog, clock, any_store), phone) == 0
    assert seen == [[f"worker:{socket.gethostname()}:{os.getpid()}"]]
    assert worker_leases(any_store) == []
