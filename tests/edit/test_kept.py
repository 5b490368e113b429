"""A URL input downloaded once for ``reskin edit``'s question and its run (reskin/edit/kept.py):
a real clip served over loopback HTTP (allowed by the settings), the requests counted."""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from reskin.cli.approval import approve_on_terminal
from reskin.edit import kept
from reskin.edit.approval import estimate_edit
from reskin.edit.pipeline import DIRECT
from reskin.edit.request import EditRequest
from reskin.edit.services import open_services
from reskin.errors import NotApprovedError
from reskin.settings import load_settings
from tests.conftest import MakeClip

#: A loopback URL allowed, and an edit of it asked about (3 billed seconds: 30 credits).
ALLOWED_AND_ASKED = {
    "RESKIN_ALLOW_HTTP": "true",
    "RESKIN_ALLOWED_HOSTS": "127.0.0.1",
    "RESKIN_APPROVE_ABOVE_CREDITS": "1",
    "RESKIN_CREDITS_PER_SECOND": "10",
}


class Served:
    """One file over HTTP on 127.0.0.1, its GETs counted."""

    def __init__(self, body: bytes) -> None:
        self.gets = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.gets += 1
                self.send_response(200)
                self.send_header("Content-Type", "video/mp4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/clips/beach.mp4"


@pytest.fixture
def served(make_clip: MakeClip) -> Iterator[tuple[Served, bytes]]:
    body = make_clip(duration_s=2.0).read_bytes()
    server = Served(body)
    yield server, body
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
def asked(
    served: tuple[Served, bytes],
    edit_env: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> EditRequest:
    """An edit of the served clip, its URL allowed, over the approval threshold."""
    for name, value in ALLOWED_AND_ASKED.items():
        monkeypatch.setenv(name, value)
    return EditRequest(input=served[0].url(), prompt="sepia", output=str(tmp_path / "o.mp4"))


@pytest.mark.anyio
async def test_the_questions_download_is_the_runs_once_and_only_while_fresh(
    served: tuple[Served, bytes], asked: EditRequest
) -> None:
    server, body = served
    request, settings = asked, load_settings()
    copy = kept.kept_path(settings.work_dir, request.input)

    async with open_services(settings) as services:
        estimate = await estimate_edit(request, services)
        assert estimate.credits == 30  # a 2 s clip billed as the model's least, 3 s, at 10 a second
        assert server.gets == 1
        assert copy.read_bytes() == body  # kept, under a name with no URL in it
        assert "beach" not in copy.name

        taken = await DIRECT.take_in(request, services)  # the run: no second download
        shutil.rmtree(taken.job_dir)
        assert server.gets == 1
        assert taken.source_sha256 == hashlib.sha256(body).hexdigest()
        assert not copy.exists()  # taken once

        taken = await DIRECT.take_in(request, services)  # another run downloads, as ever
        shutil.rmtree(taken.job_dir)
        assert server.gets == 2

        await estimate_edit(request, services)
        assert server.gets == 3
        stale = time.time() - kept.KEPT_S - 60  # an estimate never followed by its run
        os.utime(copy, (stale, stale))
        taken = await DIRECT.take_in(request, services)
        shutil.rmtree(taken.job_dir)
        assert server.gets == 4  # too old to be what was approved: downloaded again
        assert not copy.exists()


def test_a_no_to_the_question_removes_the_download_kept_for_the_run(
    served: tuple[Served, bytes], asked: EditRequest
) -> None:
    server, request, settings = served[0], asked, load_settings()

    with pytest.raises(NotApprovedError, match="no terminal to ask on"):
        approve_on_terminal(request, settings, yes=False, is_terminal=lambda: False)
    assert server.gets == 1
    assert not kept.kept_path(settings.work_dir, request.input).exists()
    assert approve_on_terminal(request, settings, yes=True) == 30  # kept for the run
    assert kept.kept_path(settings.work_dir, request.input).exists()
