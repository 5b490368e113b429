"""Each fault switch, flipped through the StandIn object and through the control endpoint."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from reskin.aimlapi.models import JobState, parse_state
from reskin.standin.server import StandIn

from .wire import GENERATIONS, Api, assert_error_body, data_uri


def test_create_429_refuses_the_next_n_creates_with_retry_after(
    standin: StandIn, api: Api, make_clip: Callable[..., Path]
) -> None:
    standin.set_faults(create_429=2, retry_after_s=3)
    video = data_uri(make_clip(audio=False))

    answers = [api.create(video) for _ in range(3)]

    for answer in answers[:2]:
        assert_error_body(answer, 429, GENERATIONS)
        assert answer.headers["retry-after"] == "3"
    assert answers[2].status_code == 200
    stats = standin.stats()
    assert (stats.create_calls, stats.jobs_accepted) == (3, 1)
    assert standin.faults.create_429 == 0


@pytest.mark.parametrize("status", [500, 502, 503])
def test_create_5xx_answers_the_chosen_status_and_creates_nothing(
    standin: StandIn, api: Api, make_clip: Callable[..., Path], status: int
) -> None:
    standin.set_faults(create_5xx=1, status_5xx=status)

    answer = api.create(data_uri(make_clip(audio=False)))

    assert_error_body(answer, status, GENERATIONS)
    assert standin.stats().jobs_accepted == 0


def test_out_of_credits_answers_403_while_on(
    standin: StandIn, api: Api, make_clip: Callable[..., Path]
) -> None:
    standin.set_faults(out_of_credits=True)
    video = data_uri(make_clip(audio=False))

    first, second = api.create(video), api.create(video)

    for answer in (first, second):  # a switch, not a count
        body = assert_error_body(answer, 403, GENERATIONS)
        assert "credits" in body["message"]
    assert standin.stats().jobs_accepted == 0
    standin.set_faults(out_of_credits=False)
    assert api.create(video).status_code == 200


def test_fetch_5xx_fails_the_next_status_requests(
    standin: StandIn, api: Api, make_clip: Callable[..., Path]
) -> None:
    generation_id = api.create_from(make_clip(audio=False))
    standin.set_faults(fetch_5xx=2, status_5xx=502)

    first, second, third = (api.fetch(generation_id) for _ in range(3))

    assert_error_body(first, 502, GENERATIONS)
    assert_error_body(second, 502, GENERATIONS)
    assert third.status_code == 200
    assert standin.stats().fetch_calls == 3


def test_job_error_ends_the_next_job_in_error(
    standin: StandIn, api: Api, make_clip: Callable[..., Path]
) -> None:
    standin.set_faults(job_error=1)
    generation_id = api.create_from(make_clip(audio=False))

    body = api.wait(generation_id)

    assert body["status"] == "error"
    assert body["error"]["name"] == "generation_failed"
    assert body["error"]["message"]
    assert (body["video"], body["meta"]) == (None, None)
    assert parse_state(body["status"]) is JobState.ERROR


def test_unknown_status_reports_an_undocumented_word_forever(
    standin: StandIn, api: Api, make_clip: Callable[..., Path]
) -> None:
    standin.set_faults(unknown_status=1, unknown_status_word="waiting")
    generation_id = api.create_from(make_clip(audio=False))
    job = standin.service.jobs.get(generation_id)
    assert job is not None
    # Past the moment the job would have completed (its queued and generating times), no more.
    time.sleep(max(0.0, job.completes_at - time.monotonic()) + 0.05)

    body = api.fetch(generation_id).json()

    assert body["status"] == "waiting"
    assert parse_state(body["status"]) is JobState.UNKNOWN
    assert body["video"] is None
    job = standin.service.jobs.get(generation_id)
    assert job is not None
    assert api.http.get(f"/results/{job.token}.mp4").status_code == 404  # nothing rendered


def test_slow_jobs_stretches_the_times(
    standin: StandIn, api: Api, make_clip: Callable[..., Path]
) -> None:
    standin.set_faults(slow_jobs=4)  # queued 0.8 s, generating 2 s (else 0.2 s and 0.5 s)
    generation_id = api.create_from(make_clip(audio=False))
    job = standin.service.jobs.get(generation_id)
    assert job is not None
    # Ask until it is generating past the moment it would have completed unstretched (0.7 s),
    # with the times each answer was asked and came back, from the job's acceptance on.
    seen: list[tuple[float, str, float]] = []
    while not seen or seen[-1][1] != "generating" or seen[-1][0] < 0.2 + 0.5:
        asked = time.monotonic() - job.accepted_at
        status = api.fetch(generation_id).json()["status"]
        seen.append((asked, status, time.monotonic() - job.accepted_at))
        assert status in ("queued", "generating"), seen
        assert asked < 30, seen
        time.sleep(0.05)

    statuses = [status for _, status, _ in seen]
    assert statuses == sorted(statuses, key=["queued", "generating"].index), seen
    # Still queued after the unstretched 0.2 s, and generating no sooner than 0.8 s.
    assert any(asked > 0.2 for asked, status, _ in seen if status == "queued"), seen
    assert min(back for _, status, back in seen if status == "generating") >= 0.8, seen


@pytest.fixture
def finished(standin: StandIn, api: Api, make_clip: Callable[..., Path]) -> dict[str, Any]:
    """A completed generation's answer."""
    body = api.wait(api.create_from(make_clip(audio=False)))
    assert body["status"] == "completed"
    return body


