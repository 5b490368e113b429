"""How the stand-in brings in video_url: data URIs and http(s) downloads, and their failures."""

from __future__ import annotations

import base64
import socket
from collections.abc import Callable
from pathlib import Path

import pytest

from reskin.standin.server import StandIn

from .wire import GENERATIONS, Api, assert_error_body, data_uri


def test_an_http_url_is_downloaded_and_rendered(
    standin: StandIn, api: Api, make_clip: Callable[..., Path], tmp_path: Path
) -> None:
    clip = make_clip()
    upload = api.http.put("/files/input-clip.mp4", content=clip.read_bytes())
    url = upload.json()["url"]

    answer = api.create(url, prompt="a snowy street")

    assert answer.status_code == 200, answer.text
    result = api.result(answer.json()["id"], tmp_path)
    assert result.stat().st_size > 10_000
    # Each job gets its own folder, with a server-made input name.
    job_folders = [p for p in (standin.service.jobs_dir).iterdir() if p.is_dir()]
    assert any((folder / "input.mp4").exists() for folder in job_folders)


def test_an_unreachable_url_is_400(api: Api) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]

    answer = api.create(f"http://127.0.0.1:{closed_port}/clip.mp4")

    error = assert_error_body(answer, 400, GENERATIONS)
    assert error["message"] == "video_url: video_url could not be downloaded (ConnectError)"


def test_a_url_answering_404_is_400_naming_the_status(standin: StandIn, api: Api) -> None:
    answer = api.create(f"{standin.base_url}/files/not-there.mp4")

    error = assert_error_body(answer, 400, GENERATIONS)
    assert error["message"] == "video_url: downloading video_url answered HTTP 404"


def test_a_url_serving_something_else_is_400(standin: StandIn, api: Api) -> None:
    api.http.put("/files/fake.mp4", content=b"<html>not a video</html>")

    answer = api.create(f"{standin.base_url}/files/fake.mp4")

    error = assert_error_body(answer, 400, GENERATIONS)
    assert "not an MP4, MOV or Matroska video" in error["message"]


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("data:video/mp4;base64,@@not-base64@@", "the data URI is not valid base64"),
        ("data:video/mp4;base64,", "the data URI holds no bytes"),
    ],
)
def test_bad_data_uris_are_400(api: Api, uri: str, message: str) -> None:
    error = assert_error_body(api.create(uri), 400, GENERATIONS)

    assert error["message"] == f"video_url: {message}"


def test_a_png_in_a_data_uri_is_refused_by_the_probe(
    api: Api, make_clip: Callable[..., Path]
) -> None:
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 64).decode()

    error = assert_error_body(api.create(f"data:video/mp4;base64,{png}"), 400, GENERATIONS)

    assert "not an MP4, MOV or Matroska video" in error["message"]


def test_a_refused_input_leaves_no_job_folder(
    standin: StandIn, api: Api, make_clip: Callable[..., Path]
) -> None:
    before = set(standin.service.jobs_dir.iterdir())

    api.create(data_uri(make_clip(audio=False, duration_s=2.5)))

    assert set(standin.service.jobs_dir.iterdir()) == before
