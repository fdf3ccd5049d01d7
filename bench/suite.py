"""Runs every benchmark in one process, in order, and builds the table."""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, replace

from . import answers as A
from .report import Row, load, machine, markdown, mb, ms, rate, ratio_row
from .tnl import parser_and_renderer
from .workload import Script


@dataclass(frozen=True)
class Sizes:
    conversations: int = 1000
    answers: int = 20
    budget: float = 90.0              # seconds of answers for tnlbot and the floor on SQLite
    peer_a_budget: float = 30.0       # seconds of answers for the in-memory peer
    peer_b_budget: float = 20.0       # seconds of answers for the pickle peer
    pg_conversations: int = 100
    pg_budget: float = 30.0           # seconds of answers per tnlbot run on PostgreSQL (floor: half)
    memory_created: int = 1000
    memory_warm: int = 2_048          # more /starts than the bounded caches hold
    memory_large: int = 36_000
    sweep_candidatures: int = 36_000
    sweep_members: int = 3
    runs: int = 2                     # start-up repetitions (flow load: at least 3)
    rounds: int = 3                   # interleaved rounds of tnlbot, Peer A and the floor (best kept)
    e2e_people: tuple[int, ...] = (50, 200)   # end to end: people answering at once
    e2e_budget: float = 40.0          # seconds per end-to-end contest at most (half with limits)
    matrix_answers: int = 60          # answers per Matrix room against a real Synapse


QUICK = Sizes(conversations=40, budget=20.0, peer_a_budget=5.0, peer_b_budget=3.0,
              pg_conversations=10, pg_budget=10.0, memory_created=100, memory_warm=200, memory_large=2_000,
              sweep_candidatures=1_000, runs=1, rounds=1, e2e_people=(10,), e2e_budget=20.0,
              matrix_answers=10)


@dataclass(frozen=True)
class Contest:
    """The SQLite answers runs, kept for the PostgreSQL ratios."""
    script: Script
    tnl: A.Run
    peer_a: A.Run
    peer_b: A.Run
    floor: A.Run
    source: str       # tnlbot's parse + render functions


class Log:
    def __init__(self) -> None:
        self.start = time.perf_counter()

    def __call__(self, text: str) -> None:
        print(f"[{time.perf_counter() - self.start:6.1f} s] {text}", file=sys.stderr, flush=True)


def run_row(section: str, run: A.Run) -> Row:
    measure = f"{run.name} ({run.note})" if run.note else run.name
    return Row(section, measure, rate(run.rate))


def best(runs: list[A.Run]) -> A.Run:
    """The fastest of a contestant's rounds (a shared machine only ever slows a run down)."""
    top = max(runs, key=lambda r: r.rate)
    if len(runs) == 1:
        return top
    note = f"best of {len(runs)} interleaved rounds: " + ", ".join(f"{r.rate:,.0f}" for r in runs) + "/s"
    return replace(top, note="; ".join(x for x in (top.note, note) if x))


def answers_rows(sizes: Sizes, log: Log) -> tuple[list[Row], Contest]:
    script = A.learn_script(sizes.answers)
    n = sizes.conversations
    tnl_runs, a_runs, floor_runs, batched_runs = [], [], [], []
    for round_ in range(1, sizes.rounds + 1):   # ABC ABC: a passing load hits every contestant
        log(f"round {round_}: tnlbot on SQLite, {n} conversations x {sizes.answers} answers")
        tnl_runs.append(A.tnlbot_sqlite(script, n, sizes.budget))
        log(f"round {round_}: tnlbot on SQLite, batches of 100 updates")
        batched_runs.append(A.tnlbot_sqlite(script, n, sizes.budget, batch=100))
        log(f"round {round_}: Peer A (PTB, in memory)")
        a_runs.append(A.ptb_memory(script, n, sizes.peer_a_budget))
        log(f"round {round_}: floor (raw sqlite3)")
        floor_runs.append(A.floor_sqlite_run(script, n, sizes.budget))
    tnl, peer_a, floor, batched = best(tnl_runs), best(a_runs), best(floor_runs), best(batched_runs)
    log(f"Peer B (PTB + PicklePersistence, {sizes.peer_b_budget:.0f} s of answers at most)")
    peer_b = A.ptb_pickle(script, n, sizes.peer_b_budget)
    section = f"1. answers, SQLite ({n} x {sizes.answers})"
    rows = [run_row(section, r) for r in (tnl, batched, peer_a, peer_b, floor)]
    rows += [
        ratio_row(section, "tnlbot, batches of 100 / Peer A", batched.rate / peer_a.rate, at_least=1.5),
        ratio_row(section, "tnlbot / Peer A", tnl.rate / peer_a.rate, at_least=1.0),
        ratio_row(section, "tnlbot / Peer B", tnl.rate / peer_b.rate, at_least=10.0),
        ratio_row(section, "floor / tnlbot", floor.rate / tnl.rate, at_most=2.0),
        Row(section, "tnlbot: new conversation (/start)", ms(tnl.start_seconds / n) + " each"),
    ]
    return rows, Contest(script, tnl, peer_a, peer_b, floor, parser_and_renderer()[2])


