"""Prefect tasks, one module per pipeline stage, each wrapping a function of the reskin core."""
