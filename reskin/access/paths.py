"""Local paths, and every place one edit names (:func:`check_request`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from reskin.access.rules import DIRS_SETTING, Access
from reskin.access.urls import check_url, shown_url
from reskin.errors import AccessError

if TYPE_CHECKING:
    from reskin.edit.request import EditRequest


def check_path(path: str | Path, access: Access, *, what: str, write: bool = False) -> Path:
    """``path`` resolved (links followed, ``..`` folded, relative to the working folder);
    :class:`AccessError` when ``RESKIN_ALLOWEDDIRS_SETTING`` is set and it lies in none of them."""
    given = Path(path).expanduser()
    resolved = given.resolve()
    if access.dirs is None or any(resolved.is_relative_to(folder) for folder in access.dirs):
        return resolved
    verb = "written" if write else "read"
    leads = "" if resolved == given else f" (it leads to {resolved})"
    folders = ", ".join(str(folder) for folder in access.dirs)
    raise AccessError(
        f"{what} {given}{leads} is outside the folders runs may use ({folders}), so it is not "
        f"{verb}; move it into one of them, or add its folder to {DIRS_SETTING}"
    )


def check_location(location: str, access: Access, *, what: str, write: bool = False) -> None:
    """One place a user named: an ``s3://`` location (the storage the settings name), a URL
    (:func:`check_url`: never for an output) or a local path (:func:`check_path`)."""
    scheme = urlsplit(location).scheme.lower()
    if scheme == "s3":
        return
    if len(scheme) > 1:  # "c:" is a Windows drive, not a scheme
        if write:
            raise AccessError(
                f"{what} {shown_url(location)} is refused: an output is a local path or an "
                "s3://bucket/key.mp4"
            )
        check_url(location, access, what=what)
        return
    check_path(location, access, what=what, write=write)


def check_request(request: EditRequest, access: Access) -> None:
    """Every place one edit names (input, reference images, output), before anything is read
    or paid."""
    check_location(request.input, access, what="input")
    for index, image in enumerate(request.reference_images):
        check_location(image, access, what=f"reference image {index + 1}")
    check_location(request.output, access, what="output", write=True)
