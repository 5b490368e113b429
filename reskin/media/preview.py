"""The before/after contact sheet: a few frames of the input (top row) and of the result
(bottom row) at the same moments, as one small PNG to show beside an output.

The moments are spread evenly over the shorter of the two clips, at the middle of ``frames``
equal parts (so never the very first or last frame); each tile shows the first frame at or after
its moment. A moment past a clip's last frame (a clip of a few frames, or a picture that ends
before the sound) shows that last frame. Each frame is scaled to fit a tile of ``tile_height``
px (as wide as the wider of the two pictures needs, at most :data:`MAX_TILE_ASPECT` times the
height) keeping its shape, and padded to the tile with black, so an input and a result of
different sizes, shapes or turns line up tile for tile.

One ffmpeg run makes the sheet, decoding each clip once up to the last moment::

    [0:v:0] tpad -> split=N -> select=gte(t,Ti),trim=end_frame=1,scale,format,pad (per moment)
                 -> hstack=N [-> drawtext "input"]  \
                                                      vstack -> palettegen, paletteuse -> PNG
    [1:v:0] the same for the result [-> "result"]   /

Each branch keeps the first frame at or after its moment and then closes; once every branch has
its frame ffmpeg stops reading. ``tpad`` repeats the last frame only when a clip ends before a
moment, so it costs nothing otherwise. One seek per tile (2N inputs) was measured too: it
needs twice the memory, is twice as slow on a clip with one keyframe (x264's default for 10 s)
and about as fast on camera footage with the result as x264 writes it (``docs/media.md``).
The finished sheet is reduced to 256 colours from a palette of its own, a third of the size of
the RGB picture. The inputs carry the guards of every ffmpeg input
(:mod:`reskin.media.commands`); the only text in the graph is the two fixed row labels.

**Rows cut by decodes that run anyway.** A short edit decodes its input whole (the intake's
check) and the service's result whole (the download's check) before the sheet is drawn: each of
those decodes also cuts its row of tiles (:class:`SheetRows`, :func:`row_output_args`), at the
moments the window promises (the result as long as the window, as it nearly always is), each
tile scaled to fit :data:`MAX_TILE_ASPECT` x ``tile_height`` and padded to it, as a PNG. A
tile's picture does not depend on the other clip (the tile only ever widens for the wider
picture, which is padded, never scaled, into it), so :func:`sheet_from_rows` crops each tile to
the sheet's width and draws the same sheet, pixel for pixel, from the two rows in one small
ffmpeg run that decodes no video. When the moments turn out otherwise (a result shorter than
the window), the sheet is drawn from the clips as above.

The rows are labelled "input" and "result" (``labels``, on by default) when ffmpeg can draw text:
that needs its ``drawtext`` filter *and* a font that fontconfig finds. The bundled ffmpeg has the
filter, a bare machine may have no font (reskin ships none): the first labelled sheet of each
ffmpeg tells (one that fails is drawn again unlabelled, and later ones are unlabelled from the
start; :func:`can_draw_text` asks on a generated picture), so that drawing a sheet costs no
ffmpeg run of its own for the check. The sheet is written atomically
(:mod:`reskin.media.finalize`) and decoded before it is moved into place.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ffmpeg

from reskin.errors import FFmpegError, InputError, VerificationError
from reskin.media.binaries import FFmpegTools
from reskin.media.commands import FILE_INPUT_GUARDS, GLOBAL_ARGS
from reskin.media.finalize import atomic_output
from reskin.media.images import probe_image
from reskin.media.probe import MediaInfo, probe
from reskin.media.runner import RunResult, run
from reskin.media.verify import check_describes

log = logging.getLogger(__name__)

DEFAULT_FRAMES = 4
MAX_FRAMES = 12
DEFAULT_TILE_HEIGHT = 180
MAX_TILE_HEIGHT = 1080
#: A tile is at most this many times as wide as it is high (a 3:1 panorama still fits whole).
MAX_TILE_ASPECT = 3.0
#: The row labels: fixed words, never text from a user.
LABELS: tuple[str, str] = ("input", "result")

_TEXT_CHECK_TIMEOUT_S = 20.0
_FIX = "report it with the debug log"


@dataclass(frozen=True)
class SheetPlan:
    """The sheet's layout: the tile size and the moments (seconds into both clips; the input's
    are counted from ``before_start_s``)."""

    tile_width: int
    tile_height: int
    moments_s: tuple[float, ...]
    before_start_s: float = 0.0

    @property
    def width(self) -> int:
        return self.tile_width * len(self.moments_s)

    @property
    def height(self) -> int:
        return self.tile_height * 2


def sheet_moments(duration_s: float, frames: int) -> tuple[float, ...]:
    """``frames`` moments spread evenly over ``duration_s``: the middle of each equal part."""
    if isinstance(frames, bool) or not 1 <= frames <= MAX_FRAMES:
        raise ValueError(f"a contact sheet takes 1 to {MAX_FRAMES} frames, got {frames!r}")
    if not math.isfinite(duration_s) or duration_s <= 0:
        raise ValueError(f"a contact sheet needs a positive duration, got {duration_s!r}")
    return tuple(round(duration_s * (i + 0.5) / frames, 6) for i in range(frames))


def tile_size(
    sizes: Sequence[tuple[int, int]], *, tile_height: int = DEFAULT_TILE_HEIGHT
) -> tuple[int, int]:
    """The tile every picture of ``sizes`` (displayed width, height) fits into keeping its shape:
    ``tile_height`` high, as wide as the widest picture needs (even, at most
    :data:`MAX_TILE_ASPECT` times the height)."""
    if not 16 <= tile_height <= MAX_TILE_HEIGHT or tile_height % 2:
        raise ValueError(
            f"a tile needs an even height of 16 to {MAX_TILE_HEIGHT} px, got {tile_height!r}"
        )
    if not sizes or any(w <= 0 or h <= 0 for w, h in sizes):
        raise ValueError(f"a tile needs positive picture sizes, got {list(sizes)!r}")
    widest = max(w / h for w, h in sizes)
    width = min(widest, MAX_TILE_ASPECT) * tile_height
    return max(2, math.ceil(width / 2 - 1e-6) * 2), tile_height


def plan_sheet(
    before: MediaInfo,
    after: MediaInfo,
    *,
    frames: int = DEFAULT_FRAMES,
    tile_height: int = DEFAULT_TILE_HEIGHT,
    before_start_s: float = 0.0,
) -> SheetPlan:
    """The sheet of ``before`` (from ``before_start_s``: where the edited window began) against
    ``after``, from their probes. Pure."""
    if not math.isfinite(before_start_s) or before_start_s < 0:
        raise ValueError(f"before_start_s must be a finite number >= 0, got {before_start_s!r}")
    duration = min(before.duration_s - before_start_s, after.duration_s)
    if duration <= 0:
        raise InputError(
            f"the input lasts {before.duration_s:.2f} s, so it has nothing after "
            f"{before_start_s:.2f} s to compare: give the start of the edited window"
        )
    width, height = tile_size(
        [(i.display_width, i.display_height) for i in (before, after)], tile_height=tile_height
    )
    return SheetPlan(
        tile_width=width,
        tile_height=height,
        moments_s=sheet_moments(duration, frames),
        before_start_s=before_start_s,
    )


def contact_sheet_command(
    exe: Path, before: Path, after: Path, output: Path, plan: SheetPlan, *, labels: bool = False
) -> list[str]:
    """The one ffmpeg command that draws ``plan`` of ``before`` over ``after`` into ``output``
    (a PNG, 256 colours). ``labels`` writes "input" and "result" on the rows (needs drawtext
    and a font: see :func:`can_draw_text`)."""
    window: dict[str, Any] = {}
    if plan.before_start_s > 0:
        window["ss"] = f"{plan.before_start_s:.6f}"
    rows = [
        _row(_file_input(path, **options), plan, LABELS[index] if labels else None)
        for index, (path, options) in enumerate(((before, window), (after, {})))
    ]
    return _sheet_output(exe, rows, output)


def _sheet_output(exe: Path, rows: Sequence[Any], output: Path) -> list[str]:
    """The two rows stacked, reduced to 256 colours of their own, into the PNG ``output``."""
    sheet = ffmpeg.filter(list(rows), "vstack", inputs=2)
    split = sheet.split()
    palette = split[0].filter("palettegen", stats_mode="single")
    picture = ffmpeg.filter([split[1], palette], "paletteuse", dither="none")
    out = ffmpeg.output(
        picture,
        str(Path(output).resolve()),
        f="image2",
        update=1,
        vcodec="png",
        pred="none",  # the default (paeth) makes a 256-colour PNG 10 to 20 % larger
        **{"frames:v": 1},
    )
    argv: list[str] = out.compile(cmd=[str(exe), *GLOBAL_ARGS])
    return argv


@dataclass(frozen=True)
class SheetRows:
    """The rows a short edit's decodes cut for its sheet: the input's (``before``, cut by the
    intake's decode check) and the result's (by the download's), at ``moments_s`` into the
    window, which starts at ``before_start_s`` of the input."""

    moments_s: tuple[float, ...]
    before_start_s: float
    #: The input's row: a PNG of the tiles side by side (:func:`row_output_args`).
    before: Path
    #: The window's length: a result at least this long shows every moment.
    window_s: float
    tile_height: int = DEFAULT_TILE_HEIGHT

    @property
    def cut_width(self) -> int:
        """The width each tile is cut at: the widest a sheet's tile can be."""
        return round(MAX_TILE_ASPECT * self.tile_height)

    @property
    def row_width(self) -> int:
        return self.cut_width * len(self.moments_s)

    def before_args(self) -> list[str]:
        """The input's row, as more outputs of a decode of the input."""
        shifted = tuple(round(self.before_start_s + t, 6) for t in self.moments_s)
        return row_output_args(self.before, shifted, tile_height=self.tile_height)

    def after_args(self, row: Path) -> list[str]:
        """The result's row into ``row``, as more outputs of a decode of the result."""
        return row_output_args(row, self.moments_s, tile_height=self.tile_height)

    def shown_whole(self, result: MediaInfo) -> bool:
        """Whether ``result`` lasts the window, so that it shows every moment (its row is worth
        cutting; a shorter one's sheet spreads its moments over less)."""
        return result.duration_s >= self.window_s - 1e-6

    def fits(self, plan: SheetPlan) -> bool:
        """Whether ``plan`` is the sheet these rows were cut for (the same moments)."""
        return (
            plan.moments_s == self.moments_s
            and abs(plan.before_start_s - self.before_start_s) < 1e-9
            and plan.tile_height == self.tile_height
            and plan.tile_width <= self.cut_width
        )


def row_output_args(
    row: Path, moments_s: Sequence[float], *, tile_height: int = DEFAULT_TILE_HEIGHT
) -> list[str]:
    """The arguments that make a command decoding a video (its input 0) also write its row of
    tiles at ``moments_s`` (seconds from the file's start) to ``row``: a filter graph of its
    own and a PNG output of one frame, to put after the command's own outputs."""
    cut = round(MAX_TILE_ASPECT * tile_height)
    plan = SheetPlan(tile_width=cut, tile_height=tile_height, moments_s=tuple(moments_s))
    tiles = _row(ffmpeg.input("-"), plan, None)
    out = ffmpeg.output(
        tiles,
        str(Path(row).resolve()),
        f="image2",
        update=1,
        vcodec="png",  # lossless, and a tenth of the raw RGB: mostly padding
        pix_fmt="rgb24",
        **{"frames:v": 1},
    )
    argv: list[str] = out.compile(cmd=["ffmpeg"])
    return argv[argv.index("-filter_complex") :]


def sheet_from_rows_command(
    exe: Path,
    rows: SheetRows,
    after: Path,
    output: Path,
    plan: SheetPlan,
    *,
    labels: bool = False,
) -> list[str]:
    """The ffmpeg command that draws ``plan`` from the two rows (``rows.before`` and the
    result's ``after``) into ``output``: each tile cropped to the sheet's width, then the same
    graph as :func:`contact_sheet_command`'s after its tiles."""
    count = len(rows.moments_s)
    picked = []
    for index, path in enumerate((rows.before, after)):
        source = ffmpeg.input(
            str(Path(path).resolve()),
            f="png_pipe",
            protocol_whitelist="file",
            format_whitelist="png_pipe",
        )["v:0"].filter("format", "rgb24")
        copies = source.split() if count > 1 else None
        tiles = []
        for tile in range(count):
            branch = copies[tile] if copies is not None else source
            left = tile * rows.cut_width + (rows.cut_width - plan.tile_width) // 2
            tiles.append(
                branch.filter("crop", plan.tile_width, plan.tile_height, left, 0).filter(
                    "setsar", 1
                )
            )
        row = ffmpeg.filter(tiles, "hstack", inputs=count) if count > 1 else tiles[0]
        if labels:
            row = row.filter("drawtext", **_label_options(LABELS[index], plan.tile_height))
        picked.append(row)
    return _sheet_output(exe, picked, output)


def sheet_from_rows(
    rows: SheetRows,
    after: Path,
    dest: Path,
    tools: FFmpegTools,
    *,
    plan: SheetPlan,
    timeout_s: float,
    labels: bool = True,
) -> Path:
    """Draw ``plan`` from the rows the decodes cut (:class:`SheetRows`; ``plan`` must
    :meth:`~SheetRows.fits` them) into ``dest``, as :func:`contact_sheet` would from the clips.
    Raises :class:`~reskin.errors.VerificationError` when a row is not whole."""
    if not rows.fits(plan):
        raise ValueError("the rows were cut for another sheet")
    for row in (rows.before, after):
        try:
            image = probe_image(row)
        except InputError as exc:
            reason = f"its row {row.name} does not read ({exc})"
        else:
            if (image.format, image.width, image.height) == (
                "png",
                rows.row_width,
                rows.tile_height,
            ):
                continue
            reason = (
                f"its row {row.name} is a {image.format} of {image.width}x{image.height}, "
                f"not a png of {rows.row_width}x{rows.tile_height}"
            )
        raise VerificationError(
            f"the contact sheet {dest.name} cannot be drawn from its rows: {reason}",
            path=dest,
            reason=reason,
        )
    with atomic_output(dest) as partial:
        done = _run_labelled(
            lambda labelled: sheet_from_rows_command(
                tools.ffmpeg, rows, after, partial, plan, labels=labelled
            ),
            tools.ffmpeg,
            labels=labels,
            timeout_s=timeout_s,
        )
        _check_sheet(partial, dest, plan)
    log.info(
        "contact sheet from the decodes' rows: %dx%d in %.2f s",
        plan.width,
        plan.height,
        done.elapsed_s,
    )
    return dest


def can_draw_text(exe: Path) -> bool:
    """Whether ``exe`` can draw the labels: it has ``drawtext`` and fontconfig finds a font.
    Known from its first labelled sheet, or else tried once (cached), on a generated picture."""
    exe = Path(exe)
    if exe not in _DRAWS_TEXT:
        _DRAWS_TEXT[exe] = _can_draw_text(exe)
    return _DRAWS_TEXT[exe]


#: Whether each ffmpeg of this process has drawn text (True) or could not (False).
_DRAWS_TEXT: dict[Path, bool] = {}


def _run_labelled(
    argv: Callable[[bool], list[str]], exe: Path, *, labels: bool, timeout_s: float
) -> RunResult:
    """Run the sheet's command ``argv(labelled)``, labelled when asked and ``exe`` can draw
    text. Whether it can is learnt from its first labelled sheet, not from a run of its own
    (one ffmpeg run less for every process that draws a sheet): a labelled run that fails
    where the same run unlabelled succeeds means it cannot."""
    exe = Path(exe)
    if not labels or _DRAWS_TEXT.get(exe) is False:
        return run(argv(False), timeout_s=timeout_s)
    try:
        done = run(argv(True), timeout_s=timeout_s)
    except FFmpegError as exc:
        if exc.returncode is None or _DRAWS_TEXT.get(exe):
            raise  # ffmpeg did not run, or it drew text before: not the labels' fault
        done = run(argv(False), timeout_s=timeout_s)
        log.info("contact sheet: this ffmpeg cannot draw text (no drawtext or no font): no labels")
        _DRAWS_TEXT[exe] = False
        return done
    _DRAWS_TEXT[exe] = True
    return done


def contact_sheet(
    before: Path,
    after: Path,
    dest: Path,
    tools: FFmpegTools,
    *,
    timeout_s: float,
    frames: int = DEFAULT_FRAMES,
    tile_height: int = DEFAULT_TILE_HEIGHT,
    before_start_s: float = 0.0,
    labels: bool = True,
    before_info: MediaInfo | None = None,
    after_info: MediaInfo | None = None,
) -> Path:
    """Draw the contact sheet of ``before`` (the input, from ``before_start_s``) over ``after``
    (the result) into ``dest``, a PNG of 2 rows of ``frames`` tiles ``tile_height`` px high.

    ``dest`` holds the finished sheet or, on any failure, what it held before. Raises
    :class:`~reskin.errors.ProbeError` for a clip that cannot be read,
    :class:`~reskin.errors.FFmpegError` when ffmpeg fails and
    :class:`~reskin.errors.VerificationError` when the PNG is not what was planned.
    ``before_info`` and ``after_info`` are the probes of ``before`` and ``after`` when the caller
    holds them; a clip without one is probed.
    """
    before, after, dest = Path(before), Path(after), Path(dest)
    plan = plan_sheet(
        _probed(before, before_info),
        _probed(after, after_info),
        frames=frames,
        tile_height=tile_height,
        before_start_s=before_start_s,
    )
    with atomic_output(dest) as partial:
        done = _run_labelled(
            lambda labelled: contact_sheet_command(
                tools.ffmpeg, before, after, partial, plan, labels=labelled
            ),
            tools.ffmpeg,
            labels=labels,
            timeout_s=timeout_s,
        )
        _check_sheet(partial, dest, plan)
        size = partial.stat().st_size
    log.info(
        "contact sheet: %d frames at %s s, %dx%d, %.0f KB in %.2f s",
        len(plan.moments_s),
        ", ".join(f"{t:g}" for t in plan.moments_s),
        plan.width,
        plan.height,
        size / 1000,
        done.elapsed_s,
    )
    return dest


def _probed(path: Path, info: MediaInfo | None) -> MediaInfo:
    return probe(path) if info is None else check_describes(info, path)


def _row(source: Any, plan: SheetPlan, label: str | None) -> Any:
    count = len(plan.moments_s)
    # Repeats the last frame only when the clip ends before a moment (nothing is decoded for it).
    video = source["v:0"].filter(
        "tpad", stop_mode="clone", stop_duration=f"{max(plan.moments_s) + 1:.6f}"
    )
    copies = video.split() if count > 1 else None
    tiles = []
    for index, moment in enumerate(plan.moments_s):
        branch = copies[index] if copies is not None else video
        tile = (
            branch.filter("select", f"gte(t,{moment:.6f})")
            .filter("trim", end_frame=1)
            .filter(
                "scale",
                plan.tile_width,
                plan.tile_height,
                force_original_aspect_ratio="decrease",
            )
            .filter("format", "rgb24")
            .filter("pad", plan.tile_width, plan.tile_height, "(ow-iw)/2", "(oh-ih)/2")
            .filter("setsar", 1)
        )
        tiles.append(tile)
    row = ffmpeg.filter(tiles, "hstack", inputs=count) if count > 1 else tiles[0]
    if label is not None:
        row = row.filter("drawtext", **_label_options(label, plan.tile_height))
    return row


def _label_options(text: str, tile_height: int) -> dict[str, Any]:
    if text not in LABELS:
        raise ValueError(f"a label is one of {LABELS}, got {text!r}")
    size = max(10, tile_height // 10)
    return {
        "text": text,
        "fontsize": size,
        "fontcolor": "white",
        "box": 1,
        "boxcolor": "black@0.6",
        "boxborderw": max(2, size // 4),
        "x": size // 2,
        "y": size // 2,
    }


def _file_input(path: Path, **options: Any) -> Any:
    return ffmpeg.input(str(Path(path).resolve()), **FILE_INPUT_GUARDS, **options)


def _can_draw_text(exe: Path) -> bool:
    picture = ffmpeg.input("color=size=32x32:duration=0.1", f="lavfi", format_whitelist="lavfi")
    drawn = picture.filter("drawtext", **_label_options(LABELS[0], 32))
    argv: list[str] = ffmpeg.output(drawn, "-", f="null", **{"frames:v": 1}).compile(
        cmd=[str(exe), *GLOBAL_ARGS]
    )
    try:
        run(argv, timeout_s=_TEXT_CHECK_TIMEOUT_S)
    except FFmpegError as exc:
        log.debug("drawtext does not work with %s: %s", exe, exc)
        return False
    return True


def _check_sheet(partial: Path, dest: Path, plan: SheetPlan) -> None:
    name = dest.name
    reason = ""
    if partial.stat().st_size == 0:
        reason = "ffmpeg wrote no picture (a clip gave no frame at a moment)"
    else:
        try:
            image = probe_image(partial, name=name)
        except InputError:
            reason = "it does not decode as a PNG"
        else:
            if (image.format, image.width, image.height) != ("png", plan.width, plan.height):
                reason = (
                    f"it is a {image.format} of {image.width}x{image.height}, "
                    f"not a png of {plan.width}x{plan.height}"
                )
    if reason:
        raise VerificationError(
            f"the contact sheet {name} was not made whole: {reason}: {_FIX}",
            path=dest,
            reason=reason,
        )
