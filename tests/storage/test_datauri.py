from __future__ import annotations

import base64

import pytest

from reskin.errors import InputError
from reskin.storage.datauri import data_uri, encoded_size


def test_data_uri_round_trips_and_names_the_type(tmp_path):
    clip = tmp_path / "c.mp4"
    clip.write_bytes(bytes(range(256)) * 10)
    uri = data_uri(clip, max_bytes=10_000)
    head, payload = uri.split(",", 1)
    assert head == "data:video/mp4;base64"
    assert base64.b64decode(payload) == clip.read_bytes()
    assert len(payload) == encoded_size(2560)

    mov = tmp_path / "c.MOV"
    mov.write_bytes(b"x")
    assert data_uri(mov, max_bytes=10).startswith("data:video/quicktime;base64,")


def test_over_budget_or_wrong_type_is_refused_with_a_way_forward(tmp_path):
    clip = tmp_path / "c.mp4"
    clip.write_bytes(b"\0" * 2001)
    with pytest.raises(InputError, match="budget: configure S3"):
        data_uri(clip, max_bytes=2000)
    mkv = tmp_path / "c.mkv"
    mkv.write_bytes(b"\0")
    with pytest.raises(InputError, match=r"\.mp4 and \.mov"):
        data_uri(mkv, max_bytes=2000)


@pytest.mark.parametrize(("raw", "chars"), [(0, 0), (1, 4), (2, 4), (3, 4), (4, 8), (300, 400)])
def test_encoded_size(raw, chars):
    assert encoded_size(raw) == chars
