"""Hostile inputs: files that try to make ffmpeg read another file or reach a URL.

Every such file of the corpus must be refused by the probe and by every command reskin builds
that opens a file, the loopback listener must record no connection, and no output may hold the
secret clip the files point at (7 s of magenta). Each command builder of
``reskin.media.commands`` is found at test time, so a new one is covered (or this file says how
to cover it) without anyone remembering to add it.

The demonstrations at the end run the same commands with the guards taken out, and show the leak
happening: the guards, not luck or ffmpeg's own defaults, are what stop it.
"""

from __future__ import annotations

import inspect
import itertools
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import pytest

from reskin.errors import FFmpegError, ProbeError
from reskin.media import commands
from reskin.media.binaries import FFmpegTools
from reskin.media.probe import OPEN_OPTIONS, probe
from reskin.media.runner import run
from reskin.media.verify import decode_check_command
from tests.frames import read_frame_stats

from .corpus import (
    NEVER_OPENED,
    NOT_VIDEOS,
    REFERRERS,
    SECRET_SECONDS,
    Corpus,
    Listener,
    listening,
)

Builder = Callable[..., list[str]]

#: Values for a builder's required arguments that are neither the ffmpeg path nor a file.
#: A new builder with another required argument needs an entry here (a test says so).
ARGUMENTS: dict[str, object] = {
    "filters": [("eq", {"saturation": 1.2})],
    "width": 720,
    "height": 720,
    "degrees": 90,
    "fps": 24,
    "duration_s": 3.0,
    "start_s": 0.0,
    "seconds": 3.0,
}
OUTPUT_NAMES = frozenset({"output", "out", "target", "destination", "result"})
EXE_NAMES = frozenset({"exe", "ffmpeg", "binary"})


@dataclass(frozen=True)
class Recipe:
    """How to call one builder: which of its arguments are input files, and the rest."""

    name: str
    builder: Builder
    inputs: tuple[str, ...]
    output: str | None
    fixed: dict[str, object]
    unknown: tuple[str, ...]

    def argv(self, exe: Path, files: dict[str, Path], output: Path) -> list[str]:
        kwargs: dict[str, object] = dict(self.fixed)
        kwargs.update(files)
        if self.output is not None:
            kwargs[self.output] = output
        for name in inspect.signature(self.builder).parameters:
            if name in EXE_NAMES:
                kwargs[name] = exe
        return self.builder(**kwargs)


def _recipes() -> list[Recipe]:
    found: list[Recipe] = []
    for name, builder in inspect.getmembers(commands, inspect.isfunction):
        if not name.endswith("_command") or builder.__module__ != commands.__name__:
            continue
        hints = typing.get_type_hints(builder)
        inputs: list[str] = []
        output: str | None = None
        fixed: dict[str, object] = {}
        unknown: list[str] = []
        for param in inspect.signature(builder).parameters.values():
            is_path = hints.get(param.name) in (Path, Path | None)
            if param.name in EXE_NAMES:
                continue
            if is_path and param.name in OUTPUT_NAMES:
                output = param.name
            elif is_path:
                inputs.append(param.name)
            elif param.default is not inspect.Parameter.empty:
                continue
            elif param.name in ARGUMENTS:
                fixed[param.name] = ARGUMENTS[param.name]
            else:
                unknown.append(param.name)
        found.append(Recipe(name, builder, tuple(inputs), output, fixed, tuple(unknown)))
    return found


RECIPES = _recipes()
FILE_RECIPES = [recipe for recipe in RECIPES if recipe.inputs]
#: (builder, which of its inputs gets the hostile file), for every builder that opens files.
SLOTS = [(recipe, slot) for recipe in FILE_RECIPES for slot in recipe.inputs]


def test_every_builder_of_commands_py_can_be_exercised() -> None:
    assert {"render_command", "tag_rotation_command"} <= {r.name for r in FILE_RECIPES}
    blocked = {recipe.name: recipe.unknown for recipe in RECIPES if recipe.unknown}
    assert not blocked, f"add values for these arguments to ARGUMENTS in {__file__}: {blocked}"


