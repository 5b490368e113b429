"""The fixed table of looks: prompt words pick one, and each visibly changes the picture."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from reskin.standin.looks import DEFAULT_LOOK, LOOKS, choose_look
from reskin.standin.server import StandIn

from ..frames import FrameStats, read_frame_stats
from .wire import Api


@pytest.mark.parametrize(
    ("prompt", "look"),
    [
        ("Make it black-and-white", "monochrome"),
        ("black and white, please", "monochrome"),
        ("B&W film", "monochrome"),
        ("a film NOIR mood", "monochrome"),
        ("Sepia like an old photo", "sepia"),
        ("a neon city", "neon"),
        ("cyberpunk streets", "neon"),
        ("turn day into night", "night"),
        ("a neon night", "neon"),  # table order decides
        ("a snowy winter night", "night"),
        ("deep snow everywhere", "snow"),
        ("winter is coming", "snow"),
        ("icy blue", "cold"),
        ("a cold morning", "cold"),
        ("warm tones", "warm"),
        ("golden sunset", "warm"),
        ("a knight rides by", "regrade"),  # 'night' only as a whole word
        ("a nice day", "regrade"),  # 'ice' too
        ("make it look like a watercolour", "regrade"),
    ],
)
def test_prompt_words_choose_the_look(prompt: str, look: str) -> None:
    assert choose_look(prompt).name == look


def test_the_table_is_well_formed() -> None:
    names = [look.name for look in (*LOOKS, DEFAULT_LOOK)]
    assert len(names) == len(set(names))
    assert {"monochrome", "sepia", "night", "snow", "neon", "warm", "cold"} <= set(names)
    for look in LOOKS:
        assert look.words
        assert look.filters
    assert DEFAULT_LOOK.words == ()
    assert DEFAULT_LOOK.filters


PROMPTS = {
    "monochrome": "make it black-and-white",
    "sepia": "sepia toned",
    "neon": "neon lights",
    "night": "at night",
    "snow": "covered in snow",
    "cold": "icy and cold",
    "warm": "a warm sunset",
    "regrade": "in the style of a watercolour",
}


@pytest.fixture(scope="module")
def rendered(
    standin_session: StandIn,
    make_clip: Callable[..., Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, tuple[FrameStats, FrameStats]]:
    """Every look rendered once from the same clip (all jobs in flight together): per look,
    the statistics of the input frame and of the result frame at the same time."""
    standin_session.reset()
    clip = make_clip(audio=False)
    folder = tmp_path_factory.mktemp("looks")
    headers = {"Authorization": f"Bearer {standin_session.key}"}
    with httpx.Client(base_url=standin_session.base_url, headers=headers, timeout=30) as http:
        api = Api(http)
        ids = {look: api.create_from(clip, prompt) for look, prompt in PROMPTS.items()}
        results = {look: api.result(generation_id, folder) for look, generation_id in ids.items()}
    before = read_frame_stats(clip)
    return {look: (before, read_frame_stats(path)) for look, path in results.items()}


def test_every_prompt_was_rendered(rendered: dict[str, tuple[FrameStats, FrameStats]]) -> None:
    assert set(rendered) == set(PROMPTS)


@pytest.mark.parametrize("look", list(PROMPTS))
def test_each_look_changes_the_picture(
    rendered: dict[str, tuple[FrameStats, FrameStats]], look: str
) -> None:
    before, after = rendered[look]

    assert after.diff(before) > 15


def test_monochrome_has_no_colour(rendered: dict[str, tuple[FrameStats, FrameStats]]) -> None:
    before, after = rendered["monochrome"]

    assert before.saturation > 0.5
    assert after.saturation < 0.05


def test_sepia_is_brown_and_muted(rendered: dict[str, tuple[FrameStats, FrameStats]]) -> None:
    before, after = rendered["sepia"]

    assert after.r > after.g > after.b
    assert after.saturation < 0.5 * before.saturation


def test_night_is_dark_and_blue(rendered: dict[str, tuple[FrameStats, FrameStats]]) -> None:
    before, after = rendered["night"]

    assert after.luma < 0.6 * before.luma
    assert after.b > after.r + 20


def test_snow_is_bright_washed_out_and_blue(
    rendered: dict[str, tuple[FrameStats, FrameStats]],
) -> None:
    before, after = rendered["snow"]

    assert after.luma > before.luma + 15
    assert after.saturation < 0.6 * before.saturation
    assert after.b > after.r


def test_neon_pushes_magenta_and_stays_saturated(
    rendered: dict[str, tuple[FrameStats, FrameStats]],
) -> None:
    before, after = rendered["neon"]

    magenta_before = (before.r + before.b) / 2 - before.g
    assert (after.r + after.b) / 2 - after.g > magenta_before + 20
    assert after.saturation > 0.7


def test_warm_shifts_red_over_blue(rendered: dict[str, tuple[FrameStats, FrameStats]]) -> None:
    before, after = rendered["warm"]

    assert (after.r - after.b) - (before.r - before.b) > 25


def test_cold_shifts_blue_over_red(rendered: dict[str, tuple[FrameStats, FrameStats]]) -> None:
    before, after = rendered["cold"]

    assert (after.b - after.r) - (before.b - before.r) > 25


def test_the_default_look_is_plainly_different(
    rendered: dict[str, tuple[FrameStats, FrameStats]],
) -> None:
    before, after = rendered["regrade"]

    assert after.diff(before) > 40
