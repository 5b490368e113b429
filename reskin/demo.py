"""The offline demo: a generated clip edited through the local stand-in, end to end over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from reskin.aimlapi.client import AimlapiClient
from reskin.aimlapi.models import CreateRequest, Generation
from reskin.aimlapi.polling import PollSchedule, result_url, wait_for_generation
from reskin.download import download
from reskin.errors import MediaError
from reskin.media.binaries import find_ffmpeg
from reskin.media.commands import synthetic_clip_command
from reskin.media.probe import MediaInfo, probe
from reskin.media.runner import run
from reskin.settings import Settings, load_settings
from reskin.standin.config import StandInConfig
from reskin.standin.server import StandIn
from reskin.storage.datauri import data_uri

Log = Callable[[str], None]

SAMPLE_SECONDS = 4.0


@dataclass(frozen=True)
class DemoResult:
    sample: Path
    output: Path
    generation_id: str
    credits_used: float | None
    info: MediaInfo

    @property
    def summary(self) -> str:
        sound = "with sound" if self.info.has_audio else "silent"
        return (
            f"{self.info.width}x{self.info.height}, {self.info.fps:g} fps, "
            f"{self.info.duration_s:.2f} s, {sound}, {self.credits_used or 0:g} credits"
        )


def run_demo(output_dir: Path, *, prompt: str, log: Log = print) -> DemoResult:
    """Make a sample clip with sound, edit it through a stand-in started here, check the result."""
    settings = load_settings()
    tools = find_ffmpeg(settings.ffmpeg_binary)
    output_dir.mkdir(parents=True, exist_ok=True)
    sample = output_dir / "sample.mp4"
    output = output_dir / "edited.mp4"
    log(f"ffmpeg: {tools.ffmpeg} ({tools.source})")
    run(
        synthetic_clip_command(
            tools.ffmpeg, sample, duration_s=SAMPLE_SECONDS, width=1280, height=720, fps=30
        ),
        timeout_s=settings.ffmpeg_timeout_s,
    )
    log(f"sample clip: {sample}")
    config = StandInConfig(queued_s=1.0, generating_s=3.0, ffmpeg_binary=tools.ffmpeg)
    with StandIn(config) as standin:
        log(f"stand-in of the AI/ML API on {standin.base_url}")
        request = CreateRequest(
            model=settings.model,
            prompt=prompt,
            video_url=data_uri(sample, max_bytes=settings.datauri_max_bytes),
            keep_audio=True,
        )
        done = asyncio.run(_edit(standin, request, output, settings, log))
    info = probe(output)
    if info.fps != 24 or not info.has_audio or abs(info.duration_s - SAMPLE_SECONDS) > 0.1:
        raise MediaError(f"the edited clip is not what the service promised: {info}")
    return DemoResult(sample, output, done.id, done.credits_used, info)


async def _edit(
    standin: StandIn, request: CreateRequest, output: Path, settings: Settings, log: Log
) -> Generation:
    def progress(generation: Generation, elapsed_s: float) -> None:
        log(f"  {elapsed_s:5.1f} s  {generation.status}")

    async with AimlapiClient(standin.base_url, SecretStr(standin.key)) as client:
        created = await client.create(request)
        log(f"submitted: generation {created.id}")
        done = await wait_for_generation(
            client.fetch,
            created.id,
            deadline_s=120,
            schedule=PollSchedule(expected_s=4.0, min_interval_s=0.5, max_interval_s=2.0),
            on_update=progress,
        )
    await download(
        result_url(done),
        output,
        max_bytes=settings.download_max_bytes,
        timeout_s=settings.download_timeout_s,
    )
    return done
