"""Flow load and start-up: load + validate every shipped flow; `tnlbot` to its first prompt.

Flow loading is compared with a bare `yaml.safe_load` of the same files (the
parse alone, no validation, no model). Start-up is measured from spawning
`tnlbot` (the console chat, stdin piped) to the first line it prints, on a
new database (migrations run) and again on that database (a restart); the
peer is `python -c pass`, the price of any Python program.
"""
from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml


@dataclass(frozen=True)
class Timing:
    seconds: float     # median
    runs: int
    detail: str = ""


def median_of(runs: int, action) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def flow_load(runs: int) -> tuple[Timing, Timing]:
    """(tnlbot.flows.load_all, bare yaml.safe_load of the same files)."""
    from tnlbot import flows as flows_module
    from tnlbot.flows import BUNDLED, load_all
    from tnlbot.i18n import load_catalog
    locales = load_catalog().locales
    flows = load_all(locales=locales)
    files = sorted(BUNDLED.glob("*.yaml"))
    questions = sum(len(f.questions) for f in flows.values())
    def cold() -> None:      # each run parses the files again (a process keeps a file's parse)
        flows_module._PARSED.clear()
        load_all(locales=locales)
    tnl = median_of(runs, cold)
    bare = median_of(runs, lambda: [yaml.safe_load(p.read_text(encoding="utf-8")) for p in files])
    detail = f"{len(flows)} flows, {questions} questions, {len(files)} files"
    return Timing(tnl, runs, detail), Timing(bare, runs, detail)


def command() -> list[str]:
    found = shutil.which("tnlbot")
    return [found] if found else [sys.executable, "-m", "tnlbot"]


def first_line(argv: list[str], env: dict[str, str]) -> float:
    """Seconds from spawning to the first line on stdout; the process is then ended."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, env=env)
    assert proc.stdout is not None and proc.stdin is not None
    line = proc.stdout.readline()
    seconds = time.perf_counter() - start
    proc.stdin.close()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if not line.strip():
        raise RuntimeError(f"{argv[-1]} printed nothing")
    return seconds


def byte_compile() -> None:
    """Byte-compile the tnlbot package that `tnlbot` will import, as pip does when it installs
    one: a checkout run with PYTHONDONTWRITEBYTECODE set (or never run) would otherwise compile
    every changed module from source at each start, which is not the start-up people get."""
    import compileall
    found = subprocess.run([*python_for(command()), "-c", "import tnlbot, os; print(os.path.dirname(tnlbot.__file__))"],
                           capture_output=True, text=True, check=True).stdout.strip()
    compileall.compile_dir(found, quiet=1)


def python_for(argv: list[str]) -> list[str]:
    """The interpreter that runs `argv` (the `tnlbot` script's own, else this one)."""
    if len(argv) == 1:
        first = Path(argv[0]).read_text(encoding="utf-8", errors="replace").splitlines()[0]
        if first.startswith("#!") and "python" in first:
            return [first[2:].strip()]
    return [sys.executable]


def start_up(runs: int) -> tuple[Timing, Timing, Timing]:
    """(new database, restart on it, python -c pass) medians."""
    argv = command()
    byte_compile()
    name = "tnlbot" if len(argv) == 1 else "python -m tnlbot"
    new, again = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(runs):
            env = {**os.environ, "TNLBOT_DATABASE_URL": f"sqlite:///{Path(tmp) / f'start{n}.db'}"}
            env.pop("TNLBOT_CAMPAIGN", None)
            new.append(first_line(argv, env))
            again.append(first_line(argv, env))
    peer = median_of(runs, lambda: subprocess.run([sys.executable, "-c", "pass"], check=True))
    return (Timing(statistics.median(new), runs, name), Timing(statistics.median(again), runs, name),
            Timing(peer, runs, "python -c pass"))


# ------------------------------------------------------------------ instructions to the first line

FIRST_LINE = r'''
import io, os, runpy, sys
class FirstLine(io.TextIOBase):          # the process ends at its first write to stdout
    def write(self, text):
        os._exit(0)
sys.stdout = FirstLine()
sys.argv = ["tnlbot"]
runpy.run_module("tnlbot", run_name="__main__", alter_sys=True)
'''


def _instructions(argv: list[str], env: dict[str, str]) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        run = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *argv],
                             input=b"", capture_output=True, env=env, check=False)
        found = [line for line in run.stderr.decode().splitlines() if "Collected :" in line]
        if not found:
            raise RuntimeError(run.stderr.decode()[-2000:])
        return int(found[-1].rsplit(":", 1)[1].strip())


def instructions_to_first_line() -> tuple[int, int]:
    """(instructions from the start of `python` to the terminal's first printed line on a
    restart, instructions of `python -c pass`), counted by callgrind: the same on every run,
    whatever else the machine is doing (the wall clock of a shared machine is not)."""
    if not shutil.which("valgrind"):
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")
    byte_compile()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "TNLBOT_DATABASE_URL": f"sqlite:///{Path(tmp) / 'start.db'}"}
        env.pop("TNLBOT_CAMPAIGN", None)
        subprocess.run([sys.executable, "-m", "tnlbot"], input=b"", capture_output=True, env=env, check=True)
        start = _instructions([sys.executable, "-c", FIRST_LINE], env)
    return start, _instructions([sys.executable, "-c", "pass"], dict(os.environ))


if __name__ == "__main__":   # python -m bench.startup: instructions to the first line (valgrind)
    tnl, bare = instructions_to_first_line()
    print(f"{tnl:,} instructions to the first prompt (restart), {bare:,} for python -c pass: {tnl / bare:.2f}x")
