"""Deployments of the flows and their schedules (docs/deployments.md).

- ``definitions.py``: the two deployments, ``edit-video/edit-video`` and ``edit-batch/nightly``;
- ``serve.py``: ``make serve``, one process serving both;
- ``up.py``: ``make up``, a server, ``prefect.yaml`` deployed onto a ``process`` work pool, workers.
"""
