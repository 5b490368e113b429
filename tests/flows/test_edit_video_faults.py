"""The edit_video flow against the stand-in's faults: transient ones end in one paid job and a
good file; final answers (a wrong key, no credits, a refused request) end in one clear error,
without retries that cannot help and without any file at the output path. The faults that leave
a job behind (failed, expired, cut, lost, never finishing) are in ``test_edit_video_resume.py``
with what a rerun does after them. Real ffmpeg, the real stand-in over loopback HTTP, a Prefect
server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from flows.edit_video import edit_video
from reskin.errors import (
    AuthenticationError,
    BadRequestError,
    InsufficientCreditsError,
)
from reskin.media.probe import probe
from reskin.standin.config import StandInConfig
from reskin.standin.server import StandIn
from tests.flows.checks import ask, assert_no_output, assert_one_line, assert_only_output

pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.anyio]

CREDITS_3S = 300  # the stand-in bills 100 credits per started second


async def _edited(clip: Path, output: Path, work: Path) -> None:
    """Run the flow and check what every success leaves behind."""
    result = await edit_video(ask(clip, output))
    info = probe(output)
    assert info.duration_s == pytest.approx(3.0, abs=0.1)
    assert info.fps == 24
    assert info.has_audio  # restore: the source's sound
    assert result.credits_used == CREDITS_3S
    assert not result.resumed
    assert_only_output(output, work)


# --- transient faults: one paid job, one good file ------------------------------------------


async def test_a_rate_limited_create_is_sent_again_and_pays_once(
    fast: Path, standin: StandIn, clip: Path, output: Path
) -> None:
    standin.set_faults(create_429=2, retry_after_s=0)
    await _edited(clip, output, fast)
    stats = standin.stats()
    assert stats.create_calls == 3
    assert stats.jobs_accepted == 1


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_a_create_answered_5xx_is_sent_again_and_pays_once(
    fast: Path, standin: StandIn, clip: Path, output: Path, status: int
) -> None:
    standin.set_faults(create_5xx=2, status_5xx=status)
    await _edited(clip, output, fast)
    stats = standin.stats()
    assert stats.create_calls == 3
    assert stats.jobs_accepted == 1


async def test_status_fetches_answered_5xx_are_waited_out(
    fast: Path, standin: StandIn, clip: Path, output: Path
) -> None:
    # More failures than one call's retries: the poll loop keeps waiting through them.
    standin.set_faults(fetch_5xx=6, status_5xx=502)
    await _edited(clip, output, fast)
    stats = standin.stats()
    assert stats.create_calls == 1
    assert stats.jobs_accepted == 1
    assert stats.fetch_calls >= 7
    assert standin.faults.fetch_5xx == 0


async def test_a_cut_download_is_fetched_again(
    fast: Path, standin: StandIn, clip: Path, output: Path
) -> None:
    standin.set_faults(cut_download=1)
    await _edited(clip, output, fast)
    stats = standin.stats()
    assert stats.jobs_accepted == 1
    assert stats.result_downloads == 2


async def test_a_slow_job_is_waited_for(
    fast: Path, standin: StandIn, clip: Path, output: Path
) -> None:
    # Twice the expected length: polling goes on past RESKIN_POLL_EXPECTED_S.
    standin.set_faults(slow_jobs=2.0)
    await _edited(clip, output, fast)
    stats = standin.stats()
    assert stats.create_calls == 1
    assert stats.jobs_accepted == 1
    assert stats.result_downloads == 1


# --- final faults: one clear error, no useless retry, no file --------------------------------


async def test_a_wrong_key_fails_once_without_retry_and_names_the_variable(
    fast: Path,
    standin: StandIn,
    clip: Path,
    output: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wrong = "not-the-stand-in-key-7f3a"
    monkeypatch.setenv("AIMLAPI_API_KEY", wrong)
    with pytest.raises(AuthenticationError) as caught:
        await edit_video(ask(clip, output))
    message = assert_one_line(caught.value, "401", "check AIMLAPI_API_KEY")
    assert wrong not in message
    assert caught.value.status_code == 401
    stats = standin.stats()
    assert stats.create_calls == 1
    assert stats.jobs_accepted == 0
    assert_no_output(output, fast)

    # Nothing was accepted, so nothing is held: with the right key the same request goes out.
    monkeypatch.setenv("AIMLAPI_API_KEY", standin.key)
    result = await edit_video(ask(clip, output))
    assert not result.resumed
    assert standin.stats().jobs_accepted == 1


async def test_an_account_out_of_credits_fails_once_without_retry(
    fast: Path, standin: StandIn, clip: Path, output: Path
) -> None:
    standin.set_faults(out_of_credits=True)
    with pytest.raises(InsufficientCreditsError) as caught:
        await edit_video(ask(clip, output))
    assert_one_line(caught.value, "403", "top it up")
    stats = standin.stats()
    assert stats.create_calls == 1
    assert stats.jobs_accepted == 0
    assert_no_output(output, fast)


@pytest.fixture(scope="module")
def strict_standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandIn]:
    """A second stand-in that takes inputs of at most 50 kB: every clip here is refused with a
    400 about ``video_url``, the way the service refuses a body that breaks its rules."""
    config = StandInConfig(
        queued_s=0.2,
        generating_s=0.5,
        max_input_bytes=50_000,
        render_preset="ultrafast",
        work_dir=tmp_path_factory.mktemp("strict-standin"),
    )
    with StandIn(config) as standin:
        yield standin


@pytest.mark.parametrize("detail_errors", [False, True], ids=["documented", "detail"])
async def test_a_refused_request_fails_once_in_either_error_shape(
    fast: Path,
    strict_standin: StandIn,
    clip: Path,
    output: Path,
    monkeypatch: pytest.MonkeyPatch,
    detail_errors: bool,
) -> None:
    strict_standin.reset()
    strict_standin.set_faults(detail_errors=detail_errors)
    monkeypatch.setenv("AIMLAPI_BASE_URL", strict_standin.base_url)
    monkeypatch.setenv("AIMLAPI_API_KEY", strict_standin.key)
    with pytest.raises(BadRequestError) as caught:
        await edit_video(ask(clip, output))
    # Either shape gives the same one line: the field, the rule, and what to do.
    assert_one_line(
        caught.value, "400", "video_url: size over the 0.05 MB limit", "fix the request"
    )
    assert ('"detail"' in caught.value.body) is detail_errors
    stats = strict_standin.stats()
    assert stats.create_calls == 1
    assert stats.jobs_refused == 1
    assert stats.jobs_accepted == 0
    assert_no_output(output, fast)
