"""The look_drift fault: jobs without a reference image drift in look, each its own way.

One module fixture asks the session's stand-in (over HTTP, real ffmpeg) for seven results of the
same 3 s clip and prompt: three without references and one with, at ``look_drift`` 1, then two
without and one with at 0. The tests compare the mean colour of their first frames, decoded small
with PyAV, or their bytes.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import av
import httpx
import numpy as np
import pytest

from reskin.aimlapi.models import CreateRequest
from reskin.media.probe import OPEN_OPTIONS
from reskin.registry import DEFAULT_MODEL
from reskin.standin.looks import (
    DRIFT_BRIGHTNESS,
    DRIFT_HUE_DEG,
    DRIFT_SATURATION,
    describe_filters,
    drift_filters,
)
from reskin.standin.server import StandIn
from reskin.standin.service import Service

from .wire import Api, Recorder, data_uri

#: A look that keeps colour, so brightness, saturation and hue drifts all show.
PROMPT = "make it a warm summer day"
#: A reference image (Kling's ``image_list``): counted, never fetched.
REFERENCE = {"image_list": ["https://example.com/style.png"]}
#: The jobs without a reference at look_drift 1: three, so that two drawing nearly the same
#: drift (their amounts come from random job ids) do not fail the test.
DRIFTED = ("one", "two", "three")
#: The side of the frames decoded: their mean colour is all the tests need.
SIDE = 32


@dataclass(frozen=True)
class Result:
    """A downloaded result, its job's drift (as logged) and its first frame's colour."""

    path: Path
    drift: str
    #: Mean R, G, B of the first frame, 0..255.
    colour: tuple[float, float, float]


def first_frame_colour(path: Path) -> tuple[float, float, float]:
    """Mean R, G and B of the first frame of ``path``, shrunk to ``SIDE`` x ``SIDE``."""
    with av.open(str(path), mode="r", container_options=dict(OPEN_OPTIONS)) as container:
        frame = next(container.decode(container.streams.video[0]))
        pixels = frame.reformat(width=SIDE, height=SIDE, format="rgb24").to_ndarray()
    red, green, blue = pixels.reshape(-1, 3).astype(np.float64).mean(axis=0)
    return float(red), float(green), float(blue)


def colour_gap(a: Result, b: Result) -> float:
    """The largest difference of one channel's mean between two results, 0..255."""
    return max(abs(x - y) for x, y in zip(a.colour, b.colour, strict=True))


