"""The offline demo: a generated clip with sound, edited by the real flow through a local stand-in.

It is ``reskin edit`` with everything provided: the stand-in runs in this process on a free
loopback port with a key of its own, and the settings of this process point at it, so the flow,
its tasks and the Prefect run are exactly what a real edit goes through.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from reskin.cli.edit import run_edit
from reskin.edit.request import EditRequest, EditResult
from reskin.errors import MediaError
from reskin.media.binaries import find_ffmpeg
from reskin.media.commands import synthetic_clip_command
from reskin.media.probe import probe
from reskin.media.runner import run
from reskin.settings import load_settings
from reskin.standin.config import StandInConfig
from reskin.standin.server import StandIn

Log = Callable[[str], None]

SAMPLE_SECONDS = 4.0


@dataclass(frozen=True)
class DemoResult:
    sample: Path
    result: EditResult
    flow_run_id: str


def run_demo(output_dir: Path, *, prompt: str, log: Log = print) -> DemoResult:
    """Make a sample clip with sound, edit it through a stand-in started here, check the result."""
    settings = load_settings()
    tools = find_ffmpeg(settings.ffmpeg_binary)
    output_dir.mkdir(parents=True, exist_ok=True)
    sample = output_dir / "sample.mp4"
    log(f"ffmpeg: {tools.ffmpeg} ({tools.source})")
    run(
        synthetic_clip_command(
            tools.ffmpeg, sample, duration_s=SAMPLE_SECONDS, width=1280, height=720, fps=30
        ),
        timeout_s=settings.ffmpeg_timeout_s,
    )
    log(f"sample clip: {sample}")
    config = StandInConfig(queued_s=1.0, generating_s=3.0, ffmpeg_binary=tools.ffmpeg)
    # The demo's own folder is one its run may read and write, whatever RESKIN_ALLOWED_DIRS
    # holds (docs/security.md); unset, nothing is restricted.
    allowed = None
    if settings.allowed_dirs is not None:
        allowed = os.pathsep.join(str(p) for p in (*settings.allowed_dirs, output_dir.resolve()))
    with StandIn(config) as standin, _pointed_at(standin, output_dir / ".reskin", allowed):
        log(f"stand-in of the AI/ML API on {standin.base_url}")
        request = EditRequest(
            input=str(sample), prompt=prompt, output=str(output_dir / "edited.mp4")
        )
        result, run_id = run_edit(request)
    info = probe(Path(result.output))
    if info.fps != 24 or not info.has_audio or abs(info.duration_s - SAMPLE_SECONDS) > 0.1:
        raise MediaError(f"the edited clip is not what the service promised: {info}")
    return DemoResult(sample, result, run_id)


@contextmanager
def _pointed_at(standin: StandIn, work_dir: Path, allowed_dirs: str | None) -> Iterator[None]:
    """This process's settings aimed at ``standin``, with waits tuned to its short jobs (and
    ``RESKIN_ALLOWED_DIRS`` widened to ``allowed_dirs`` when given)."""
    values = {
        "AIMLAPI_BASE_URL": standin.base_url,
        "AIMLAPI_API_KEY": standin.key,
        "AIMLAPI_API_KEY_BLOCK": "",  # the stand-in's key, not one from a Prefect Secret block
        "RESKIN_WORK_DIR": str(work_dir),
        "RESKIN_POLL_EXPECTED_S": "4",
        "RESKIN_POLL_MIN_INTERVAL_S": "0.5",
        "RESKIN_POLL_MAX_INTERVAL_S": "2",
        "RESKIN_POLL_DEADLINE_S": "120",
    }
    if allowed_dirs is not None:
        values["RESKIN_ALLOWED_DIRS"] = allowed_dirs
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
