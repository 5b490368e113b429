"""Never pay twice: reruns of the edit_video flow resume the journaled generation or its
download, refuse what could bill again unless forced, and treat a changed request as new.

The faults that leave a job behind at the service (it failed, its result expired or was cut,
its answer was lost, it never finishes) are checked here from their first run: one clear error,
no useless retry, no file at the output path; then what a rerun does. Real ffmpeg, the real
stand-in over loopback HTTP, a Prefect server.
"""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from flows.edit_video import edit_video
from reskin.errors import (
    DownloadError,
    GenerationFailedError,
    GenerationTimeoutError,
    ResultExpiredError,
    SubmissionUnknownError,
)
from reskin.media.probe import probe
from reskin.standin.server import StandIn
from tests.flows.checks import ask, assert_no_output, assert_one_line, assert_only_output

pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.anyio]


async def test_a_rerun_resumes_the_generation_and_its_download(
    fast: Path, standin: StandIn, clip: Path, output: Path, tmp_path: Path
) -> None:
    first = await edit_video(ask(clip, output))
    assert not first.resumed
    assert not first.reused_download
    assert standin.stats().jobs_accepted == 1

    standin.reset()
    again = await edit_video(ask(clip, output))
    assert again.resumed
    assert again.reused_download
    assert again.generation_id == first.generation_id
    assert again.credits_used == first.credits_used
    assert standin.stats().create_calls == 0
    assert standin.stats().result_downloads == 0
    assert_only_output(output, fast)
    assert probe(output).has_audio

    # Another output and another sound: the same generation, finished differently.
    other = tmp_path / "elsewhere" / "silent.mp4"
    silent = await edit_video(ask(clip, other, audio="none"))
    assert silent.resumed
    assert silent.reused_download
    assert silent.generation_id == first.generation_id
    assert not silent.has_audio
    assert not probe(other).has_audio
    assert probe(other).duration_s == pytest.approx(3.0, abs=0.1)
    stats = standin.stats()
    assert stats.create_calls == 0
    assert stats.result_downloads == 0
    assert stats.fetch_calls == 0
    assert await anyio.Path(output).is_file()  # the first output is left as it was


async def test_a_changed_prompt_or_window_is_a_new_job(
    fast: Path, standin: StandIn, clip: Path, output: Path, tmp_path: Path
) -> None:
    first = await edit_video(ask(clip, output))
    reprompted = await edit_video(ask(clip, tmp_path / "b.mp4", prompt="pencil sketch"))
    windowed = await edit_video(ask(clip, tmp_path / "c.mp4", start_s=0.5))
    ids = {first.generation_id, reprompted.generation_id, windowed.generation_id}
    assert len(ids) == 3
    assert not reprompted.resumed
    assert not windowed.resumed
    assert standin.stats().jobs_accepted == 3


async def test_a_failed_job_fails_once_then_reruns_refuse_until_forced(
    fast: Path, standin: StandIn, clip: Path, output: Path
) -> None:
    standin.set_faults(job_error=1)
    with pytest.raises(GenerationFailedError) as failed:
        await edit_video(ask(clip, output))
    assert_one_line(failed.value, "generation_failed", '"Force a new submission"')
    assert failed.value.name == "generation_failed"
    stats = standin.stats()
    assert stats.create_calls == 1
    assert stats.jobs_accepted == 1
    assert stats.result_downloads == 0
    assert_no_output(output, fast)

    standin.reset()
    with pytest.raises(GenerationFailedError) as refused:
        await edit_video(ask(clip, output))
    assert_one_line(
        refused.value, "already failed", "generation_failed", '"Force a new submission"'
    )
    assert refused.value.generation_id == failed.value.generation_id
    assert standin.stats().create_calls == 0
    assert_no_output(output, fast)

    forced = await edit_video(ask(clip, output, force=True))
    assert not forced.resumed
    assert forced.generation_id != failed.value.generation_id
    stats = standin.stats()
    assert stats.create_calls == 1
    assert stats.jobs_accepted == 1
    assert_only_output(output, fast)

    # The forced job is the request's generation now: a plain rerun resumes it.
    standin.reset()
    resumed = await edit_video(ask(clip, output))
    assert resumed.resumed
    assert resumed.generation_id == forced.generation_id
    assert standin.stats().create_calls == 0


