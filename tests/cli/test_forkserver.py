"""The fork server (reskin/cli/forkserver.py) and its client, the ``reskin`` entry point
(reskin/cli/launch.py): real processes on a real Unix socket.

A ``reskin edit`` answered by a copy of the fork server must be the one a process of its own
gives: the same words on stdout and stderr, the same exit status, asked on the same terminal,
ended by the same Ctrl-C. Each test starts ``python -m reskin.cli.forkserver`` for a work folder
of its own (as the runner does) and compares with a work folder where none runs. The fork
server's log names the client of each copy, so a test knows a copy answered.
"""

from __future__ import annotations

import contextlib
import os
import pty
import re
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from reskin.cli.forksocket import address
from tests.conftest import MakeClip

WAIT_S = 30.0


@dataclass
class ForkServer:
    process: subprocess.Popen[bytes]
    log: Path
    work: Path

    def said(self) -> str:
        return self.log.read_text()

    def copy_for(self, client: int) -> int:
        """The pid of the copy that ran ``client``'s command (from the log)."""
        found = re.search(rf"copy (\d+) runs `reskin edit` for pid {client}\b", self.said())
        assert found, f"no copy ran pid {client}'s command:\n{self.said()}"
        return int(found.group(1))


def wait_for(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"waited {WAIT_S:g} s for {what}")
        time.sleep(0.02)


