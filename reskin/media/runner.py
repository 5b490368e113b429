"""The one place reskin starts ffmpeg (or ffprobe).

ffmpeg-python's own ``run`` has no timeout and its ``run_async(quiet=True)`` can deadlock on a full
pipe, so commands are built with ffmpeg-python (:mod:`reskin.media.commands`) and run here with
:func:`subprocess.run`: a list argv (never a shell), stdin closed so ffmpeg cannot stop to ask a
question, both pipes captured, and a timeout after which the process is killed.
"""

from __future__ import annotations

import logging
import shlex
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from reskin.errors import FFmpegError

log = logging.getLogger(__name__)

#: How much of stderr an :class:`~reskin.errors.FFmpegError` keeps: ffmpeg states the cause last.
STDERR_TAIL_CHARS = 2000


@dataclass(frozen=True)
class RunResult:
    """What a successful run left behind."""

    argv: tuple[str, ...]
    returncode: int
    stdout: bytes
    stderr: str
    elapsed_s: float

    @property
    def stdout_text(self) -> str:
        return self.stdout.decode("utf-8", errors="replace")


def run(argv: Sequence[str | Path], *, timeout_s: float) -> RunResult:
    """Run ``argv`` to completion; raise :class:`FFmpegError` on a non-zero exit, a timeout
    (the process is killed) or a binary that cannot be started."""
    args = [str(part) for part in argv]
    tool = Path(args[0]).name
    log.debug("running %s", shlex.join(args))
    started = time.monotonic()
    try:
        # subprocess.run kills the child itself when the timeout expires.
        done = subprocess.run(
            args, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout_s, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise FFmpegError(
            f"{tool} ran longer than {timeout_s:g} s and was stopped",
            argv=args,
            returncode=None,
            stderr_tail=_tail(exc.stderr),
        ) from exc
    except OSError as exc:
        raise FFmpegError(
            f"could not start {tool}: {exc.strerror or exc}",
            argv=args,
            returncode=None,
            stderr_tail="",
        ) from exc
    elapsed = time.monotonic() - started
    stderr = _tail(done.stderr)
    if done.returncode != 0:
        raise FFmpegError(
            f"{tool} failed with exit code {done.returncode}: {_last_line(stderr)}",
            argv=args,
            returncode=done.returncode,
            stderr_tail=stderr,
        )
    log.debug("%s finished in %.2f s", tool, elapsed)
    return RunResult(
        argv=tuple(args),
        returncode=done.returncode,
        stdout=done.stdout,
        stderr=stderr,
        elapsed_s=elapsed,
    )


def _tail(raw: bytes | str | None) -> str:
    if raw is None:
        return ""
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    return text[-STDERR_TAIL_CHARS:]


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:300] if lines else "(no message on stderr)"
