"""Two "machines" sharing one journal in PostgreSQL: never pay twice across them.

A machine here is a ``reskin edit`` process with a work folder and a Prefect home of its own and
the same ``RESKIN_JOURNAL_URL`` (a real PostgreSQL cluster the session starts, a database of the
test's own, a password in the URL), against the session's stand-in and Prefect server, as
workers on several hosts share one server and one journal. Each machine edits its own copy of
the clip (same content, so the same request).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import create_engine, text

from reskin.media.probe import probe
from reskin.standin.server import StandIn
from tests.conftest import InputClip
from tests.processes import kill_group, wait_until

if TYPE_CHECKING:  # imported by pytest as a plugin (below), so that it is rewritten
    from tests.postgres import Cluster

#: The fixtures ``postgres_cluster`` (one per session) and ``postgres_url`` (a database per test).
pytest_plugins = ("tests.postgres",)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not hasattr(os, "killpg"), reason="needs POSIX process groups"),
]

#: How long a job takes at the stand-in when it must outlive a kill (machine 2 then waits it
#: out), or overlap two runs started at once.
JOB_S = 4.0
RUN_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Machine:
    name: str
    env: dict[str, str]
    clip: Path
    output: Path
    folder: Path

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "reskin", "edit", str(self.clip),
            "--prompt", "sepia film", "--output", str(self.output), "--json",
        ]  # fmt: skip

    def start(self) -> subprocess.Popen[bytes]:
        """``reskin edit`` in a process group of its own; stdout and stderr to files."""
        with (self.folder / "stdout").open("wb") as out, self.stderr.open("wb") as err:
            return subprocess.Popen(
                self.command(),
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )

    @property
    def stderr(self) -> Path:
        return self.folder / "stderr"

    def result(self, process: subprocess.Popen[bytes]) -> dict[str, object]:
        """The ``--json`` answer of a run started by :meth:`start`, once it exited 0."""
        code = process.wait(timeout=RUN_TIMEOUT_S)
        assert code == 0, f"{self.name} exited {code}:\n{self.stderr.read_text()}"
        answer = json.loads((self.folder / "stdout").read_text())
        assert isinstance(answer, dict)
        return answer

    def run(self) -> dict[str, object]:
        return self.result(self.start())


@pytest.fixture
def machines(
    cli_env: dict[str, str], postgres_url: str, input_clip: InputClip, tmp_path: Path
) -> tuple[Machine, Machine]:
    clip = input_clip(duration_s=3.0)
    made = []
    for n in (1, 2):
        folder = tmp_path / f"machine-{n}"
        (folder / "prefect-home").mkdir(parents=True)
        (folder / "in").mkdir()
        own_clip = folder / "in" / clip.name
        own_clip.write_bytes(clip.read_bytes())
        env = {
            **cli_env,
            "RESKIN_WORK_DIR": str(folder / "work"),
            "PREFECT_HOME": str(folder / "prefect-home"),
            "RESKIN_JOURNAL_URL": postgres_url,
        }
        made.append(Machine(f"machine {n}", env, own_clip, folder / "out" / "edited.mp4", folder))
    return made[0], made[1]


def journal_rows(url: str) -> list[tuple[str, str | None, str | None]]:
    """(state, generation_id, holder) of every submission in the shared journal, read outside
    reskin; none before a run made the table."""
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as db:
            exists = db.execute(text("SELECT to_regclass('submissions')")).scalar()
            if exists is None:
                return []
            rows = db.execute(text("SELECT state, generation_id, holder FROM submissions"))
            return [(row[0], row[1], row[2]) for row in rows]
    finally:
        engine.dispose()


def slow_jobs(standin: StandIn, seconds: float) -> None:
    config = standin.config
    standin.set_faults(slow_jobs=seconds / (config.queued_s + config.generating_s))


def test_a_run_killed_on_one_machine_is_finished_by_another_without_paying_again(
    machines: tuple[Machine, Machine],
    standin: StandIn,
    postgres_url: str,
    postgres_cluster: Cluster,
):
    one, two = machines
    slow_jobs(standin, JOB_S)
    first = one.start()
    try:

        def accepted() -> bool:
            rows = journal_rows(postgres_url)
            return bool(rows) and rows[0][0] == "accepted" and standin.stats().jobs_accepted == 1

        wait_until(accepted, first, one.stderr, "accepted job in the shared journal")
    finally:
        kill_group(first)
    [(state, journaled_id, holder)] = journal_rows(postgres_url)
    assert state == "accepted"
    assert holder is not None
    assert holder.endswith(f" pid {first.pid}")  # the journal says which run reserved it
    assert not one.output.exists()

    result = two.run()
    assert result["generation_id"] == journaled_id
    assert result["resumed"] is True
    assert result["output"] == str(two.output)
    assert probe(two.output).has_audio
    stats = standin.stats()
    assert (stats.create_calls, stats.jobs_accepted) == (1, 1)
    assert journal_rows(postgres_url) == [("done", journaled_id, holder)]
    assert postgres_cluster.password not in two.stderr.read_text()


def test_the_same_request_started_on_two_machines_at_once_is_paid_once(
    machines: tuple[Machine, Machine], standin: StandIn, postgres_url: str
):
    slow_jobs(standin, JOB_S)  # the second run surely asks while the first one's job runs
    started = [machine.start() for machine in machines]
    results = [machine.result(process) for machine, process in zip(machines, started, strict=True)]
    ids = {result["generation_id"] for result in results}
    assert len(ids) == 1, results
    assert sorted(bool(result["resumed"]) for result in results) == [False, True]
    for machine in machines:
        assert probe(machine.output).has_audio
    stats = standin.stats()
    assert (stats.create_calls, stats.jobs_accepted) == (1, 1)
    assert journal_rows(postgres_url)[0][:2] == ("done", ids.pop())


def test_a_request_finished_on_one_machine_is_not_paid_again_on_another(
    machines: tuple[Machine, Machine], standin: StandIn, postgres_url: str
):
    one, two = machines
    began = time.monotonic()
    first = one.run()
    assert first["resumed"] is False
    # Machine 2 cannot see machine 1's disk (here both are folders of one): the result that
    # machine 1 downloaded, and the journal names, is not there for it.
    (one.folder / "work").rename(one.folder / "work-of-another-host")
    second = two.run()
    assert second["generation_id"] == first["generation_id"]
    assert second["resumed"] is True
    # The result was on machine 1's disk: machine 2 fetched it again from the service.
    assert second["reused_download"] is False
    assert probe(two.output).has_audio
    stats = standin.stats()
    assert (stats.create_calls, stats.jobs_accepted) == (1, 1)
    assert stats.result_downloads == 2
    assert journal_rows(postgres_url)[0][:2] == ("done", first["generation_id"])
    assert time.monotonic() - began < RUN_TIMEOUT_S


def test_a_journal_refusing_the_password_stops_the_run_in_one_line_before_any_call(
    machines: tuple[Machine, Machine], standin: StandIn, postgres_cluster: Cluster
):
    one, _ = machines
    wrong = postgres_cluster.url("reskin", password="not-" + postgres_cluster.password)
    process = Machine(
        one.name, {**one.env, "RESKIN_JOURNAL_URL": wrong}, one.clip, one.output, one.folder
    ).start()
    assert process.wait(timeout=RUN_TIMEOUT_S) == 1
    stderr = one.stderr.read_text()
    assert "Traceback" not in stderr
    # Checked before Prefect starts: the error line and nothing else (no run, no log lines).
    [line] = stderr.strip().splitlines()
    assert line.startswith("error:")
    assert "password authentication failed" in line
    assert "RESKIN_JOURNAL_URL" in line
    assert postgres_cluster.password not in stderr
    assert (standin.stats().create_calls, standin.stats().jobs_accepted) == (0, 0)
