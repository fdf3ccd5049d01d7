"""The results table: one row per measure, ratios against peers, targets checked."""
from __future__ import annotations

import os
import platform
from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    section: str
    measure: str
    value: str
    ratio: str = ""
    target: str = ""
    met: str = ""     # "yes", "no", "" (no target), or why it did not run


def ratio_row(section: str, measure: str, ratio: float, *, at_least: float | None = None,
              at_most: float | None = None, value: str = "") -> Row:
    target, met = "", ""
    if at_least is not None:
        target, met = f">= {at_least:g}", "yes" if ratio >= at_least else "no"
    if at_most is not None:
        target, met = f"<= {at_most:g}", "yes" if ratio <= at_most else "no"
    return Row(section, measure, value, f"{ratio:.2f}", target, met)


def rate(value: float, unit: str = "answers/s") -> str:
    return f"{value:,.0f} {unit}"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f} ms"


def mb(size: int) -> str:
    return f"{size / 1_048_576:,.1f} MB"


def markdown(rows: list[Row]) -> str:
    head = ["benchmark", "measure", "value", "ratio", "target", "met"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        cells = [row.section, row.measure, row.value, row.ratio, row.target, row.met]
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    return "\n".join(lines)


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> str:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (f"{cpus} CPUs ({cpu_model()}), {platform.system()} {platform.machine()}, "
            f"Python {platform.python_version()}")


def load() -> str:
    """The 1-minute load average: other work on the machine skews every figure."""
    try:
        return f"{os.getloadavg()[0]:.1f}"
    except OSError:
        return "?"
