"""A real S3-compatible server for tests: moto's standalone server on a free loopback port.

::

    def test_x(s3_server: S3Server):
        bucket = s3_server.create_bucket()
        settings = Settings(_env_file=None, **s3_server.settings(bucket))
        with s3_server.enforcing_credentials():
            ...  # wrong keys are refused here, as AWS refuses them

moto runs as ``python -m moto.server`` in a subprocess rather than ``ThreadedMotoServer`` in
pytest's process: it gets a core and a GIL of its own while a test streams hundreds of MB to
it, the objects it holds do not count in pytest's memory, the warnings its code raises are not
turned into test errors by ``filterwarnings = error``, and its process group can be stopped by
its id. Starting it costs about 2 s, once per session, and only for sessions that use it.

By default moto accepts any credentials. The session's credentials are nonetheless real ones of
moto's IAM (a user with an access key and an S3 policy), so that inside
:meth:`S3Server.enforcing_credentials` they pass and wrong ones are refused, with the codes AWS
uses (``InvalidAccessKeyId``, ``SignatureDoesNotMatch``). Outside that block moto checks no
signature, so presigned URLs are served whatever their signature or expiry (moto 5.2 checks
neither; with its IAM checks on, it fails them with a 500).
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import httpx
import pytest
from botocore.config import Config

from tests.prefect_server import free_port, log_tail, stop_group

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

START_TIMEOUT_S = 60.0
REGION = "us-east-1"
_PORT_ATTEMPTS = 3
_STOP_GRACE_S = 5.0
_S3_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
    }
)
_names = itertools.count(1)


@dataclass
class S3Server:
    """A running moto server, its log, and the session's credentials for it."""

    endpoint_url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    access_key_id: str = ""
    secret_access_key: str = ""
    _stopped: bool = field(default=False, repr=False)

    def client(
        self, *, access_key_id: str | None = None, secret_access_key: str | None = None
    ) -> S3Client:
        """A plain boto3 client of the server (the session's credentials unless given)."""
        return boto3.session.Session(
            aws_access_key_id=access_key_id or self.access_key_id,
            aws_secret_access_key=secret_access_key or self.secret_access_key,
            region_name=REGION,
        ).client(
            "s3",
            endpoint_url=self.endpoint_url,
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
        )

    def create_bucket(self, name: str | None = None) -> str:
        """Create a bucket (a new name unless given) and return its name."""
        bucket = name or f"reskin-test-{next(_names)}-{int(time.time() * 1000) % 10**8}"
        self.client().create_bucket(Bucket=bucket)
        return bucket

    def settings(self, bucket: str | None = None) -> dict[str, object]:
        """``Settings`` fields aimed at this server with the session's credentials."""
        return {
            "s3_endpoint_url": self.endpoint_url,
            "s3_bucket": bucket,
            "s3_region": REGION,
            "s3_access_key_id": self.access_key_id,
            "s3_secret_access_key": self.secret_access_key,
        }

    def env(self, bucket: str | None = None) -> dict[str, str]:
        """The same as ``RESKIN_S3_*`` variables, for a process."""
        return {
            f"RESKIN_{name.upper()}": str(value)
            for name, value in self.settings(bucket).items()
            if value is not None
        }

    @contextlib.contextmanager
    def enforcing_credentials(self) -> Iterator[None]:
        """Within the block, every S3 call must be signed by a known key with its secret.

        Presigned URLs cannot be fetched inside it (moto answers them 500)."""
        self._reset_auth("0")
        try:
            yield
        finally:
            self._reset_auth("inf")

    def _reset_auth(self, value: str) -> None:
        with httpx.Client(timeout=10) as http:
            http.post(f"{self.endpoint_url}/moto-api/reset-auth", content=value).raise_for_status()

    def log_tail(self, lines: int = 30) -> str:
        return log_tail(self.log_path, lines)

    def stop(self) -> None:
        """SIGTERM the server's process group, SIGKILL it after a grace period; idempotent."""
        if self._stopped:
            return
        self._stopped = True
        stop_group(self.process, _STOP_GRACE_S)


def start_s3_server(folder: Path, *, host: str = "127.0.0.1") -> S3Server:
    """Start moto's server on a free port; return once it answers, with an IAM user made."""
    folder.mkdir(parents=True, exist_ok=True)
    failure = ""
    for attempt in range(1, _PORT_ATTEMPTS + 1):
        port = free_port(host)
        log_path = folder / f"moto-{attempt}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", host, "-p", str(port)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its uploads spill to temporary files: keep them in the test's folder.
                env={**_base_env(), "TMPDIR": str(folder)},
                start_new_session=True,  # a group of its own, so stop() can signal it whole
            )
        server = S3Server(f"http://{host}:{port}", process, log_path)
        atexit.register(server.stop)
        if _wait_ready(server):
            _make_user(server)
            return server
        server.stop()
        failure = server.log_tail()
        # Another process may have taken the port between free_port() and the bind.
        if "address already in use" not in failure.lower():
            break
    raise RuntimeError(f"moto server did not start:\n{failure}")


def _base_env() -> dict[str, str]:
    # No AWS_* of a developer's may reach the server (or change its account or region).
    return {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}


def _wait_ready(server: S3Server) -> bool:
    deadline = time.monotonic() + START_TIMEOUT_S
    with httpx.Client(timeout=2.0) as http:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                return False
            with contextlib.suppress(httpx.TransportError):
                if http.get(f"{server.endpoint_url}/moto-api/").status_code == 200:
                    return True
            time.sleep(0.1)
    return False


def _make_user(server: S3Server) -> None:
    # Made while moto checks nothing; these become the session's credentials.
    iam = boto3.session.Session(
        aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap", region_name=REGION
    ).client("iam", endpoint_url=server.endpoint_url)
    iam.create_user(UserName="reskin-tests")
    iam.put_user_policy(UserName="reskin-tests", PolicyName="s3", PolicyDocument=_S3_POLICY)
    key = iam.create_access_key(UserName="reskin-tests")["AccessKey"]
    server.access_key_id = key["AccessKeyId"]
    server.secret_access_key = key["SecretAccessKey"]


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """One moto S3 server for the session (started by the first test that asks for it)."""
    server = start_s3_server(tmp_path_factory.mktemp("s3-server"))
    try:
        yield server
    finally:
        server.stop()
