"""Prefect flows: orchestration only; the work is in the stage tasks and the reskin core."""
