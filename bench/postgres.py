"""A throwaway PostgreSQL cluster on loopback, for a Prefect server the way production runs one.

::

    with throwaway_postgres() as url:
        server = start_prefect_server(home, env={"PREFECT_API_DATABASE_CONNECTION_URL": url})

Needs PostgreSQL's server programs (``initdb``, ``pg_ctl``; Debian's ``postgresql`` package) on
PATH or in ``/usr/lib/postgresql/<version>/bin``. PostgreSQL refuses to run as root, so as root
the cluster runs as the ``postgres`` user (``runuser``), in a temporary folder of its own
directly under the temporary directory (a folder inside root's 0700 scratch would be out of its
reach). Trust authentication, loopback only, a socket in the cluster's own folder; the block
stops the cluster and removes the folder.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.prefect_server import free_port

DATABASE = "prefect"
USER = "prefect"


def _binary(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    for folder in versions:
        if (folder / name).exists():
            return str(folder / name)
    raise RuntimeError(
        f"PostgreSQL's {name} is not installed: apt-get install postgresql, or run the bench "
        "with --databases sqlite"
    )


def _as_owner(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def _run(command: list[str], *, check: bool = True) -> None:
    done = subprocess.run(_as_owner(command), capture_output=True, text=True)
    if check and done.returncode != 0:
        raise RuntimeError(f"{Path(command[0]).name} failed: {done.stderr.strip()[-2000:]}")


@contextmanager
def throwaway_postgres() -> Iterator[str]:
    """A new cluster with an empty ``prefect`` database; its asyncpg URL."""
    folder = Path(tempfile.mkdtemp(prefix="reskin-bench-pg-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    data = folder / "data"
    port = free_port()
    _run([_binary("initdb"), "-D", str(data), "-A", "trust", "-U", USER])
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=on"
    pg_ctl = _binary("pg_ctl")
    try:
        _run([pg_ctl, "-D", str(data), "-o", options, "-l", str(folder / "log"), "-w", "start"])
        try:
            _run([_binary("createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", USER, DATABASE])
            yield f"postgresql+asyncpg://{USER}@127.0.0.1:{port}/{DATABASE}"
        finally:
            _run([pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"], check=False)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
