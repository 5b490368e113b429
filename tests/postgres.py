"""A throwaway PostgreSQL cluster on loopback: for the shared journal's tests, and for a Prefect
server the way production runs one (``bench/postgres.py``).

::

    with throwaway_cluster() as cluster:
        url = cluster.create_database("journal_1")  # postgresql://reskin:<password>@127.0.0.1:<port>/journal_1

Needs PostgreSQL's server programs (``initdb``, ``pg_ctl``; Debian's ``postgresql`` package) on
PATH or in ``/usr/lib/postgresql/<version>/bin``. PostgreSQL refuses to run as root, so as root
the cluster runs as the ``postgres`` user (``runuser``), in a temporary folder of its own
directly under the temporary directory (a folder inside root's 0700 scratch would be out of its
reach). Loopback only, a socket in the cluster's own folder; TCP connections need the user's
password (scram-sha-256, so a wrong one is refused as on a real server), the socket trusts. The
block stops the cluster and removes the folder.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import URL

from tests.prefect_server import free_port

USER = "reskin"


def installed() -> bool:
    """Whether PostgreSQL's server programs are here."""
    try:
        _binary("initdb")
    except RuntimeError:
        return False
    return True


def _binary(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    for folder in versions:
        if (folder / name).exists():
            return str(folder / name)
    raise RuntimeError(f"PostgreSQL's {name} is not installed: apt-get install postgresql")


def _as_owner(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def _run(command: list[str], *, check: bool = True) -> None:
    done = subprocess.run(_as_owner(command), capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise RuntimeError(f"{Path(command[0]).name} failed: {done.stderr.strip()[-2000:]}")


@dataclass(frozen=True)
class Cluster:
    """A running cluster: its superuser :data:`USER` logs in with ``password`` over TCP."""

    port: int
    password: str
    host: str = "127.0.0.1"

    def url(self, database: str, *, driver: str = "postgresql", password: str | None = None) -> str:
        """The URL of ``database`` (``driver``: ``postgresql+asyncpg`` for Prefect)."""
        return URL.create(
            driver,
            username=USER,
            password=self.password if password is None else password,
            host=self.host,
            port=self.port,
            database=database,
        ).render_as_string(hide_password=False)

    def create_database(self, name: str, *, driver: str = "postgresql") -> str:
        """A new empty database ``name``; its URL."""
        createdb = [_binary("createdb"), "-h", self.host, "-p", str(self.port), "-U", USER, name]
        _run_with_password(createdb, self.password)
        return self.url(name, driver=driver)


def _run_with_password(command: list[str], password: str) -> None:
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PGPASSWORD": password},
    )
    if done.returncode != 0:
        raise RuntimeError(f"{Path(command[0]).name} failed: {done.stderr.strip()[-2000:]}")


@contextmanager
def throwaway_cluster(*, fsync: bool = True) -> Iterator[Cluster]:
    """A new cluster on a free loopback port, stopped and removed at the block's end.

    ``fsync=False`` for tests that only need its behaviour, not its durability (saves the
    machine's two cores a few flushes per test)."""
    folder = Path(tempfile.mkdtemp(prefix="reskin-pg-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    data = folder / "data"
    password = secrets.token_urlsafe(12)
    pwfile = folder / "pwfile"
    pwfile.write_text(password + "\n")
    if os.geteuid() == 0:
        shutil.chown(pwfile, "postgres", "postgres")
    port = free_port()
    _run(
        [
            _binary("initdb"), "-D", str(data), "-U", USER, f"--pwfile={pwfile}",
            "--auth-local=trust", "--auth-host=scram-sha-256",
        ]
    )  # fmt: skip
    pwfile.unlink()
    options = (
        f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync={'on' if fsync else 'off'}"
    )
    pg_ctl = _binary("pg_ctl")
    try:
        _run([pg_ctl, "-D", str(data), "-o", options, "-l", str(folder / "log"), "-w", "start"])
        try:
            yield Cluster(port=port, password=password)
        finally:
            _run([pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"], check=False)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# --- fixtures: a test module that uses them imports them ---------------------------------------


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[Cluster]:
    """One cluster per session (per xdist worker), started by the first test that asks."""
    with throwaway_cluster(fsync=False) as cluster:
        yield cluster


@pytest.fixture
def postgres_url(postgres_cluster: Cluster) -> str:
    """A new, empty database of the test's own in the session's cluster; its URL, password
    included."""
    return postgres_cluster.create_database(f"test_{uuid.uuid4().hex[:16]}")