async def test_a_lost_answer_is_not_sent_again_nor_rerun_without_force(
    fast: Path,
    standin: StandIn,
    clip: Path,
    output: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RESKIN_READ_TIMEOUT_S", "1")
    standin.set_faults(lost_answer=1, lost_answer_delay_s=30)
    with pytest.raises(SubmissionUnknownError) as lost:
        await edit_video(ask(clip, output))
    assert_one_line(lost.value, "may have accepted")
    stats = standin.stats()
    assert stats.create_calls == 1  # neither the client nor the task sends it again
    assert stats.jobs_accepted == 1  # ... though the service did make (and bill) a job
    assert_no_output(output, fast)

    standin.reset()
    with pytest.raises(SubmissionUnknownError) as refused:
        await edit_video(ask(clip, output))
    assert_one_line(refused.value, "never learned its generation id", '"Force a new submission"')
    assert standin.stats().create_calls == 0
    assert_no_output(output, fast)


async def test_a_job_that_never_finishes_ends_at_the_deadline_and_a_rerun_waits_again(
    fast: Path,
    standin: StandIn,
    clip: Path,
    output: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RESKIN_POLL_DEADLINE_S", "1")
    standin.set_faults(unknown_status=1, unknown_status_word="waiting")
    with pytest.raises(GenerationTimeoutError) as first:
        await edit_video(ask(clip, output))
    assert_one_line(first.value, "last status: waiting", "RESKIN_POLL_DEADLINE_S")
    assert first.value.last_status == "waiting"
    assert first.value.deadline_s == 1
    stats = standin.stats()
    assert stats.create_calls == 1
    assert stats.jobs_accepted == 1
    assert stats.result_downloads == 0
    assert_no_output(output, fast)

    # The fault is spent, but that job reports its undocumented word forever: the rerun waits
    # for the same generation again (the deadline counts anew) and pays for nothing.
    standin.reset()
    with pytest.raises(GenerationTimeoutError) as again:
        await edit_video(ask(clip, output))
    assert_one_line(again.value, "rerun the same request later")
    assert again.value.generation_id == first.value.generation_id
    stats = standin.stats()
    assert stats.create_calls == 0
    assert stats.jobs_accepted == 0
    assert stats.fetch_calls >= 1
    assert_no_output(output, fast)


async def test_a_download_cut_every_time_fails_and_a_rerun_downloads_without_a_new_job(
    fast: Path, standin: StandIn, clip: Path, output: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Now and then a cut connection is not closed at once and the download waits for the rest
    # of the body: a short timeout ends that wait (a timeout counts as a cut too) in 5 s, not
    # the default 60 s.
    monkeypatch.setenv("RESKIN_DOWNLOAD_TIMEOUT_S", "5")
    standin.set_faults(cut_download=100)
    with pytest.raises(DownloadError) as failed:
        await edit_video(ask(clip, output))
    assert type(failed.value) is DownloadError
    assert_one_line(failed.value, "4 time(s)", "rerun the same request")
    stats = standin.stats()
    assert stats.jobs_accepted == 1
    assert stats.result_downloads == 4  # RESKIN_MAX_RETRIES=3: one try and three more
    assert_no_output(output, fast)

    standin.reset()
    result = await edit_video(ask(clip, output))
    assert result.resumed
    assert not result.reused_download
    stats = standin.stats()
    assert stats.create_calls == 0
    assert stats.result_downloads == 1
    assert probe(output).duration_s == pytest.approx(3.0, abs=0.1)
    assert_only_output(output, fast)


async def test_an_expired_result_fails_once_and_a_rerun_refuses_without_force(
    fast: Path, standin: StandIn, clip: Path, output: Path
) -> None:
    standin.set_faults(expired_result=1)
    with pytest.raises(ResultExpiredError) as expired:
        await edit_video(ask(clip, output))
    assert_one_line(expired.value, "404", '"Force a new submission"')
    stats = standin.stats()
    assert stats.jobs_accepted == 1
    assert stats.result_downloads == 1  # a 404 is not asked again
    assert_no_output(output, fast)

    standin.reset()
    with pytest.raises(GenerationFailedError) as refused:
        await edit_video(ask(clip, output))
    assert_one_line(refused.value, "no longer at its URL", '"Force a new submission"')
    stats = standin.stats()
    assert stats.create_calls == 0
    assert stats.result_downloads == 0
    assert_no_output(output, fast)
