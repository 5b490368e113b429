"""The typed errors of reskin.

Every error reskin raises on purpose derives from :class:`ReskinError`; its ``str()`` is one line
that says what is wrong and what to do, safe to show a user (no key, no traceback needed)::

    ReskinError
    ├── ConfigError                  settings missing or contradictory
    ├── InputError                   the user's input cannot be used (refused before any paid call)
    │   ├── ProbeError               not a readable MP4/MOV/Matroska video (wrong format, no video)
    │   ├── OutOfLimitsError         a limit of the model reskin cannot fix alone (too long
    │   │                            without a window, a window outside the clip, extreme aspect)
    │   └── AccessError              a URL or path the settings do not allow a run to touch
    │                                (an internal address, a scheme, a folder: docs/security.md)
    ├── StorageError                 object storage (S3) unreachable, or an answer we cannot use
    ├── DiskFullError                no space left in a folder reskin writes (work, journal, output)
    ├── JournalError                 the submission journal cannot be opened, read or written
    ├── RunCancelledError            the run was cancelled (UI, ``prefect flow-run cancel``)
    ├── NotApprovedError             a big spend was rejected, or not approved in time
    ├── RunnerError                  the reskin runner went away during an edit it ran
    ├── MediaError                   ffmpeg or probing failed on something we made
    │   ├── FFmpegError              argv, exit code, tail of stderr
    │   └── VerificationError        a file we made does not decode to its end, or has the
    │                                wrong streams or length
    └── ApiError                     anything between us and the AI/ML API
        ├── ApiConnectionError       transport failure; the request surely did not arrive
        ├── ApiTimeoutError          a call (not a create) ran out of time
        ├── SubmissionUnknownError   a create failed after its body was sent: the job may exist
        ├── InvalidResponseError     the answer does not parse, or "completed" without a URL
        ├── ApiStatusError           an HTTP error status; carries status, requestId, raw body
        │   ├── BadRequestError          400
        │   ├── AuthenticationError      401
        │   ├── InsufficientCreditsError 403
        │   ├── NotFoundError            404
        │   ├── RateLimitError           429
        │   └── ServerError              5xx
        ├── GenerationFailedError    the job ended in ``error``
        ├── GenerationTimeoutError   the job did not finish before the deadline
        ├── GenerationLostError      the service no longer knows a journaled generation (404)
        └── DownloadError            the result could not be downloaded whole
            └── ResultExpiredError   the result URL answered 404 (the CDN forgot it)
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

#: A field of the request a user can change, as a message names it: `force`, `start_s`.
_FIELD = re.compile(r"`([a-z_]+)`")


class ReskinError(Exception):
    """Base of every error reskin raises on purpose.

    A message names a field of the request the user can change as `name` in backticks (rerun
    with `force`): each place that shows it words those for its audience, the command line as
    its flags (``--force``), a flow run as the form's fields ("Force a new submission").
    """

    @property
    def said(self) -> str:
        """The message as the core wrote it."""
        return str(self.__dict__.get("_said", self.args[0] if self.args else ""))

    def worded(self, names: Mapping[str, str]) -> str:
        """The message with each `field` named as ``names`` says (else by its bare name)."""
        return _FIELD.sub(lambda match: names.get(match[1], match[1]), self.said)

    def within(self, where: str) -> None:
        """Prefix the message with where it happened (``segment 3 of 6 (20.0..30.0 s)``), in
        place, so a long edit's failure names its segment in one line."""
        said = f"{where}: {self.said}"
        self.__dict__["_said"] = said
        self.args = (f"{where}: {self.args[0] if self.args else ''}", *self.args[1:])

    def word_for(self, names: Mapping[str, str]) -> None:
        """Make ``str()`` of this error :meth:`worded` for ``names``, in place (the type, the
        traceback and :attr:`said` stay)."""
        self.__dict__["_said"] = self.said
        self.args = (self.worded(names), *self.args[1:])


class ConfigError(ReskinError):
    """Settings are missing or contradictory."""


class InputError(ReskinError):
    """The user's input cannot be used; nothing was paid for."""


class ProbeError(InputError):
    """The file is not a video reskin can read: wrong format, no video stream, or damaged."""


class OutOfLimitsError(InputError):
    """The video breaks a limit of the model that conforming cannot fix without the user's
    choice: too long with no window given, a window outside the clip, an aspect ratio no
    allowed size keeps."""


class AccessError(InputError):
    """A location the settings do not let a run touch: a URL to an address that is not public
    or of a scheme not allowed, a local path outside ``RESKIN_ALLOWED_DIRS``. Refused before
    anything is read from it or paid; the message names the setting that allows it."""


class StorageError(ReskinError):
    """Object storage could not be reached or failed a call after its retries. Refused
    credentials and a missing bucket are :class:`ConfigError`; a missing input object is an
    :class:`InputError`."""


