"""One edit, Prefect-free: the request, its preparation, what is sent, and what comes back.

The tasks in ``tasks/`` wrap these functions one stage each; the CLI, the flow and the
benchmarks all go through them.
"""
