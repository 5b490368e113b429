"""Reference images: probing real JPG/PNG files made by ffmpeg, the files that must be refused,
the image limits of the model, and the data URI sent in ``image_list``."""

from __future__ import annotations

import base64
import dataclasses
import shutil
from collections.abc import Callable
from pathlib import Path

import av
import pytest

from reskin.errors import InputError, OutOfLimitsError
from reskin.media.binaries import FFmpegTools
from reskin.media.images import (
    DEMUXERS,
    OPEN_OPTIONS,
    ImageInfo,
    check_reference_images,
    image_data_uri,
    image_violations,
    probe_image,
)
from reskin.media.runner import run
from reskin.registry import DEFAULT_MODEL, spec_for
from reskin.registry.spec import ImageFormat, ReferenceLimits


def _reference_limits() -> ReferenceLimits:
    limits = spec_for(DEFAULT_MODEL).references
    assert limits is not None
    return limits


IMAGES = _reference_limits()

MakeImage = Callable[[str, int, int], Path]


@pytest.fixture(scope="session")
def make_image(ffmpeg_tools: FFmpegTools, tmp_path_factory: pytest.TempPathFactory) -> MakeImage:
    """``make_image("png", 640, 360)`` -> one frame of ffmpeg's test pattern in that format
    (png, jpg, gif, webp), made once per session. Callers copy it before changing it."""
    folder = tmp_path_factory.mktemp("images")

    def make(ext: str, width: int, height: int) -> Path:
        path = folder / f"{width}x{height}.{ext}"
        if not path.exists():
            argv = [str(ffmpeg_tools.ffmpeg), "-hide_banner", "-loglevel", "error", "-f", "lavfi"]
            argv += ["-i", f"testsrc=size={width}x{height}", "-frames:v", "1", "-update", "1"]
            run([*argv, str(path)], timeout_s=60)
        return path

    return make


def _copy(source: Path, target: Path) -> Path:
    shutil.copyfile(source, target)
    return target


def _info(
    width: int, height: int, *, size_bytes: int = 1000, fmt: ImageFormat = "png"
) -> ImageInfo:
    return ImageInfo(Path("x.png"), fmt, width, height, size_bytes)


# --- probing --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ext", "fmt", "mime"), [("png", "png", "image/png"), ("jpg", "jpeg", "image/jpeg")]
)
def test_a_valid_image_is_probed(
    make_image: MakeImage, ext: str, fmt: ImageFormat, mime: str
) -> None:
    path = make_image(ext, 640, 360)

    info = probe_image(path)

    assert info == ImageInfo(path, fmt, 640, 360, path.stat().st_size)
    assert info.mime == mime


def test_the_format_comes_from_the_content_not_the_name(
    make_image: MakeImage, tmp_path: Path
) -> None:
    jpeg_named_png = _copy(make_image("jpg", 400, 300), tmp_path / "photo.png")
    png_without_suffix = _copy(make_image("png", 400, 300), tmp_path / "image-0")

    assert probe_image(jpeg_named_png).format == "jpeg"
    assert probe_image(png_without_suffix).format == "png"


def test_a_hostile_file_name_is_only_ever_a_path(make_image: MakeImage, tmp_path: Path) -> None:
    name = "$(touch pwned);`touch pwned2` %03d|x.png"
    path = _copy(make_image("png", 400, 300), tmp_path / name)

    assert probe_image(path).width == 400
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


@pytest.mark.parametrize("fmt", ["png", "jpeg"])
def test_the_whitelisted_demuxers_are_the_ones_pyav_reports(
    make_image: MakeImage, fmt: ImageFormat
) -> None:
    path = make_image("png" if fmt == "png" else "jpg", 320, 320)

    with av.open(str(path), format=DEMUXERS[fmt], container_options=dict(OPEN_OPTIONS)) as found:
        assert found.format.name == DEMUXERS[fmt]
    with pytest.raises(av.FFmpegError):  # the whitelist refuses any other demuxer, even forced
        av.open(str(path), format="image2", container_options=dict(OPEN_OPTIONS))


def test_left_to_its_probe_ffmpeg_picks_image2_for_a_jpg_name(make_image: MakeImage) -> None:
    """Why the demuxer is chosen from the content: ffmpeg's probe ranks the ``.jpg`` name first
    and ignores the whitelist, which then refuses a real photo."""
    path = make_image("jpg", 320, 320)

    with av.open(str(path)) as unguarded:
        assert unguarded.format.name == "image2"
    with pytest.raises(av.FFmpegError):
        av.open(str(path), container_options=dict(OPEN_OPTIONS))


