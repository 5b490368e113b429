"""The ``reskin`` command line: the one part of ``reskin`` that runs Prefect flows.

``launch.py`` is the entry point (``reskin edit`` in a warm copy of the fork server when one
runs, ``forkserver.py``), ``app.py`` holds the typer app and its small commands, ``edit.py``
``reskin edit``, ``server.py`` ``reskin server`` (a Prefect server and the reskin runner in the
background), ``runner.py`` the runner (edits as flow runs in one long-lived process),
``remote.py`` ``reskin edit``'s client of it, ``demo.py`` the offline demo, ``console.py``
what the command prints and how Prefect's lines reach the terminal, ``progress.py`` the
progress display of a run. The core (the rest of ``reskin``) never imports this package,
``prefect``, ``flows``, ``tasks`` or ``deployments``: the import contracts in
``pyproject.toml`` say so, ``make lint`` checks them.

Importing this package imports nothing heavy: the entry point decides first whether a fork
server runs the command (reskin/cli/launch.py).
"""

from reskin.cli.launch import main

__all__ = ["main"]
