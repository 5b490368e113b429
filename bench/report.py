"""What every bench's results page shares: the machine's RAM, the command that made it, and
writing the page (to stdout and its file)."""

from __future__ import annotations

import re
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path


def ram_gib() -> float:
    """The machine's memory, from ``/proc/meminfo`` (0 where there is none)."""
    match = re.search(r"^MemTotal:\s+(\d+) kB", Path("/proc/meminfo").read_text(), re.MULTILINE)
    return int(match.group(1)) / (1024 * 1024) if match else 0.0


def command_of(module: str, arguments: Sequence[str] | None) -> str:
    """The command line that ran ``module`` with ``arguments`` (else this process's)."""
    given = list(arguments) if arguments is not None else sys.argv[1:]
    return shlex.join([".venv/bin/python", "-m", module, *given])


def publish(page: str, output: Path) -> None:
    """Print ``page`` and write it to ``output``."""
    print(page)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(page)
    print(f"written to {output}", file=sys.stderr)
