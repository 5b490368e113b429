"""A corpus of every input trap in ``shared/MEDIA.md``, made by real ffmpeg once per session.

Each clip is named, and expected either to be conformed (``"conform"``: the API's limits are
broken or awkward, but the clip is a real video) or refused with one clear line (``"refuse"``).
``stage`` says which check refuses it: ``"probe"`` (opening it with the guards, reading its
packets) or ``"decode"`` (only the full decode of ``reskin.media.verify`` sees the damage).

Hostile files sit next to :data:`SECRET_NAME`, a 7 s magenta clip with no audio: if any command
ever copied it, the output would say so by its length and colour. The playlists and lists that
name a URL point at a :class:`Listener` on loopback, which records every connection.

The fixtures are in ``tests/media/conftest.py``: ``corpus`` (a :class:`Corpus`) and ``listener``.
A cross test reads ``corpus.clips``: name -> :class:`Clip` ``(path, outcome)``.
"""

from __future__ import annotations

import random
import shutil
import socketserver
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, NamedTuple

from reskin.media.binaries import FFmpegTools
from reskin.media.runner import run

Outcome = Literal["conform", "refuse"]
Stage = Literal["probe", "decode"]
MakeClip = Callable[..., Path]

#: The file every hostile playlist and list tries to pull in.
SECRET_NAME = "secret.mp4"
SECRET_SECONDS = 7.0
#: Magenta: no test pattern reskin makes has a frame of it.
SECRET_RGB = (255, 0, 255)

_TIMEOUT_S = 120.0


class Clip(NamedTuple):
    path: Path
    outcome: Outcome


@dataclass(frozen=True)
class Spec:
    """One entry of the corpus: how it is made and what must happen to it."""

    name: str
    outcome: Outcome
    #: For a refused clip, the first check that must refuse it; None for a conformed one.
    stage: Stage | None
    how: str


SPECS: tuple[Spec, ...] = (
    Spec("plain", "conform", None, "720x720, 3 s, 24 fps, H.264 + AAC stereo: legal as it is"),
    Spec("rotated-90", "conform", None, "1280x720 tagged with a 90 degree display rotation"),
    Spec("vfr-mp4", "conform", None, "nominal 30 fps, every third frame dropped (avg 20), MP4"),
    Spec("vfr-mkv", "conform", None, "the same in Matroska, where avg and nominal rates agree"),
    Spec("no-audio", "conform", None, "video only"),
    Spec("audio-5.1", "conform", None, "AAC 5.1"),
    Spec("hevc-10bit-mov", "conform", None, "HEVC yuv420p10le in QuickTime (libx265, hvc1)"),
    Spec("webm-vp9-opus", "conform", None, "VP9 + Opus in WebM"),
    Spec("odd-1279x719", "conform", None, "1279x719 MPEG-4 part 2 yuv420p: odd sizes"),
    Spec("4k", "conform", None, "3840x2160, 3 s"),
    Spec("360p", "conform", None, "640x360: under the 720 px minimum"),
    Spec("60fps", "conform", None, "60 fps"),
    Spec("1s", "conform", None, "1 s: under the 3 s minimum"),
    Spec("25s", "conform", None, "25 s: over the 10 s maximum"),
    Spec("truncated-end", "refuse", "probe", "plain MP4 (index at the end) minus its last 30 %"),
    Spec("truncated-index-at-start", "refuse", "probe", "4 s +faststart MP4 cut in half"),
    Spec("truncated-mkv", "refuse", "probe", "4 s Matroska cut in half"),
    Spec("corrupt", "refuse", "decode", "4 s MP4 with 20 kB of random bytes in the middle"),
    Spec("text", "refuse", "probe", "a text file named .mp4"),
    Spec("png", "refuse", "probe", "a PNG image named .mp4"),
    Spec("wav", "refuse", "probe", "a WAV sound named .mp4"),
    Spec("empty", "refuse", "probe", "an empty file named .mp4"),
    Spec("audio-only", "refuse", "probe", "an MP4 holding AAC audio only"),
    Spec("hls-local", "refuse", "probe", "HLS playlist named .mp4 naming the secret (absolute)"),
    Spec("hls-local-m3u8", "refuse", "probe", "the same playlist named .m3u8, naming secret.ts"),
    Spec("hls-url", "refuse", "probe", "HLS playlist named .mp4 naming the loopback listener"),
    Spec("concat-relative", "refuse", "probe", "ffconcat list named .mp4: 'file secret.mp4'"),
    Spec("concat-absolute", "refuse", "probe", "ffconcat list named .mp4: the secret's full path"),
    Spec("concat-url", "refuse", "probe", "ffconcat list named .mp4 naming the loopback listener"),
)

