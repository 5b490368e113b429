"""The faults that return a wrong result with the look applied: reversed, another scene, shifted.

One module fixture asks the session's stand-in (over HTTP, real ffmpeg) for four results of the
same 3 s clip: one of each distortion, then a right one. Each test compares a distorted result
with the right one frame by frame, on small gray frames decoded with PyAV.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import av
import httpx
import numpy as np
import numpy.typing as npt
import pytest

from reskin.aimlapi.models import CreateRequest
from reskin.media.probe import OPEN_OPTIONS, probe
from reskin.registry import DEFAULT_MODEL
from reskin.standin.render import Distortion
from reskin.standin.server import StandIn
from reskin.standin.service import DISTORTING_FAULTS, Service
from tests.frames import read_frame_stats

from .wire import Api, Recorder, data_uri

Frames = npt.NDArray[np.float32]
#: The side of the gray frames compared: enough to see the test pattern move.
SIDE = 64
#: A look that takes every colour away, so each result shows it was applied.
PROMPT = "make it black and white"


@dataclass(frozen=True)
class Result:
    """A downloaded result: its length, size and gray frames."""

    path: Path
    duration_s: float
    size: tuple[int, int]
    frames: Frames


def gray_frames(path: Path) -> Frames:
    """Every frame of ``path``, shrunk to ``SIDE`` x ``SIDE`` gray, as floats (n, SIDE, SIDE)."""
    with av.open(str(path), mode="r", container_options=dict(OPEN_OPTIONS)) as container:
        frames = [
            frame.reformat(width=SIDE, height=SIDE, format="gray").to_ndarray()
            for frame in container.decode(container.streams.video[0])
        ]
    return np.stack(frames).astype(np.float32)


def mad(a: Frames, b: Frames) -> float:
    """Mean absolute difference, 0..255."""
    return float(np.abs(a - b).mean())


def motion(frames: Frames) -> float:
    """How much the picture changes from one frame to the next, on average."""
    return mad(frames[1:], frames[:-1])


@pytest.fixture(scope="module")
def results(
    standin_session: StandIn,
    make_clip: Callable[..., Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, Result]:
    """Four results of one clip: ``reversed``, ``other_scene``, ``shifted``, then ``normal``."""
    standin = standin_session
    clip = make_clip(audio=False)
    folder = tmp_path_factory.mktemp("distortions")
    headers = {"Authorization": f"Bearer {standin.key}"}
    standin.reset()
    try:
        with httpx.Client(base_url=standin.base_url, headers=headers, timeout=30) as http:
            api = Api(http)
            # Through the control endpoint, as a test of a fidelity check would set them.
            changed = http.post(
                "/_standin/faults",
                json={"reversed_result": 1, "other_scene_result": 1, "shifted_result": 1},
            )
            assert changed.status_code == 200, changed.text
            # One distortion a job, in the table's order; the fourth job is a right one.
            names = ("reversed", "other_scene", "shifted", "normal")
            ids = {name: api.create_from(clip, PROMPT) for name in names}
            for name, generation_id in ids.items():
                job = standin.service.jobs.get(generation_id)
                assert job is not None
                assert job.distortion == (None if name == "normal" else name)
            paths = {name: api.result(gid, folder) for name, gid in ids.items()}
    finally:
        standin.reset()
    found: dict[str, Result] = {}
    for name, path in paths.items():
        info = probe(path)
        size = (info.display_width, info.display_height)
        found[name] = Result(path, info.duration_s, size, gray_frames(path))
    return found


@pytest.mark.parametrize("name", ["reversed", "other_scene", "shifted"])
def test_a_distorted_result_is_as_long_and_as_large_with_the_look(
    results: dict[str, Result], name: str
) -> None:
    normal, distorted = results["normal"], results[name]

    assert distorted.size == normal.size
    assert distorted.duration_s == pytest.approx(normal.duration_s, abs=0.01)
    assert len(distorted.frames) == len(normal.frames)
    assert read_frame_stats(distorted.path).saturation < 0.05  # black and white, as asked


def test_reversed_result_plays_the_right_frames_backwards(results: dict[str, Result]) -> None:
    normal, reversed_ = results["normal"].frames, results["reversed"].frames
    count = len(normal)

    backwards = [mad(reversed_[i], normal[count - 1 - i]) for i in range(count)]
    forwards = [mad(reversed_[i], normal[i]) for i in range(count)]

    assert max(backwards) < 1.0, backwards  # only the encoder's noise (0.1 seen)
    # Far from the middle, frame i is not the right result's frame i: the clip moves (a
    # frame of it differs from the next by about 2.4, the first from the last by about 4).
    ends = forwards[: count // 4] + forwards[-(count // 4) :]
    assert min(ends) > 2.0, forwards


def test_other_scene_result_shows_another_picture_throughout(results: dict[str, Result]) -> None:
    normal, other = results["normal"].frames, results["other_scene"].frames

    differences = [mad(mine, right) for mine, right in zip(other, normal, strict=True)]

    assert min(differences) > 20, differences  # about 80 seen
    assert motion(other) > 1  # a moving scene, not a still (about 15 seen)


def test_shifted_result_moves_the_layout_but_not_the_motion(results: dict[str, Result]) -> None:
    normal, shifted = results["normal"].frames, results["shifted"].frames

    differences = [mad(mine, right) for mine, right in zip(shifted, normal, strict=True)]

    assert min(differences) > 20, differences  # about 90 seen
    assert 0.5 < motion(shifted) / motion(normal) < 2  # about 0.9 seen


# --- counting, without HTTP or renders --------------------------------------------------------


@pytest.mark.parametrize(("fault", "distortion"), DISTORTING_FAULTS)
def test_a_distorting_fault_is_spent_after_n_jobs(
    recording: tuple[Service, Recorder],
    make_clip: Callable[..., Path],
    fault: str,
    distortion: Distortion,
) -> None:
    service, recorder = recording
    service.faults.update({fault: 2})
    request = CreateRequest(
        model=DEFAULT_MODEL, prompt=PROMPT, video_url=data_uri(make_clip(audio=False))
    )

    jobs = [service.accept(request) for _ in range(3)]

    assert [job.distortion for job in jobs] == [distortion, distortion, None]
    assert getattr(service.faults.current, fault) == 0
    for job in jobs:  # every render handed over, carrying its job's distortion
        assert job.render is not None
        job.render.result(timeout=10)
    assert {task.result: task.distortion for task in recorder.tasks} == {
        job.result: job.distortion for job in jobs
    }