def test_expired_result_answers_404_for_the_next_downloads(
    standin: StandIn, api: Api, finished: dict[str, Any]
) -> None:
    url = finished["video"]["url"]
    standin.set_faults(expired_result=1)

    expired = api.http.get(url)

    body = assert_error_body(expired, 404, httpx.URL(url).path)
    assert "expired" in body["message"]
    assert api.http.get(url).status_code == 200


def test_cut_download_declares_the_full_length_and_stops_halfway(
    standin: StandIn, api: Api, finished: dict[str, Any]
) -> None:
    url = finished["video"]["url"]
    whole = len(api.http.get(url).content)
    standin.set_faults(cut_download=1)

    with api.http.stream("GET", url) as answer:
        assert answer.status_code == 200
        assert int(answer.headers["content-length"]) == whole
        with pytest.raises(httpx.RemoteProtocolError):
            answer.read()

    assert 0 < answer.num_bytes_downloaded < whole
    assert len(api.http.get(url).content) == whole  # one cut only


def test_lost_answer_accepts_the_job_but_answers_too_late(
    standin: StandIn, make_clip: Callable[..., Path]
) -> None:
    standin.set_faults(lost_answer=1, lost_answer_delay_s=5)
    headers = {"Authorization": f"Bearer {standin.key}"}
    timeout = httpx.Timeout(10, read=0.5)
    with httpx.Client(base_url=standin.base_url, headers=headers, timeout=timeout) as http:
        api = Api(http)
        started = time.monotonic()

        with pytest.raises(httpx.ReadTimeout):
            api.create(data_uri(make_clip(audio=False)))

        assert time.monotonic() - started < 4
        stats = standin.stats()
        assert (stats.create_calls, stats.jobs_accepted) == (1, 1)  # the job exists anyway
        assert api.create(data_uri(make_clip(audio=False))).status_code == 200  # next is prompt


def test_faults_flip_over_http(standin: StandIn, api: Api, make_clip: Callable[..., Path]) -> None:
    changed = api.http.post("/_standin/faults", json={"create_429": 1, "retry_after_s": 7})

    assert changed.status_code == 200
    assert changed.json()["create_429"] == 1
    refused = api.create(data_uri(make_clip(audio=False)))
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "7"
    now = api.http.get("/_standin/faults").json()
    assert now["create_429"] == 0
    assert now["retry_after_s"] == 7


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"status_5xx": 504}, "status_5xx"),
        ({"create_429": -1}, "create_429"),
        ({"no_such_fault": 1}, "no_such_fault"),
    ],
)
def test_bad_fault_changes_are_400(api: Api, changes: dict[str, Any], message: str) -> None:
    answer = api.http.post("/_standin/faults", json=changes)

    body = assert_error_body(answer, 400, "/_standin/faults")
    assert message in body["message"]


def test_stats_and_reset_over_http(
    standin: StandIn, api: Api, make_clip: Callable[..., Path]
) -> None:
    api.create(data_uri(make_clip(audio=False)))
    api.fetch("nothing")
    standin.set_faults(job_error=3)

    stats = api.http.get("/_standin/stats").json()

    assert stats["create_calls"] == 1
    assert stats["fetch_calls"] == 1
    assert stats["jobs_accepted"] == 1
    assert {"result_downloads", "uploads", "jobs_refused"} <= set(stats)
    reset = api.http.post("/_standin/reset").json()
    assert reset["faults"]["job_error"] == 0
    assert set(reset["stats"].values()) == {0}
    assert standin.stats().create_calls == 0


def test_forget_drops_every_job_as_a_restarted_service_does(
    api: Api, make_clip: Callable[..., Path]
) -> None:
    created = api.create(data_uri(make_clip(audio=False)))
    generation_id = created.json()["id"]
    assert api.fetch(generation_id).status_code == 200

    forgotten = api.http.post("/_standin/forget").json()

    assert forgotten["forgotten"] >= 1
    answer = api.fetch(generation_id)
    assert answer.status_code == 404
    assert generation_id in answer.json()["message"]
