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
            batch: int, barrier, results) -> None:
    work = updates(script, count, first)
    if kind == "tnlbot":
        from .tnl import TnlBot
        contestant = TnlBot(url, campaign=False)
        start_one, answer_one = contestant.handle_raw, contestant.handle_raw
        if batch > 1:
            start_one = answer_one = contestant.handle_batch  # type: ignore[assignment]
    else:
        from .floor import Floor
        contestant = Floor(url, script)
        start_one, answer_one = contestant.start, contestant.answer
    try:
        start_seconds, _ = feed(start_one, batches(work.starts, batch))
        barrier.wait(timeout=900)
        started = time.monotonic()
        seconds, fed = feed(answer_one, batches(work.answers, batch), budget)
        processed = min(len(work.answers), fed * batch)
        results.put(Share(first, count, started, started + seconds, processed, start_seconds))
    finally:
        contestant.close()


def batches(raws: list[str], size: int) -> list:
    """The updates one at a time (size 1), or in lists of `size` as getUpdates delivers them."""
    return raws if size == 1 else [raws[i:i + size] for i in range(0, len(raws), size)]


def run_workers(kind: str, url: str, script: Script, conversations: int, workers: int,
                budget: float | None = None, batch: int = 1) -> Result:
    """Each worker process takes conversations/workers conversations of its own; tnlbot is
    handed its updates one at a time (batch 1) or `batch` at a time (group commit)."""
    ctx = mp.get_context("spawn")
    barrier, results = ctx.Barrier(workers), ctx.Queue()
    share = conversations // workers
    procs = [ctx.Process(target=_worker, args=(kind, url, script, i * share, share, budget,
                                               batch, barrier, results))
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


@dataclass(frozen=True)
class Wire:
    """What answers cost on the wire, counted in libpq's trace of every connection."""
    answers: int
    statements: int      # queries the server ran (simple Query or extended-protocol Execute)
    round_trips: int     # times the client sent and then waited for the server's reply

    @property
    def statements_per_answer(self) -> float:
        return self.statements / self.answers

    @property
    def round_trips_per_answer(self) -> float:
        return self.round_trips / self.answers


def count_wire(trace: str) -> tuple[int, int]:
    """(statements, round trips) in a libpq trace: each switch from the client's messages
    (F) to the server's (B) is one round trip."""
    statements = round_trips = 0
    last = ""
    for line in trace.splitlines():
        fields = line.split("\t")
        if len(fields) < 3:
            continue
        side, message = fields[0], fields[2]
        if side == "F" and message in ("Query", "Execute"):
            statements += 1
        if side == "B" and last == "F":
            round_trips += 1
        last = side
    return statements, round_trips


def wire(url: str, script: Script, conversations: int = 20, batch: int = 1) -> Wire:
    """tnlbot's statements and round trips per answer: `conversations` conversations started,
    then their answers traced, handed one at a time or `batch` at a time."""
    import tempfile

    from psycopg import pq
    from sqlalchemy import event

    from .tnl import TnlBot
    work = updates(script, conversations)
    bot = TnlBot(url, campaign=False)
    handle = bot.handle_raw if batch == 1 else bot.handle_batch
    traced: list = []
    try:
        feed(handle, batches(work.starts, batch))   # type: ignore[arg-type]
        with tempfile.TemporaryFile(mode="w+", encoding="utf-8") as out:
            def trace(dbapi_conn, _record, _proxy) -> None:
                if dbapi_conn not in traced:
                    dbapi_conn.pgconn.trace(out.fileno())
                    dbapi_conn.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
                    traced.append(dbapi_conn)
            event.listen(bot.app.store.engine, "checkout", trace)
            feed(handle, batches(work.answers, batch))   # type: ignore[arg-type]
            for dbapi_conn in traced:
                dbapi_conn.pgconn.untrace()
            event.remove(bot.app.store.engine, "checkout", trace)
            out.seek(0)
            statements, round_trips = count_wire(out.read())
    finally:
        bot.close()
    return Wire(len(work.answers), statements, round_trips)


def main(argv: list[str] | None = None) -> int:
    """Section 2 of bench/run alone: `python -m bench.pg` (see --help)."""
    import argparse

    from . import answers as A
    from .report import load, machine, markdown, ratio_row
    from .suite import Log, run_row

    parser = argparse.ArgumentParser(prog="python -m bench.pg", description=main.__doc__)
    parser.add_argument("--conversations", type=int, default=100)
    parser.add_argument("--answers", type=int, default=20)
    parser.add_argument("--budget", type=float, default=30.0, help="seconds of answers per tnlbot run")
    parser.add_argument("--peer-a-budget", type=float, default=15.0)
    parser.add_argument("--peer-a-conversations", type=int, default=1000,
                        help="Peer A's conversations, as in section 1")
    parser.add_argument("--batch", type=int, default=100, help="updates per batch (group commit)")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--no-floor", action="store_true")
    parser.add_argument("--wire-only", action="store_true", help="only count statements per answer")
    args = parser.parse_args(argv)
    why = reachable()
    if why:
        print(f"PostgreSQL not reachable: {why}")
        return 1
    log, load_before = Log(), load()
    script = A.learn_script(args.answers)
    n, section = args.conversations, f"2. answers, PostgreSQL ({args.conversations} x {args.answers})"
    rows = wire_rows(section, script, args.batch)
    if not args.wire_only:
        log(f"Peer A (PTB, in memory), {args.peer_a_conversations} conversations")
        peer_a = A.ptb_memory(script, args.peer_a_conversations, args.peer_a_budget)
        rows.append(run_row(section, peer_a))
        runs: dict[tuple[int, int], A.Run] = {}
        for workers in (int(w) for w in args.workers.split(",")):
            for batch in (1, args.batch):
                log(f"tnlbot on PostgreSQL, {workers} worker(s), batches of {batch}")
                tnl = A.tnlbot_postgres(script, n, workers, args.budget, batch)
                runs[(workers, batch)] = tnl
                rows += [run_row(section, tnl),
                         ratio_row(section, f"tnlbot {workers}w, batches of {batch} / Peer A",
                                   tnl.rate / peer_a.rate, at_least=1.0 if batch > 1 else None)]
            if not args.no_floor:
                log(f"floor on PostgreSQL, {workers} worker(s)")
                rows.append(run_row(section, A.floor_postgres(script, n, workers, args.budget / 2)))
        for batch in (1, args.batch):
            if (1, batch) in runs and (2, batch) in runs:
                rows.append(ratio_row(section, f"tnlbot 2 workers / 1 worker, batches of {batch}",
                                      runs[(2, batch)].rate / runs[(1, batch)].rate,
                                      at_least=1.8 if batch > 1 else None))
    log("done")
    print(f"Machine: {machine()}; load average {load_before} at the start, {load()} at the end")
    print(markdown(rows))
    return 0


def wire_rows(section: str, script: Script, batch: int) -> list:
    """Statements and round trips per answer, one update at a time and in batches."""
    from .floor import prepare
    from .report import Row
    rows = []
    for size in (1, batch):
        with database() as url:
            prepare(url)
            found = wire(url, script, 20 if size == 1 else max(20, batch), size)
        rows.append(Row(section, f"tnlbot, batches of {size}: statements / round trips per answer "
                                 f"(libpq trace, {found.answers:,} answers)",
                        f"{found.statements_per_answer:.1f} / {found.round_trips_per_answer:.2f}"))
    return rows


if __name__ == "__main__":
    raise SystemExit(main())
