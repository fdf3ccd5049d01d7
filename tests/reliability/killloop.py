"""The kill -9 loop: a bot process fed a candidature, killed at random, restarted.

One lane = one store (a SQLite file or a PostgreSQL database) and a run of
bot processes, one after the other. Each cycle launches the bot, checks the
restart (exact greeting, the right question, nothing left pending), types a
few answers and waits for each reply (acknowledged), then types one more
and kills the process after a random delay drawn around the time a reply
takes, so the kill lands anywhere on the path of that answer: before the
line is read, inside the transaction, between the commit and the print,
in the middle of the print, or after it. After the kill the store must hold
exactly the acknowledged answers, or those plus the interrupted one (never
anything else), written once each; and every outbox row must have been
printed once, except those the relay marks uncertain. When a candidature is
complete the lane goes on with a new person.
"""
from __future__ import annotations

import random
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from sqlalchemy import func, select

from tnlbot.store import tables as T

from .botprocess import BotProcess
from .databases import pg_database
from .plan import Reference
from .verify import Broken, Reader, Snapshot, account, integrity

REPLY_TIMEOUT = 60.0
START_TIMEOUT = 120.0


@dataclass
class LaneResult:
    name: str
    kills: int = 0
    launches: int = 0
    acknowledged: int = 0        # replies seen in full before any kill
    verified: int = 0            # answers found stored exactly once after the checks
    people: int = 0              # candidatures the lane went through
    kill_points: Counter = field(default_factory=Counter)
    printed: Counter = field(default_factory=Counter)


@dataclass
class Lane:
    name: str
    url: str
    references: Callable[[int], Reference]   # the n-th candidature's lines and replies
    workdir: Path
    kills: int
    seed: int
    sqlite_path: Path | None = None
    most_between: int = 2        # acknowledged answers between two kills: 0..most_between
    deadline: float | None = None  # time.monotonic() limit (soak), instead of a kill count

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.reader = Reader(self.url)
        self.result = LaneResult(self.name)
        self.segments: list[bytes] = []
        self.person, self.done, self.greeted = 0, 0, False
        self.rtt = 0.02

    @property
    def reference(self) -> Reference:
        return self.references(self.person)

    @property
    def user(self) -> str:
        return f"{self.name}-{self.person}"

    def where(self) -> str:
        return (f"[lane {self.name}, seed {self.seed}, kill {self.result.kills}, "
                f"person {self.user}, answers done {self.done}]")

    # ------------------------------------------------------------ the loop
    def run(self) -> LaneResult:
        try:
            while not self._finished():
                self._cycle()
            self._last_restart()
            self.result.verified += self.done
            self.result.people += 1
            return self.result
        except Broken as exc:
            raise Broken(f"{self.where()} {exc}") from None
        finally:
            self.reader.close()

    def _finished(self) -> bool:
        if self.deadline is not None:
            return time.monotonic() >= self.deadline
        return self.result.kills >= self.kills

    def _cycle(self) -> None:
        proc = self._launch()
        for _ in range(self.rng.randint(0, self.most_between)):
            if self.done == len(self.reference):
                break
            self._answer(proc)
        if self.done == len(self.reference):
            return self._next_person(proc)
        self._fatal(proc)

    def _last_restart(self) -> None:
        proc = self._launch()
        self.segments.append(proc.stop())
        snap = self.reader.snapshot(self.user)
        self.result.printed = account(snap.outbox, self.segments)
        if any(row.status not in ("sent", "uncertain") for row in snap.outbox):
            raise Broken("after a clean stop some outbox rows are neither sent nor uncertain")
        self._check_answers(snap, self.done)

    def _next_person(self, proc: BotProcess) -> None:
        self.segments.append(proc.stop())
        account(self.reader.snapshot(self.user).outbox, self.segments)
        self.result.verified += self.done
        self.result.people += 1
        self.person, self.done, self.greeted = self.person + 1, 0, False

    # ------------------------------------------------------------ one launch
    def _launch(self) -> BotProcess:
        before = self._max_outbox_id()
        proc = BotProcess(self.url, self.user, self.workdir / f"{self.name}.stderr")
        self.result.launches += 1
        greeting = self.reference.resumes[self.done] if self.greeted else self.reference.welcome
        try:
            proc.wait_until(lambda out: out.endswith(greeting), START_TIMEOUT,
                            f"waiting for the greeting {greeting[-200:]!r}")
        except Broken:
            proc.kill()
            raise
        self.greeted = True
        self._check_restart(before)
        return proc

    def _check_restart(self, before: int) -> None:
        snap = self.reader.snapshot(self.user)
        self._check_answers(snap, self.done)
        stale = [r for r in snap.outbox if r.id <= before and r.status not in ("sent", "uncertain")]
        if stale:
            raise Broken(f"after the restart, older outbox rows are still {stale[0].status!r}")

    def _answer(self, proc: BotProcess) -> None:
        expected = self.reference.replies[self.done]
        began = time.monotonic()
        position = proc.send(self.reference.steps[self.done].line)
        out = proc.wait_until(lambda out: len(out) - position >= len(expected)
                              or not expected.startswith(out[position:]),
                              REPLY_TIMEOUT, f"waiting for the reply to step {self.done}")
        if out[position:] != expected:
            raise Broken(f"reply to {self.reference.steps[self.done].line!r} was "
                         f"{out[position:][:300]!r}, expected {expected[:300]!r}")
        self.rtt = 0.7 * self.rtt + 0.3 * (time.monotonic() - began)
        self.done += 1
        self.result.acknowledged += 1

    # ------------------------------------------------------------ one kill
    def _fatal(self, proc: BotProcess) -> None:
        expected = self.reference.replies[self.done]
        before = self._max_outbox_id()
        delay = self.rng.uniform(0, self.rtt)
        position = proc.send(self.reference.steps[self.done].line)
        time.sleep(delay)
        out = proc.kill()
        self.segments.append(out)
        self.result.kills += 1
        partial = out[position:]
        if not expected.startswith(partial):
            raise Broken(f"after the kill the output holds {partial[:300]!r}, "
                         f"not the start of the reply {expected[:300]!r}")
        if partial == expected:
            self.result.acknowledged += 1
        if self.sqlite_path is not None:
            verdict = integrity(self.sqlite_path)
            if verdict != "ok":
                raise Broken(f"PRAGMA integrity_check says {verdict!r}")
        self.reader.settle()
        snap = self.reader.snapshot(self.user)
        committed = self._committed(snap, bool(partial))
        point = _kill_point(snap, before, committed > self.done, partial == expected)
        self.result.kill_points[point] += 1
        self.result.printed = account(snap.outbox, self.segments)
        self.done = committed

    def _committed(self, snap: Snapshot, printed: bool) -> int:
        """How many steps the store holds: the acknowledged ones, maybe one more."""
        for done in (self.done, self.done + 1):
            if (snap.answers == self.reference.answers_after(done)
                    and snap.history == self.reference.history_after(done)):
                if printed and done == self.done:
                    raise Broken("part of the reply was printed but its answer is not stored")
                self._check_answers(snap, done)
                return done
        self._check_answers(snap, self.done)   # raises with the difference
        raise Broken("unreachable")

    def _check_answers(self, snap: Snapshot, done: int) -> None:
        want = self.reference.answers_after(done)
        if snap.answers != want:
            missing = {k: v for k, v in want.items() if snap.answers.get(k) != v}
            extra = {k: v for k, v in snap.answers.items() if k not in want}
            raise Broken(f"answers differ from the {done} committed steps: "
                         f"missing or changed {missing}, unexpected {extra}")
        history = self.reference.history_after(done)
        if snap.history != history:
            raise Broken(f"answer history is not one row per answer: "
                         f"extra {snap.history - history}, missing {history - snap.history}")
        cursor = self.reference.cursors[done]
        if snap.cursor != cursor:
            raise Broken(f"the conversation stands at {snap.cursor!r}, expected {cursor!r}")

    def _max_outbox_id(self) -> int:
        if not self.greeted and self.person == 0:
            return 0                     # the first launch creates the store
        with self.reader.engine.connect() as conn:
            return int(conn.execute(select(func.max(T.outbox.c.id))).scalar() or 0)


