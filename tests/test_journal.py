"""The submission journal, the same behaviour on SQLite (one machine) and on a real PostgreSQL
(several machines; a cluster the session starts, a database of each test's own)."""

from __future__ import annotations

import contextlib
import errno
import logging
import shutil
import socket
import sqlite3
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import create_engine, text

from reskin.edit.services import journal_of
from reskin.errors import ConfigError, DiskFullError, JournalError
from reskin.journal import Journal, Phase, file_sha256, fingerprint
from reskin.journal.schema import SCHEMA_VERSION
from reskin.settings import Settings, load_settings
from tests.prefect_server import free_port

if TYPE_CHECKING:  # imported by pytest as a plugin (below), so that it is rewritten
    from tests.postgres import Cluster

#: The fixtures ``postgres_cluster`` (one per session) and ``postgres_url`` (a database per test).
pytest_plugins = ("tests.postgres",)

OpenJournal = Callable[..., Journal]


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["sqlite", "postgresql"])
def where(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    """Where the test's journal lives: a SQLite file, or the URL of a PostgreSQL database."""
    if request.param == "sqlite":
        return tmp_path / "journal.sqlite3"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def open_journal(where: Path | str) -> Iterator[OpenJournal]:
    """``open_journal(clock=...)``: a :class:`Journal` at :func:`where` (each call a new one on
    the same database, as another process would open it), closed at the test's end."""
    opened: list[Journal] = []

    def open_(**kwargs: object) -> Journal:
        journal = Journal(where, **kwargs)  # type: ignore[arg-type]
        opened.append(journal)
        return journal

    yield open_
    for journal in opened:
        journal.close()


def sql(where: Path | str, statement: str, **params: object) -> list[tuple[object, ...]]:
    """Run ``statement`` on the journal's database outside reskin; its rows."""
    url = (
        f"sqlite:///{where}"
        if isinstance(where, Path)
        else where.replace("postgresql://", "postgresql+psycopg://")
    )
    engine = create_engine(url)
    try:
        with engine.begin() as db:
            result = db.execute(text(statement), params)
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        engine.dispose()


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


def test_the_life_of_a_submission(open_journal: OpenJournal, tmp_path: Path):
    clock = Clock()
    journal = open_journal(clock=clock)
    assert journal.get("fp") is None
    assert journal.reserve("fp")
    assert not journal.reserve("fp")  # a second process asking the same is refused
    entry = journal.get("fp")
    assert entry is not None
    assert (entry.phase, entry.generation_id) == (Phase.RESERVED, None)
    assert entry.holder == f"{socket.gethostname()} pid {__import__('os').getpid()}"

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
    journal.lost("fp", "the service answered 404")
    entry = journal.get("fp")
    assert entry is not None
    assert (entry.phase, entry.error) == (Phase.LOST, "the service answered 404")
    journal.done("fp")
    assert journal.get("fp").phase is Phase.DONE  # type: ignore[union-attr]


def test_entries_survive_a_new_process_and_go_stale_after_retention(open_journal: OpenJournal):
    clock = Clock()
    first = open_journal(clock=clock)
    first.reserve("fp")
    first.accepted("fp", "gen-1")
    first.close()
    again = open_journal(clock=clock)
    entry = again.get("fp")
    assert entry is not None
    assert entry.generation_id == "gen-1"
    assert not again.is_stale(entry, retention_s=24 * 3600)
    clock.now += 24 * 3600 + 1
    assert again.is_stale(entry, retention_s=24 * 3600)


def test_release_only_drops_reservations_and_replace_forces(open_journal: OpenJournal):
    journal = open_journal()
    journal.reserve("a")
    journal.release("a")
    assert journal.get("a") is None
    journal.reserve("b")
    journal.accepted("b", "gen-b")
    journal.release("b")  # an accepted job is never forgotten by accident
    assert journal.get("b") is not None
    seen = journal.get("b")
    assert seen is not None
    assert journal.reserve("b", replacing=seen)
    entry = journal.get("b")
    assert entry is not None
    assert (entry.phase, entry.generation_id) == (Phase.RESERVED, None)


def test_an_entry_is_replaced_only_if_it_is_still_the_one_seen(open_journal: OpenJournal):
    # Two runs see the same old entry; the first replaces it; the second, still holding what
    # it saw, must not replace the first one's fresh reservation (that would pay twice).
    clock = Clock()
    journal = open_journal(clock=clock)
    journal.reserve("fp")
    journal.accepted("fp", "gen-old")
    seen = journal.get("fp")
    assert seen is not None
    clock.now += 1
    assert journal.reserve("fp", replacing=seen)
    assert not journal.reserve("fp", replacing=seen)
    entry = journal.get("fp")
    assert entry is not None
    assert entry.phase is Phase.RESERVED


def test_updating_an_unknown_submission_is_an_error(open_journal: OpenJournal):
    with pytest.raises(KeyError):
        open_journal().accepted("missing", "gen")


def test_only_one_of_many_racers_wins_a_reservation(where: Path | str):
    Journal(where).close()  # the schema is made; the racers race on the reservation only
    # Threads, each with a Journal (an engine, connections, sessions) of its own: what makes a
    # reservation atomic is the database, and the database cannot tell these connections from
    # other processes'. (Forked processes die in an xdist worker that runs threads.)
    count = 8
    start = threading.Barrier(count)
    wins: list[bool] = []

    def race() -> None:
        with Journal(where) as journal:
            start.wait(timeout=60)
            wins.append(journal.reserve("same"))

    racers = [threading.Thread(target=race) for _ in range(count)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join(timeout=90)
    assert len(wins) == count
    assert wins.count(True) == 1
    assert len(sql(where, "SELECT holder FROM submissions")) == 1


#: The table as reskin made it before the journal had a version (schema version 1).
VERSION_1 = """
CREATE TABLE IF NOT EXISTS submissions (
    fingerprint   TEXT PRIMARY KEY,
    state         TEXT NOT NULL,
    generation_id TEXT,
    reserved_at   REAL NOT NULL,
    accepted_at   REAL,
    updated_at    REAL NOT NULL,
    result_path   TEXT,
    credits_used  REAL,
    error         TEXT
)
"""


def test_a_journal_of_schema_version_1_is_migrated_and_keeps_its_entries(tmp_path: Path):
    path = tmp_path / "journal.sqlite3"
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(VERSION_1)
        db.execute(
            "INSERT INTO submissions (fingerprint, state, generation_id, reserved_at,"
            " accepted_at, updated_at) VALUES ('old', 'accepted', 'gen-old', 10, 11, 11)"
        )
    with Journal(path) as journal:
        entry = journal.get("old")
        assert entry is not None
        assert (entry.phase, entry.generation_id, entry.accepted_at) == (
            Phase.ACCEPTED,
            "gen-old",
            11,
        )
        assert entry.holder is None  # reserved before holders were journaled
        assert journal.fingerprint_of("gen-old") == "old"
        assert not journal.reserve("old")
        assert journal.reserve("new")
        assert journal.get("new").holder is not None  # type: ignore[union-attr]
    assert sql(path, "SELECT version FROM journal_version") == [(SCHEMA_VERSION,)]
    with Journal(path) as again:  # opening a current journal changes nothing
        assert again.get("old") is not None
    assert sql(path, "SELECT version FROM journal_version") == [(SCHEMA_VERSION,)]
    assert sql(path, "PRAGMA journal_mode") == [("wal",)]


def test_a_journal_newer_than_this_code_is_refused_in_one_line(where: Path | str):
    Journal(where).close()
    sql(where, "UPDATE journal_version SET version = :newer", newer=SCHEMA_VERSION + 1)
    with pytest.raises(JournalError) as caught:
        Journal(where)
    message = str(caught.value)
    assert f"schema version {SCHEMA_VERSION + 1}" in message
    assert "upgrade reskin" in message
    assert "\n" not in message


def test_an_unreachable_database_is_a_journal_error_naming_the_setting():
    url = f"postgresql://reskin:not-this-one-42@127.0.0.1:{free_port()}/journal"
    with pytest.raises(JournalError) as caught:
        Journal(url)
    message = str(caught.value)
    assert "\n" not in message
    assert "RESKIN_JOURNAL_URL" in message
    assert "cannot be reached" in message
    assert f"postgresql://reskin:***@127.0.0.1:{url.rsplit(':', 1)[1]}" in message
    assert "not-this-one-42" not in message


def test_the_password_is_never_shown(
    postgres_cluster: Cluster, postgres_url: str, caplog: pytest.LogCaptureFixture, tmp_path: Path
):
    password = postgres_cluster.password
    caplog.set_level(logging.DEBUG)
    settings = Settings(_env_file=None, journal_url=postgres_url, work_dir=tmp_path)
    assert password not in repr(settings)
    assert password not in str(settings)
    with journal_of(settings) as journal:  # the URL of the settings: PostgreSQL, not SQLite
        assert journal.reserve("fp")
        assert password not in repr(journal)
        assert "***" in journal.shown
    assert not (tmp_path / "journal.sqlite3").exists()

    refused = postgres_url.replace(password, "wrong-" + password)
    with pytest.raises(JournalError) as caught:
        Journal(refused)
    assert "password authentication failed" in str(caught.value)
    with pytest.raises(ConfigError) as bad:
        load_settings(journal_url=postgres_url.replace("postgresql://", "mysql://"))
    for shown in (str(caught.value), repr(caught.value), str(bad.value), caplog.text):
        assert password not in shown
    assert postgres_url.replace(password, "***") in caplog.text  # the logs name it, masked


def test_without_a_url_the_journal_is_sqlite_in_the_work_folder(tmp_path: Path):
    with journal_of(Settings(_env_file=None, work_dir=tmp_path / "work")) as journal:
        assert journal.reserve("fp")
    assert (tmp_path / "work" / "journal.sqlite3").exists()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MB tmpfs (needs root, as CI runs); unmounted at the end."""
    folder = tmp_path / "small"
    folder.mkdir()
    mounted = subprocess.run(
        [
            shutil.which("mount") or "/bin/mount",
            "-t",
            "tmpfs",
            "-o",
            "size=1m",
            "tmpfs",
            str(folder),
        ],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run([shutil.which("umount") or "/bin/umount", "-l", str(folder)], check=False)


def fill(folder: Path) -> None:
    """Write into ``folder`` until its disk is full."""
    with (folder / "filler").open("wb", buffering=0) as handle:
        try:
            while handle.write(b"\0" * 4096):
                pass
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise


def test_a_full_disk_under_sqlite_is_a_disk_full_error_naming_the_folder(small_disk: Path):
    journal = Journal(small_disk / "journal.sqlite3")
    try:
        fill(small_disk)
        with pytest.raises(DiskFullError) as caught:  # noqa: PT012 (bounded loop until full)
            for n in range(10_000):
                journal.reserve(f"{n:064d}")
    finally:
        journal.close()
    assert caught.value.folder == small_disk
    assert caught.value.needed_bytes
    message = str(caught.value)
    assert f"free some space in {small_disk}" in message
    assert "\n" not in message


def test_touch_marks_a_reservation_as_still_being_sent(open_journal: OpenJournal):
    clock = Clock()
    journal = open_journal(clock=clock)
    journal.reserve("fp")
    clock.now += 7
    journal.touch("fp")
    entry = journal.get("fp")
    assert entry is not None
    assert (entry.phase, entry.reserved_at, entry.updated_at) == (
        Phase.RESERVED,
        clock.now - 7,
        clock.now,
    )
