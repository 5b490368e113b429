"""The reskin runner's wire, in this process: a real :func:`reskin.cli.runner.serve` on
loopback (in a thread with its own event loop) and the real client
(:func:`reskin.cli.remote.run_remote`), with an edit of the test's own in place of the flow,
so what is checked is what crosses: records and their events, the result, an error's class
and words, a cancel, a runner gone, who may ask. The runner as ``reskin server start`` starts
it, with the flow, is tested in ``tests/cli/test_server.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import stat
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from prefect.client.orchestration import get_client
from prefect.settings import PREFECT_API_URL, temporary_settings

from reskin.cli import remote, wire
from reskin.cli.edit import FLAGS
from reskin.cli.progress import TASK_RETRY, everything, no_task, place_of, plain_line
from reskin.cli.remote import Refused, Runner, run_remote
from reskin.cli.runner import Edit, Message, Service, line_of, prefect_clients, serve
from reskin.edit.request import EditRequest, EditResult
from reskin.errors import OutOfLimitsError, RunnerError
from reskin.progress import JobStatus, Retrying, StageDone, extra
from reskin.settings import Settings
from tests.prefect_server import PrefectServer

#: The logger the test's edits log to: the runner forwards it, the client's display (on the
#: root logger, in this same process) does not see the originals.
LOGGER = "reskin.test-runner"
WAIT_S = 30.0


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.model_validate(
        {"work_dir": str(tmp_path / "work"), "api_key": "sk-test-runner-secret"}
    )


@pytest.fixture
def request_() -> EditRequest:
    return EditRequest(input="in/clip.mp4", prompt="sepia film", output="out/edited.mp4")


def result_of(request: EditRequest) -> EditResult:
    """What the test's edit returns: the request's output, as a flow's result would say."""
    return EditResult(
        output=request.output,
        model="klingai/video-o1-video-to-video-edit",
        generation_id="g-1",
        credits_used=300.0,
        resumed=False,
        reused_download=False,
        input_duration_s=3.0,
        output_duration_s=3.0,
        width=720,
        height=720,
        has_audio=True,
        conform="stream copy",
        sound="restore",
        timings_s={"take_in": 0.25},
    )


@dataclass
class Serving:
    runner: Runner
    service: Service
    stop: threading.Event


@contextlib.contextmanager
def serving(
    settings: Settings, home: Path, edit: Edit, *, prefect_api: str | None = None
) -> Iterator[Serving]:
    """:func:`serve` in a thread of its own until the block ends; with ``prefect_api``, inside
    :func:`prefect_clients` aimed at that Prefect API, as the runner's ``main`` serves."""
    home.mkdir(parents=True, exist_ok=True)
    service = Service(settings, edit)
    stopping = threading.Event()
    logger = logging.getLogger(LOGGER)
    logger.propagate, logger.level = False, logging.INFO

    async def run() -> None:
        stop = asyncio.Event()
        asyncio.ensure_future(asyncio.to_thread(stopping.wait)).add_done_callback(
            lambda _: stop.set()
        )
        await serve(service, home, stop=stop, ours=everything, task_name=no_task, logger=logger)

    async def run_with_clients() -> None:
        with temporary_settings(updates={PREFECT_API_URL: prefect_api}):
            async with prefect_clients():
                await run()

    served = run() if prefect_api is None else run_with_clients()
    thread = threading.Thread(target=asyncio.run, args=(served,), daemon=True)
    thread.start()
    state = home / remote.STATE
    for _ in range(int(WAIT_S / 0.02)):
        if state.exists():
            break
        threading.Event().wait(0.02)
    runner = Runner(**json.loads(state.read_text()))
    try:
        yield Serving(runner, service, stopping)
    finally:
        stopping.set()
        thread.join(WAIT_S)
    assert not thread.is_alive()
    assert not state.exists()  # the runner's record goes with it


