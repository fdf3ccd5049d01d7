"""Instructions per answer on tnlbot's SQLite path, counted by callgrind.

The wall clock of a shared machine moves by tens of percent; an instruction
count does not. This runs tnlbot's answers (the same path as the answers
benchmark) under `valgrind --tool=callgrind` with instrumentation switched
on only around the measured answers, and prints instructions per answer.

    python -m bench.instructions [ANSWERS]      # default 400; needs valgrind

It counts CPU instructions only: time spent in system calls (the WAL writes)
and cache misses do not show. Use it to compare two versions of the code.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _measured(answers: int) -> None:
    """Inside valgrind: warm up, then switch instrumentation on around `answers` answers."""
    from .tnl import TnlBot
    from .workload import learn_script, updates
    script = learn_script(20)
    work = updates(script, max(50, answers // 10))
    with tempfile.TemporaryDirectory() as tmp:
        bot = TnlBot.sqlite(Path(tmp) / "instructions.db")
        try:
            for raw in work.starts + work.answers[:40]:
                bot.handle_raw(raw)
            switch = ["callgrind_control", "-i"]
            subprocess.run(switch + ["on", str(os.getpid())], capture_output=True, check=False)
            for raw in work.answers[40:40 + answers]:
                bot.handle_raw(raw)
            subprocess.run(switch + ["off", str(os.getpid())], capture_output=True, check=False)
        finally:
            bot.close()


def count(answers: int = 400) -> int:
    if not shutil.which("valgrind") or not shutil.which("callgrind_annotate"):
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        subprocess.run(["valgrind", "--tool=callgrind", "--instr-atstart=no",
                        f"--callgrind-out-file={out}", sys.executable, "-m", "bench.instructions",
                        "--inside", str(answers)],
                       cwd=ROOT, check=True, capture_output=True)
        summary = subprocess.run(["callgrind_annotate", str(out)], capture_output=True, text=True,
                                 check=True).stdout
    found = re.search(r"([\d,]+)\s+\(100\.0%\)\s+PROGRAM TOTALS", summary)
    if found is None:
        raise SystemExit("callgrind_annotate printed no total")
    return int(found.group(1).replace(",", "")) // answers


def main(argv: list[str]) -> int:
    if argv[:1] == ["--inside"]:
        _measured(int(argv[1]))
        return 0
    answers = int(argv[0]) if argv else 400
    print(f"{count(answers):,} instructions per answer ({answers} answers, SQLite)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
