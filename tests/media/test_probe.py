"""Probing with PyAV: the fields of MediaInfo, and the files it must refuse."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import av
import pytest

from reskin.errors import InputError, ProbeError
from reskin.media.binaries import FFmpegTools
from reskin.media.probe import probe
from reskin.media.runner import run


def test_an_mp4_with_audio(make_clip: Callable[..., Path]) -> None:
    clip = make_clip(duration_s=3.0, width=720, height=720, fps=24, audio=True)

    info = probe(clip)

    assert info.path == clip
    assert info.container == "mp4"
    assert info.format_name.startswith("mov,mp4")
    assert info.size_bytes == clip.stat().st_size
    assert info.duration_s == pytest.approx(3.0, abs=0.05)
    assert (info.width, info.height) == (720, 720)
    assert (info.display_width, info.display_height) == (720, 720)
    assert info.rotation == 0
    assert info.fps == pytest.approx(24.0)
    assert info.variable_fps is False
    assert info.video_codec == "h264"
    assert info.pix_fmt == "yuv420p"
    assert (info.has_audio, info.audio_codec, info.audio_channels) == (True, "aac", 2)


def test_a_silent_clip(make_clip: Callable[..., Path]) -> None:
    info = probe(make_clip(audio=False))

    assert (info.has_audio, info.audio_codec, info.audio_channels) == (False, None, None)


def test_mono_audio_channels(make_clip: Callable[..., Path]) -> None:
    assert probe(make_clip(audio_channels=1)).audio_channels == 1


def test_mov_is_told_apart_from_mp4(make_clip: Callable[..., Path]) -> None:
    info = probe(make_clip(container="mov"))

    assert info.container == "mov"
    assert info.format_name.startswith("mov,mp4")


def test_matroska_is_read(make_clip: Callable[..., Path]) -> None:
    info = probe(make_clip(container="mkv"))

    assert info.container == "matroska"
    assert info.format_name.startswith("matroska")
    assert (info.width, info.height) == (720, 720)


@pytest.mark.parametrize("rotation", [90, 270])
def test_rotation_swaps_the_displayed_size(make_clip: Callable[..., Path], rotation: int) -> None:
    info = probe(make_clip(width=1280, height=720, rotation=rotation))

    assert info.rotation == rotation
    assert (info.width, info.height) == (1280, 720)
    assert (info.display_width, info.display_height) == (720, 1280)


def test_variable_frame_rate_is_flagged(make_clip: Callable[..., Path]) -> None:
    info = probe(make_clip(fps=30, variable_fps=True))

    assert info.variable_fps is True
    assert info.fps == pytest.approx(20.0, rel=0.05)  # two frames of every three


def _ffmpeg(tools: FFmpegTools, *args: str | Path) -> None:
    run([tools.ffmpeg, "-nostdin", "-v", "error", "-y", *args], timeout_s=60)


@pytest.fixture(scope="module")
def impostors(
    ffmpeg_tools: FFmpegTools,
    make_clip: Callable[..., Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, Path]:
    """Files named .mp4 that are not MP4/MOV/Matroska videos."""
    folder = tmp_path_factory.mktemp("impostors")
    png, wav = folder / "image.png", folder / "sound.wav"
    _ffmpeg(ffmpeg_tools, "-f", "lavfi", "-i", "testsrc2=size=64x64", "-frames:v", "1", png)
    _ffmpeg(ffmpeg_tools, "-f", "lavfi", "-i", "sine=duration=1", wav)
    audio_only = folder / "audio-only.mp4"
    _ffmpeg(ffmpeg_tools, "-f", "lavfi", "-i", "sine=duration=1", "-c:a", "aac", audio_only)
    files = {"audio-only": audio_only}
    for name, source in (("png", png), ("wav", wav)):
        files[name] = folder / f"{name}.mp4"
        shutil.copyfile(source, files[name])
    files["text"] = folder / "text.mp4"
    files["text"].write_text("hello, I am not a video\n")
    files["empty"] = folder / "empty.mp4"
    files["empty"].write_bytes(b"")
    # An HLS playlist that would pull another local video in (MEDIA.md, hostile inputs).
    files["hls"] = folder / "playlist.mp4"
    files["hls"].write_text(
        f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:3.0,\n{make_clip()}\n#EXT-X-ENDLIST\n"
    )
    whole = make_clip().read_bytes()
    files["truncated"] = folder / "truncated.mp4"
    files["truncated"].write_bytes(whole[: len(whole) // 2])  # moov is at the end: lost
    return files


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("png", "not an MP4, MOV or Matroska video"),
        ("wav", "not an MP4, MOV or Matroska video"),
        ("text", "not an MP4, MOV or Matroska video"),
        ("hls", "not an MP4, MOV or Matroska video"),
        ("truncated", "not an MP4, MOV or Matroska video"),
        ("empty", "is empty"),
        ("audio-only", "has no video stream"),
    ],
)
def test_files_that_are_not_videos_are_refused(
    impostors: dict[str, Path], name: str, reason: str
) -> None:
    with pytest.raises(ProbeError, match=reason) as caught:
        probe(impostors[name])

    assert isinstance(caught.value, InputError)
    message = str(caught.value)
    assert "\n" not in message
    assert "try again" in message  # says what to do


def test_the_whitelist_is_what_refuses_a_png(impostors: dict[str, Path]) -> None:
    # Without the format options PyAV opens the PNG happily: the guard is doing the work.
    with av.open(str(impostors["png"])) as container:
        assert container.format.name == "png_pipe"


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ProbeError, match="cannot read the file"):
        probe(tmp_path / "nothing.mp4")


def test_a_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ProbeError, match="not a file"):
        probe(tmp_path)
