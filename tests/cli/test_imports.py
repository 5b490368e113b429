"""``reskin/cli/imports.py``: heavy imports without the collector, their objects frozen after."""

from __future__ import annotations

import gc

import pytest

from reskin.cli.imports import uncollected


@pytest.mark.parametrize("was_on", [True, False])
def test_the_block_runs_uncollected_then_what_it_made_is_frozen(was_on: bool) -> None:
    was = gc.isenabled()
    (gc.enable if was_on else gc.disable)()
    try:
        before = gc.get_freeze_count()
        with uncollected():
            assert not gc.isenabled()
            made: list[list[int]] = [[] for _ in range(1000)]
        assert gc.get_freeze_count() >= before + len(made)
        assert gc.isenabled() is was_on  # a process whose collector is a thread keeps it off
    finally:
        (gc.enable if was else gc.disable)()


def test_an_error_in_the_block_still_restores_the_collector() -> None:
    assert gc.isenabled()
    with pytest.raises(ImportError), uncollected():
        raise ImportError("no such module")
    assert gc.isenabled()