SPEC_BY_NAME: dict[str, Spec] = {spec.name: spec for spec in SPECS}
#: Files that try to make ffmpeg open something else: a local file or a URL.
REFERRERS: tuple[str, ...] = tuple(
    name for name in SPEC_BY_NAME if name.startswith(("hls-", "concat-"))
)
#: Files that are not videos at all (or not a video reskin can use).
NOT_VIDEOS: tuple[str, ...] = ("text", "png", "wav", "empty", "audio-only")
#: Every file no ffmpeg command may accept: an MP4 of audio alone is a legal input to a command
#: that wants sound, so it is left out here (the probe refuses it for want of video).
NEVER_OPENED: tuple[str, ...] = tuple(n for n in (*NOT_VIDEOS, *REFERRERS) if n != "audio-only")


@dataclass(frozen=True)
class Corpus:
    folder: Path
    clips: dict[str, Clip]
    #: The clip that hostile files try to leak; not in ``clips``.
    secret: Path
    listener: Listener

    def path(self, name: str) -> Path:
        return self.clips[name].path


class Listener:
    """A TCP server on loopback that answers 404 and records every connection it receives."""

    def __init__(self) -> None:
        self.hits: list[bytes] = []
        self._lock = threading.Lock()
        outer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                self.request.settimeout(2.0)
                try:
                    head = self.request.recv(1024)
                except OSError:
                    head = b""
                with outer._lock:
                    outer.hits.append(head or b"(connected, sent nothing)")
                self.request.sendall(b"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n")

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def url(self, path: str = "/x.ts") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> Listener:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def seen(self) -> list[bytes]:
        with self._lock:
            return list(self.hits)


@contextmanager
def listening() -> Iterator[Listener]:
    listener = Listener().start()
    try:
        yield listener
    finally:
        listener.stop()


