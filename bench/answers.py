"""Answers per second, end to end: tnlbot on SQLite and PostgreSQL, the PTB peers, the floors.

Each contestant first receives the /start of every conversation (timed
apart: creating a conversation is not an answer), then the answers,
round-robin. The rate is answers / seconds spent on them. A contestant may
be given a time budget: it then stops after the budget and its rate is
measured on the answers it processed (the table says so).
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from .peers.ptb import PeerRun, peer_a, peer_b
from .tnl import TnlBot
from .workload import Script, expected_answers, feed, learn_script, updates  # noqa: F401 (re-exported)


@dataclass(frozen=True)
class Run:
    name: str
    seconds: float        # time spent on the answers
    answers: int          # answers processed
    stored: int           # answers found stored afterwards
    start_seconds: float = 0.0   # time spent on the /start messages
    note: str = ""        # e.g. stopped by its budget

    @property
    def rate(self) -> float:
        return self.answers / self.seconds if self.seconds else 0.0


def partial(processed: int, total: int, budget: float | None) -> str:
    if processed >= total:
        return ""
    return f"stopped by its {budget:.0f} s budget after {processed:,} of {total:,} answers"


def check_stored(found: dict[str, int], expected: dict[str, int]) -> int:
    """Each conversation holds exactly the answers it sent; returns the total stored."""
    wrong = {user: (found.get(user), n) for user, n in expected.items() if found.get(user) != n}
    if wrong or len(found) != len(expected):
        raise AssertionError(f"{len(found)} conversations stored (expected {len(expected)}); "
                             f"(stored, sent) differ for {dict(list(wrong.items())[:5])}")
    return sum(found.values())


def tnlbot_sqlite(script: Script, conversations: int, budget: float | None = None,
                  batch: int = 1) -> Run:
    """One transaction per update (batch 1), or per `batch` updates as getUpdates delivers
    them (group commit, a savepoint each)."""
    work = updates(script, conversations)
    with tempfile.TemporaryDirectory() as tmp:
        bot = TnlBot.sqlite(Path(tmp) / "tnlbot.db")
        try:
            handle = bot.handle_raw if batch == 1 else bot.handle_batch
            starts, _ = feed(handle, _batches(work.starts, batch))
            seconds, fed = feed(handle, _batches(work.answers, batch), budget)
            processed = min(len(work.answers), fed * batch)
            stored = check_stored(bot.answers_per_conversation(), expected_answers(work, processed))
        finally:
            bot.close()
    name = "tnlbot, SQLite WAL" + (f", batches of {batch} (group commit)" if batch > 1 else
                                   ", one transaction per update")
    return Run(name, seconds, processed, stored, starts, partial(processed, len(work.answers), budget))


def _batches(raws: list[str], size: int) -> list:
    return raws if size == 1 else [raws[i:i + size] for i in range(0, len(raws), size)]


def floor_sqlite_run(script: Script, conversations: int, budget: float | None = None) -> Run:
    from .floor import floor_sqlite
    work = updates(script, conversations)
    starts, seconds, processed, stored = floor_sqlite(script, work, budget)
    if stored != processed:
        raise AssertionError(f"floor: {processed} answers written, {stored} stored")
    return Run("floor: raw sqlite3, SQLite WAL", seconds, processed, stored, starts,
               partial(processed, len(work.answers), budget))


def _peer(name: str, run: PeerRun, conversations: int, total: int, budget: float | None) -> Run:
    answers = run.updates - conversations
    if answers <= 0:
        raise AssertionError(f"{name}: the time budget ended before the first answer")
    if run.stored != answers:
        raise AssertionError(f"{name}: {answers} answers sent, {run.stored} held")
    return Run(name, run.seconds - run.start_seconds, answers, run.stored, run.start_seconds,
               partial(answers, total, budget))


def ptb_memory(script: Script, conversations: int, budget: float | None = None) -> Run:
    work = updates(script, conversations)
    run = peer_a(work.all, len(work.starts), len(script.answers), budget)
    return _peer("Peer A: PTB ConversationHandler, in memory", run, conversations,
                 len(work.answers), budget)


def ptb_pickle(script: Script, conversations: int, budget: float | None) -> Run:
    work = updates(script, conversations)
    run = peer_b(work.all, len(work.starts), len(script.answers), budget)
    return _peer("Peer B: PTB + PicklePersistence per update", run, conversations,
                 len(work.answers), budget)


def _plural(workers: int) -> str:
    return f"{workers} worker{'s' if workers > 1 else ''}"


def tnlbot_postgres(script: Script, conversations: int, workers: int,
                    budget: float | None = None, batch: int = 1) -> Run:
    from .floor import prepare
    from .pg import database, run_workers
    with database() as url:
        prepare(url)
        result = run_workers("tnlbot", url, script, conversations, workers, budget, batch)
        bot = TnlBot(url, campaign=False)
        try:
            stored = check_stored(bot.answers_per_conversation(), result.expected(script))
        finally:
            bot.close()
    how = f"batches of {batch} (group commit)" if batch > 1 else "one transaction per update"
    return Run(f"tnlbot, PostgreSQL, {_plural(workers)}, {how}", result.seconds, result.answers, stored,
               result.start_seconds, partial(result.answers, result.total, budget))


def floor_postgres(script: Script, conversations: int, workers: int,
                   budget: float | None = None) -> Run:
    from .floor import Bare, prepare
    from .pg import database, run_workers
    with database() as url:
        prepare(url)
        result = run_workers("floor", url, script, conversations, workers, budget)
        bare = Bare(url)
        try:
            stored = int(bare.run("SELECT count(*) FROM answers", ()).fetchone()[0])
        finally:
            bare.close()
    if stored != result.answers:
        raise AssertionError(f"floor: {result.answers} answers written, {stored} stored")
    return Run(f"floor: psycopg, PostgreSQL, {_plural(workers)}", result.seconds, result.answers,
               stored, result.start_seconds, partial(result.answers, result.total, budget))
