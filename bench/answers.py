"""Answers per second, end to end: tnlbot on SQLite, the PTB peers, the raw-SQL floor.

Each contestant first receives the /start of every conversation (timed
apart: creating a conversation is not an answer), then the answers,
round-robin. The answers' rate is answers / seconds spent on them.
"""
from __future__ import annotations

import gc
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from .peers.ptb import PeerRun, peer_a, peer_b
from .tnl import TnlBot
from .workload import Script, Updates, learn_script, updates  # noqa: F401 (learn_script: re-exported)


@dataclass(frozen=True)
class Run:
    name: str
    seconds: float        # time spent on the answers
    answers: int          # answers processed
    stored: int           # answers found stored afterwards
    start_seconds: float = 0.0   # time spent on the /start messages
    note: str = ""

    @property
    def rate(self) -> float:
        return self.answers / self.seconds if self.seconds else 0.0


def timed(handle, raws: list[str]) -> float:  # noqa: ANN001
    gc.collect()
    start = time.perf_counter()
    for raw in raws:
        handle(raw)
    return time.perf_counter() - start


def drive(bot: TnlBot, work: Updates) -> tuple[float, float]:
    """(seconds for the starts, seconds for the answers)."""
    return timed(bot.handle_raw, work.starts), timed(bot.handle_raw, work.answers)


def check_conversations(bot: TnlBot, script: Script, conversations: int) -> int:
    """Every conversation stored exactly its answers; returns the total stored."""
    per = bot.answers_per_conversation()
    wrong = {user: n for user, n in per.items() if n != len(script.answers)}
    if len(per) != conversations or wrong:
        raise AssertionError(f"{len(per)} conversations stored (expected {conversations}), "
                             f"wrong answer counts: {dict(list(wrong.items())[:5])}")
    return sum(per.values())


def tnlbot_sqlite(script: Script, conversations: int) -> Run:
    work = updates(script, conversations)
    with tempfile.TemporaryDirectory() as tmp:
        bot = TnlBot.sqlite(Path(tmp) / "tnlbot.db")
        try:
            starts, seconds = drive(bot, work)
            stored = check_conversations(bot, script, conversations)
        finally:
            bot.close()
    return Run("tnlbot, SQLite WAL", seconds, len(work.answers), stored, starts, bot.source)


def _peer(name: str, run: PeerRun, conversations: int, note: str = "") -> Run:
    answers = run.updates - conversations
    if answers <= 0:
        raise AssertionError(f"{name}: the time budget ended before the first answer")
    if run.stored != answers:
        raise AssertionError(f"{name}: {answers} answers sent, {run.stored} held")
    return Run(name, run.seconds - run.start_seconds, answers, run.stored, run.start_seconds, note)


def ptb_memory(script: Script, conversations: int) -> Run:
    work = updates(script, conversations)
    run = peer_a(work.all, len(work.starts), len(script.answers))
    return _peer("Peer A: PTB ConversationHandler, in memory", run, conversations)


def ptb_pickle(script: Script, conversations: int, budget: float | None) -> Run:
    work = updates(script, conversations)
    run = peer_b(work.all, len(work.starts), len(script.answers), budget)
    note = "" if run.complete else (f"stopped after {budget:.0f} s: {run.updates - conversations} "
                                   f"of {len(work.answers)} answers")
    return _peer("Peer B: PTB + PicklePersistence per update", run, conversations, note)


def tnlbot_postgres(script: Script, conversations: int, workers: int) -> Run:
    from .floor import prepare
    from .pg import database, run_workers
    with database() as url:
        prepare(url)
        seconds, answers, starts = run_workers("tnlbot", url, script, conversations, workers)
        bot = TnlBot(url, campaign=False)
        try:
            stored = check_conversations(bot, script, conversations)
        finally:
            bot.close()
    return Run(f"tnlbot, PostgreSQL, {workers} worker{'s' if workers > 1 else ''}",
               seconds, answers, stored, starts, bot.source)


def floor_postgres(script: Script, conversations: int, workers: int) -> Run:
    from .floor import Bare, prepare
    from .pg import database, run_workers
    with database() as url:
        prepare(url)
        seconds, answers, starts = run_workers("floor", url, script, conversations, workers)
        bare = Bare(url)
        try:
            stored = int(bare.run("SELECT count(*) FROM answers", ()).fetchone()[0])
        finally:
            bare.close()
    return Run(f"floor: psycopg, PostgreSQL, {workers} worker{'s' if workers > 1 else ''}",
               seconds, answers, stored, starts)


def floor_sqlite_run(script: Script, conversations: int) -> Run:
    from .floor import floor_sqlite
    work = updates(script, conversations)
    starts, seconds, stored = floor_sqlite(script, work)
    return Run("floor: raw sqlite3, SQLite WAL", seconds, len(work.answers), stored, starts)
