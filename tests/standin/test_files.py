"""The upload file server: PUT with the key, GET without, strict names, server-made paths."""

from __future__ import annotations

import httpx
import pytest

from reskin.standin.server import StandIn

from .wire import Api, assert_error_body


def test_put_then_get_round_trips_the_bytes(
    standin: StandIn, api: Api, anonymous: httpx.Client
) -> None:
    content = bytes(range(256)) * 100

    put = api.http.put("/files/clip_01-a.mp4", content=content)

    assert put.status_code == 201
    assert put.json() == {
        "name": "clip_01-a.mp4",
        "url": f"{standin.base_url}/files/clip_01-a.mp4",
        "size_bytes": len(content),
    }
    got = anonymous.get(put.json()["url"])
    assert got.status_code == 200
    assert got.content == content
    assert got.headers["content-type"] == "video/mp4"
    assert got.headers["content-length"] == str(len(content))
    assert standin.stats().uploads == 1


def test_a_second_put_replaces_the_first(api: Api) -> None:
    api.http.put("/files/again.mov", content=b"first")
    api.http.put("/files/again.mov", content=b"second")

    got = api.http.get("/files/again.mov")

    assert got.content == b"second"
    assert got.headers["content-type"] == "video/quicktime"


def test_stored_files_have_server_made_names(standin: StandIn, api: Api) -> None:
    api.http.put("/files/visible-name.mp4", content=b"data")

    stored = [path.name for path in standin.service.files.folder.iterdir()]

    assert "visible-name.mp4" not in stored
    assert all(name.endswith(".upload") for name in stored)


@pytest.mark.parametrize(
    "name",
    [
        "clip.exe",
        ".hidden.mp4",
        "a%20b.mp4",
        "%2E%2E.mp4",
        "x" * 101 + ".mp4",
        "clip.mp4.sh",
        "clip",
    ],
)
def test_unsafe_names_are_refused(api: Api, name: str) -> None:
    answer = api.http.put(f"/files/{name}", content=b"data")

    error = assert_error_body(answer, 400, answer.request.url.path)
    assert "name:" in error["message"]


def test_a_path_in_the_name_never_reaches_the_file_route(api: Api) -> None:
    answer = api.http.put("/files/..%2F..%2Fescape.mp4", content=b"data")

    assert answer.status_code in (400, 404)


def test_an_empty_upload_is_400(api: Api) -> None:
    answer = api.http.put("/files/empty.mp4", content=b"")

    error = assert_error_body(answer, 400, "/files/empty.mp4")
    assert "empty" in error["message"]
    assert api.http.get("/files/empty.mp4").status_code == 404
