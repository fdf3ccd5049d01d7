"""Where the time of one answer goes: cProfile over tnlbot's answers on SQLite.

Run with `bench/run --profile`. Prints the time per answer by area (each
function's own time, attributed by the file it lives in) and the functions
with the most cumulative time inside tnlbot. The profiler roughly doubles
the time of small Python calls: read the shares, not the absolute values.
"""
from __future__ import annotations

import cProfile
import pstats
import tempfile
from collections import defaultdict
from pathlib import Path

from .tnl import TnlBot
from .workload import learn_script, updates

AREAS = (  # (fragment of the file path, area); first match wins
    ("tnlbot/core/", "engine (tnlbot/core)"),
    ("tnlbot/store/", "store (tnlbot/store)"),
    ("tnlbot/campaigns/", "campaign hook (tnlbot/campaigns)"),
    ("tnlbot/jury/", "jury hook (tnlbot/jury)"),
    ("tnlbot/transports/", "Telegram parse + render (tnlbot/transports)"),
    ("tnlbot/runtime/", "dispatcher (tnlbot/runtime)"),
    ("tnlbot/", "other tnlbot"),
    ("bench/", "benchmark driver"),
    ("sqlalchemy/", "SQLAlchemy"),
    ("transitions/", "transitions"),
    ("babel/", "Babel"),
    ("json/", "json"),
    ("method 'execute' of 'sqlite3", "sqlite3: execute"),
    ("method 'commit' of 'sqlite3", "sqlite3: commit"),
    ("sqlite3", "sqlite3: other"),
    ("psycopg", "psycopg"),
)


def area(func: tuple[str, int, str]) -> str:
    filename, _, name = func
    where = filename.replace("\\", "/") if filename != "~" else name
    for fragment, label in AREAS:
        if fragment in where:
            return label
    return "Python builtins and stdlib"


def profile(conversations: int = 200, answers: int = 20, top: int = 25) -> str:
    script = learn_script(answers)
    work = updates(script, conversations)
    with tempfile.TemporaryDirectory() as tmp:
        bot = TnlBot.sqlite(Path(tmp) / "profile.db")
        try:
            for raw in work.starts:
                bot.handle_raw(raw)
            profiler = cProfile.Profile()
            profiler.enable()
            for raw in work.answers:
                bot.handle_raw(raw)
            profiler.disable()
        finally:
            bot.close()
    stats = pstats.Stats(profiler)
    n = len(work.answers)
    by_area: dict[str, float] = defaultdict(float)
    for func, (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        by_area[area(func)] += tottime
    total = sum(by_area.values())
    lines = [f"Profiled {n} answers ({conversations} conversations x {answers}); "
             f"{total / n * 1e6:,.0f} µs per answer under the profiler.", "",
             "| area (own time) | µs per answer | share |", "|---|---|---|"]
    for label, seconds in sorted(by_area.items(), key=lambda kv: -kv[1]):
        lines.append(f"| {label} | {seconds / n * 1e6:,.0f} | {seconds / total:.0%} |")
    lines += ["", "| tnlbot function (cumulative) | calls per answer | µs per answer |", "|---|---|---|"]
    rows = [(func, nc, ct) for func, (_cc, nc, _tt, ct, _c) in stats.stats.items()  # type: ignore[attr-defined]
            if "/tnlbot/" in func[0].replace("\\", "/")]
    for (filename, line, name), calls, cumulative in sorted(rows, key=lambda r: -r[2])[:top]:
        short = filename.replace("\\", "/").split("/tnlbot/", 1)[1]
        lines.append(f"| tnlbot/{short}:{line} {name} | {calls / n:.1f} | {cumulative / n * 1e6:,.0f} |")
    return "\n".join(lines)
