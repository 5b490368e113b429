from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from reskin.journal import Journal, Phase, file_sha256, fingerprint


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_fingerprint_is_stable_and_sensitive_to_every_field():
    base = {"source": "abc", "prompt": "snow", "window": [0, 5], "model": "m", "audio": "restore"}
    assert fingerprint(base) == fingerprint(dict(reversed(list(base.items()))))
    for key in base:
        changed = {**base, key: "other"}
        assert fingerprint(changed) != fingerprint(base), key


def test_file_sha256_matches_content(tmp_path: Path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_bytes(b"x" * 3_000_000)
    b.write_bytes(b"x" * 2_999_999 + b"y")
    assert file_sha256(a) != file_sha256(b)
    assert file_sha256(a) == file_sha256(a)


def test_the_life_of_a_submission(tmp_path: Path):
    clock = Clock()
    journal = Journal(tmp_path / "journal.sqlite", clock=clock)
    assert journal.get("fp") is None
    assert journal.reserve("fp")
    assert not journal.reserve("fp")  # a second process asking the same is refused
    entry = journal.get("fp")
    assert entry is not None
    assert (entry.phase, entry.generation_id) == (Phase.RESERVED, None)

    clock.now += 1
    assert journal.fingerprint_of("gen-1") is None
    journal.accepted("fp", "gen-1")
    assert journal.fingerprint_of("gen-1") == "fp"
    journal.downloaded("fp", tmp_path / "r.mp4", 400)
    entry = journal.get("fp")
    assert entry is not None
    assert entry.phase is Phase.DOWNLOADED
    assert (entry.generation_id, entry.credits_used) == ("gen-1", 400)
    assert entry.result_path == str(tmp_path / "r.mp4")
    assert entry.accepted_at == clock.now


def test_entries_survive_a_new_process_and_go_stale_after_retention(tmp_path: Path):
    clock = Clock()
    path = tmp_path / "j.sqlite"
    first = Journal(path, clock=clock)
    first.reserve("fp")
    first.accepted("fp", "gen-1")
    again = Journal(path, clock=clock)
    entry = again.get("fp")
    assert entry is not None
    assert entry.generation_id == "gen-1"
    assert not again.is_stale(entry, retention_s=24 * 3600)
    clock.now += 24 * 3600 + 1
    assert again.is_stale(entry, retention_s=24 * 3600)


def test_release_only_drops_reservations_and_replace_forces(tmp_path: Path):
    journal = Journal(tmp_path / "j.sqlite")
    journal.reserve("a")
    journal.release("a")
    assert journal.get("a") is None
    journal.reserve("b")
    journal.accepted("b", "gen-b")
    journal.release("b")  # an accepted job is never forgotten by accident
    assert journal.get("b") is not None
    assert journal.reserve("b", replace=True)
    entry = journal.get("b")
    assert entry is not None
    assert (entry.phase, entry.generation_id) == (Phase.RESERVED, None)


def test_updating_an_unknown_submission_is_an_error(tmp_path: Path):
    with pytest.raises(KeyError):
        Journal(tmp_path / "j.sqlite").accepted("missing", "gen")


def _reserve(path: str, results: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    results.put(Journal(Path(path)).reserve("same"))


def test_only_one_of_many_processes_wins_a_reservation(tmp_path: Path):
    path = str(tmp_path / "j.sqlite")
    Journal(Path(path))
    ctx = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue = ctx.Queue()  # type: ignore[type-arg]
    workers = [ctx.Process(target=_reserve, args=(path, results)) for _ in range(6)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    wins = [results.get(timeout=10) for _ in workers]
    assert wins.count(True) == 1
    assert all(w.exitcode == 0 for w in workers)
