"""``reskin edit`` answers a mistake at once (issue 17): a real process, refused before Prefect
starts, in one line, with nothing sent to the service and nothing written.

Each process gets a ``PREFECT_API_URL`` where nothing listens: a mistake that slipped past the
preflight into the flow would end in a connection error, not in the line asserted here. The
seconds each answer took are printed (``pytest -s``), never asserted: the machine's load is not
the command's fault; ``bench/cli.py`` measures them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reskin.standin.server import StandIn
from tests.conftest import MakeClip, standin_settings
from tests.prefect_server import free_port


def reskin_edit(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    began = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "reskin", "edit", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    shown = " ".join(Path(arg).name if "/" in arg else arg for arg in args)
    print(f"{time.perf_counter() - began:.2f} s: reskin edit {shown}")
    return done


@pytest.fixture
def env(standin: StandIn, tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        **standin_settings(standin, tmp_path / "work"),
        "PREFECT_API_URL": f"http://127.0.0.1:{free_port()}/api",  # nothing answers there
    }


#: The mistakes of issue 17, and one more: the arguments after --prompt ({clip}: a real 3 s
#: clip, {text}: a text file named .mp4, {missing}: no file, {out}: an .mp4 output, {avi}: the
#: same as .avi), and the line they get.
MISTAKES = [
    pytest.param(
        ["{missing}", "--output", "{out}"],
        "error: missing.mp4: cannot read the file (No such file or directory): check the path",
        id="missing-input",
    ),
    pytest.param(
        ["{text}", "--output", "{out}"],
        "error: notes.mp4 is not an MP4, MOV or Matroska video: export it as an MP4 (H.264) "
        "video and try again",
        id="text-named-mp4",
    ),
    pytest.param(
        ["{clip}", "--output", "{out}", "--start", "2", "--end", "1"],
        "error: --end must be after --start",
        id="end-before-start",
    ),
    pytest.param(
        ["{clip}", "--output", "{out}", "--start", "5"],
        "error: --start 5.00 s is at or after the end of the video (3.00 s): choose an earlier "
        "start",
        id="window-outside-the-clip",
    ),
    pytest.param(
        ["{clip}", "--output", "{out}", "--model", "foo"],
        "error: --model: unknown model 'foo': choose one of klingai/",
        id="unknown-model",
    ),
    pytest.param(
        ["{clip}", "--output", "{avi}"],
        "error: --output: must end in .mp4 (reskin writes H.264 MP4)",
        id="avi-output",
    ),
]


@pytest.mark.parametrize(("args", "says"), MISTAKES)
def test_a_mistake_is_one_line_before_prefect_with_nothing_sent(
    env: dict[str, str],
    standin: StandIn,
    make_clip: MakeClip,
    tmp_path: Path,
    args: list[str],
    says: str,
) -> None:
    text = tmp_path / "notes.mp4"
    text.write_text("a shopping list, not a video\n")
    output = tmp_path / "out" / "edited.mp4"
    places = {
        "clip": make_clip(duration_s=3.0),
        "text": text,
        "missing": tmp_path / "missing.mp4",
        "out": output,
        "avi": output.with_suffix(".avi"),
    }
    done = reskin_edit(env, "--prompt", "sepia film", *(arg.format(**places) for arg in args))
    assert done.returncode == 1, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr  # one line: no traceback, no run's lines
    assert done.stderr.startswith(says), done.stderr
    assert done.stdout == ""
    assert set(standin.stats().as_dict().values()) == {0}  # the service heard nothing
    assert not (tmp_path / "work").exists()  # no job folder, no journal
    assert not output.parent.exists()


def test_json_prints_the_failure_as_one_object_on_stdout_too(
    env: dict[str, str], standin: StandIn, tmp_path: Path
) -> None:
    done = reskin_edit(
        env, str(tmp_path / "missing.mp4"), "--prompt", "p", "--output", "o.mp4", "--json"
    )
    assert done.returncode == 1
    assert json.loads(done.stdout) == {
        "error": "missing.mp4: cannot read the file (No such file or directory): check the path",
        "kind": "InputError",
        "exit_code": 1,
    }
    assert done.stdout.count("\n") == 1
    assert done.stderr == f"error: {json.loads(done.stdout)['error']}\n"
    assert standin.stats().create_calls == 0


def test_json_says_a_usage_error_too(env: dict[str, str]) -> None:
    done = reskin_edit(
        env, "in.mp4", "--prompt", "p", "--output", "o.mp4", "--start", "soon", "--json"
    )
    assert done.returncode == 2
    assert json.loads(done.stdout) == {
        "error": "the command line could not be read: see the usage on stderr",
        "kind": "UsageError",
        "exit_code": 2,
    }
    assert "Usage:" in done.stderr
