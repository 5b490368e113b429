"""ffmpeg argv builders: pure, asserted on the argv alone (no ffmpeg runs here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from reskin.media.commands import (
    GLOBAL_ARGS,
    fit_size,
    render_command,
    synthetic_clip_command,
    tag_rotation_command,
)

EXE = Path("/opt/ffmpeg/bin/ffmpeg")
SRC = Path("/data/in.mov")
OUT = Path("/data/out.mp4")


def _value(argv: list[str], flag: str) -> str:
    return argv[argv.index(flag) + 1]


def _values(argv: list[str], flag: str) -> list[str]:
    return [argv[i + 1] for i, part in enumerate(argv) if part == flag]


def _render(**changes: object) -> list[str]:
    options: dict[str, object] = {
        "filters": [("hue", {"s": 0}), ("eq", {"contrast": 1.3})],
        "width": 1280,
        "height": 720,
    }
    options.update(changes)
    return render_command(EXE, SRC, OUT, **options)  # type: ignore[arg-type]


def test_render_starts_with_the_global_guards() -> None:
    argv = _render()

    assert argv[: 1 + len(GLOBAL_ARGS)] == [str(EXE), *GLOBAL_ARGS]
    assert "-nostdin" in argv


def test_render_opens_its_input_with_the_whitelists() -> None:
    argv = _render()
    where = argv.index("-i")

    assert argv[where + 1] == str(SRC)
    assert _value(argv, "-protocol_whitelist") == "file"
    assert _value(argv, "-format_whitelist") == "mov,matroska"
    assert argv.index("-protocol_whitelist") < where
    assert argv.index("-format_whitelist") < where


def test_render_encodes_h264_yuv420p_24fps_cfr_faststart_without_metadata() -> None:
    argv = _render()

    assert _value(argv, "-vcodec") == "libx264"
    assert _value(argv, "-pix_fmt") == "yuv420p"
    assert _value(argv, "-r") == "24"
    assert _value(argv, "-fps_mode") == "cfr"
    assert _value(argv, "-movflags") == "+faststart"
    assert _value(argv, "-map_metadata") == "-1"
    assert _value(argv, "-f") == "mp4"
    assert _value(argv, "-preset") == "veryfast"
    assert argv[-1] == str(OUT)


def test_render_chain_scales_then_applies_the_look_then_fps() -> None:
    graph = _value(_render(), "-filter_complex")

    steps = [part.split("]")[1].split("[")[0] for part in graph.split(";")]
    look = ["hue=s=0", "eq=contrast=1.3"]
    assert steps == ["scale=1280:720", "setsar=1", *look, "fps=24", "format=yuv420p"]
    assert graph.startswith("[0:v:0]")


def test_render_drops_audio_unless_asked() -> None:
    argv = _render()

    assert "-an" in argv
    assert _values(argv, "-map") == ["[s5]"]


def test_render_keeps_the_first_audio_stream_optionally_as_aac_stereo() -> None:
    argv = _render(keep_audio=True)

    assert "-an" not in argv
    assert "0:a:0?" in _values(argv, "-map")  # '?': a silent source must not fail
    assert _value(argv, "-c:a") == "aac"
    assert _value(argv, "-ac") == "2"


def test_render_makes_paths_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)

    argv = render_command(EXE, Path("-in.mp4"), Path("out.mp4"), filters=[], width=720, height=720)

    assert _value(argv, "-i") == str(tmp_path / "-in.mp4")
    assert argv[-1] == str(tmp_path / "out.mp4")


@pytest.mark.parametrize(("width", "height"), [(1279, 720), (1280, 719), (0, 720)])
def test_render_refuses_sizes_yuv420p_cannot_hold(width: int, height: int) -> None:
    with pytest.raises(ValueError, match="even size"):
        _render(width=width, height=height)


@pytest.mark.parametrize(
    "step",
    [
        ("drawtext", {"text": "hello"}),  # text could carry anything: never allowed
        ("eq;movie=/etc/passwd", {"contrast": 1.0}),
        ("eq", {"contrast=1:x": 1.0}),
        ("eq", {"contrast": True}),
    ],
)
def test_render_takes_only_plain_names_and_numbers(step: tuple[str, dict[str, object]]) -> None:
    with pytest.raises(ValueError, match="filter"):
        _render(filters=[step])


def test_synthetic_clip_uses_lavfi_only_and_a_fixed_length() -> None:
    argv = synthetic_clip_command(EXE, OUT, duration_s=3.5, width=720, height=1280, fps=30)

    assert argv[: 1 + len(GLOBAL_ARGS)] == [str(EXE), *GLOBAL_ARGS]
    assert _values(argv, "-f")[:2] == ["lavfi", "lavfi"]
    assert _values(argv, "-format_whitelist") == ["lavfi", "lavfi"]
    assert _values(argv, "-i") == [
        "testsrc2=size=720x1280:rate=30:duration=3.5",
        "sine=frequency=440:sample_rate=48000:duration=3.5",
    ]
    assert _value(argv, "-t") == "3.5"
    assert _value(argv, "-vcodec") == "libx264"
    assert _value(argv, "-acodec") == "aac"
    assert _value(argv, "-map_metadata") == "-1"
    assert argv[-1] == str(OUT)


def test_synthetic_clip_options() -> None:
    argv = synthetic_clip_command(
        EXE, OUT, audio=False, container="mkv", pattern="smptebars", variable_fps=True
    )

    assert len(_values(argv, "-i")) == 1
    assert _value(argv, "-i").startswith("smptebars=")
    assert "-acodec" not in argv
    assert _values(argv, "-f")[-1] == "matroska"
    assert _value(argv, "-fps_mode") == "vfr"
    assert "select=mod(n\\,3)" in _value(argv, "-filter_complex")


def test_synthetic_clip_refuses_an_unknown_pattern() -> None:
    with pytest.raises(ValueError, match="pattern"):
        synthetic_clip_command(EXE, OUT, pattern="movie=x.mp4")  # type: ignore[arg-type]


def test_tag_rotation_copies_with_a_display_rotation_on_the_guarded_input() -> None:
    argv = tag_rotation_command(EXE, SRC, OUT, degrees=90)
    where = argv.index("-i")

    assert _value(argv, "-display_rotation") == "90"
    assert argv.index("-display_rotation") < where
    assert _value(argv, "-format_whitelist") == "mov,matroska"
    assert _value(argv, "-c") == "copy"
    assert _values(argv, "-map") == ["0:v:0", "0:a:0?"]
    with pytest.raises(ValueError, match="multiple of 90"):
        tag_rotation_command(EXE, SRC, OUT, degrees=45)


@pytest.mark.parametrize(
    ("size", "fitted"),
    [
        ((1920, 1080), (1280, 720)),
        ((1280, 720), (1280, 720)),
        ((720, 720), (720, 720)),
        ((1080, 1920), (720, 1280)),  # portrait gets a portrait box
        ((3840, 2160), (1280, 720)),
        ((2160, 720), (1280, 426)),
        ((1279, 719), (1278, 718)),  # never upscaled, made even
        ((2000, 2000), (720, 720)),
    ],
)
def test_fit_size(size: tuple[int, int], fitted: tuple[int, int]) -> None:
    assert fit_size(*size, long_side=1280, short_side=720) == fitted
