"""The trap corpus (tests/media/corpus.py) and its loopback listener, made once per session."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import pytest

from reskin.media.binaries import FFmpegTools

from .corpus import Corpus, Listener, MakeClip, build_corpus, listening


@pytest.fixture(scope="session")
def listener() -> Iterator[Listener]:
    """Records every connection: no hostile file may ever reach it."""
    with listening() as server:
        yield server


@pytest.fixture(scope="session")
def corpus(
    ffmpeg_tools: FFmpegTools,
    make_clip: MakeClip,
    listener: Listener,
    tmp_path_factory: pytest.TempPathFactory,
) -> Corpus:
    return build_corpus(ffmpeg_tools, make_clip, tmp_path_factory.mktemp("corpus"), listener)


@pytest.fixture
def no_hits(listener: Listener) -> Iterator[Listener]:
    """Fails the test if the listener was reached while it ran."""
    before = listener.seen()
    yield listener
    assert listener.seen() == before, f"a hostile input reached the network: {listener.seen()}"


@pytest.fixture
def probes(caplog: pytest.LogCaptureFixture) -> Callable[[], list[str]]:
    """``probes()``: the probes the test has run so far, as their debug lines ("probing <name>
    with PyAV"): every probe logs one, whichever backend runs it."""
    caplog.set_level(logging.DEBUG, logger="reskin.media.probe")

    def seen() -> list[str]:
        return [
            record.getMessage()
            for record in caplog.records
            if record.name == "reskin.media.probe" and record.getMessage().startswith("probing ")
        ]

    return seen