# --- the guards are in every argv -----------------------------------------------------------


def _inputs(argv: list[str]) -> list[tuple[str, list[str]]]:
    """Each ``-i`` of ``argv`` with the options given before it (ffmpeg's input options)."""
    found: list[tuple[str, list[str]]] = []
    pending: list[str] = []
    tokens = iter(argv[1:])
    for token in tokens:
        if token == "-i":
            found.append((next(tokens), pending))
            pending = []
        else:
            pending.append(token)
    return found


def _pairs(options: list[str]) -> set[tuple[str, str]]:
    return set(itertools.pairwise(options))


def assert_guarded(argv: list[str]) -> None:
    assert "-nostdin" in argv
    inputs = _inputs(argv)
    assert inputs, f"no input in {argv}"
    for source, options in inputs:
        pairs = _pairs(options)
        if ("-f", "lavfi") in pairs:
            # A generated source: the lavfi demuxer and nothing else.
            assert ("-format_whitelist", "lavfi") in pairs, argv
            continue
        assert source.startswith("/"), f"{source} is not absolute in {argv}"
        assert ("-protocol_whitelist", "file") in pairs, f"{source} unguarded in {argv}"
        assert ("-format_whitelist", "mov,matroska") in pairs, f"{source} unguarded in {argv}"


@pytest.mark.parametrize("recipe", RECIPES, ids=[recipe.name for recipe in RECIPES])
def test_every_builder_guards_every_input(recipe: Recipe) -> None:
    files = {slot: Path(f"/job/{slot}.mp4") for slot in recipe.inputs}

    assert_guarded(recipe.argv(Path("/opt/ffmpeg"), files, Path("/job/out.mp4")))


def test_the_decode_check_is_guarded() -> None:
    assert_guarded(decode_check_command(Path("/opt/ffmpeg"), Path("/job/input.mp4")))


def test_the_checker_catches_a_missing_guard() -> None:
    # The checker itself must be able to fail, or the tests above prove nothing.
    argv = commands.render_command(
        Path("/opt/ffmpeg"), Path("/a.mp4"), Path("/b.mp4"), filters=[], width=720, height=720
    )

    with pytest.raises(AssertionError, match="unguarded"):
        assert_guarded(_without_guards(argv))


# --- hostile files are refused everywhere ---------------------------------------------------


@pytest.mark.parametrize("name", [*NOT_VIDEOS, *REFERRERS])
def test_the_probe_refuses_it(corpus: Corpus, name: str, no_hits: Listener) -> None:
    with pytest.raises(ProbeError) as caught:
        probe(corpus.path(name))

    message = str(caught.value)
    assert message.startswith(corpus.path(name).name)
    assert "\n" not in message
    assert message.endswith("try again")


@pytest.mark.parametrize("name", NEVER_OPENED)
@pytest.mark.parametrize(
    ("recipe", "slot"), SLOTS, ids=[f"{recipe.name}-{slot}" for recipe, slot in SLOTS]
)
def test_every_command_refuses_it(
    corpus: Corpus,
    ffmpeg_tools: FFmpegTools,
    tmp_path: Path,
    recipe: Recipe,
    slot: str,
    name: str,
    no_hits: Listener,
    secret_is_recognised: None,
) -> None:
    files = {other: corpus.path("plain") for other in recipe.inputs}
    files[slot] = corpus.path(name)
    output = tmp_path / "out.mp4"
    argv = recipe.argv(ffmpeg_tools.ffmpeg, files, output)

    with pytest.raises(FFmpegError):
        run(argv, timeout_s=60)

    assert not output.exists()  # refused while opening its inputs: nothing was written
    assert not _holds_the_secret(output)


@pytest.fixture(scope="module")
def secret_is_recognised(corpus: Corpus) -> None:
    # The leak detector must see the secret itself, or "no leak" below would prove nothing.
    assert _holds_the_secret(corpus.secret)
    assert not _holds_the_secret(corpus.path("plain"))


