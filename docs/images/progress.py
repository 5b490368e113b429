"""Record the progress display of a real run into ``docs/images/progress.svg`` (the README's).

A real ``edit_video`` flow run in this process (Prefect's embedded server, a Prefect home of its
own) on the local stand-in, with one 429 on the create, drawn by the same renderer as
``reskin edit`` on a terminal (``reskin/cli/progress.py``). The picture is the terminal as it
stands a few seconds into the poll: the lines printed above the display, then the display.
``--long`` edits a 25-second clip instead (three segments) into ``progress-long.svg``.

    .venv/bin/python docs/images/progress.py [--long]
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))  # run as a script from anywhere

from rich.console import Console, Group  # noqa: E402 (after the path above)
from rich.live import Live  # noqa: E402
from rich.text import Text  # noqa: E402

from reskin.cli.console import prefect_console  # noqa: E402
from reskin.cli.progress import Board, LiveHandler, prefect_task_name  # noqa: E402
from reskin.edit.request import EditRequest  # noqa: E402
from reskin.media.binaries import find_ffmpeg  # noqa: E402
from reskin.media.commands import synthetic_clip_command  # noqa: E402
from reskin.media.runner import run  # noqa: E402
from reskin.standin.config import StandInConfig  # noqa: E402
from reskin.standin.server import StandIn  # noqa: E402

WIDTH = 100


def main(long: bool) -> None:
    work = Path(tempfile.mkdtemp(prefix="reskin-progress-"))
    os.environ["PREFECT_HOME"] = str(work / "prefect")
    tools = find_ffmpeg(None)
    clip = work / "holiday.mp4"
    seconds = 25.0 if long else 4.0
    command = synthetic_clip_command(
        tools.ffmpeg, clip, duration_s=seconds, width=1280, height=720, fps=30
    )
    run(command, timeout_s=300)
    config = StandInConfig(queued_s=2.0, generating_s=10.0, ffmpeg_binary=tools.ffmpeg)
    with StandIn(config) as standin:
        standin.set_faults(create_429=1, retry_after_s=2)
        os.environ.update(
            AIMLAPI_BASE_URL=standin.base_url,
            AIMLAPI_API_KEY=standin.key,
            RESKIN_WORK_DIR=str(work / "reskin"),
            RESKIN_POLL_EXPECTED_S="12",
            RESKIN_POLL_MIN_INTERVAL_S="0.5",
            RESKIN_POLL_MAX_INTERVAL_S="2",
        )
        request = EditRequest(
            input=str(clip),
            prompt="hand-drawn watercolour",
            output=str(work / "out" / "holiday.mp4"),
            one_look=False,
        )
        picture = record(request, long)
    name = "progress-long.svg" if long else "progress.svg"
    picture.save_svg(str(HERE / name), title="reskin edit holiday.mp4 --prompt ...")
    print(f"wrote {HERE / name}")


def record(request: EditRequest, long: bool) -> Console:
    """Run the edit with the live display on this terminal; the picture taken mid-poll."""
    ours = prefect_console()
    logging.getLogger("reskin.standin").setLevel(logging.WARNING)  # the service's own lines
    board = Board(prelude="prefect")
    notes: list[Text] = []
    shown = Live(board, console=Console(stderr=True), refresh_per_second=4, transient=False)

    def note(text: Text) -> None:
        notes.append(text)
        shown.console.print(text)

    handler = LiveHandler(board, note, prefect_task_name, ours)
    logging.getLogger().addHandler(handler)
    picture = Console(record=True, width=WIDTH, file=io.StringIO(), force_terminal=True)
    taken = threading.Event()

    def snapshot() -> None:
        while not taken.is_set():
            with board.lock:
                if long:
                    ready = sum(line.status is not None for line in board.segments.values()) >= 2
                else:
                    status, since = board.status, time.monotonic() - board.status_at
                    ready = status is not None and status.elapsed_s + since > 5
            if ready:
                picture.print(Group(*notes, board))
                taken.set()
            time.sleep(0.1)

    from flows.edit_video import run_edit_flow

    watcher = threading.Thread(target=snapshot, daemon=True)
    watcher.start()
    with shown:
        try:
            asyncio.run(run_edit_flow(request))
        finally:
            logging.getLogger().removeHandler(handler)
    taken.set()
    return picture


if __name__ == "__main__":
    main(long="--long" in sys.argv[1:])
