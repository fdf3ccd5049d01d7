"""Resident memory of a process holding the App, idle, with many open candidatures.

Each measure runs in a fresh process (spawn) so nothing else of the
benchmark is in its memory. The process opens the App on a store that
already holds `existing` candidatures (written in bulk, see fill.py), then
creates more itself through the real path (a /start update each, parsed,
dispatched, committed, reply read and rendered), in steps, and reads its
resident set size after each step, idle (after a garbage collection and a
short pause). The first thousand events warm the caches (SQLite's page
cache, bounded at 2 MB a connection; SQLAlchemy's statement cache): growth
after them is what a leak would show.
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
class Memory:
    existing: int                     # candidatures written in bulk before the process
    rss_app: int                      # bytes: App built, nothing handled yet
    marks: tuple[tuple[int, int], ...]  # (candidatures created by the process so far, bytes)

    @property
    def total(self) -> int:
        return self.existing + self.marks[-1][0]

    @property
    def rss_end(self) -> int:
        return self.marks[-1][1]

    def growth_per_created(self) -> float:
        """Bytes per candidature created between the last two steps."""
        (made_a, rss_a), (made_b, rss_b) = self.marks[-2], self.marks[-1]
        return (rss_b - rss_a) / (made_b - made_a)


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


def _child(url: str, first: int, steps: tuple[int, ...], results) -> None:  # noqa: ANN001
    from .tnl import TnlBot
    from .workload import message_update
    bot = TnlBot(url, campaign=False)
    try:
        bot.app.dispatcher.campaign_slug = "memory"
        rss_app = idle_rss()
        marks, made = [], 0
        for step in steps:
            for n in range(made, step):
                bot.handle_raw(json.dumps(message_update(n + 1, first + n, 1, "/start")))
            made = step
            marks.append((made, idle_rss()))
        results.put((rss_app, tuple(marks)))
    finally:
        bot.close()


def measure(existing: int, steps: tuple[int, ...], members: int = 3) -> Memory:
    """RSS of a fresh process creating candidatures (cumulative `steps`) on top of `existing`."""
    now = datetime.now(timezone.utc)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "memory.db"
        campaign_id = campaign(path, "memory", now - days(1), now + days(120))
        if existing:
            fill(path, campaign_id, existing, members, joined=now - days(2), active=now - days(1))
        from tnlbot.store import Store
        ctx = mp.get_context("spawn")
        results = ctx.Queue()
        proc = ctx.Process(target=_child, args=(Store.sqlite_url(path), 10_000_000, steps, results))
        proc.start()
        try:
            rss_app, marks = results.get(timeout=900)
        finally:
            proc.join(timeout=60)
        if proc.exitcode:
            raise RuntimeError(f"the memory child failed (exit code {proc.exitcode})")
        from .fill import count
        total = count(path, "candidatures")
    result = Memory(existing, rss_app, marks)
    if total != result.total:
        raise AssertionError(f"{total} candidatures stored, expected {result.total}")
    return result
