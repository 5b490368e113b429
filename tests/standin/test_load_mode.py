"""Load mode: creates skip the input and the render, and jobs serve one prepared result."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from reskin.media.probe import probe
from reskin.registry import aleph, krea
from reskin.standin.config import StandInConfig
from reskin.standin.load import spread_fraction
from reskin.standin.server import StandIn

from .wire import Api, assert_error_body

#: Nothing listens on the discard port: fetching this URL would fail the create.
UNREACHABLE = "http://127.0.0.1:9/never-fetched.mp4"


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandIn]:
    config = StandInConfig(
        queued_s=0.1,
        generating_s=0.2,
        generating_spread_s=0.4,
        load_mode=True,
        work_dir=tmp_path_factory.mktemp("load"),
    )
    with StandIn(config) as standin:
        yield standin


@pytest.fixture
def load_api(loaded: StandIn) -> Iterator[Api]:
    loaded.reset()
    headers = {"Authorization": f"Bearer {loaded.key}"}
    with httpx.Client(base_url=loaded.base_url, headers=headers, timeout=30) as http:
        yield Api(http)


def test_a_job_completes_with_the_prepared_result_without_fetching_its_input(
    loaded: StandIn, load_api: Api, tmp_path: Path
) -> None:
    first = load_api.create(UNREACHABLE)
    second = load_api.create(UNREACHABLE, prompt="a neon night")

    assert first.status_code == second.status_code == 200, first.text
    assert first.json()["status"] == "queued"
    done = load_api.wait(first.json()["id"])
    assert done["status"] == "completed"
    assert done["error"] is None
    assert done["meta"] == {"usage": {"credits_used": 300}}  # the prepared 3 s clip
    result = load_api.result(second.json()["id"], tmp_path)
    info = probe(result)
    assert (info.video_codec, info.width, info.height) == ("h264", 1280, 720)
    assert info.fps == pytest.approx(24.0)
    stats = loaded.stats()
    assert (stats.jobs_accepted, stats.renders_done, stats.result_downloads) == (2, 0, 1)


def test_each_model_answers_in_its_own_shape(load_api: Api) -> None:
    runway = load_api.create(UNREACHABLE, model=aleph.ID, frame_size="640:480")
    kling = load_api.create(UNREACHABLE)

    assert isinstance(load_api.wait(runway.json()["id"])["video"], list)
    assert set(load_api.wait(kling.json()["id"])["video"]) == {"url"}


def test_the_body_rules_and_the_faults_still_apply(loaded: StandIn, load_api: Api) -> None:
    refused = load_api.create(UNREACHABLE, model="someone/else")
    assert_error_body(refused, 400, "/v2/video/generations")
    too_strong = load_api.create(UNREACHABLE, model=krea.ID, strength=1.5)
    assert too_strong.json()["message"].startswith("strength: ")
    loaded.set_faults(job_error=1)

    failed = load_api.wait(load_api.create(UNREACHABLE).json()["id"])

    assert failed["status"] == "error"
    assert failed["error"]["name"] == "generation_failed"
    assert loaded.stats().jobs_refused == 2


def test_the_jobs_endpoint_tells_when_each_job_completes(load_api: Api) -> None:
    ids = [load_api.create(UNREACHABLE).json()["id"] for _ in range(3)]

    times = load_api.http.get("/_standin/jobs").json()

    for generation_id in ids:
        length = times[generation_id]["completes_at"] - times[generation_id]["accepted_at"]
        assert length == pytest.approx(0.1 + 0.2 + 0.4 * spread_fraction(generation_id))
    assert len({spread_fraction(generation_id) for generation_id in ids}) == 3
