"""The one place reskin starts ffmpeg (or ffprobe).

ffmpeg-python's own ``run`` has no timeout and its ``run_async(quiet=True)`` can deadlock on a full
pipe, so commands are built with ffmpeg-python (:mod:`reskin.media.commands`) and run here with
:func:`subprocess.run`: a list argv (never a shell), stdin closed so ffmpeg cannot stop to ask a
question, both pipes captured, and a timeout after which the process is killed.
:func:`run_lines` is the same for a command whose output is read as it comes, line by line
(ffprobe's packets: tens of thousands of lines for a long video, never held at once).

A run that fails for want of space (ffmpeg says "No space left on device" on its stderr) raises
:class:`~reskin.errors.DiskFullError` naming the folder of the file it was writing, the last
argument of every command reskin builds (ffmpeg-python puts the output last); the
:class:`~reskin.errors.FFmpegError` it would have been is its ``__cause__``, with argv and stderr.
"""

from __future__ import annotations

import logging
import os
import shlex
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

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
        raise _timed_out(args, timeout_s, _tail(exc.stderr)) from exc
    except OSError as exc:
        raise _not_started(args, exc) from exc
    elapsed = time.monotonic() - started
    stderr = _tail(done.stderr)
    if done.returncode != 0:
        failed = _failed(args, done.returncode, stderr)
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


@contextmanager
def run_lines(argv: Sequence[str | Path], *, timeout_s: float) -> Iterator[Iterator[str]]:
    """Start ``argv`` and hand over its stdout line by line (without the line break), as the
    process prints it; nothing is kept once read. The process starts on entering the block,
    so it can run while the caller does something else first.

    The lines end as :func:`run` would: the iterator raises :class:`FFmpegError` after the
    last line when the exit was not 0, and when the process ran past ``timeout_s`` (it is
    killed then, whatever the caller is doing); entering raises it when the binary cannot be
    started. Leaving the block before the last line (a break, an error) kills the process.
    stderr goes to an unnamed temporary file, so a chatty process never blocks on it.
    """
    args = [str(part) for part in argv]
    log.debug("running %s, reading its lines", shlex.join(args))
    with tempfile.TemporaryFile() as stderr:
        try:
            process = subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr
            )
        except OSError as exc:
            raise _not_started(args, exc) from exc
        expired = threading.Event()

        def expire() -> None:
            expired.set()
            process.kill()

        watchdog = threading.Timer(timeout_s, expire)
        watchdog.daemon = True
        started = time.monotonic()
        watchdog.start()
        try:
            yield _lines(process, args, stderr, expired, timeout_s, started)
        finally:
            watchdog.cancel()
            if process.poll() is None:
                process.kill()
            process.wait()
            if process.stdout is not None:
                process.stdout.close()


def _lines(
    process: subprocess.Popen[bytes],
    args: list[str],
    stderr: IO[bytes],
    expired: threading.Event,
    timeout_s: float,
    started: float,
) -> Iterator[str]:
    tool = Path(args[0]).name
    for raw in process.stdout or ():  # stdout=PIPE: never None
        yield raw.decode("utf-8", errors="replace").rstrip("\r\n")
    returncode = process.wait()
    if returncode == 0:
        log.debug("%s finished in %.2f s", tool, time.monotonic() - started)
        return
    tail = _file_tail(stderr)
    if expired.is_set():
        raise _timed_out(args, timeout_s, tail)
    raise _failed(args, returncode, tail)


def _timed_out(args: list[str], timeout_s: float, tail: str) -> FFmpegError:
    return FFmpegError(
        f"{Path(args[0]).name} ran longer than {timeout_s:g} s and was stopped",
        argv=args,
        returncode=None,
        stderr_tail=tail,
    )


def _not_started(args: list[str], exc: OSError) -> FFmpegError:
    return FFmpegError(
        f"could not start {Path(args[0]).name}: {exc.strerror or exc}",
        argv=args,
        returncode=None,
        stderr_tail="",
    )


def _failed(args: list[str], returncode: int, tail: str) -> FFmpegError:
    return FFmpegError(
        f"{Path(args[0]).name} failed with exit code {returncode}: {_last_line(tail)}",
        argv=args,
        returncode=returncode,
        stderr_tail=tail,
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


def _file_tail(file: IO[bytes]) -> str:
    # Bytes, not characters, but a UTF-8 character is at most 4 of them: enough to cut from.
    file.seek(0, os.SEEK_END)
    file.seek(max(file.tell() - 4 * STDERR_TAIL_CHARS, 0))
    return _tail(file.read())


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:300] if lines else "(no message on stderr)"
