"""Prefect's telemetry in reskin's processes: off unless the user opted in (issue 17)."""

from __future__ import annotations

from reskin.cli.console import quiet_prefect


def test_telemetry_is_off_unless_asked_for():
    environ: dict[str, str] = {}
    quiet_prefect(environ)
    assert environ == {"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"}


def test_a_user_who_opted_in_keeps_their_choice():
    environ = {"PREFECT_SERVER_ANALYTICS_ENABLED": "true"}
    quiet_prefect(environ)
    assert environ == {"PREFECT_SERVER_ANALYTICS_ENABLED": "true"}


def test_a_user_who_opted_out_is_kept_out_of_the_notice_too():
    environ = {"PREFECT_SERVER_ANALYTICS_ENABLED": "False"}
    quiet_prefect(environ)
    assert environ == {"PREFECT_SERVER_ANALYTICS_ENABLED": "False", "DO_NOT_TRACK": "1"}
