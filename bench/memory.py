"""Resident memory of a process holding the App, idle, with many open candidatures.

Each measure runs in a fresh process (spawn) so nothing else of the
benchmark is in its memory. The process opens the App on a store that
already holds `existing` candidatures (written in bulk, see fill.py), then
creates `created` more itself through the real path (a /start update each,
parsed, dispatched, committed, reply read and rendered), in two halves, and
reads its resident set size after each half, idle (after a garbage
collection and a short pause).
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
    total: int            # candidatures in the store at the end
    created: int          # of which created by the measured process
    rss_app: int          # bytes: App built, nothing handled yet
    rss_half: int         # after the first half of its own
    rss_end: int          # after all


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


def _child(url: str, first: int, created: int, results) -> None:  # noqa: ANN001
    from .tnl import TnlBot
    from .workload import message_update
    bot = TnlBot(url, campaign=False)
    try:
        bot.app.dispatcher.campaign_slug = "memory"
        rss_app = idle_rss()
        marks = []
        for half in (range(0, created // 2), range(created // 2, created)):
            for n in half:
                bot.handle_raw(json.dumps(message_update(n + 1, first + n, 1, "/start")))
            marks.append(idle_rss())
        results.put((rss_app, marks[0], marks[1]))
    finally:
        bot.close()


def measure(existing: int, created: int, members: int = 3) -> Memory:
    """RSS of a fresh process after creating `created` candidatures on top of `existing`."""
    now = datetime.now(timezone.utc)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "memory.db"
        campaign_id = campaign(path, "memory", now - days(1), now + days(120))
        if existing:
            fill(path, campaign_id, existing, members, joined=now - days(2), active=now - days(1))
        from tnlbot.store import Store
        ctx = mp.get_context("spawn")
        results = ctx.Queue()
        proc = ctx.Process(target=_child, args=(Store.sqlite_url(path), 10_000_000, created, results))
        proc.start()
        try:
            app, half, end = results.get(timeout=900)
        finally:
            proc.join(timeout=60)
        if proc.exitcode:
            raise RuntimeError(f"the memory child failed (exit code {proc.exitcode})")
        from .fill import count
        total = count(path, "candidatures")
    if total != existing + created:
        raise AssertionError(f"{total} candidatures stored, expected {existing + created}")
    return Memory(total, created, app, half, end)