def _kill_point(snap: Snapshot, before: int, committed: bool, printed: bool) -> str:
    """Where on the path of the answer the kill landed, as the store tells it."""
    if not committed:
        return "before the commit"
    statuses = {r.status for r in snap.outbox if r.id > before and r.printed}
    if statuses <= {"pending"}:
        return "after the commit, before printing"
    if statuses <= {"sent"}:
        return "after the reply was printed and marked sent"
    if "sending" in statuses:
        return "after printing, before marking sent" if printed else "while printing the reply"
    return "between two rows of the reply"


def run_lanes(store: str, lanes: int, kills: int, seed: int, workdir: Path,
              references: Callable[[int], Reference], deadline: float | None = None) -> list[LaneResult]:
    """`lanes` lanes side by side (each its own store), `kills` kills each."""
    with ExitStack() as stack:
        specs = []
        for index in range(lanes):
            name = f"{store}{index}"
            path = workdir / f"{name}.db" if store == "sqlite" else None
            url = f"sqlite:///{path}" if path else stack.enter_context(pg_database())
            specs.append(Lane(name, url, references, workdir, kills, seed + index, path,
                              deadline=deadline))
        with ThreadPoolExecutor(lanes) as pool:
            return list(pool.map(Lane.run, specs))


def summary(results: list[LaneResult]) -> dict:
    points: Counter = Counter()
    printed: Counter = Counter()
    for r in results:
        points.update(r.kill_points)
        printed.update(r.printed)
    return {"kills": sum(r.kills for r in results), "launches": sum(r.launches for r in results),
            "acknowledged": sum(r.acknowledged for r in results),
            "verified": sum(r.verified for r in results), "people": sum(r.people for r in results),
            "kill_points": dict(points), "outbox_rows": dict(printed)}