class DiskFullError(ReskinError):
    """No space left in a folder reskin writes: the message names the folder and the space
    needed; nothing partial is left at the output path."""

    def __init__(self, message: str, *, folder: Path, needed_bytes: int | None = None) -> None:
        super().__init__(message)
        self.folder = folder
        self.needed_bytes = needed_bytes


class JournalError(ReskinError):
    """The submission journal cannot be opened, read or written (a database unreachable, a
    schema newer than this reskin)."""


class RunCancelledError(ReskinError):
    """The run was cancelled from outside: what it held is released, an accepted job stays
    journaled for the rerun."""


class NotApprovedError(ReskinError):
    """A run over the approval threshold was rejected, or not answered in time: it ended
    before its first create, so nothing was paid (``reskin/edit/approval.py``)."""


class RunnerError(ReskinError):
    """The reskin runner (``reskin server start``) stopped during an edit it ran for
    ``reskin edit``: what the service accepted is journaled, the rerun resumes it."""


class MediaError(ReskinError):
    """A media step failed."""


class FidelityError(ReskinError):
    """The result did not keep the source's motion or layout well enough (the fidelity gate):
    nothing was written at the output; the paid result is kept for a rerun with a lower gate."""

    def __init__(self, message: str, *, score: str, value: float, minimum: float) -> None:
        super().__init__(message)
        self.score = score
        self.value = value
        self.minimum = minimum


class FFmpegError(MediaError):
    """An ffmpeg (or ffprobe) run failed."""

    def __init__(
        self, message: str, *, argv: Sequence[str], returncode: int | None, stderr_tail: str
    ) -> None:
        super().__init__(message)
        self.argv = list(argv)
        self.returncode = returncode
        self.stderr_tail = stderr_tail


class VerificationError(MediaError):
    """A file reskin made failed the full-decode check: it does not decode to its end, or its
    streams or length are not what the step promised."""

    def __init__(self, message: str, *, path: Path, reason: str) -> None:
        super().__init__(message)
        self.path = path
        self.reason = reason


class ApiError(ReskinError):
    """A failure talking to the AI/ML API."""


class ApiConnectionError(ApiError):
    """The request could not be delivered (connect failure): the service surely did not act."""


class ApiTimeoutError(ApiError):
    """A read-only call ran out of time."""


class SubmissionUnknownError(ApiError):
    """A create failed after its body was sent; the service may have accepted and billed it."""


class InvalidResponseError(ApiError):
    """The service answered something we cannot use."""


class ApiStatusError(ApiError):
    """The service answered with an HTTP error status."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        request_id: str | None = None,
        body: str = "",
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.request_id = request_id
        self.body = body
        self.retry_after_s = retry_after_s


class BadRequestError(ApiStatusError):
    """400: the request broke a rule of the service; fix it, do not retry."""


class AuthenticationError(ApiStatusError):
    """401: the key is missing or wrong."""


class InsufficientCreditsError(ApiStatusError):
    """403: the account has no credits left."""


class NotFoundError(ApiStatusError):
    """404: unknown endpoint or generation."""


class RateLimitError(ApiStatusError):
    """429: rate or concurrency limit."""


class ServerError(ApiStatusError):
    """5xx: the service or its partner failed."""


class GenerationFailedError(ApiError):
    """The generation ended in the ``error`` state."""

    def __init__(self, message: str, *, generation_id: str, name: str, detail: str) -> None:
        super().__init__(message)
        self.generation_id = generation_id
        self.name = name
        self.detail = detail


class GenerationTimeoutError(ApiError):
    """The generation did not finish before the deadline."""

    def __init__(
        self, message: str, *, generation_id: str, deadline_s: float, last_status: str
    ) -> None:
        super().__init__(message)
        self.generation_id = generation_id
        self.deadline_s = deadline_s
        self.last_status = last_status


class GenerationLostError(ApiError):
    """The service answered 404 for a generation the journal holds: it no longer knows it (a
    restart, a purge). The journal marks it lost; only a forced rerun pays for a new one."""

    def __init__(self, message: str, *, generation_id: str) -> None:
        super().__init__(message)
        self.generation_id = generation_id


class DownloadError(ApiError):
    """The result could not be downloaded whole."""


class ResultExpiredError(DownloadError):
    """The result URL is gone (404): the service no longer keeps it."""


STATUS_ERRORS: dict[int, type[ApiStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: InsufficientCreditsError,
    404: NotFoundError,
    429: RateLimitError,
}


def status_error_class(status_code: int) -> type[ApiStatusError]:
    """The error class for an HTTP error status."""
    if status_code >= 500:
        return ServerError
    return STATUS_ERRORS.get(status_code, ApiStatusError)