UNREADABLE = {
    "text renamed .png": "is not a JPG or PNG image",
    "empty": "is empty",
    "truncated png": "is damaged or cut short",
    "png signature only": "is damaged or cut short",
    "truncated jpeg": "its JPEG end marker is missing",
    "gif": "is not a JPG or PNG image",
    "webp": "is not a JPG or PNG image",
    "mp4 named .jpg": "is not a JPG or PNG image",
    "folder": "is not a file",
    "missing": "cannot read the file",
}


def _unreadable(case: str, make: MakeImage, clip: Path, folder: Path) -> Path:
    png, jpeg = make("png", 640, 360).read_bytes(), make("jpg", 640, 360).read_bytes()
    target = folder / f"{case.replace(' ', '-')}.png"
    match case:
        case "text renamed .png":
            target.write_text("just some notes\n" * 40)
        case "empty":
            target.touch()
        case "truncated png":
            target.write_bytes(png[: len(png) // 2])
        case "png signature only":
            target.write_bytes(png[:8])
        case "truncated jpeg":
            target.write_bytes(jpeg[: len(jpeg) // 2])
        case "gif" | "webp":
            return make(case, 400, 400)
        case "mp4 named .jpg":
            return _copy(clip, folder / "movie.jpg")
        case "folder":
            target.mkdir()
        case "missing":
            pass
    return target


@pytest.mark.parametrize("case", list(UNREADABLE))
def test_what_is_not_a_readable_jpg_or_png_is_refused_in_one_line(
    case: str, make_image: MakeImage, make_clip: Callable[..., Path], tmp_path: Path
) -> None:
    path = _unreadable(case, make_image, make_clip(), tmp_path)

    with pytest.raises(InputError) as caught:
        probe_image(path, name="my\nphoto.png")

    message = str(caught.value)
    assert type(caught.value) is InputError
    assert message.startswith("my?photo.png")
    assert UNREADABLE[case] in message
    assert "\n" not in message


def test_the_truncated_jpeg_still_decodes_so_the_end_marker_is_what_refuses_it(
    make_image: MakeImage, tmp_path: Path
) -> None:
    """ffmpeg conceals the missing half; without the end-marker check it would be accepted."""
    jpeg = make_image("jpg", 640, 360).read_bytes()
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(jpeg[: len(jpeg) // 2])

    with av.open(str(cut), format="jpeg_pipe", container_options=dict(OPEN_OPTIONS)) as c:
        frame = next(c.decode(c.streams.video[0]))
    assert (frame.width, frame.height) == (640, 360)
    cut.write_bytes(jpeg[: len(jpeg) // 2] + b"\xff\xd9")
    assert probe_image(cut).format == "jpeg"


# --- limits ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("width", "height"), [(300, 300), (750, 300), (300, 750), (2000, 1000)])
def test_sizes_within_the_limits_break_nothing(width: int, height: int) -> None:
    assert image_violations(_info(width, height), IMAGES) == []


@pytest.mark.parametrize(
    ("width", "height", "expected"),
    [
        (299, 400, ["shorter side 299 px is under the 300 px minimum"]),
        (400, 299, ["shorter side 299 px is under the 300 px minimum"]),
        (800, 300, ["aspect 800x300 (2.67:1) is outside 1:2.5..2.5:1"]),
        (300, 800, ["aspect 300x800 (2.67:1) is outside 1:2.5..2.5:1"]),
        (
            299,
            800,
            [
                "shorter side 299 px is under the 300 px minimum",
                "aspect 299x800 (2.68:1) is outside 1:2.5..2.5:1",
            ],
        ),
    ],
)
def test_each_broken_size_limit_names_the_value_and_the_limit(
    width: int, height: int, expected: list[str]
) -> None:
    assert image_violations(_info(width, height), IMAGES) == expected


def test_bytes_and_format_limits() -> None:
    assert image_violations(_info(400, 400, size_bytes=10_000_000), IMAGES) == []
    assert image_violations(_info(400, 400, size_bytes=10_000_001), IMAGES) == [
        "size 10.0 MB is over the 10.0 MB limit"
    ]
    jpeg_only = dataclasses.replace(IMAGES, formats=("jpeg",))
    assert image_violations(_info(400, 400), jpeg_only) == ["format PNG is not accepted (JPG only)"]


def test_the_kling_limits_are_those_of_the_api_page() -> None:
    limits = IMAGES
    assert limits.max_count == 4
    assert (limits.min_side, limits.max_aspect) == (300, 2.5)
    assert (limits.max_bytes, limits.formats) == (10_000_000, ("jpeg", "png"))


@pytest.mark.parametrize("ext", ["png", "jpg"])
def test_valid_references_are_returned_in_order(make_image: MakeImage, ext: str) -> None:
    paths = [make_image(ext, 640, 360), make_image(ext, 300, 750)]

    infos = check_reference_images(paths, IMAGES)

    assert [(i.path, i.width, i.height) for i in infos] == [
        (paths[0], 640, 360),
        (paths[1], 300, 750),
    ]


@pytest.mark.parametrize(
    ("width", "height", "broken"),
    [(299, 400, "shorter side 299 px"), (800, 300, "aspect 800x300 (2.67:1)")],
)
def test_a_real_image_out_of_limits_is_refused_naming_the_file(
    make_image: MakeImage, width: int, height: int, broken: str
) -> None:
    good, bad = make_image("png", 640, 360), make_image("jpg", width, height)

    with pytest.raises(OutOfLimitsError) as caught:
        check_reference_images([good, bad], IMAGES, names=["a.png", "b.jpg"])

    message = str(caught.value)
    assert message.startswith("b.jpg: ")
    assert broken in message
    assert message.endswith("to fit and try again")


def test_every_broken_limit_of_the_image_is_in_the_one_line(make_image: MakeImage) -> None:
    with pytest.raises(OutOfLimitsError) as caught:
        check_reference_images([make_image("png", 299, 800)], IMAGES)

    assert str(caught.value) == (
        "299x800.png: shorter side 299 px is under the 300 px minimum; aspect 299x800 (2.68:1) "
        "is outside 1:2.5..2.5:1: crop, resize or re-save the image to fit and try again"
    )


def test_an_unreadable_reference_is_called_by_the_users_name(tmp_path: Path) -> None:
    copy = tmp_path / "image-0"
    copy.write_text("not an image")

    with pytest.raises(InputError, match=r"^holiday\.webp is not a JPG or PNG image"):
        check_reference_images([copy], IMAGES, names=["holiday.webp"])


def test_too_many_bytes_with_a_smaller_limit(make_image: MakeImage) -> None:
    path = make_image("png", 640, 360)
    small = dataclasses.replace(IMAGES, max_bytes=1000)

    with pytest.raises(OutOfLimitsError, match=r"over the 1\.0 kB limit") as caught:
        check_reference_images([path], small)
    assert str(caught.value).startswith(f"{path.name}: size ")


def test_four_images_pass_and_five_are_refused_before_any_is_read(make_image: MakeImage) -> None:
    image = make_image("png", 640, 360)
    assert len(check_reference_images([image] * 4, IMAGES)) == 4

    missing = [Path(f"/nowhere/{n}.png") for n in range(5)]
    with pytest.raises(OutOfLimitsError, match="5 reference images given") as caught:
        check_reference_images(missing, IMAGES)
    assert "at most 4" in str(caught.value)
    assert "leave out 1" in str(caught.value)


def test_a_model_without_image_limits_takes_no_references(make_image: MakeImage) -> None:
    limits = dataclasses.replace(IMAGES, max_count=0)

    assert check_reference_images([], limits) == []
    with pytest.raises(OutOfLimitsError, match="at most 0"):
        check_reference_images([make_image("png", 640, 360)], limits)


def test_names_must_match_the_paths(make_image: MakeImage) -> None:
    with pytest.raises(ValueError, match="zip"):
        check_reference_images([make_image("png", 640, 360)], IMAGES, names=[])


# --- data URI -------------------------------------------------------------------------------


@pytest.mark.parametrize(("ext", "mime"), [("png", "image/png"), ("jpg", "image/jpeg")])
def test_the_data_uri_holds_the_file_exactly(make_image: MakeImage, ext: str, mime: str) -> None:
    path = make_image(ext, 640, 360)

    uri = image_data_uri(probe_image(path))

    prefix = f"data:{mime};base64,"
    assert uri.startswith(prefix)
    assert base64.b64decode(uri[len(prefix) :], validate=True) == path.read_bytes()


def test_a_file_changed_after_its_check_is_not_sent(make_image: MakeImage, tmp_path: Path) -> None:
    path = _copy(make_image("png", 640, 360), tmp_path / "ref.png")
    info = probe_image(path)
    with path.open("ab") as file:
        file.write(b"more")

    with pytest.raises(InputError, match=r"ref\.png changed after it was checked"):
        image_data_uri(info)
