"""The preflight: every mistake in an edit request that can be found without Prefect, without
the service and without paying, found at once.

``reskin edit`` runs :func:`preflight` in its own process before it imports Prefect, so such a
mistake is answered in a fraction of a second, in one line, with nothing sent anywhere and no
job folder made. Cheapest first:

================  ===========================================================================
what              how
================  ===========================================================================
model, options    :func:`reskin.edit.request.resolve`: the registry's model and its options,
                  the prompt's length, the reference images' count, the sound asked for
access            :func:`reskin.access.check_request`: every place the request names lies
                  where runs may read or write (``docs/security.md``), before any is opened
a local output    not a folder; its folder writable, or the nearest folder that exists, where
                  it will be made (an ``s3://`` output's bucket is asked where the run runs)
a local input     a regular file, readable, not empty, within ``RESKIN_DOWNLOAD_MAX_BYTES``,
                  and a video by its content: :func:`reskin.media.probe.probe` through PyAV
                  with the project's demuxer whitelist (MP4/MOV, Matroska), a few milliseconds
                  and no ffmpeg to find first
a remote input    its form only (an http(s) URL with a host, ``s3://bucket/key``): nothing is
                  fetched; the run checks the rest when it downloads it
the window        inside the clip (a local input's duration)
================  ===========================================================================

The key is the caller's to check (``reskin edit`` says how to get one). The flow checks all of
this again where it runs (``take_in``, ``plan``): a run started from the Prefect UI's form, or
on another machine, is refused the same way, only later. The messages are the flow's own, the
request's fields named in backticks (`end_s`), so the command line words them as its flags and
the UI as its form's fields (:meth:`reskin.errors.ReskinError.worded`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from reskin.access import Access, check_request
from reskin.edit.request import EditRequest, Resolved, resolve
from reskin.errors import InputError, OutOfLimitsError
from reskin.media.conform_plan import END_SLACK_S
from reskin.media.local_file import check_local_file
from reskin.media.probe import MediaInfo, probe, shown_name
from reskin.settings import Settings
from reskin.storage.s3 import S3Location

#: Schemes of an input fetched from elsewhere (``reskin.edit.source`` fetches them).
_HTTP = ("https", "http")


@dataclass(frozen=True)
class LocalInput:
    """A local input, probed."""

    path: Path
    info: MediaInfo


@dataclass(frozen=True)
class RemoteInput:
    """An https URL or an ``s3://`` object: its form checked, nothing fetched."""

    location: str


Input = LocalInput | RemoteInput


@dataclass(frozen=True)
class Cleared:
    """What the preflight found: the request can go as far as anything local can tell."""

    resolved: Resolved
    input: Input


def preflight(request: EditRequest, settings: Settings) -> Cleared:
    """Check ``request`` as far as it can be without Prefect, the service or a download;
    raise the one-line :class:`~reskin.errors.InputError` (or ``ConfigError`` for an unknown
    default model) of the first mistake. Reads the local input's packets, writes nothing."""
    resolved = resolve(request, settings.model)
    # Where the run may read and write (RESKIN_ALLOWED_DIRS, ...), before anything is opened.
    check_request(request, Access.from_settings(settings))
    check_output(request)
    source = check_input(request.input, settings)
    if isinstance(source, LocalInput):
        check_window(request, source.info.duration_s)
    return Cleared(resolved, source)


def check_output(request: EditRequest) -> None:
    """A local output can be written where it is asked: the path is no folder, and its folder
    (or the nearest one that exists, in which the rest is made) takes new files. An ``s3://``
    output's form was checked with the request; its bucket is asked by the run."""
    if request.output_location is not None:
        return
    path = request.output_path
    shown = shown_name(request.output)
    if path.is_dir():
        raise InputError(f"`output` {shown} is a folder: give the path of the .mp4 to write")
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise InputError(
            f"`output` {shown} cannot be written: {shown_name(str(folder))} is a file, not a "
            "folder; choose another path"
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(
            f"`output` {shown} cannot be written: {shown_name(str(folder))} is not writable by "
            "this user; choose a folder you can write to"
        )


def check_input(location: str, settings: Settings) -> Input:
    """A local input exists, is readable, within the size cap and a video by its content
    (probed: its facts come back); a remote one has the form of one (nothing fetched)."""
    scheme = urlsplit(location).scheme.lower()
    if scheme == "s3":
        S3Location.parse(location)
        return RemoteInput(location)
    if scheme in _HTTP:
        if not urlsplit(location).hostname:
            raise InputError(f"{shown_name(location)} names no host: give a whole https:// URL")
        return RemoteInput(location)
    if len(scheme) > 1:  # "c:" is a Windows drive, not a scheme
        raise InputError(
            f"{scheme}:// inputs are not supported: give a local path, an https:// URL or an "
            "s3://bucket/key"
        )
    path = Path(location).expanduser()
    shown = shown_name(path.name)
    _readable(path, shown, settings.download_max_bytes)
    # PyAV, not ffprobe: the same whitelisted demuxers and the same record, with no ffmpeg to
    # find (two ffmpeg runs) before it; the run probes its own copy again.
    return LocalInput(path, probe(path, name=shown))


def check_window(request: EditRequest, duration_s: float) -> None:
    """The window asked for lies inside a clip of ``duration_s`` seconds (an end a little past
    the clip's end means its end, as the conform plan takes it)."""
    start = request.start_s or 0.0
    if start >= duration_s:
        raise OutOfLimitsError(
            f"`start_s` {start:.2f} s is at or after the end of the video ({duration_s:.2f} s): "
            "choose an earlier start"
        )
    end = request.end_s
    if end is not None and end > duration_s + END_SLACK_S:
        raise OutOfLimitsError(
            f"`end_s` {end:.2f} s is after the end of the video ({duration_s:.2f} s): "
            f"choose `end_s` {duration_s:.2f} or less"
        )


def _readable(path: Path, shown: str, max_bytes: int) -> None:
    """What taking ``path`` in (:func:`reskin.media.intake.take_in`) would refuse first, in its
    words, and that this user can open it."""
    check_local_file(path, shown, max_bytes)
    try:
        os.close(os.open(path, os.O_RDONLY | os.O_NONBLOCK))
    except OSError as exc:
        raise InputError(f"{shown}: cannot read the file ({exc.strerror}): check the path") from exc