@contextlib.contextmanager
def fork_server(work: Path, env: dict[str, str]) -> Iterator[ForkServer]:
    """``python -m reskin.cli.forkserver`` for ``work``, as the runner starts it: its stdin a
    pipe held open, its output in a log."""
    home = work / "prefect-server"
    home.mkdir(parents=True, exist_ok=True)
    log = home / "forkserver.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "reskin.cli.forkserver", str(home)],
            stdin=subprocess.PIPE,
            stdout=sink,
            stderr=sink,
            env=env,
            start_new_session=True,
        )
    served = ForkServer(process, log, work)
    try:
        wait_for(lambda: "serves `reskin edit`" in served.said(), "the fork server to listen")
        yield served
    finally:
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=WAIT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """No key, no server: what the mistakes need; a Prefect API where nothing answers."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("RESKIN_", "AIMLAPI_"))}
    return base | {
        "RESKIN_WORK_DIR": str(tmp_path / "work"),
        "AIMLAPI_API_KEY": "sk-test-forkserver",
        "PREFECT_API_URL": "http://127.0.0.1:9/api",
    }


@pytest.fixture
def served(env: dict[str, str]) -> Iterator[ForkServer]:
    with fork_server(Path(env["RESKIN_WORK_DIR"]), env) as server:
        yield server


@dataclass(frozen=True)
class Answer:
    pid: int
    code: int
    stdout: str
    stderr: str


def reskin(args: list[str], env: dict[str, str], cwd: Path) -> Answer:
    with subprocess.Popen(
        [sys.executable, "-m", "reskin", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=cwd,
        text=True,
    ) as process:
        stdout, stderr = process.communicate(timeout=120)
    return Answer(process.pid, process.returncode, stdout, stderr)


def test_a_copy_answers_word_for_word_as_a_process_of_its_own(
    served: ForkServer, env: dict[str, str], make_clip: MakeClip, tmp_path: Path
) -> None:
    here = tmp_path / "here"  # relative paths: the copy works in the client's folder
    here.mkdir()
    clip = make_clip(duration_s=2.0)
    (here / "clip.mp4").write_bytes(clip.read_bytes())
    (here / "notes.mp4").write_text("not a video\n")
    cases = [
        ["edit", "missing.mp4", "--prompt", "p", "--output", "out.mp4"],
        ["edit", "notes.mp4", "--prompt", "p", "--output", "out.mp4", "--json"],
        ["edit", "clip.mp4", "--prompt", "p", "--output", "out.mp4", "--start", "2", "--end", "1"],
        ["edit", "clip.mp4", "--prompt", "p", "--output", "out.avi", "--json"],
        ["edit", "clip.mp4", "--prompt", "p", "--output", "out.mp4", "--model", "foo"],
        ["edit", "clip.mp4", "--output", "out.mp4"],  # a usage error: typer's, exit 2
        ["edit", "--help"],
    ]
    elsewhere = env | {"RESKIN_WORK_DIR": str(tmp_path / "no-fork-server")}
    for args in cases:
        copied = reskin(args, env, here)
        alone = reskin(args, elsewhere, here)
        assert (copied.code, copied.stdout, copied.stderr) == (
            alone.code,
            alone.stdout,
            alone.stderr,
        ), args
        assert copied.code != 0 or args[-1] == "--help", args
        served.copy_for(copied.pid)  # a copy answered it
        assert f"for pid {alone.pid}" not in served.said()
    # The client's environment, not the fork server's: a setting only the client has.
    args = ["edit", "clip.mp4", "--prompt", "p", "--output", "out.mp4"]
    wrong = reskin(args, env | {"RESKIN_MODEL": "foo"}, here)
    assert wrong.code == 1
    assert "RESKIN_MODEL" in wrong.stderr, wrong.stderr
    served.copy_for(wrong.pid)
    assert not (here / "out.mp4").exists()
    assert not (here / "out.avi").exists()


def fewer_open_files() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, 512) - 1, hard))


@pytest.mark.parametrize(
    ("change", "started"),
    [
        pytest.param({"PYTHONHASHSEED": "7"}, None, id="another-python-variable"),
        pytest.param({}, fewer_open_files, id="other-resource-limits"),
    ],
)
def test_a_client_started_otherwise_is_refused_and_runs_the_command_itself(
    change: dict[str, str],
    started: Callable[[], None] | None,
    served: ForkServer,
    env: dict[str, str],
    tmp_path: Path,
) -> None:
    args = [sys.executable, "-m", "reskin", "edit", "missing.mp4", "--prompt", "p"]
    with subprocess.Popen(
        [*args, "--output", "out.mp4"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env | change,
        cwd=tmp_path,
        text=True,
        preexec_fn=started,
    ) as other:
        _, stderr = other.communicate(timeout=120)
    assert other.returncode == 1
    assert stderr.startswith("error: missing.mp4: cannot read the file"), stderr
    assert f"refused pid {other.pid}: another Python" in served.said()
    assert f"for pid {other.pid}" not in served.said()


@dataclass
class OnTerminal:
    process: subprocess.Popen[bytes]
    terminal: int
    shown: bytes = b""

    def read_until(self, text: bytes) -> None:
        deadline = time.monotonic() + WAIT_S
        while text not in self.shown:
            if time.monotonic() > deadline:
                pytest.fail(f"{text!r} never shown: {self.shown!r}")
            self.shown += os.read(self.terminal, 4096)

    def rest(self) -> bytes:
        with contextlib.suppress(OSError):  # EIO once every holder of the terminal is gone
            while chunk := os.read(self.terminal, 4096):
                self.shown += chunk
        return self.shown


@contextlib.contextmanager
def asked_on_a_terminal(env: dict[str, str], clip: Path, out: Path) -> Iterator[OnTerminal]:
    """``reskin edit`` on a terminal of its own (a pty), over the approval threshold: it asks."""
    leader, follower = pty.openpty()
    asking = env | {
        "RESKIN_APPROVE_ABOVE_CREDITS": "1",
        "RESKIN_CREDITS_PER_SECOND": "10",
        "COLUMNS": "120",
        "TERM": "xterm-256color",
    }
    asking.pop("NO_COLOR", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "reskin", "edit", str(clip), "--prompt", "p", "--output", str(out)],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=asking,
        start_new_session=True,
    )
    os.close(follower)
    try:
        on = OnTerminal(process, leader)
        on.read_until(b"Send it?")
        yield on
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        os.close(leader)


def test_a_copy_asks_on_the_clients_terminal_in_colour_and_takes_the_answer(
    served: ForkServer, env: dict[str, str], make_clip: MakeClip, tmp_path: Path
) -> None:
    with asked_on_a_terminal(env, make_clip(duration_s=2.0), tmp_path / "out.mp4") as on:
        os.write(on.terminal, b"n\n")
        assert on.process.wait(timeout=WAIT_S) == 1
        shown = on.rest()
    served.copy_for(on.process.pid)
    assert b"not approved, nothing was sent" in shown
    assert b"\x1b[" in shown  # rich saw a terminal: colours, as in a process of its own
    assert not (tmp_path / "out.mp4").exists()


def test_ctrl_c_reaches_the_copy_and_ends_the_command_with_130(
    served: ForkServer, env: dict[str, str], make_clip: MakeClip, tmp_path: Path
) -> None:
    with asked_on_a_terminal(env, make_clip(duration_s=2.0), tmp_path / "out.mp4") as on:
        copy = served.copy_for(on.process.pid)
        on.process.send_signal(signal.SIGINT)  # what the terminal sends its foreground group
        assert on.process.wait(timeout=WAIT_S) == 130
    wait_for(lambda: not Path(f"/proc/{copy}").exists(), f"copy {copy} to end")


def test_a_client_killed_takes_its_copy_with_it(
    served: ForkServer, env: dict[str, str], make_clip: MakeClip, tmp_path: Path
) -> None:
    with asked_on_a_terminal(env, make_clip(duration_s=2.0), tmp_path / "out.mp4") as on:
        copy = served.copy_for(on.process.pid)
        assert Path(f"/proc/{copy}").exists()
        on.process.kill()
        on.process.wait()
        wait_for(lambda: not Path(f"/proc/{copy}").exists(), f"copy {copy} to be killed")
    assert served.process.poll() is None  # the fork server goes on


def test_the_fork_server_ends_once_its_runner_is_gone_and_its_copies_have_ended(
    env: dict[str, str], make_clip: MakeClip, tmp_path: Path
) -> None:
    with (
        fork_server(Path(env["RESKIN_WORK_DIR"]), env) as served,
        asked_on_a_terminal(env, make_clip(duration_s=2.0), tmp_path / "out.mp4") as on,
    ):
        assert served.process.stdin is not None
        served.process.stdin.close()  # the runner's end of the pipe: it is gone
        time.sleep(0.5)
        assert served.process.poll() is None  # a copy still runs: it waits for it
        os.write(on.terminal, b"n\n")
        assert on.process.wait(timeout=WAIT_S) == 1  # the client still hears its status
        assert b"not approved" in on.rest()
        assert served.process.wait(timeout=WAIT_S) == 0
    # A new command finds no fork server and runs in its own process.
    alone = reskin(["edit", "missing.mp4", "--prompt", "p", "--output", "o.mp4"], env, tmp_path)
    assert alone.code == 1
    assert f"pid {alone.pid}" not in served.said()


@pytest.mark.skipif(os.geteuid() != 0, reason="serving as another user needs root (CI is root)")
def test_a_fork_server_of_another_user_is_never_given_the_terminal_or_the_environment(
    env: dict[str, str], tmp_path: Path
) -> None:
    home = Path(env["RESKIN_WORK_DIR"]) / "prefect-server"
    squatter = (
        "import os, socket\n"
        "os.setgid(65534); os.setuid(65534)\n"
        "s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n"
        f"s.bind({address(home)!r}); s.listen(1)\n"
        "print('listening', flush=True)\n"
        "c, _ = s.accept(); c.settimeout(5)\n"
        "got = b''\n"
        "try:\n"
        "    got = c.recv(1 << 20)\n"
        "except OSError:\n"
        "    pass\n"
        "print(len(got), flush=True)\n"
    )
    with subprocess.Popen(
        [sys.executable, "-c", squatter], stdout=subprocess.PIPE, text=True, env=env, cwd="/"
    ) as other:
        assert other.stdout is not None
        assert other.stdout.readline().strip() == "listening"
        args = ["edit", "missing.mp4", "--prompt", "p", "--output", "o.mp4"]
        answer = reskin(args, env, tmp_path)
        heard = other.stdout.readline().strip()
        other.wait(timeout=WAIT_S)
    assert answer.code == 1  # run here, as ever
    assert "cannot read the file" in answer.stderr
    assert heard == "0"  # not a byte: no key, no descriptor
