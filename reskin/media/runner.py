"""The one place reskin starts ffmpeg (or ffprobe).

ffmpeg-python's own ``run`` has no timeout and its ``run_async(quiet=True)`` can deadlock on a full
pipe, so commands are built with ffmpeg-python (:mod:`reskin.media.commands`) and run here with
:func:`subprocess.run`: a list argv (never a shell), stdin closed so ffmpeg cannot stop to ask a
question, both pipes captured, and a timeout after which the process is killed.

A run that fails for want of space (ffmpeg says "No space left on device" on its stderr) raises
:class:`~reskin.errors.DiskFullError` naming the folder of the file it was writing, the last
argument of every command reskin builds (ffmpeg-python puts the output last); the
:class:`~reskin.errors.FFmpegError` it would have been is its ``__cause__``, with argv and stderr.
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
from reskin.space import disk_full_error, says_disk_full

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
    (the process is killed) or a binary that cannot be started, and
    :class:`~reskin.errors.DiskFullError` when the exit was for want of space."""
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
        failed = FFmpegError(
            f"{tool} failed with exit code {done.returncode}: {_last_line(stderr)}",
            argv=args,
            returncode=done.returncode,
            stderr_tail=stderr,
        )
        folder = written_folder(args)
        if folder is not None and says_disk_full(_text(done.stderr)):
            raise disk_full_error(folder, None) from failed
        raise failed
    log.debug("%s finished in %.2f s", tool, elapsed)
    return RunResult(
        argv=tuple(args),
        returncode=done.returncode,
        stdout=done.stdout,
        stderr=stderr,
        elapsed_s=elapsed,
    )


def written_folder(argv: Sequence[str]) -> Path | None:
    """The folder of the file a command writes: its last argument, when that is a path (not an
    option, not ``-`` or a ``pipe:``); None otherwise (ffprobe, a decode to ``-f null -``)."""
    last = argv[-1] if len(argv) > 1 else ""
    if not last or last.startswith("-") or last.startswith("pipe:"):
        return None
    return Path(last).absolute().parent


def _text(raw: bytes | str | None) -> str:
    if raw is None:
        return ""
    return raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw


def _tail(raw: bytes | str | None) -> str:
    return _text(raw)[-STDERR_TAIL_CHARS:]


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:300] if lines else "(no message on stderr)"
