"""A batch follows the same rules for every manifest row and inbox (reskin/batch/manifest.py):
one refused place refuses the whole batch in one line naming the clip, before any clip is
read or sent."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from reskin.access import Access
from reskin.batch.manifest import load_clips
from reskin.batch.request import BatchRequest
from reskin.errors import AccessError
from tests.flows.checks import assert_one_line

GOOD_ROW = "good.mp4\n"


def _lookup(host: str, port: int) -> Sequence[str]:
    """A resolver where ``*.inward.example`` is the metadata address, anything else public."""
    return ["169.254.169.254"] if host.endswith("inward.example") else ["93.184.216.34"]


def _batch(tmp_path: Path, **fields: Any) -> BatchRequest:
    return BatchRequest.model_validate(
        {"output_dir": str(tmp_path / "out"), "prompt": "sepia", **fields}
    )


def _allowed(tmp_path: Path) -> Access:
    return Access(dirs=(tmp_path.resolve(),))


@pytest.mark.parametrize(
    ("row", "hints"),
    [
        ("http://127.0.0.1:9/a.mp4", ["plain http:// is off", "RESKIN_ALLOW_HTTP"]),
        ("https://127.0.0.1:9/a.mp4", ["127.0.0.1 is a loopback address"]),
        ("https://[::1]/a.mp4", ["::1 is a loopback address"]),
        ("https://10.0.0.8/a.mp4", ["10.0.0.8 is a private address"]),
        ("https://169.254.169.254/latest/meta-data/", ["link-local"]),
        ("https://localhost/a.mp4", ["localhost is this machine"]),
        ("https://cdn.inward.example/a.mp4", ["resolves to 169.254.169.254"]),
        ("file:///etc/passwd", ["file:// is not fetched"]),
        ("../../escape.mp4", ["outside the folders", "RESKIN_ALLOWED_DIRS"]),
    ],
)
def test_a_refused_row_refuses_the_batch_naming_its_line(
    tmp_path: Path, row: str, hints: list[str]
) -> None:
    manifest = tmp_path / "in" / "batch.csv"
    manifest.parent.mkdir()
    manifest.write_text(f"input\n{GOOD_ROW}{row}\n", encoding="utf-8")
    with pytest.raises(AccessError) as caught:
        load_clips(
            _batch(tmp_path, manifest=str(manifest)), access=_allowed(tmp_path), lookup=_lookup
        )
    assert_one_line(caught.value, "(line 3)", *hints)


def test_an_output_row_outside_the_folders_refuses_the_batch(tmp_path: Path) -> None:
    manifest = tmp_path / "batch.jsonl"
    manifest.write_text('{"input": "a.mp4", "output": "/etc/cron.d/x.mp4"}\n', encoding="utf-8")
    with pytest.raises(AccessError) as caught:
        load_clips(_batch(tmp_path, manifest=str(manifest)), access=_allowed(tmp_path))
    assert_one_line(caught.value, "(line 1)", "output /etc/cron.d/x.mp4", "not written")


def test_the_batch_folders_are_checked_before_they_are_read(tmp_path: Path) -> None:
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    access = Access(dirs=(allowed.resolve(),))
    with pytest.raises(AccessError, match=r"manifest .* outside the folders"):
        # Not there at all: refused before anything tries to read it.
        load_clips(_batch(allowed, manifest=str(tmp_path / "m.csv")), access=access)
    with pytest.raises(AccessError, match=r"inbox .* outside the folders"):
        load_clips(_batch(allowed, inbox=str(tmp_path)), access=access)
    with pytest.raises(AccessError, match=r"output folder .* not written"):
        load_clips(
            _batch(tmp_path, inbox=str(allowed), output_dir=str(tmp_path / "o")), access=access
        )


def test_a_link_in_an_inbox_that_leads_out_refuses_the_batch(tmp_path: Path) -> None:
    inbox = tmp_path / "allowed" / "inbox"
    inbox.mkdir(parents=True)
    (inbox / "a.mp4").write_bytes(b"x")
    secret = tmp_path / "secret.mp4"
    secret.write_bytes(b"must not be read")
    (inbox / "b.mp4").symlink_to(secret)
    access = Access(dirs=((tmp_path / "allowed").resolve(),))
    batch = _batch(tmp_path / "allowed", inbox=str(inbox))
    with pytest.raises(AccessError) as caught:
        load_clips(batch, access=access)
    assert_one_line(caught.value, "b.mp4", f"input {secret}", "RESKIN_ALLOWED_DIRS")
    (inbox / "b.mp4").unlink()
    (clip,) = load_clips(batch, access=access)
    assert clip.request.input == str((inbox / "a.mp4").resolve())


def test_allowed_rows_load(tmp_path: Path) -> None:
    manifest = tmp_path / "batch.csv"
    manifest.write_text(
        "input\na.mp4\nhttps://cdn.example/b.mp4?sig=1\nhttp://10.0.0.8/c.mp4\n", encoding="utf-8"
    )
    access = Access(allow_http=True, hosts=frozenset({"10.0.0.8"}), dirs=(tmp_path.resolve(),))
    clips = load_clips(_batch(tmp_path, manifest=str(manifest)), access=access, lookup=_lookup)
    assert [clip.request.input for clip in clips] == [
        str(tmp_path.resolve() / "a.mp4"),
        "https://cdn.example/b.mp4?sig=1",
        "http://10.0.0.8/c.mp4",
    ]
