"""The long reliability runs: `python -m tests.reliability.soak --minutes 5`.

Runs the hypothesis fuzzer (fuzz.py) for `--minutes`, then, with
`--kill-minutes M`, the kill -9 loop (killloop.py) for M more minutes on
SQLite and on PostgreSQL (when 127.0.0.1:5432 answers). Prints one JSON
line of figures at the end; exits 1 on the first broken invariant.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

from hypothesis.stateful import run_state_machine_as_test

from tnlbot.flows import load_all
from tnlbot.i18n import load_catalog

from .databases import NoPostgres, pg_database
from .fuzz import Conversations, fuzz_settings
from .killloop import run_lanes, summary
from .plan import References


def fuzz_for(minutes: float) -> dict:
    started = time.monotonic()
    deadline = started + minutes * 60
    examples, submissions = Conversations.examples, Conversations.submissions
    steps = Conversations.steps
    while time.monotonic() < deadline:
        run_state_machine_as_test(Conversations, settings=fuzz_settings(examples=5, steps=50))
    return {"minutes": round((time.monotonic() - started) / 60, 2),
            "examples": Conversations.examples - examples,
            "events": Conversations.steps - steps,
            "submissions checked": Conversations.submissions - submissions}


def kill_for(minutes: float, seed: int) -> dict:
    folder = Path(tempfile.mkdtemp(prefix="tnlbot-soak-"))
    catalog = load_catalog()
    references = References(folder, load_all(locales=catalog.locales), catalog)
    stores = ["sqlite"]
    try:
        with pg_database():
            stores.append("postgres")
    except NoPostgres:
        pass
    figures = {}
    for store in stores:
        deadline = time.monotonic() + minutes * 60 / len(stores)
        results = run_lanes(store, 2, 0, seed, folder, references, deadline=deadline)
        figures[store] = summary(results)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.reliability.soak")
    parser.add_argument("--minutes", type=float, default=5.0, help="fuzzing time")
    parser.add_argument("--kill-minutes", type=float, default=0.0,
                        help="kill -9 loop time, shared between SQLite and PostgreSQL")
    parser.add_argument("--seed", type=int, default=random.randrange(2**31))
    args = parser.parse_args(argv)
    report: dict = {"seed": args.seed}
    try:
        if args.minutes > 0:
            report["fuzz"] = fuzz_for(args.minutes)
        if args.kill_minutes > 0:
            report["kill -9"] = kill_for(args.kill_minutes, args.seed)
    except Exception as exc:  # noqa: BLE001 - a broken invariant or a crash of the bot
        report["broken"] = f"{type(exc).__name__}: {str(exc)[:4000]}"
        print(json.dumps(report, ensure_ascii=False))
        return 1
    print(json.dumps(report, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
