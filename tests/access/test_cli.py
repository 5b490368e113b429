"""``reskin edit`` of a URL on a loopback listener, with the default settings: refused in one
line, in seconds, with no request reaching the listener and nothing paid (issue 18)."""

from __future__ import annotations

import time
from pathlib import Path

from reskin.standin.server import StandIn
from tests.access.conftest import Counting
from tests.cli.test_edit import assert_one_error_line
from tests.conftest import RunReskin


def test_reskin_edit_of_a_loopback_url_is_refused_with_no_request_and_nothing_paid(
    run_reskin: RunReskin, listener: Counting, standin: StandIn, tmp_path: Path
) -> None:
    url = listener.url("/served.mp4")
    output = tmp_path / "out" / "served.mp4"
    creates = standin.stats().create_calls
    started = time.monotonic()
    done = run_reskin(
        "edit",
        url,
        "--prompt",
        "sepia film",
        "--output",
        str(output),
        # The default settings: the suite's loopback allowance (tests/conftest.py) removed.
        env={"RESKIN_ALLOW_HTTP": None, "RESKIN_ALLOWED_HOSTS": None},
    )
    took = time.monotonic() - started
    line = assert_one_error_line(done)
    assert line.startswith(f"error: input {url} is refused: plain http:// is off"), line
    assert "RESKIN_ALLOW_HTTP=true" in line
    assert listener.hits() == 0
    assert standin.stats().create_calls == creates
    assert not output.exists()
    print(f"refused in {took:.1f} s")  # reported, not asserted (docs/bench.md holds timings)
