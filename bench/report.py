"""What a benchmark module returns, and the small helpers every module needs.

A module is `bench/<name>.py` with `run() -> Section`; list it in `bench/__main__.py`'s MODULES.
"""

from __future__ import annotations

import os
import platform
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
MiB = 1024 * 1024


@dataclass(frozen=True)
class Table:
    """A Markdown table; `caption` is a line of text printed above it."""

    headers: Sequence[str]
    rows: Sequence[Sequence[str]]
    caption: str = ""

    def markdown(self) -> str:
        lines = [f"{self.caption}\n"] if self.caption else []
        lines.append("| " + " | ".join(self.headers) + " |")
        lines.append("|" + "|".join("---" for _ in self.headers) + "|")
        lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in self.rows]
        return "\n".join(lines)


@dataclass
class Section:
    """One module's results: a `## title` block of RESULTS.md.

    `failures` are results that are wrong (not merely slow): `python -m bench` exits non-zero when any
    module reports one, after writing RESULTS.md anyway.
    """

    key: str  # the module name, e.g. "packages"; marks the block in RESULTS.md
    title: str
    command: str
    tables: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    measured_at: str = field(default_factory=lambda: now_utc())
    machine: str = field(default_factory=lambda: machine())

    def markdown(self) -> str:
        parts = [f"## {self.title}", "", f"Measured {self.measured_at} with `{self.command}`", ""]
        parts[2] += f" on {self.machine}."
        for table in self.tables:
            parts += [table.markdown(), ""]
        if self.notes:
            parts += [f"- {note}" for note in self.notes]
            parts.append("")
        if self.failures:
            parts.append("**Failures:**")
            parts += [f"- {failure}" for failure in self.failures]
            parts.append("")
        return "\n".join(parts).rstrip() + "\n"


def now_utc() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


def machine() -> str:
    """Cores, memory, CPU model (from /proc/cpuinfo), OS and Python: the line RESULTS.md starts with."""
    model = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = psutil.virtual_memory().total / (1024 * MiB)
    return (
        f"{os.cpu_count()} cores, {memory:.1f} GiB RAM, {model}; {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}"
    )


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def seconds(value: float) -> str:
    return f"{value * 1000:.1f} ms" if value < 1 else f"{value:.2f} s"


def mib(value: float) -> str:
    return f"{value / MiB:.1f} MiB"