def postgres_rows(sizes: Sizes, log: Log, contest: Contest) -> list[Row]:
    from .pg import reachable
    n = sizes.pg_conversations
    section = f"2. answers, PostgreSQL ({n} x {sizes.answers})"
    why = reachable()
    if why:
        return [Row(section, "tnlbot and floor on PostgreSQL", "", met=f"not run: {why}")]
    from .pg import wire_rows
    log("tnlbot on PostgreSQL: statements and round trips per answer (libpq trace)")
    rows: list[Row] = wire_rows(section, contest.script, 100)
    runs, batched = {}, {}
    for workers in (1, 2):
        log(f"tnlbot on PostgreSQL, {workers} worker(s), {n} conversations")
        tnl = A.tnlbot_postgres(contest.script, n, workers, sizes.pg_budget)
        log(f"tnlbot on PostgreSQL, {workers} worker(s), batches of 100 updates")
        grouped = A.tnlbot_postgres(contest.script, n, workers, sizes.pg_budget, batch=100)
        log(f"floor on PostgreSQL, {workers} worker(s)")
        floor = A.floor_postgres(contest.script, n, workers, sizes.pg_budget / 2)
        runs[workers], batched[workers] = tnl, grouped
        peer_a, peer_b = contest.peer_a.rate, contest.peer_b.rate
        rows += [run_row(section, tnl), run_row(section, grouped), run_row(section, floor),
                 ratio_row(section, f"tnlbot {workers}w, batches of 100 / Peer A", grouped.rate / peer_a,
                           at_least=1.0),
                 ratio_row(section, f"tnlbot {workers}w / Peer A", tnl.rate / peer_a),
                 ratio_row(section, f"tnlbot {workers}w / Peer B", tnl.rate / peer_b, at_least=10.0),
                 ratio_row(section, f"floor {workers}w / tnlbot {workers}w", floor.rate / tnl.rate, at_most=2.0)]
    rows += [ratio_row(section, "tnlbot 2 workers / 1 worker, batches of 100",
                       batched[2].rate / batched[1].rate, at_least=1.8),
             ratio_row(section, "tnlbot 2 workers / 1 worker", runs[2].rate / runs[1].rate)]
    return rows


def memory_rows(sizes: Sizes, log: Log, script) -> list[Row]:
    """Same events in both processes (the same /starts, then the same number of answers):
    only the store's size differs. The /starts outnumber tnlbot's bounded per-process caches
    (1,024 conversations each), so both processes hold them full when they are compared."""
    from .memory import measure
    warm, made = sizes.memory_warm, sizes.memory_created
    answers = made - made // 5
    existing = sizes.memory_large - warm
    log(f"memory: a process opening {warm}, answering {answers} times, then opening {made} more")
    small = measure(0, (("start", warm), ("answer", answers), ("start", made)), script)
    log(f"memory: a process opening {warm} and answering {answers} times on a store of {existing}")
    large = measure(existing, (("start", warm), ("answer", answers)), script)
    section = "3. memory (resident, idle)"
    started, warmed, later = small.marks
    per_idle = (large.marks[-1].rss - warmed.rss) / existing
    per_made = (later.rss - warmed.rss) / made
    start_small = started.seconds / started.events
    start_large = large.marks[0].seconds / large.marks[0].events
    events = warm + answers
    return [
        Row(section, "App built, nothing handled", mb(small.rss_app)),
        Row(section, f"{warm:,} open candidatures ({events:,} events)", mb(warmed.rss)),
        Row(section, f"{large.total:,} open candidatures ({events:,} events)", mb(large.marks[-1].rss)),
        Row(section, "growth per idle candidature", f"{per_idle:,.0f} B", target="<= 100 B",
            met="yes" if per_idle <= 100 else "no"),
        Row(section, f"growth per candidature opened after the first {warm:,}", f"{per_made:,.0f} B",
            target="<= 100 B", met="yes" if per_made <= 100 else "no"),
        Row(section, f"/start (new candidature), store of 0 to {warm:,}", ms(start_small)),
        ratio_row(section, f"/start, store of {existing:,} / store of 0 to {warm:,}", start_large / start_small,
                  value=ms(start_large)),
    ]


