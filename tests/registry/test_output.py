"""The result's size as each model chooses it: ``Output.size_for``, a pure function."""

from __future__ import annotations

import pytest

from reskin.registry import MODELS
from reskin.registry.aleph import SPEC as ALEPH
from reskin.registry.kling import SPEC as KLING
from reskin.registry.krea import SPEC as KREA
from reskin.registry.luma import SPEC as LUMA
from reskin.registry.spec import ModelSpec, Output

BOX = (1280, 720)


def _defaults(spec: ModelSpec) -> dict[str, object]:
    return {option.name: spec.option({}, option.name) for option in spec.options}


@pytest.mark.parametrize(
    ("width", "height", "expected"),
    [
        (1920, 1080, (1280, 720)),  # fitted into the box
        (1080, 1920, (720, 1280)),  # the box turned like the input
        (720, 720, (720, 720)),  # never upscaled
        (2160, 1080, (1280, 640)),
    ],
)
def test_kling_fits_the_input_into_the_box(
    width: int, height: int, expected: tuple[int, int]
) -> None:
    assert KLING.output.size_for({}, width, height, BOX) == expected


def test_the_box_is_the_callers() -> None:
    assert KLING.output.size_for({}, 1920, 1080, (640, 360)) == (640, 360)


@pytest.mark.parametrize(
    ("frame_size", "expected"),
    [("1280:720", (1280, 720)), ("720:1280", (720, 1280)), ("640:480", (640, 480))],
)
def test_aleph_renders_at_its_frame_size_whatever_the_input(
    frame_size: str, expected: tuple[int, int]
) -> None:
    assert ALEPH.output.size_for({"frame_size": frame_size}, 480, 1000, BOX) == expected


def test_aleph_defaults_to_1280_by_720() -> None:
    assert ALEPH.output.size_for(_defaults(ALEPH), 640, 480, BOX) == (1280, 720)


@pytest.mark.parametrize(
    ("resolution", "width", "height", "expected"),
    [
        ("720p", 1920, 1080, (1280, 720)),
        ("360p", 1920, 1080, (640, 360)),
        ("1080p", 1280, 720, (1920, 1080)),  # the resolution asked for, even above the input
        ("540p", 480, 640, (540, 720)),  # portrait: the width is the shorter side
        ("720p", 720, 720, (720, 720)),
        ("360p", 1000, 562, (640, 360)),  # 640.57: the longer side rounded to an even number
        ("540p", 1000, 563, (960, 540)),  # 959.15
        ("540p", 1000, 565, (956, 540)),  # 955.75: to the nearest even, not down
    ],
)
def test_luma_keeps_the_shape_at_the_resolutions_shorter_side(
    resolution: str, width: int, height: int, expected: tuple[int, int]
) -> None:
    size = LUMA.output.size_for({"resolution": resolution}, width, height, BOX)

    assert size == expected
    assert size[0] % 2 == size[1] % 2 == 0


def test_luma_defaults_to_720p() -> None:
    assert LUMA.output.size_for(_defaults(LUMA), 640, 360, BOX) == (1280, 720)


@pytest.mark.parametrize(("width", "height"), [(640, 360), (360, 640), (2160, 2160)])
def test_krea_is_always_1280_by_720(width: int, height: int) -> None:
    assert KREA.output.size_for(_defaults(KREA), width, height, BOX) == (1280, 720)


@pytest.mark.parametrize("spec", list(MODELS.values()), ids=list(MODELS))
def test_every_model_sizes_every_choice_even(spec: ModelSpec) -> None:
    choices = [option for option in spec.options if option.kind == "choice"]
    combos: list[dict[str, object]] = [_defaults(spec)]
    combos += [{**_defaults(spec), o.name: choice} for o in choices for choice in o.choices]
    for options in combos:
        for width, height in ((1920, 1080), (1080, 1920), (723, 1001)):
            w, h = spec.output.size_for(options, width, height, BOX)
            assert min(w, h) > 0, (options, width, height)
            assert w % 2 == h % 2 == 0, (options, width, height)


@pytest.mark.parametrize(
    ("output", "options", "complaint"),
    [
        (ALEPH.output, {}, "frame_size must be W:H"),
        (ALEPH.output, {"frame_size": "1:1"}, "positive and even"),
        (ALEPH.output, {"frame_size": "1281:720"}, "positive and even"),
        (ALEPH.output, {"frame_size": None}, "frame_size must be W:H"),
        (LUMA.output, {"resolution": "720"}, "resolution must be like 720p"),
        (LUMA.output, {}, "resolution must be like 720p"),
        (
            Output(fps=24, size="fixed", sound=False, video_shape="object", max_s=5),
            {},
            "needs fixed_size",
        ),
    ],
)
def test_a_missing_or_malformed_option_is_a_value_error(
    output: Output, options: dict[str, object], complaint: str
) -> None:
    with pytest.raises(ValueError, match=complaint):
        output.size_for(options, 1280, 720, BOX)


def test_an_empty_input_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="positive"):
        KREA.output.size_for({}, 0, 720, BOX)
