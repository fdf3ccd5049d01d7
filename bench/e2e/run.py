"""Runs tnlbot and the plain PTB bot as processes against the local Bot API server.

    python -m bench.e2e                 # 50 and 200 people, without and with limits, one kill -9 each
    python -m bench.e2e --quick         # 10 people: a smoke run

Each contest starts a fresh bot process (tnlbot on a new SQLite file),
waits until it polls, then lets the people answer. CPU and resident memory
are the bot process's own (psutil), counted from its first getUpdates, so
start-up is left out; API calls per answer count every call but polling
and start-up ones, from the moment everybody has had a first question (the
greetings are not answers).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sqlite3
import sys
import tempfile
import time
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import psutil

from .botapi import TOKEN, BotApi
from .load import Driver, percentile
from .plainbot import FLOW, FLOWS, questions

ROOT = Path(__file__).resolve().parents[2]
TNLBOT, PLAIN = "tnlbot", "plain PTB bot"


@dataclass(frozen=True)
class Contest:
    bot: str
    people: int
    limits: bool
    budget: float
    kill: bool = False


@dataclass(frozen=True)
class Result:
    contest: Contest
    answers: int          # answers the bot replied to with the next question
    expected: int
    seconds: float
    p50: float
    p95: float
    p99: float
    cpu: float            # seconds of CPU of the bot process under load
    calls: int            # API calls besides polling and start-up, once everybody was greeted
    rss: int              # peak resident memory, bytes
    lost: int = 0         # kill -9: answers replied to before the kill that the bot no longer holds
    duplicates: int = 0   # questions asked twice
    stalled: int = 0      # people who never got their next question
    own_p50: float = float("nan")   # the bot's own time: answer fetched -> next question sent
    own_p95: float = float("nan")

    @property
    def rate(self) -> float:
        return self.answers / self.seconds if self.seconds else 0.0

    @property
    def cpu_per_answer(self) -> float:
        return self.cpu / self.answers if self.answers else float("nan")

    steady_answers: int = 0   # answers counted with `calls` (after the greetings)

    @property
    def calls_per_answer(self) -> float:
        return self.calls / self.steady_answers if self.steady_answers else float("nan")


def scripts(people: int) -> list[tuple[str, ...]]:
    """Each person's valid answers to the flow's questions (a SIREN of their own)."""
    from bench.workload import answer_for, siren_for
    from tnlbot.flows import load_all
    flow = load_all()[FLOW]
    ids = [q.id for volet in flow.volets for q in volet.questions]
    base = [answer_for(flow, SimpleNamespace(ref=qid)) for qid in ids]   # type: ignore[arg-type]
    at = ids.index("siren")
    return [tuple(base[:at] + [siren_for(n)] + base[at + 1:]) for n in range(people)]


@dataclass
class BotProcess:
    contest: Contest
    base_url: str
    folder: Path
    proc: asyncio.subprocess.Process | None = None
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.folder / "bot.log"
        self.db = self.folder / "tnlbot.db"
        self.held_file = self.folder / "held.json"

    def argv_env(self) -> tuple[list[str], dict[str, str]]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TNLBOT_")}
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
        if self.contest.bot == PLAIN:
            argv = [sys.executable, "-m", "bench.e2e.plainbot", "--base-url", self.base_url,
                    "--token", TOKEN, "--held", str(self.held_file)]
            return argv + (["--limits"] if self.contest.limits else []), env
        env.update(TNLBOT_DATABASE_URL=f"sqlite:///{self.db}", TNLBOT_TELEGRAM_TOKEN=TOKEN,
                   TNLBOT_TELEGRAM_BASE_URL=self.base_url, TNLBOT_DEFAULT_FLOW=FLOW,
                   TNLBOT_TELEGRAM_RATE_PER_CHAT="1" if self.contest.limits else "0",
                   TNLBOT_TELEGRAM_RATE_OVERALL="30" if self.contest.limits else "0")
        return [sys.executable, "-m", "tnlbot", "run", "--transport", "telegram"], env

    async def start(self) -> psutil.Process:
        argv, env = self.argv_env()
        with self.log.open("ab") as out:
            self.proc = await asyncio.create_subprocess_exec(*argv, cwd=str(ROOT), env=env,
                                                             stdout=out, stderr=out)
        return psutil.Process(self.proc.pid)

    async def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()

    async def stop(self) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.proc.wait(), 30)
        except TimeoutError:
            await self.kill()

    def held(self) -> dict[int, int]:
        """Answers the bot holds per person at the end."""
        if self.contest.bot == PLAIN:
            if not self.held_file.exists():
                return {}
            return {int(k): v for k, v in json.loads(self.held_file.read_text()).items()}
        with closing(sqlite3.connect(self.db, timeout=30)) as conn:
            rows = conn.execute("SELECT c.user_id, count(a.key) FROM conversations c "
                                "LEFT JOIN answers a ON a.candidature_id = c.candidature_id "
                                "GROUP BY c.user_id").fetchall()
        return {int(user): int(n) for user, n in rows}


async def _ready(api: BotApi, bot: BotProcess) -> None:
    waiting = asyncio.ensure_future(api.polled.wait())
    assert bot.proc is not None
    exited = asyncio.ensure_future(bot.proc.wait())
    done, _ = await asyncio.wait({waiting, exited}, timeout=120, return_when=asyncio.FIRST_COMPLETED)
    for task in (waiting, exited):
        task.cancel()
    if waiting not in done:
        raise RuntimeError(f"{bot.contest.bot} did not start polling: {bot.log.read_text()[-2000:]}")


async def _sample_rss(process: psutil.Process, peak: list[int], stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            peak[0] = max(peak[0], process.memory_info().rss)
        except psutil.Error:
            pass
        try:
            await asyncio.wait_for(stop.wait(), 0.25)
        except TimeoutError:
            pass


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


async def play(api: BotApi, contest: Contest, folder: Path, idle: float = 5.0) -> Result:
    """One contest: a fresh bot process, the people, the measures."""
    api.reset()
    asked = tuple(text for text, _ in questions(FLOWS, FLOW))
    driver = Driver(api, asked)
    api.on_message = driver.on_message
    bot = BotProcess(contest, api.base_url, folder)
    process = await bot.start()
    await _ready(api, bot)
    api.calls.clear()
    cpu0, peak, stop = _cpu(process), [0], asyncio.Event()
    sampler = asyncio.create_task(_sample_rss(process, peak, stop))
    driver.begin(scripts(contest.people))
    expected = contest.people * len(asked)
    before_kill: dict[int, int] = {}
    cpu = 0.0
    try:
        if contest.kill:
            while driver.answered() < expected // 2 and time.perf_counter() - driver.last_message < idle:
                await asyncio.sleep(0.005)
            cpu = _cpu(process) - cpu0
            await bot.kill()
            before_kill = driver.replied_per_user()
            process = await bot.start()
            cpu0 = _cpu(process)
        await driver.wait(contest.budget, idle)
        cpu += _cpu(process) - cpu0
    finally:
        stop.set()
        await sampler
        await bot.stop()
    end = driver.last_reply if driver.finished.is_set() else min(
        time.perf_counter(), driver.started + contest.budget)
    calls0, answers0 = driver.steady or (api.bot_calls(), driver.answered())
    lost = 0
    if contest.kill:
        held = bot.held()
        lost = sum(max(0, n - held.get(user, 0)) for user, n in before_kill.items())
    stalled = sum(1 for p in driver.people.values() if not p.done)
    lat = driver.latencies
    return Result(contest, driver.answered(), expected, max(end - driver.started, 1e-9),
                  percentile(lat, 0.5), percentile(lat, 0.95), percentile(lat, 0.99), cpu,
                  api.bot_calls() - calls0, peak[0], lost, driver.duplicates(), stalled,
                  percentile(driver.own, 0.5), percentile(driver.own, 0.95),
                  driver.answered() - answers0)


async def play_all(contests: list[Contest], log=print) -> list[Result]:
    api = BotApi(on_message=lambda *_: None)
    await api.start()
    results = []
    try:
        for contest in contests:
            log(f"end to end: {contest.bot}, {contest.people} people, "
                f"{'with' if contest.limits else 'without'} send limits{', kill -9' if contest.kill else ''}")
            with tempfile.TemporaryDirectory() as folder:
                results.append(await play(api, contest, Path(folder)))
    finally:
        await api.stop()
    return results


def contests(sizes: tuple[int, ...], budget: float, limited_budget: float) -> list[Contest]:
    """Interleaved: tnlbot then the plain bot for each case, so a passing load hits both."""
    found = [Contest(bot, 1, False, budget) for bot in (TNLBOT, PLAIN)]   # the bot's own time, unqueued
    for limits in (False, True):
        for people in sizes:
            for bot in (TNLBOT, PLAIN):
                found.append(Contest(bot, people, limits, limited_budget if limits else budget))
    for bot in (TNLBOT, PLAIN):   # until everybody is done or nothing moves for 5 s
        found.append(Contest(bot, max(sizes), False, budget * 3, kill=True))
    return found


def _chosen(contest: Contest, only: str) -> bool:
    return (not only or (only == "tnlbot" and contest.bot == TNLBOT)
            or (only == "plain" and contest.bot == PLAIN) or (only == "kill" and contest.kill)
            or (only == "free" and not contest.limits and not contest.kill)
            or (only == "limits" and contest.limits))


def describe(result: Result) -> str:
    c = result.contest
    return (f"{c.bot:14} {c.people:4} people {'limits' if c.limits else 'free  '}"
            f"{' kill' if c.kill else '     '}: {result.answers:5}/{result.expected} answers "
            f"{result.rate:7.1f}/s p50 {result.p50 * 1000:7.1f} p95 {result.p95 * 1000:7.1f} "
            f"p99 {result.p99 * 1000:7.1f} ms (own p50 {result.own_p50 * 1000:6.1f} "
            f"p95 {result.own_p95 * 1000:6.1f}), CPU {result.cpu_per_answer * 1000:5.2f} ms/answer, "
            f"{result.calls_per_answer:4.2f} calls/answer, RSS {result.rss / 1048576:5.1f} MB, "
            f"lost {result.lost}, twice {result.duplicates}, stalled {result.stalled}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.e2e", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10 people: a smoke run")
    parser.add_argument("--people", type=int, nargs="*", help="sizes (default 50 200)")
    parser.add_argument("--only", default="", help="'tnlbot', 'plain', 'free', 'limits' or 'kill'")
    args = parser.parse_args(argv)
    sizes = tuple(args.people or ((10,) if args.quick else (50, 200)))
    chosen = [c for c in contests(sizes, 20.0 if args.quick else 40.0, 10.0 if args.quick else 30.0)
              if _chosen(c, args.only)]
    results = asyncio.run(play_all(chosen))
    for result in results:
        print(describe(result))
    return 0
