"""The scores on frames made here with numpy: a textured picture moving right, and what a
result that kept it, reversed it, moved it or showed something else gives."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator

import numpy as np
import pytest

from reskin.fidelity.scores import measure
from reskin.media.thumbs import Frames

SIZE = (144, 256)


def texture(seed: int = 1) -> Frames:
    """A picture with edges everywhere (blocks of random gray), larger than the frame."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 256, size=(SIZE[0] // 8 + 4, SIZE[1] // 8 + 16), dtype=np.uint8)
    return np.kron(blocks, np.ones((8, 8), dtype=np.uint8))


def panning(frames: int = 24, step: int = 3, seed: int = 1) -> Frames:
    """The texture seen through a window moving ``step`` pixels right per sample."""
    picture = texture(seed)
    return np.stack(
        [picture[8 : 8 + SIZE[0], k * step : k * step + SIZE[1]] for k in range(frames)]
    )


def regraded(frames: Frames) -> Frames:
    """A new look: contrast down and lifted, as a colour grade does to gray."""
    return (frames.astype(np.float32) * 0.6 + 60).astype(np.uint8)


def test_a_regraded_result_keeps_motion_and_structure() -> None:
    source = panning()
    measures = measure(source, regraded(source))
    assert measures.motion() > 0.8
    assert measures.structure_score() > 0.9
    assert measures.lag == 0


def test_the_same_frames_score_one() -> None:
    source = panning()
    measures = measure(source, source.copy())
    assert measures.motion() == pytest.approx(1.0, abs=0.01)
    assert measures.structure_score() == pytest.approx(1.0)


def test_reversed_motion_scores_low_on_motion() -> None:
    source = panning()
    measures = measure(source, regraded(source[::-1].copy()))
    assert measures.motion() < 0.2


def test_a_shifted_and_zoomed_picture_scores_low_on_structure() -> None:
    source = panning()
    zoomed = np.stack(
        [np.kron(frame[20:92, 40:168], np.ones((2, 2), dtype=np.uint8)) for frame in source]
    )
    measures = measure(source, regraded(zoomed))
    assert measures.structure_score() < 0.4
    # The same pan at twice the speed: the right direction, half the length off (1 - 3/9).
    assert measures.motion() == pytest.approx(2 / 3, abs=0.05)


def test_another_scene_scores_low_on_both() -> None:
    source = panning()
    other = panning(seed=7, step=2)[:, :, ::-1].copy()  # another picture, panning left
    measures = measure(source, regraded(other))
    assert measures.structure_score() < 0.3
    assert measures.motion() < 0.4


def test_a_still_shot_kept_still_scores_high_on_motion_and_says_it_is_still() -> None:
    still = np.stack([texture()[8 : 8 + SIZE[0], : SIZE[1]]] * 16)
    measures = measure(still, regraded(still))
    assert measures.motion() > 0.9
    assert measures.source_motion_px() < 0.5
    assert measure(panning(), panning()).source_motion_px() == pytest.approx(3.0, abs=0.5)


def test_a_result_running_late_shows_its_lag() -> None:
    source = panning(frames=32)
    late = np.concatenate([source[:2], source[:-2]])  # two samples behind
    assert measure(source, late).lag == 2


def test_a_jump_at_a_join_is_a_low_seam_and_a_smooth_one_is_not() -> None:
    source = panning(frames=32, step=1)
    jumped = source.copy()
    jumped[16:] = regraded(jumped[16:])  # the second half has another look
    measures = measure(source, jumped)
    assert measures.seam(16) < 0.5
    assert measures.seam(8) == pytest.approx(1.0)
    smooth = measure(source, source.copy())
    assert smooth.seam(16) == pytest.approx(1.0)


def test_a_span_scores_only_its_own_samples() -> None:
    source = panning(frames=32)
    half = source.copy()
    half[16:] = half[16:][::-1]  # the second half reversed
    measures = measure(source, half)
    assert measures.motion(0, 16) > 0.9
    assert measures.motion(16, 32) < 0.2
    assert measures.structure_score(0, 16) == pytest.approx(1.0)


def test_frames_of_two_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="two sizes"):
        measure(panning(), np.zeros((24, 72, 128), dtype=np.uint8))


def test_memory_stays_the_same_whatever_the_length() -> None:
    def frames(count: int) -> Iterator[Frames]:
        for k in range(count):  # made one at a time, as the files are read
            yield panning(frames=40, step=1)[k % 40]

    def peak(count: int) -> int:
        tracemalloc.start()
        measure(frames(count), frames(count))
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top

    short, long = peak(40), peak(400)
    assert long < short * 1.3, (short, long)


def test_a_pair_across_a_scene_cut_does_not_count_for_motion() -> None:
    first, second = panning(frames=16, step=1), panning(frames=16, step=1, seed=5)
    source = np.concatenate([first, second])
    late = source.copy()
    late[16] = first[15]  # the result shows the cut one sample late
    measures = measure(source, late)
    assert list(np.flatnonzero(measures.cuts())) == [15]
    assert measures.motion() > 0.85