def _holds_the_secret(path: Path) -> bool:
    """True when ``path`` is a video that looks like the secret: 7 s long, or magenta."""
    if not path.exists() or path.stat().st_size == 0:
        return False
    try:
        duration = probe(path).duration_s
    except ProbeError:
        return False
    colour = read_frame_stats(path, at_s=0.5)
    magenta = colour.r > 180 and colour.b > 180 and colour.g < 90
    return magenta or abs(duration - SECRET_SECONDS) < 0.5


# --- and without the guards, the leak happens -----------------------------------------------


def _without_guards(argv: list[str]) -> list[str]:
    stripped: list[str] = []
    tokens = iter(argv)
    for token in tokens:
        if token in ("-protocol_whitelist", "-format_whitelist"):
            next(tokens)  # and its value
            continue
        stripped.append(token)
    return stripped


def _render(tools: FFmpegTools, source: Path, output: Path) -> list[str]:
    return commands.render_command(
        tools.ffmpeg, source, output, filters=[], width=720, height=720, preset="ultrafast"
    )


@pytest.mark.parametrize("name", ["concat-relative", "hls-local-m3u8"])
def test_without_the_guards_ffmpeg_copies_the_other_file(
    corpus: Corpus,
    ffmpeg_tools: FFmpegTools,
    tmp_path: Path,
    name: str,
    secret_is_recognised: None,
    no_hits: Listener,
) -> None:
    guarded, unguarded = tmp_path / "guarded.mp4", tmp_path / "unguarded.mp4"

    with pytest.raises(FFmpegError):
        run(_render(ffmpeg_tools, corpus.path(name), guarded), timeout_s=60)
    run(_without_guards(_render(ffmpeg_tools, corpus.path(name), unguarded)), timeout_s=60)

    assert not guarded.exists()
    assert _holds_the_secret(unguarded)  # the list's neighbour, re-encoded into "our" output
    assert probe(unguarded).duration_s == pytest.approx(SECRET_SECONDS, abs=0.2)


@pytest.mark.parametrize("name", ["concat-relative", "hls-local-m3u8"])
def test_without_the_guards_pyav_reads_the_other_file(
    corpus: Corpus, name: str, no_hits: Listener
) -> None:
    with av.open(str(corpus.path(name))) as unguarded:
        assert unguarded.format.name in ("concat", "hls")
        frame = next(unguarded.decode(video=0))
        red, green, blue = bytes(frame.reformat(width=4, height=4, format="rgb24").planes[0])[:3]
        assert (red > 180, green < 90, blue > 180) == (True, True, True)  # the secret's magenta

    with pytest.raises(av.FFmpegError):
        av.open(str(corpus.path(name)), container_options=dict(OPEN_OPTIONS))


@pytest.fixture
def control_listener() -> Iterator[Listener]:
    """A listener of its own: the session's one must stay at zero hits."""
    with listening() as server:
        yield server


def test_the_listener_does_hear_ffmpeg(
    ffmpeg_tools: FFmpegTools, control_listener: Listener
) -> None:
    # Positive control: ffmpeg given the URL itself connects, so "no hit" above means something.
    with pytest.raises(FFmpegError):
        run(
            [ffmpeg_tools.ffmpeg, "-nostdin", "-i", control_listener.url(), "-f", "null", "-"],
            timeout_s=30,
        )

    hits = control_listener.seen()
    assert len(hits) == 1
    assert hits[0].startswith(b"GET /x.ts HTTP/1.1")


def test_the_protocol_guard_keeps_ffmpeg_off_the_network(
    ffmpeg_tools: FFmpegTools, control_listener: Listener
) -> None:
    argv: list[str | Path] = [
        ffmpeg_tools.ffmpeg, "-nostdin", "-protocol_whitelist", "file",
        "-i", control_listener.url(), "-f", "null", "-",
    ]  # fmt: skip

    with pytest.raises(FFmpegError, match=r"not on whitelist|Invalid argument|Protocol not found"):
        run(argv, timeout_s=30)

    assert control_listener.seen() == []