def test_an_edit_comes_back_as_it_went_with_its_records_and_events(
    settings: Settings,
    request_: EditRequest,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[EditRequest] = []

    async def edit(request: EditRequest, approved: float | None) -> tuple[EditResult, str]:
        seen.append(request)
        log = logging.getLogger(LOGGER)
        log.info("take_in done in 0.25 s", extra=extra(StageDone("take_in", 0.25)))
        log.info("poll: queued", extra=extra(JobStatus("queued", 0.1, 1.0)))
        # From a stage's thread, as ffmpeg's steps log: the edit's context goes with it.
        await asyncio.to_thread(log.warning, "a warning from a thread")
        return result_of(request), f"run-{approved}"

    monkeypatch.chdir(tmp_path)
    with serving(settings, tmp_path / "home", edit) as running:
        result, run_id = run_remote(running.runner, request_, 12.5, settings)
    # The runner got the paths made absolute (its working folder is not the client's).
    assert seen == [remote.absolute(request_, tmp_path)]
    assert seen[0].input == str(tmp_path / "in" / "clip.mp4")
    assert result == result_of(seen[0])
    assert run_id == "run-12.5"
    shown = capsys.readouterr().err.splitlines()
    assert [line.split(" | ", 1)[1] for line in shown] == [
        "INFO    | take_in done in 0.25 s",
        "INFO    | poll: queued",
        "WARNING | a warning from a thread",
    ]


def test_a_record_crosses_with_its_event_and_its_task_and_prints_the_same() -> None:
    record = logging.LogRecord(
        "reskin.aimlapi.retry", logging.INFO, "x.py", 1, "%s", ("429",), None
    )
    record.progress = Retrying("create", "429", 1, 4, 2.0, asked=True)
    task = "submit segment 2 of 3 (10.00..20.00 s)"
    line = line_of(record, everything, lambda _: task)
    assert line is not None
    again = remote.record_of(json.loads(json.dumps(line)))
    assert again.progress == record.progress  # type: ignore[attr-defined]
    assert remote.task_name(again) == task
    assert plain_line(again, place_of(task)) == plain_line(record, place_of(task))


def test_prefect_s_retry_line_crosses_as_that_line_and_its_other_lines_do_not() -> None:
    args = ("submit", ValueError("x"), 1, 2, "in 10 second(s)")
    retry = logging.LogRecord("prefect.task_runs", logging.INFO, "t.py", 1, TASK_RETRY, args, None)
    line = line_of(retry, lambda _: False, lambda _: "submit")
    assert line is not None
    again = remote.record_of(json.loads(json.dumps(line)))
    assert not remote.shown(again)
    assert isinstance(again.args, tuple)
    assert type(again.args[1]).__name__ == "ValueError"
    other = logging.LogRecord("prefect", logging.INFO, "t.py", 1, "Finished", None, None)
    assert line_of(other, lambda _: False, no_task) is None


def test_an_error_keeps_its_class_and_is_worded_for_the_command_line(
    settings: Settings, request_: EditRequest, tmp_path: Path
) -> None:
    async def edit(request: EditRequest, approved: float | None) -> tuple[EditResult, str]:
        raise OutOfLimitsError("the window ends after the clip: give a smaller `end_s`")

    with (
        serving(settings, tmp_path / "home", edit) as running,
        pytest.raises(OutOfLimitsError) as raised,
    ):
        run_remote(running.runner, request_, None, settings)
    assert raised.value.worded(FLAGS) == "the window ends after the clip: give a smaller --end"


def test_other_settings_or_a_wrong_token_are_refused_and_nothing_runs(
    settings: Settings, request_: EditRequest, tmp_path: Path
) -> None:
    ran: list[EditRequest] = []

    async def edit(request: EditRequest, approved: float | None) -> tuple[EditResult, str]:
        ran.append(request)
        return result_of(request), "run"

    other = settings.model_copy(update={"max_jobs_in_flight": 0})
    with serving(settings, tmp_path / "home", edit) as running:
        with pytest.raises(Refused, match="other settings"):
            run_remote(running.runner, request_, None, other)
        stranger = Runner(**{**running.runner.__dict__, "token": "not-the-token"})
        with pytest.raises(Refused, match="token"):
            run_remote(stranger, request_, None, settings)
    assert ran == []


def test_the_state_file_is_0600_and_holds_no_key(settings: Settings, tmp_path: Path) -> None:
    async def edit(request: EditRequest, approved: float | None) -> tuple[EditResult, str]:
        raise AssertionError("not called")

    home = tmp_path / "home"
    with serving(settings, home, edit) as running:
        state = home / remote.STATE
        assert stat.S_IMODE(state.stat().st_mode) == 0o600
        assert "sk-test-runner-secret" not in state.read_text()
        # The fingerprint counts the key (keyed with the token): another key, another print.
        token = running.runner.token
        assert remote.fingerprint(settings, token) == running.runner.fingerprint
        rekeyed = settings.model_copy(update={"api_key": None})
        assert remote.fingerprint(rekeyed, token) != running.runner.fingerprint


def test_a_cancel_unwinds_the_edit_before_the_runner_answers(
    settings: Settings, request_: EditRequest, tmp_path: Path
) -> None:
    started, unwound = threading.Event(), threading.Event()

    async def edit(request: EditRequest, approved: float | None) -> tuple[EditResult, str]:
        started.set()
        try:
            await asyncio.sleep(WAIT_S * 2)
        finally:
            await asyncio.sleep(0.1)  # giving back what it holds takes a moment
            unwound.set()
        raise AssertionError("not cancelled")

    with serving(settings, tmp_path / "home", edit) as running:
        runner = running.runner
        with socket.create_connection((runner.host, runner.port), timeout=WAIT_S) as sock:
            wire.send(
                sock,
                {
                    "token": runner.token,
                    "fingerprint": remote.fingerprint(settings, runner.token),
                    "request": request_.model_dump(mode="json"),
                    "approved_credits": None,
                },
            )
            assert started.wait(WAIT_S)
            wire.send(sock, {"cancel": True})  # what the client sends on Ctrl-C
            answers = list(remote.lines(sock))
        assert answers == [{"interrupted": True}]
        assert unwound.is_set()  # before the answer: nothing held when the client ends
        assert running.service.edits == set()


def test_a_runner_stopped_mid_edit_is_one_line_saying_rerun(
    settings: Settings, request_: EditRequest, tmp_path: Path
) -> None:
    started = threading.Event()

    async def edit(request: EditRequest, approved: float | None) -> tuple[EditResult, str]:
        started.set()
        await asyncio.sleep(WAIT_S * 2)
        raise AssertionError("not stopped")

    with serving(settings, tmp_path / "home", edit) as running:

        def stop_once_started() -> None:
            if started.wait(WAIT_S):
                running.stop.set()

        threading.Thread(target=stop_once_started, daemon=True).start()
        with pytest.raises(RunnerError) as raised:
            run_remote(running.runner, request_, None, settings)
    line = str(raised.value)
    assert line.startswith(f"the reskin runner (pid {running.runner.pid}")
    assert "stopped during the edit: rerun the same command to go on" in line
    assert "\n" not in line


def test_two_edits_at_once_each_get_their_own_records_and_result(
    settings: Settings, tmp_path: Path
) -> None:
    both_started = threading.Barrier(2)

    async def edit(request: EditRequest, approved: float | None) -> tuple[EditResult, str]:
        await asyncio.to_thread(both_started.wait, WAIT_S)  # they overlap
        for step in range(3):
            logging.getLogger(LOGGER).info("%s: step %d", request.prompt, step)
            await asyncio.sleep(0.01)  # the other edit logs in between
        return result_of(request), f"run of {request.prompt}"

    def asked(runner: Runner, prompt: str) -> Message:
        request = EditRequest(input="/in/clip.mp4", prompt=prompt, output="/out/edited.mp4")
        return {
            "token": runner.token,
            "fingerprint": remote.fingerprint(settings, runner.token),
            "request": request.model_dump(mode="json"),
            "approved_credits": None,
        }

    answers: dict[str, list[dict[str, Any]]] = {}
    with serving(settings, tmp_path / "home", edit) as running:

        def one(prompt: str) -> None:
            runner = running.runner
            with socket.create_connection((runner.host, runner.port), timeout=WAIT_S) as sock:
                wire.send(sock, asked(runner, prompt))
                answers[prompt] = list(remote.lines(sock))

        clients = [threading.Thread(target=one, args=(prompt,)) for prompt in ("first", "second")]
        for client in clients:
            client.start()
        for client in clients:
            client.join(WAIT_S)
    for prompt in ("first", "second"):
        *logs, ending = answers[prompt]
        assert [log["log"]["message"] for log in logs] == [f"{prompt}: step {n}" for n in range(3)]
        assert ending["run_id"] == f"run of {prompt}"


def test_every_edit_shares_the_runners_prefect_clients(
    settings: Settings, tmp_path: Path, prefect_server: PrefectServer
) -> None:
    """Each edit's flow run finds the runner's two Prefect clients, not new ones of its own (a
    new one costs a TLS context of the system's certificates, and the async one a CSRF ask)."""
    seen: list[tuple[object, object]] = []  # the clients themselves: no id reused

    async def edit(request: EditRequest, approved: float | None) -> tuple[EditResult, str]:
        seen.append((get_client(), get_client(sync_client=True)))
        return result_of(request), "run"

    with serving(settings, tmp_path / "home", edit, prefect_api=prefect_server.api_url) as running:
        for prompt in ("first", "second"):
            request = EditRequest(input="/in/clip.mp4", prompt=prompt, output="/out/edited.mp4")
            run_remote(running.runner, request, None, settings, said=None)
    assert len(seen) == 2
    assert seen[0][0] is seen[1][0]
    assert seen[0][1] is seen[1][1]
    # The control: outside the runner's clients each ask makes a client of its own.
    with temporary_settings(updates={PREFECT_API_URL: prefect_server.api_url}):
        assert get_client() is not get_client()
