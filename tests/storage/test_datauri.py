from __future__ import annotations

import base64
from pathlib import Path

import pytest

from reskin.errors import InputError
from reskin.storage.datauri import DataUri, data_uri, encoded_size


def test_data_uri_round_trips_and_names_the_type(tmp_path: Path) -> None:
    clip = tmp_path / "c.mp4"
    clip.write_bytes(bytes(range(256)) * 10)
    uri = data_uri(clip, max_bytes=10_000)
    assert uri == DataUri(clip, "video/mp4", 2560)
    head, payload = uri.text().split(",", 1)
    assert head == "data:video/mp4;base64"
    assert base64.b64decode(payload) == clip.read_bytes()
    assert len(payload) == encoded_size(2560)
    assert uri.length == len(uri.text())

    mov = tmp_path / "c.MOV"
    mov.write_bytes(b"x")
    assert data_uri(mov, max_bytes=10).text().startswith("data:video/quicktime;base64,")


@pytest.mark.parametrize("size", [0, 1, 2, 3, 299, 300, 301, 1000])
def test_the_pieces_are_the_whole_uri_whatever_the_chunk(tmp_path: Path, size: int) -> None:
    clip = tmp_path / "c.mp4"
    clip.write_bytes(bytes(i * 7 % 251 for i in range(size)))
    uri = data_uri(clip, max_bytes=10_000)
    whole = "data:video/mp4;base64," + base64.b64encode(clip.read_bytes()).decode()
    pieces = list(uri.pieces(chunk_bytes=300))
    assert b"".join(pieces).decode("ascii") == whole
    assert len(whole) == uri.length
    assert len(pieces) == 1 + -(-size // 300)  # the head, then one piece a chunk of the file
    assert max(len(p) for p in pieces[1:] or [b""]) <= encoded_size(300)
    with pytest.raises(ValueError, match="multiple of 3"):
        next(uri.pieces(chunk_bytes=100))


@pytest.mark.parametrize("now", [300, 601])
def test_a_clip_that_changed_since_its_budget_was_checked_is_not_sent_as_it_is_now(
    tmp_path: Path, now: int
) -> None:
    clip = tmp_path / "c.mp4"
    clip.write_bytes(b"\1" * 600)
    uri = data_uri(clip, max_bytes=10_000)
    clip.write_bytes(b"\2" * now)  # shorter, or longer than checked
    with pytest.raises(InputError, match="changed while it was being sent") as caught:
        list(uri.pieces(chunk_bytes=300))
    assert "\n" not in str(caught.value)


def test_the_repr_names_the_file_and_never_holds_its_bytes(tmp_path: Path) -> None:
    clip = tmp_path / "c.mp4"
    clip.write_bytes(b"ABC" * 1000)
    uri = data_uri(clip, max_bytes=10_000)
    assert repr(uri) == "DataUri('c.mp4', video/mp4, 3000 bytes)"
    assert "QUJD" not in repr(uri)
    assert "QUJD" not in f"{uri}"


def test_over_budget_or_wrong_type_is_refused_with_a_way_forward(tmp_path: Path) -> None:
    clip = tmp_path / "c.mp4"
    clip.write_bytes(b"\0" * 2001)
    with pytest.raises(InputError, match="budget: configure S3"):
        data_uri(clip, max_bytes=2000)
    mkv = tmp_path / "c.mkv"
    mkv.write_bytes(b"\0")
    with pytest.raises(InputError, match=r"\.mp4 and \.mov"):
        data_uri(mkv, max_bytes=2000)


@pytest.mark.parametrize(("raw", "chars"), [(0, 0), (1, 4), (2, 4), (3, 4), (4, 8), (300, 400)])
def test_encoded_size(raw: int, chars: int) -> None:
    assert encoded_size(raw) == chars
