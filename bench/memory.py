"""Resident memory of a process holding the App, idle, with many open candidatures.

Each measure runs in a fresh process (spawn) so nothing else of the
benchmark is in its memory. The process opens the App on a store that
already holds `existing` candidatures (written in bulk, see fill.py), then
creates more itself through the real path (a /start update each, parsed,
dispatched, committed, reply read and rendered) and answers in some, in
steps, and reads its resident set size after each step, idle (after a garbage collection and a
short pause). The first events fill the bounded caches (SQLite's page
cache, 2 MB a connection; SQLAlchemy's statement cache; tnlbot's per-process
copies of answers and shortcut rows, 1,024 conversations each): growth after
them is what a leak would show.
"""
from __future__ import annotations

import gc
import json
import multiprocessing as mp
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from .fill import campaign, days, fill


@dataclass(frozen=True)
class Mark:
    created: int          # candidatures created by the process so far
    rss: int              # bytes, idle, after this step
    seconds: float        # time of this step
    events: int           # updates handled in this step


@dataclass(frozen=True)
class Memory:
    existing: int                     # candidatures written in bulk before the process
    rss_app: int                      # bytes: App built, nothing handled yet
    marks: tuple[Mark, ...]
    answers: int = 0                  # answers stored at the end

    @property
    def total(self) -> int:
        return self.existing + self.marks[-1].created


def rss() -> int:
    try:
        import psutil
        return int(psutil.Process().memory_info().rss)
    except ImportError:  # Linux without psutil
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    raise RuntimeError("cannot read the resident set size")


def idle_rss() -> int:
    gc.collect()
    time.sleep(0.3)
    return rss()


def _child(url: str, first: int, plan: tuple[tuple[str, int], ...], script, results) -> None:
    """Steps of the plan: ("start", n) opens n candidatures, ("answer", n) sends n answers."""
    from .tnl import TnlBot
    from .workload import message_update
    bot = TnlBot(url, campaign=False)
    try:
        bot.app.dispatcher.campaign_slug = "memory"
        rss_app = idle_rss()
        marks, made, said, update_id = [], 0, 0, 0
        for kind, count in plan:
            started = time.perf_counter()
            for _ in range(count):
                update_id += 1
                if kind == "start":
                    raw = message_update(update_id, first + made, 1, "/start")
                    made += 1
                else:   # round-robin over the conversations opened so far
                    who, step = said % made, said // made
                    raw = message_update(update_id, first + who, step + 2, script.text(step, first + who))
                    said += 1
                bot.handle_raw(json.dumps(raw))
            marks.append(Mark(made, idle_rss(), time.perf_counter() - started - 0.3, count))
        results.put((rss_app, tuple(marks)))
    finally:
        bot.close()


def measure(existing: int, plan: tuple[tuple[str, int], ...], script=None,
            members: int = 3) -> Memory:
    """RSS of a fresh process following `plan` on a store of `existing` candidatures."""
    now = datetime.now(timezone.utc)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "memory.db"
        campaign_id = campaign(path, "memory", now - days(1), now + days(120))
        if existing:
            fill(path, campaign_id, existing, members, joined=now - days(2), active=now - days(1))
        from tnlbot.store import Store
        ctx = mp.get_context("spawn")
        results = ctx.Queue()
        proc = ctx.Process(target=_child, args=(Store.sqlite_url(path), 10_000_000, plan, script,
                                                results))
        proc.start()
        try:
            rss_app, marks = results.get(timeout=900)
        finally:
            proc.join(timeout=60)
        if proc.exitcode:
            raise RuntimeError(f"the memory child failed (exit code {proc.exitcode})")
        from .fill import count
        total, stored = count(path, "candidatures"), count(path, "answers")
    result = Memory(existing, rss_app, marks, stored)
    sent = sum(m.events for (kind, _), m in zip(plan, marks) if kind == "answer")
    if stored != sent:
        raise AssertionError(f"{sent} answers sent, {stored} stored")
    if total != result.total:
        raise AssertionError(f"{total} candidatures stored, expected {result.total}")
    return result
