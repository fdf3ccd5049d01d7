"""PostgreSQL runs: a database of our own, 1 or N worker processes.

Each worker process owns its conversations (its own users) and its own
connection pool; all workers start their answers together (a barrier) and
the rate is all answers / (last end - first start).
"""
from __future__ import annotations

import multiprocessing as mp
import os
import queue
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

from sqlalchemy import create_engine, text

from .workload import Script, expected_answers, feed, updates

ADMIN_URL = os.environ.get("TNLBOT_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def reachable() -> str:
    """'' when the server answers, else the reason."""
    try:
        engine = create_engine(ADMIN_URL)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return ""
    except Exception as exc:  # noqa: BLE001
        return str(exc).splitlines()[0]


@contextmanager
def database() -> Iterator[str]:
    """A fresh database, dropped afterwards; yields its URL."""
    name = f"tnlbot_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              f"WHERE datname = '{name}' AND pid <> pg_backend_pid()"))
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@dataclass(frozen=True)
class Share:
    first: int           # this worker's conversations: first..first+count-1
    count: int
    started: float       # time.monotonic() when the answers began
    ended: float
    answers: int         # answers processed
    start_seconds: float


@dataclass(frozen=True)
class Result:
    seconds: float       # first start of the answers to the last end
    answers: int
    total: int           # answers in the workload
    start_seconds: float
    shares: tuple[Share, ...]

    def expected(self, script: Script) -> dict[str, int]:
        """What each conversation sent, worker by worker."""
        out: dict[str, int] = {}
        for share in self.shares:
            out.update(expected_answers(updates(script, share.count, share.first), share.answers))
        return out


def _worker(kind: str, url: str, script: Script, first: int, count: int, budget: float | None,
            barrier, results) -> None:
    work = updates(script, count, first)
    if kind == "tnlbot":
        from .tnl import TnlBot
        contestant = TnlBot(url, campaign=False)
        start_one, answer_one = contestant.handle_raw, contestant.handle_raw
    else:
        from .floor import Floor
        contestant = Floor(url, script)
        start_one, answer_one = contestant.start, contestant.answer
    try:
        start_seconds, _ = feed(start_one, work.starts)
        barrier.wait(timeout=900)
        started = time.monotonic()
        seconds, processed = feed(answer_one, work.answers, budget)
        results.put(Share(first, count, started, started + seconds, processed, start_seconds))
    finally:
        contestant.close()


def run_workers(kind: str, url: str, script: Script, conversations: int, workers: int,
                budget: float | None = None) -> Result:
    """Each worker process takes conversations/workers conversations of its own."""
    ctx = mp.get_context("spawn")
    barrier, results = ctx.Barrier(workers), ctx.Queue()
    share = conversations // workers
    procs = [ctx.Process(target=_worker, args=(kind, url, script, i * share, share, budget,
                                               barrier, results))
             for i in range(workers)]
    for proc in procs:
        proc.start()
    shares: list[Share] = []
    while len(shares) < workers:
        try:
            shares.append(results.get(timeout=1))
        except queue.Empty:
            if any(p.exitcode not in (None, 0) for p in procs):
                for proc in procs:
                    proc.kill()
                break
    for proc in procs:
        proc.join()
        if proc.exitcode:
            raise RuntimeError(f"a {kind} worker failed (exit code {proc.exitcode})")
    seconds = max(s.ended for s in shares) - min(s.started for s in shares)
    return Result(seconds, sum(s.answers for s in shares), share * workers * len(script.answers),
                  max(s.start_seconds for s in shares), tuple(shares))
