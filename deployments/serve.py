"""Serve both deployments from this one process: ``python -m deployments.serve`` (``make serve``).

::

    export PREFECT_API_URL=http://127.0.0.1:4200/api     # a running `prefect server start`
    python -m deployments.serve --cron "0 2 * * *" --timezone Europe/Berlin \\
        --inbox ~/reskin/inbox --output-dir ~/reskin/outbox --prompt "hand-drawn watercolour"

registers ``edit-video/edit-video`` and ``edit-batch/nightly`` (see ``definitions.py``) and runs
their flow runs here, each in a subprocess, at most ``--limit`` at a time: the simplest way to
run reskin on one machine. The runs read their settings (``AIMLAPI_API_KEY`` among them) from
this process's environment. Ctrl-C stops serving and pauses the nightly schedule; for workers
on a work pool instead, see ``prefect.yaml`` and ``up.py``.

Like ``up``, it sets ``RESKIN_ALLOWED_DIRS`` for the runs when the environment does not (to
``~/reskin``, the nightly's inbox and outbox): they read and write local files only there
(docs/security.md).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from deployments.definitions import (
    DEFAULT_CRON,
    DEFAULT_INBOX,
    DEFAULT_OUTPUT_DIR,
    DEFAULT_PROMPT,
    DEFAULT_TIMEZONE,
    Nightly,
    reskin_deployments,
)
from deployments.up import with_allowed_dirs


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m deployments.serve",
        description="Serve edit-video/edit-video and edit-batch/nightly from this process.",
    )
    parser.add_argument("--cron", default=DEFAULT_CRON, help="the nightly batch's schedule")
    parser.add_argument(
        "--timezone", default=DEFAULT_TIMEZONE, help="IANA zone of the cron, e.g. Europe/Berlin"
    )
    parser.add_argument("--inbox", default=DEFAULT_INBOX, help="the folder the batch edits")
    parser.add_argument("--output-dir", default=DEFAULT_OUTPUT_DIR, help="where results go")
    parser.add_argument("--prompt", default=DEFAULT_PROMPT, help="the batch's prompt")
    parser.add_argument(
        "--paused", action="store_true", help="register the nightly schedule paused"
    )
    parser.add_argument(
        "--limit", type=int, default=None, help="at most this many runs at once (default: any)"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if not os.environ.get("PREFECT_API_URL"):
        print(
            "error: PREFECT_API_URL is not set: start a server (prefect server start) and "
            "export PREFECT_API_URL=http://127.0.0.1:4200/api, or run make up",
            file=sys.stderr,
        )
        return 1
    nightly = Nightly(
        cron=args.cron,
        timezone=args.timezone,
        inbox=args.inbox,
        output_dir=args.output_dir,
        prompt=args.prompt,
        active=not args.paused,
    )
    try:
        deployments = reskin_deployments(nightly)
    except ValueError as exc:  # a bad cron, zone or batch parameter (pydantic's errors too)
        message = " ".join(str(exc).split())
        print(f"error: bad nightly deployment: {message}", file=sys.stderr)
        return 1

    # The runs are subprocesses of this one: they inherit the folders they may touch.
    os.environ.update(with_allowed_dirs(os.environ))
    print(
        f"reskin serve: runs read and write local files only in "
        f"{os.environ['RESKIN_ALLOWED_DIRS']} (RESKIN_ALLOWED_DIRS)",
        flush=True,
    )

    from prefect import serve

    serve(*deployments, limit=args.limit)
    return 0


if __name__ == "__main__":
    sys.exit(main())