def sweep_rows(sizes: Sizes, log: Log) -> list[Row]:
    from .sweep import sweep
    n, m = sizes.sweep_candidatures, sizes.sweep_members
    log(f"scheduler sweep over {n} candidatures x {m} members")
    result = sweep(n, m)
    section = f"4. scheduler sweep ({n:,} x {m} members)"
    if result.pending:
        return [Row(section, "due reminders", "", met=result.pending)]
    share = f"{result.due:,} due"
    return [
        Row(section, f"first sweep: every instant computed and stored ({n:,} drafts)",
            ms(result.settle_seconds)),
        Row(section, f"sweep, 1 % due ({share}, {result.actions:,} actions)", ms(result.seconds)),
        Row(section, "bare SELECT count(*) of the candidatures", ms(result.count_seconds)),
        ratio_row(section, "sweep with 1 % due / count", result.seconds / result.count_seconds, at_most=10),
        ratio_row(section, "the same in CPU time (best of 9 runs each)",
                  result.cpu_seconds / max(result.count_cpu_seconds, 1e-6), value=ms(result.cpu_seconds)),
        Row(section, f"the wave with 1 % due ({result.sent:,} reminders recorded, queued)",
            ms(result.wave_seconds)),
        Row(section, "sweep, none due (after that wave)", ms(result.none_seconds)),
        ratio_row(section, "sweep with none due / count", result.none_seconds / result.count_seconds, at_most=3),
    ]


def startup_rows(sizes: Sizes, log: Log) -> list[Row]:
    from .startup import flow_load, start_up
    log("flow load and start-up")
    tnl, bare = flow_load(max(sizes.runs, 3))
    new, again, peer = start_up(sizes.runs)
    section = "5. flows and start-up"
    return [
        Row(section, f"load + validate every flow ({tnl.detail})", ms(tnl.seconds)),
        Row(section, "bare yaml.safe_load of the same files", ms(bare.seconds)),
        ratio_row(section, "load_all / yaml parse", tnl.seconds / bare.seconds),
        Row(section, f"`{new.detail}` to first prompt, new database", ms(new.seconds)),
        Row(section, f"`{again.detail}` to first prompt, restart", ms(again.seconds)),
        Row(section, "`python -c pass`", ms(peer.seconds)),
        ratio_row(section, "start-up (restart) / python -c pass", again.seconds / peer.seconds, at_most=5.0),
    ]


def matrix_rows(sizes: Sizes, log: Log) -> list[Row]:
    """The next question after an answer on Matrix, against a real Synapse (the test extra)."""
    import asyncio
    import importlib.util
    if importlib.util.find_spec("synapse") is None:
        log("Matrix: skipped (Synapse is not installed: pip install -e '.[test]')")
        return []
    from .matrix_latency import measure, median, p95
    log("Matrix: answer -> next question against a real Synapse")
    found, _ = asyncio.run(measure(sizes.matrix_answers))
    section = "6. Matrix, next question after an answer (real Synapse)"

    def both(values: list[float]) -> str:
        return f"{median(values) * 1000:,.0f} / {p95(values) * 1000:,.0f} ms"
    return [
        Row(section, f"encrypted room: median / p95 (n={len(found.encrypted)})", both(found.encrypted)),
        Row(section, "homeserver round trip beside it (agent -> agent): median / p95", both(found.hop_encrypted)),
        ratio_row(section, "encrypted room, median / homeserver round trip", found.ratio, at_most=3.0),
        Row(section, f"unencrypted room: median / p95 (n={len(found.clear)})", both(found.clear)),
        Row(section, "homeserver round trip beside it: median / p95", both(found.hop_clear)),
        Row(section, "bot events per question, unencrypted / encrypted",
            f"{found.events[0]:.2f} / {found.events[1]:.2f}"),
    ]