def build_corpus(
    tools: FFmpegTools, make_clip: MakeClip, folder: Path, listener: Listener
) -> Corpus:
    """Make every clip of :data:`SPECS` (plus the secret) in ``folder``."""
    ff = _Ffmpeg(tools)
    secret = folder / SECRET_NAME
    colour = "0x" + "".join(f"{part:02x}" for part in SECRET_RGB)
    source = f"color=c={colour}:size=320x240:rate=24:duration={SECRET_SECONDS:g}"
    ff.run("-f", "lavfi", "-i", source, *_X264, secret)
    # HLS segments are usually MPEG-TS: the demuxer then takes the segment without a fuss.
    ff.run("-i", secret, "-c", "copy", "-f", "mpegts", folder / "secret.ts")

    made: dict[str, Path] = {}

    def copy(name: str, source: Path, suffix: str = ".mp4") -> None:
        made[name] = folder / f"{name}{suffix}"
        shutil.copyfile(source, made[name])

    def write(name: str, text: str, suffix: str = ".mp4") -> None:
        made[name] = folder / f"{name}{suffix}"
        made[name].write_text(text)

    copy("plain", make_clip())
    copy("rotated-90", make_clip(width=1280, height=720, rotation=90))
    copy("vfr-mp4", make_clip(fps=30, variable_fps=True))
    copy("vfr-mkv", make_clip(fps=30, variable_fps=True, container="mkv"), ".mkv")
    copy("no-audio", make_clip(audio=False))
    copy("audio-5.1", make_clip(audio_channels=6))
    copy("360p", make_clip(width=640, height=360))
    copy("60fps", make_clip(fps=60))
    copy("1s", make_clip(duration_s=1.0))
    copy("25s", make_clip(duration_s=25.0))
    copy("4k", make_clip(width=3840, height=2160, pattern="smptebars"))

    made["hevc-10bit-mov"] = folder / "hevc-10bit-mov.mov"
    ff.run(
        *_lavfi_video(720, 720, 3.0), *_lavfi_sine(3.0),
        "-c:v", "libx265", "-preset", "ultrafast", "-pix_fmt", "yuv420p10le", "-tag:v", "hvc1",
        "-x265-params", "log-level=error", "-c:a", "aac", "-f", "mov", made["hevc-10bit-mov"],
    )  # fmt: skip
    made["webm-vp9-opus"] = folder / "webm-vp9-opus.webm"
    ff.run(
        *_lavfi_video(720, 720, 3.0), *_lavfi_sine(3.0),
        "-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "1M",
        "-c:a", "libopus", "-f", "webm", made["webm-vp9-opus"],
    )  # fmt: skip
    made["odd-1279x719"] = folder / "odd-1279x719.mp4"
    # testsrc2 rounds odd sizes to even, and x264 refuses odd 4:2:0: scale, then MPEG-4 part 2.
    ff.run(
        *_lavfi_video(1280, 720, 3.0), *_lavfi_sine(3.0), "-vf", "scale=1279:719",
        "-c:v", "mpeg4", "-pix_fmt", "yuv420p", "-q:v", "5", "-c:a", "aac", made["odd-1279x719"],
    )  # fmt: skip

    # Damaged files, from 4 s clips so that half of one is still 2 s of video.
    whole = make_clip(duration_s=4.0).read_bytes()  # moov (the index) at the end
    made["truncated-end"] = folder / "truncated-end.mp4"
    made["truncated-end"].write_bytes(whole[: len(whole) * 7 // 10])
    faststart = folder / "faststart.mp4"
    ff.run(*_lavfi_video(720, 720, 4.0), *_X264, "-movflags", "+faststart", faststart)
    made["truncated-index-at-start"] = folder / "truncated-index-at-start.mp4"
    made["truncated-index-at-start"].write_bytes(
        faststart.read_bytes()[: faststart.stat().st_size // 2]
    )
    faststart.unlink()
    mkv = make_clip(duration_s=4.0, container="mkv").read_bytes()
    made["truncated-mkv"] = folder / "truncated-mkv.mkv"
    made["truncated-mkv"].write_bytes(mkv[: len(mkv) // 2])
    damaged = bytearray(whole)
    noise = random.Random(1897)  # seeded: the same damage every run
    middle = len(damaged) // 2
    damaged[middle : middle + 20_000] = noise.randbytes(20_000)
    made["corrupt"] = folder / "corrupt.mp4"
    made["corrupt"].write_bytes(bytes(damaged))

    # Not videos.
    png, wav = folder / "image.png", folder / "sound.wav"
    ff.run("-f", "lavfi", "-i", "testsrc2=size=64x64", "-frames:v", "1", png)
    ff.run(*_lavfi_sine(1.0), wav)
    copy("png", png)
    copy("wav", wav)
    png.unlink()
    wav.unlink()
    write("text", "hello, I am not a video\n")
    write("empty", "")
    made["audio-only"] = folder / "audio-only.mp4"
    ff.run(*_lavfi_sine(3.0), "-c:a", "aac", made["audio-only"])

    # Files that name other files or a URL.
    url = listener.url("/x.ts")
    write("hls-local", _playlist(str(secret)))
    write("hls-local-m3u8", _playlist("secret.ts"), ".m3u8")
    write("hls-url", _playlist(url))
    write("concat-relative", f"ffconcat version 1.0\nfile {SECRET_NAME}\n")
    write("concat-absolute", f"ffconcat version 1.0\nfile '{secret}'\n")
    write("concat-url", f"ffconcat version 1.0\nfile '{url}'\n")

    missing = set(SPEC_BY_NAME) ^ set(made)
    assert not missing, f"corpus and SPECS disagree on {sorted(missing)}"
    clips = {spec.name: Clip(made[spec.name], spec.outcome) for spec in SPECS}
    return Corpus(folder=folder, clips=clips, secret=secret, listener=listener)


class _Ffmpeg:
    def __init__(self, tools: FFmpegTools) -> None:
        self.exe = tools.ffmpeg

    def run(self, *args: str | Path) -> None:
        run(
            [self.exe, "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args],
            timeout_s=_TIMEOUT_S,
        )


_X264: tuple[str, ...] = ("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p")


def _lavfi_video(width: int, height: int, seconds: float) -> tuple[str, ...]:
    return ("-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate=24:duration={seconds:g}")


def _lavfi_sine(seconds: float) -> tuple[str, ...]:
    return ("-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds:g}")


def _playlist(segment: str) -> str:
    return (
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:8\n#EXT-X-MEDIA-SEQUENCE:0\n"
        f"#EXTINF:{SECRET_SECONDS:.1f},\n{segment}\n#EXT-X-ENDLIST\n"
    )
