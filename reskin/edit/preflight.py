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

``reskin edit`` that hands its edit to the reskin runner checks all but a local input's content
and the window itself (:func:`check_form`): the runner, its media stack imported already, checks
those before it starts the run, so the client never imports PyAV.

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
class Located:
    """What :func:`check_form` found: the request's model and options, and its input's place
    (a local input's path, not yet probed)."""

    resolved: Resolved
    input: Path | RemoteInput


@dataclass(frozen=True)
class Cleared:
    """What the preflight found: the request can go as far as anything local can tell."""

    resolved: Resolved
    input: Input


def preflight(request: EditRequest, settings: Settings) -> Cleared:
    """Check ``request`` as far as it can be without Prefect, the service or a download;
    raise the one-line :class:`~reskin.errors.InputError` (or ``ConfigError`` for an unknown
    default model) of the first mistake. Reads the local input's packets, writes nothing."""
    located = check_form(request, settings)
    if isinstance(located.input, RemoteInput):
        return Cleared(located.resolved, located.input)
    path = located.input
    local = LocalInput(path, probe(path, name=shown_name(path.name)))
    check_window(request, local.info.duration_s)
    return Cleared(located.resolved, local)


def check_form(request: EditRequest, settings: Settings) -> Located:
    """The preflight but for what needs the media stack (a local input's content, and the
    window against its length): what ``reskin edit`` checks itself before it hands an edit to
    the reskin runner, which checks the rest (its media stack is imported already)."""
    resolved = resolve(request, settings.model)
    # Where the run may read and write (RESKIN_ALLOWED_DIRS, ...), before anything is opened.
    check_request(request, Access.from_settings(settings))
    check_output(request)
    return Located(resolved, locate_input(request.input, settings))


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


def locate_input(location: str, settings: Settings) -> Path | RemoteInput:
    """A local input exists, is readable and within the size cap (its path comes back, to be
    probed); a remote one has the form of one (nothing fetched)."""
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
    _readable(path, shown_name(path.name), settings.download_max_bytes)
    # Probed by preflight() with PyAV, not ffprobe: the same whitelisted demuxers and the same
    # record, with no ffmpeg to find (two ffmpeg runs) before it; the run probes its own copy.
    return path


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