def e2e_rows(sizes: Sizes, log: Log) -> list[Row]:
    """Whole processes over HTTP: tnlbot's Telegram runner against a plain PTB bot."""
    import asyncio

    from .e2e.run import PLAIN, TNLBOT, contests, play_all
    results = asyncio.run(play_all(contests(sizes.e2e_people, sizes.e2e_budget, sizes.e2e_budget * 0.75),
                                   log=log))
    rows: list[Row] = []
    for result in results:
        c = result.contest
        section = (f"0. end to end, {c.people} people, "
                   + ("kill -9 once" if c.kill else "Telegram's limits" if c.limits else "no send limits"))
        if c.kill:
            rows.append(Row(section, f"{c.bot}: answers lost / questions asked twice / people stuck",
                            f"{result.lost} / {result.duplicates} / {result.stalled}"))
            continue
        rows.append(Row(section, f"{c.bot}: {result.answers:,} of {result.expected:,} answers; latency "
                        f"p50 / p95 / p99 {result.p50 * 1000:,.0f} / {result.p95 * 1000:,.0f} / "
                        f"{result.p99 * 1000:,.0f} ms (own p95 {result.own_p95 * 1000:,.1f} ms); "
                        f"CPU {result.cpu_per_answer * 1000:.2f} ms and {result.calls_per_answer:.2f} "
                        f"API calls per answer; RSS {result.rss / 1_048_576:,.0f} MB", rate(result.rate)))
    for key in {(r.contest.people, r.contest.limits) for r in results if not r.contest.kill}:
        pair = {r.contest.bot: r for r in results if not r.contest.kill
                and (r.contest.people, r.contest.limits) == key}
        if len(pair) < 2:
            continue
        tnl, plain = pair[TNLBOT], pair[PLAIN]
        section = f"0. end to end, {key[0]} people, " + ("Telegram's limits" if key[1] else "no send limits")
        rows += [ratio_row(section, "answers/s, tnlbot / plain PTB bot", tnl.rate / plain.rate, at_least=1.0),
                 ratio_row(section, "CPU per answer, tnlbot / plain PTB bot",
                           tnl.cpu_per_answer / plain.cpu_per_answer, at_most=1.0),
                 ratio_row(section, "p95 latency, tnlbot / plain PTB bot", tnl.p95 / plain.p95, at_most=1.0)]
        if key[1]:
            rows.append(ratio_row(section, "tnlbot: API calls per answer", tnl.calls_per_answer,
                                  at_most=1.2))
        # alone, the bot's own time is its work on the answer; with many people answering at
        # once it is mostly the wait behind the others' answers fetched in the same batch
        own = "tnlbot's own time, answer fetched to next question sent, p95"
        if key[0] == 1:
            rows.append(Row(section, own + f" (p50 {ms(tnl.own_p50)}; plain PTB bot: p50 "
                            f"{ms(plain.own_p50)}, p95 {ms(plain.own_p95)})", ms(tnl.own_p95),
                            target="<= 5 ms", met="yes" if tnl.own_p95 <= 0.005 else "no"))
        else:
            rows.append(Row(section, own + " (queued behind the batch)", ms(tnl.own_p95)))
    return sorted(rows, key=lambda r: r.section)


def soak() -> int:
    """The reliability suite's long runs (marked `soak`, left out of the normal test command)."""
    import subprocess
    from pathlib import Path
    root = Path(__file__).resolve().parent.parent
    command = [sys.executable, "-m", "pytest", "-q", "-m", "soak", "-p", "no:cacheprovider", "tests"]
    print("$ python -m pytest -q -m soak tests", flush=True)
    code = subprocess.call(command, cwd=root)
    return 0 if code == 5 else code   # 5: no test carries the mark (yet)


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    parser.add_argument("--conversations", type=int, help="SQLite conversations (default 1000)")
    parser.add_argument("--pg-conversations", type=int, help="PostgreSQL conversations (default 100)")
    parser.add_argument("--rounds", type=int, help="interleaved rounds on SQLite (default 3)")
    parser.add_argument("--skip", default="", help="comma-separated: e2e,postgres,memory,sweep,startup,matrix")
    parser.add_argument("--profile", action="store_true",
                        help="only profile tnlbot's answers on SQLite (where the time goes)")
    parser.add_argument("--soak", action="store_true",
                        help="only run the long reliability tests (pytest -m soak), not the table")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    if args.soak:
        return soak()
    if args.profile:
        from .hotspots import profile
        print(profile(args.conversations or 200))
        return 0
    sizes = QUICK if args.quick else Sizes()
    if args.conversations:
        sizes = replace(sizes, conversations=args.conversations)
    if args.pg_conversations:
        sizes = replace(sizes, pg_conversations=args.pg_conversations)
    if args.rounds:
        sizes = replace(sizes, rounds=args.rounds)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    log, load_before = Log(), load()
    rows = e2e_rows(sizes, log) if "e2e" not in skip else []
    more, contest = answers_rows(sizes, log)
    rows += more
    if "postgres" not in skip:
        rows += postgres_rows(sizes, log, contest)
    if "memory" not in skip:
        rows += memory_rows(sizes, log, contest.script)
    for name, step in (("sweep", sweep_rows), ("startup", startup_rows), ("matrix", matrix_rows)):
        if name not in skip:
            rows += step(sizes, log)
    log("done")
    print(f"Machine: {machine()}; load average {load_before} at the start, {load()} at the end")
    print(f"Sizes: {sizes}")
    print(f"tnlbot path: {contest.source}")
    print()
    print(markdown(rows))
    return 0
