"""The media issue's promise, clip by clip: every trap is either conformed and then accepted by
the stand-in on the first try, or refused with one clear line before anything is paid for."""

from __future__ import annotations

import base64

import httpx
import pytest

from reskin.errors import InputError
from reskin.media.binaries import FFmpegTools
from reskin.media.conform import conform, plan_conform_file
from reskin.media.conform_plan import Window
from reskin.media.intake import make_job_dir, take_in
from reskin.registry import DEFAULT_MODEL, spec_for
from reskin.standin.server import StandIn

from .corpus import SPECS, Corpus, Listener

LIMITS = spec_for(DEFAULT_MODEL).limits

CAP = 500_000_000


def names(outcome: str) -> list[str]:
    return [spec.name for spec in SPECS if spec.outcome == outcome]


@pytest.mark.parametrize("name", names("refuse"))
def test_refused_with_one_line_naming_the_file(
    name: str, corpus: Corpus, ffmpeg_tools: FFmpegTools, tmp_path, no_hits: Listener
):
    clip = corpus.clips[name]
    with pytest.raises(InputError) as caught:
        take_in(clip.path, make_job_dir(tmp_path), ffmpeg_tools, max_bytes=CAP, timeout_s=120)
    message = str(caught.value)
    assert "\n" not in message
    assert clip.path.name in message


@pytest.mark.parametrize("name", names("conform"))
def test_conformed_then_accepted_by_the_standin_first_try(
    name: str,
    corpus: Corpus,
    ffmpeg_tools: FFmpegTools,
    standin: StandIn,
    tmp_path,
    no_hits: Listener,
):
    job = make_job_dir(tmp_path)
    intake = take_in(corpus.clips[name].path, job, ffmpeg_tools, max_bytes=CAP, timeout_s=120)
    window = Window(0.0, 10.0) if intake.info.duration_s > 10.05 else None
    plan = plan_conform_file(intake.info, window=window, limits=LIMITS)
    result = conform(
        intake.path, job / "conformed.mp4", plan, ffmpeg_tools, timeout_s=300, limits=LIMITS
    )
    body = {
        "model": DEFAULT_MODEL,
        "prompt": "sepia",
        "video_url": "data:video/mp4;base64," + base64.b64encode(result.path.read_bytes()).decode(),
    }
    answer = httpx.post(
        f"{standin.base_url}/v2/video/generations",
        json=body,
        headers={"Authorization": f"Bearer {standin.key}"},
        timeout=60,
    )
    assert answer.status_code == 200, answer.text
    assert standin.stats().create_calls == 1
