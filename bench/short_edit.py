"""The short edit both command-line benches time (``bench/cli.py``, ``bench/stages.py``): one
4 s 1280x720 30 fps H.264 clip with sound, which conforms as it is, and the stand-in of the API
in this process (jobs queued 0.2 s, generating 0.5 s, a real ``ultrafast`` render)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from reskin.media.binaries import FFmpegTools, find_ffmpeg
from reskin.media.commands import synthetic_clip_command
from reskin.media.runner import run
from reskin.standin.config import StandInConfig
from reskin.standin.server import StandIn


@dataclass(frozen=True)
class ShortEdit:
    clip: Path
    standin: StandIn
    tools: FFmpegTools


@contextlib.contextmanager
def short_edit(root: Path) -> Iterator[ShortEdit]:
    """The clip made in ``root`` and the stand-in running (its work folder in ``root`` too)."""
    # The ffmpeg reskin will use (RESKIN_FFMPEG_BINARY, else the one found): the stand-in's
    # renders and the bare steps' mux run the same, so no side gets a faster one.
    setting = os.environ.get("RESKIN_FFMPEG_BINARY")
    tools = find_ffmpeg(Path(setting) if setting else None)
    clip = root / "clip.mp4"
    run(
        synthetic_clip_command(tools.ffmpeg, clip, duration_s=4.0, width=1280, height=720, fps=30),
        timeout_s=120,
    )
    config = StandInConfig(
        queued_s=0.2,
        generating_s=0.5,
        render_preset="ultrafast",
        work_dir=root / "standin",
        ffmpeg_binary=tools.ffmpeg,
    )
    with StandIn(config) as standin:
        yield ShortEdit(clip, standin, tools)


def edit_env(standin: StandIn, root: Path) -> dict[str, str]:
    """The environment of a ``reskin`` process of these benches: this one without any Prefect,
    reskin or service setting (but ``RESKIN_FFMPEG_BINARY``) and without
    ``PYTHONDONTWRITEBYTECODE``, aimed at ``standin``, its Prefect home and work folder in
    ``root``, polls sized for the stand-in's one-second jobs."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("PREFECT_", "RESKIN_", "AIMLAPI_"))
        # A user's interpreter keeps its compiled modules: the warm round writes them.
        and name != "PYTHONDONTWRITEBYTECODE"
    }
    env.update(
        {
            "PREFECT_HOME": str(root / "prefect-home"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "AIMLAPI_BASE_URL": standin.base_url,
            "AIMLAPI_API_KEY": standin.key,
            "RESKIN_WORK_DIR": str(root / "work"),
            "RESKIN_POLL_EXPECTED_S": "1",
            "RESKIN_POLL_MIN_INTERVAL_S": "0.1",
            "RESKIN_POLL_MAX_INTERVAL_S": "0.5",
        }
    )
    if os.environ.get("RESKIN_FFMPEG_BINARY"):
        env["RESKIN_FFMPEG_BINARY"] = os.environ["RESKIN_FFMPEG_BINARY"]
    return env