@pytest.fixture(scope="module")
def results(
    standin_session: StandIn,
    make_clip: Callable[..., Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, Result]:
    """:data:`DRIFTED` (no reference) and ``referenced`` at look_drift 1, then ``plain_one``,
    ``plain_two`` and ``plain_referenced`` at 0."""
    standin = standin_session
    clip = make_clip(audio=False)
    folder = tmp_path_factory.mktemp("drift")
    headers = {"Authorization": f"Bearer {standin.key}"}
    plans = {
        1.0: {**{name: {} for name in DRIFTED}, "referenced": REFERENCE},
        0.0: {"plain_one": {}, "plain_two": {}, "plain_referenced": REFERENCE},
    }
    ids: dict[str, str] = {}
    standin.reset()
    try:
        with httpx.Client(base_url=standin.base_url, headers=headers, timeout=30) as http:
            api = Api(http)
            for strength, plan in plans.items():
                # Through the control endpoint, as a test of a long edit would set it.
                changed = http.post("/_standin/faults", json={"look_drift": strength})
                assert changed.status_code == 200, changed.text
                assert changed.json()["look_drift"] == strength
                for name, fields in plan.items():
                    ids[name] = api.create_from(clip, PROMPT, **fields)
            paths = {name: api.result(generation_id, folder) for name, generation_id in ids.items()}
    finally:
        standin.reset()
    found: dict[str, Result] = {}
    for name, generation_id in ids.items():
        job = standin.service.jobs.get(generation_id)
        assert job is not None
        found[name] = Result(
            paths[name], describe_filters(job.drift), first_frame_colour(paths[name])
        )
    return found


def test_jobs_without_a_reference_drift_apart(results: dict[str, Result]) -> None:
    drifted = [results[name] for name in DRIFTED]
    plain = results["plain_one"]

    assert "none" not in {result.drift for result in drifted}
    assert len({result.drift for result in drifted}) == len(drifted)
    gaps = [colour_gap(a, b) for a, b in itertools.combinations(drifted, 2)]
    # Every two render differently, and they spread clearly (10 to 40 levels seen). The amounts
    # come from random job ids: of 11,175 pairs of drifts rendered, 0.6 % differed by less
    # than 2 levels and 0.02 % by less than 0.5, but of 34,220 triples none had its widest
    # pair under 2 levels (9 in 100,000 under 3).
    assert min(gaps) > 0, gaps
    assert max(gaps) > 2.0, gaps
    assert max(colour_gap(result, plain) for result in drifted) > 2.0


def test_without_drift_the_same_request_renders_the_same(results: dict[str, Result]) -> None:
    one, two = results["plain_one"], results["plain_two"]

    assert one.drift == two.drift == "none"
    assert one.path.read_bytes() == two.path.read_bytes()


def test_a_job_with_a_reference_image_does_not_drift(results: dict[str, Result]) -> None:
    referenced, plain = results["referenced"], results["plain_referenced"]

    assert referenced.drift == "none"
    assert referenced.path.read_bytes() == plain.path.read_bytes()


# --- the drift itself, without renders --------------------------------------------------------


def test_drift_is_fixed_by_the_job_id_and_scaled_by_the_strength() -> None:
    job_id = "0b7d7d5e-1f59-4f7c-9a53-6b1a3f2d9c11:" + DEFAULT_MODEL

    assert drift_filters(job_id, 0.0) == ()
    assert drift_filters(job_id, 1.0) == drift_filters(job_id, 1.0)
    assert drift_filters(job_id, 1.0) != drift_filters(job_id + "x", 1.0)
    (_, full), (_, full_hue) = drift_filters(job_id, 1.0)
    (_, half), (_, half_hue) = drift_filters(job_id, 0.5)
    assert half["brightness"] == pytest.approx(full["brightness"] / 2, abs=1e-4)
    assert half["saturation"] - 1 == pytest.approx((full["saturation"] - 1) / 2, abs=1e-4)
    assert half_hue["h"] == pytest.approx(full_hue["h"] / 2, abs=0.01)


def test_drifts_spread_over_their_ranges() -> None:
    drifts = [drift_filters(f"job-{i}", 1.0) for i in range(2000)]
    brightness = np.array([eq["brightness"] for (_, eq), _ in drifts])
    saturation = np.array([eq["saturation"] for (_, eq), _ in drifts])
    hue = np.array([turn["h"] for _, (_, turn) in drifts])

    for values, centre, most in (
        (brightness, 0.0, DRIFT_BRIGHTNESS),
        (saturation, 1.0, DRIFT_SATURATION),
        (hue, 0.0, DRIFT_HUE_DEG),
    ):
        assert np.all(np.abs(values - centre) <= most)
        assert values.min() < centre - 0.9 * most
        assert values.max() > centre + 0.9 * most
        assert abs(values.mean() - centre) < 0.1 * most


# --- the job carries it to the render ---------------------------------------------------------


def test_the_drift_decided_at_acceptance_reaches_the_render_and_the_log(
    recording: tuple[Service, Recorder],
    make_clip: Callable[..., Path],
    caplog: pytest.LogCaptureFixture,
) -> None:
    service, recorder = recording
    service.faults.update({"look_drift": 0.5})
    video = data_uri(make_clip(audio=False))
    bare = CreateRequest(model=DEFAULT_MODEL, prompt=PROMPT, video_url=video)
    referenced = CreateRequest(
        model=DEFAULT_MODEL, prompt=PROMPT, video_url=video, fields=dict(REFERENCE)
    )

    with caplog.at_level(logging.INFO, logger="reskin.standin.service"):
        jobs = [service.accept(bare), service.accept(referenced)]
    for job in jobs:
        assert job.render is not None
        job.render.result(timeout=10)

    assert jobs[0].drift == drift_filters(jobs[0].id, 0.5)
    assert jobs[1].references == 1
    assert jobs[1].drift == ()
    assert {task.result: task.drift for task in recorder.tasks} == {
        job.result: job.drift for job in jobs
    }
    accepted = [r.getMessage() for r in caplog.records if r.getMessage().startswith("accepted")]
    assert accepted[0].endswith(f"references=0, drift={describe_filters(jobs[0].drift)}")
    assert accepted[1].endswith("references=1, drift=none")
