"""``reskin edit`` against a real Prefect server, seen through the server's REST API; and the
key, looked for everywhere a run leaves a trace.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import pickle
import re
import secrets
import subprocess
import sys
import time
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from reskin.edit.pipeline import STAGES as PIPELINE_STAGES
from reskin.standin.config import StandInConfig
from reskin.standin.server import StandIn
from tests.conftest import InputClip, RunReskin
from tests.prefect_server import PrefectServer

pytestmark = pytest.mark.slow

#: Every task run of an edit: the pipeline's stages, then publish.
STAGES = (*PIPELINE_STAGES, "publish")


def edit_json(run_reskin: RunReskin, clip: Path, output: Path, **env: str) -> dict[str, Any]:
    done = run_reskin(
        "edit", str(clip), "--prompt", "sepia film", "--output", str(output), "--json", env=env
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


_FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


def runs_of(server: PrefectServer, flow_run_id: str) -> dict[str, list[dict[str, Any]]]:
    """The task runs, artifacts and logs of one flow run, from the REST API."""
    ids = {"any_": [flow_run_id]}
    # Task run states reach the database through the server's event recorder, which may lag
    # (and retry) on a busy machine: wait for every one to be final rather than read once.
    for _ in range(600):  # 60 s
        task_runs = server.filter("task_runs", {"flow_runs": {"id": ids}})
        if all(run["state_type"] in _FINAL for run in task_runs):
            break
        time.sleep(0.1)
    return {
        "task_runs": task_runs,
        "artifacts": server.filter("artifacts", {"artifacts": {"flow_run_id": ids}}),
        "logs": server.filter(
            "logs", {"logs": {"flow_run_id": ids}, "sort": "TIMESTAMP_ASC", "limit": 200}
        ),
    }


# --- the run as the server records it ---------------------------------------------------------


def test_the_run_its_stages_artifacts_and_logs_are_on_the_server(
    run_reskin: RunReskin, input_clip: InputClip, prefect_server: PrefectServer, tmp_path: Path
):
    clip = input_clip(duration_s=3.0)
    output = tmp_path / "out" / "edited.mp4"
    result = edit_json(run_reskin, clip, output)
    generation_id = result["generation_id"]

    (flow_run,) = prefect_server.flow_runs_named(clip.name)
    assert clip.name in flow_run["name"]
    assert flow_run["state_type"] == "COMPLETED"
    assert "reskin" in flow_run["tags"]
    assert flow_run["parameters"]["request"]["input"] == str(clip)
    found = runs_of(prefect_server, flow_run["id"])

    # One task run per stage, named by its stage word, each completed.
    tasks = {run["name"].split(" ", 1)[0]: run for run in found["task_runs"]}
    assert sorted(tasks) == sorted(STAGES)
    assert len(found["task_runs"]) == len(STAGES)
    assert {run["state_type"] for run in found["task_runs"]} == {"COMPLETED"}
    assert tasks["poll"]["name"] == f"poll {generation_id[:8]}"

    # The summary names the generation, a link points at the output, the progress is done.
    markdown = [a["data"] for a in found["artifacts"] if a["type"] == "markdown"]
    summaries = [text for text in markdown if text.startswith("# reskin edit")]
    assert len(summaries) == 1
    assert generation_id in summaries[0]
    assert f"[{output}](file://{output})" in markdown
    progress = [a for a in found["artifacts"] if a["type"] == "progress"]
    assert len(progress) == 1
    assert progress[0]["data"] == 100
    assert generation_id in progress[0]["description"]

    # Each stage's own lines reached the server, attached to its task run.
    lines: dict[str, list[str]] = {stage: [] for stage in STAGES}
    by_task = {run["id"]: stage for stage, run in tasks.items()}
    for log in found["logs"]:
        if log["task_run_id"] in by_task:
            lines[by_task[log["task_run_id"]]].append(log["message"])
    expected = {
        "take_in": f"input {clip.name}: 720x720, 3.00 s, with sound",
        "plan": "plan: ",
        "place": "the service will get the clip as ",
        "submit": f"submitted generation {generation_id}",
        "poll": "completed, ",
        "deliver": f"wrote {output}: ",
    }
    for stage, start in expected.items():
        assert any(line.startswith(start) for line in lines[stage]), (stage, lines[stage])
    messages = [log["message"] for log in found["logs"]]
    assert any(m.startswith("downloaded the result: ") for m in messages)  # the core's own


# --- the key is nowhere -----------------------------------------------------------------------
# (With the key only in a Prefect Secret block, in a served deployment's run, the same search:
# tests/deployments/test_key_block.py.)

CANARY = "sk-reskin-canary-" + secrets.token_hex(12)

_BASE64_WHOLE = re.compile(rb"[A-Za-z0-9+/]+={0,2}")
_BASE64_RUN = re.compile(rb"[A-Za-z0-9+/]{24,}={0,2}")


def readings(data: bytes) -> Iterator[bytes]:
    """The bytes as stored, and what they say once decoded where they look encoded: Prefect's
    result files are base64 of a pickle (wrapped in lines, or inside a JSON record), and
    compressed serializers deflate it."""
    yield data
    compact = re.sub(rb"\s+", b"", data)
    runs = [compact] if _BASE64_WHOLE.fullmatch(compact) else []
    runs += _BASE64_RUN.findall(data)
    for run in runs:
        for offset in range(4):  # a run found inside text may start mid-quantum
            body = run[offset:].rstrip(b"=")
            # Whole (padding restored) and cut to whole quanta (a run that ends mid-quantum).
            for piece in (body + b"=" * (-len(body) % 4), body[: len(body) - len(body) % 4]):
                try:
                    decoded = base64.b64decode(piece, validate=True)
                except (binascii.Error, ValueError):
                    continue
                yield decoded
                with contextlib.suppress(zlib.error):
                    # A stream object: a cut stream still yields what it holds.
                    yield zlib.decompressobj().decompress(decoded)


def where_found(needle: str, blobs: Iterable[tuple[str, bytes]]) -> list[str]:
    """The names of the blobs in which ``needle`` appears, as stored or decoded."""
    raw = needle.encode()
    return [name for name, data in blobs if any(raw in text for text in readings(data))]


def files_under(*roots: Path) -> list[tuple[str, bytes]]:
    return [
        (str(path), path.read_bytes())
        for root in roots
        for path in sorted(root.rglob("*"))
        if path.is_file()
    ]


def test_the_search_sees_through_base64_pickles_and_compression():
    pickled = pickle.dumps(RuntimeError(f"boom with {CANARY}"))
    record = json.dumps({"result": base64.b64encode(pickled).decode()}).encode()
    blobs = [
        ("plain", f"log line {CANARY}".encode()),
        ("result file", base64.encodebytes(pickled)),  # wrapped in 76-character lines
        ("result record", b"x" + record),
        ("compressed", base64.b64encode(zlib.compress(pickled))),
        ("clean", base64.encodebytes(pickle.dumps(RuntimeError("boom")))),
    ]
    assert where_found(CANARY, blobs) == ["plain", "result file", "result record", "compressed"]


@pytest.fixture
def canary_standin(tmp_path: Path) -> Iterator[StandIn]:
    """A stand-in of its own whose key is the canary."""
    config = StandInConfig(
        key=SecretStr(CANARY),
        queued_s=0.2,
        generating_s=0.5,
        render_preset="ultrafast",
        work_dir=tmp_path / "standin",
    )
    with StandIn(config) as standin:
        yield standin


def test_the_key_is_in_no_output_file_record_or_answer_of_a_run(
    cli_env: dict[str, str],
    canary_standin: StandIn,
    input_clip: InputClip,
    prefect_server: PrefectServer,
    tmp_path: Path,
):
    client_home = tmp_path / "client-prefect-home"
    work = tmp_path / "work"
    env = {
        **cli_env,
        "AIMLAPI_BASE_URL": canary_standin.base_url,
        "AIMLAPI_API_KEY": CANARY,
        "PREFECT_HOME": str(client_home),  # its own, so every file the client wrote is ours
        "RESKIN_WORK_DIR": str(work),
    }

    def edit(clip: Path, prompt: str) -> subprocess.CompletedProcess[str]:
        argv = ["edit", str(clip), "--prompt", prompt, "--output", str(tmp_path / "o.mp4")]
        return subprocess.run(
            [sys.executable, "-m", "reskin", *argv],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
            check=False,
        )

    # A run that succeeds, and one that fails with the key in its environment all along.
    good_clip, bad_clip = input_clip(duration_s=3.0), input_clip(duration_s=3.0)
    good = edit(good_clip, "sepia film")
    assert good.returncode == 0, good.stderr
    canary_standin.set_faults(job_error=1)
    bad = edit(bad_clip, "neon film")
    assert bad.returncode == 1, bad.stderr
    assert "failed at the service" in bad.stderr
    good_id = re.findall(r"submitted generation (\S+)", good.stderr)[-1]
    bad_id = re.findall(r"submitted generation (\S+)", bad.stderr)[-1]

    runs = [r for c in (good_clip, bad_clip) for r in prefect_server.flow_runs_named(c.name)]
    assert len(runs) == 2
    answers: list[tuple[str, bytes]] = [("flow runs", json.dumps(runs).encode())]
    for run in runs:
        for kind, rows in runs_of(prefect_server, run["id"]).items():
            answers.append((f"{kind} of {run['name']}", json.dumps(rows).encode()))

    places: dict[str, list[tuple[str, bytes]]] = {
        "the CLI's output": [
            ("good stdout+stderr", (good.stdout + good.stderr).encode()),
            ("bad stdout+stderr", (bad.stdout + bad.stderr).encode()),
        ],
        "the server's Prefect home": files_under(prefect_server.home),
        "the client's Prefect home": files_under(client_home),
        "the work dir": files_under(work),
        "the REST answers": answers,
    }
    # The search can fail: what a run surely leaves in each place, it finds there.
    controls = {
        "the CLI's output": [good_id, bad_id],
        # the runs' logs and states, in prefect.db or its -wal
        "the server's Prefect home": [good_id, bad_id],
        # the failed task's exception, pickled and base64-encoded under storage/
        "the client's Prefect home": [bad_id],
        "the work dir": [good_id, bad_id],  # the journal
        "the REST answers": [good_id, bad_id],
    }
    for place, blobs in places.items():
        for control in controls[place]:
            assert where_found(control, blobs), f"the control {control} is not in {place}"
        assert where_found(CANARY, blobs) == [], f"the key is in {place}"
