"""Storage faults are one line each (issue 9, item 9): disk full, read-only file, corrupt or
zero-byte database, a lock held by another program. Each says what and what happens next, never
a traceback; a zero-byte file is not taken for an empty database.

Tests run as root, so file modes cannot make a file read-only: the faults are simulated the way
SQLite reports them (`PRAGMA query_only` gives SQLITE_READONLY, `PRAGMA max_page_count` gives
SQLITE_FULL, another connection's `BEGIN IMMEDIATE` gives SQLITE_BUSY).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.cli import main
from bot.errors import (
    StoreBusyError,
    StoreCorruptError,
    StoreError,
    StoreFullError,
    StoreReadOnlyError,
)
from bot.logs import setup_logging
from bot.models import Posting
from bot.pipeline import Pipeline
from bot.schedule import parse_schedule
from bot.settings import SourceSettings
from bot.sources.base import SourceContext
from bot.sources.registry import KINDS
from bot.store import BUSY_TIMEOUT_MS, Store
from tests.conftest import ROOT
from tests.fetchkit import within
from tests.test_daemon import CONFIG

SEEDS = SourceSettings(
    name="seeds", kind="markdown", url=str(ROOT / "seeds"), schedule=parse_schedule("1h")
)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "data" / "jobhound.db"


@pytest.fixture
def config(tmp_path: Path, db: Path) -> Path:
    path = tmp_path / "jobhound.toml"
    path.write_text(CONFIG.format(db=db, seeds=ROOT / "seeds"))
    return path


@pytest.fixture
def store(db: Path) -> Iterator[Store]:
    store = Store.open(db)
    yield store
    store.close()


def pipeline(store: Store) -> Pipeline:
    context = SourceContext(known_urls=store.known_urls)
    return Pipeline(postings=store, health=store, context=context, kinds=KINDS)


def one_warning(caplog: pytest.LogCaptureFixture) -> str:
    """The one log line a fault may cost: a WARNING, without a traceback."""
    assert all(r.exc_info is None for r in caplog.records)
    assert all(r.levelno <= logging.WARNING for r in caplog.records)
    (line,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "\n" not in line
    return line


def test_a_zero_byte_database_is_refused_not_taken_for_an_empty_one(db: Path) -> None:
    db.parent.mkdir(parents=True)
    db.touch()
    with pytest.raises(StoreCorruptError) as refused:
        Store.open(db)
    assert (
        str(refused.value) == f"database {db}: the file is empty (0 bytes), not a jobhound database"
    )
    assert refused.value.remedy.startswith("restore a backup")
    assert db.stat().st_size == 0  # nothing was written into it


def test_a_new_path_is_created(db: Path) -> None:
    Store.open(db).close()
    assert db.stat().st_size > 0
    Store.open(db).close()


@pytest.mark.parametrize("command", ["once", "latest"])
def test_a_zero_byte_database_stops_the_command_with_one_line_and_status_2(
    config: Path, db: Path, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    db.parent.mkdir(parents=True)
    db.touch()
    assert main([command, "--config", str(config)]) == 2
    out, err = capsys.readouterr()
    (line,) = err.strip().splitlines()
    assert f"database {db}: the file is empty (0 bytes)" in line
    assert "restore a backup" in line
    assert line.endswith("Exiting with status 2")
    assert out == ""


def test_a_file_that_is_not_a_database_stops_start_up_with_one_line(
    config: Path, db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db.parent.mkdir(parents=True)
    db.write_bytes(b"<html>not a database</html>\n" * 400)
    assert main(["once", "--config", str(config)]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "the file is not a SQLite database (SQLITE_NOTADB" in line
    assert "restore a backup. Exiting with status 2" in line


def test_a_damaged_schema_stops_start_up_with_one_line(
    config: Path, db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    Store.open(db).close()
    size = db.stat().st_size
    with db.open("r+b") as file:  # every page after the first (the schema's b-trees) overwritten
        file.seek(4096)
        file.write(b"\xa5" * (size - 4096))
    assert main(["once", "--config", str(config)]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "the file is damaged (SQLITE_CORRUPT: database disk image is malformed)" in line
    assert "restore a backup. Exiting with status 2" in line


async def test_a_damaged_table_costs_each_run_one_line_saying_restore_a_backup(
    db: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = Store.open(db)
    roots = [
        row[0]
        for row in store.db.execute(
            "SELECT rootpage FROM sqlite_master WHERE tbl_name = 'postings' AND rootpage > 0"
        )
    ]
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    with db.open("r+b") as file:  # the postings table and its indexes overwritten
        for root in roots:
            file.seek((root - 1) * 4096)
            file.write(b"\xa5" * 4096)
    store = Store.open(db)  # the schema and the migrations table still read
    try:
        caplog.set_level(logging.INFO)
        outcomes = [await within(pipeline(store).run(SEEDS)) for _ in range(2)]
    finally:
        store.close()
    assert not any(outcome.ok for outcome in outcomes)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert warnings[0] == warnings[1]
    assert all(r.exc_info is None for r in caplog.records)
    assert warnings[0].startswith(f"seeds: not stored: database {db}: the file is damaged")
    assert warnings[0].endswith("restore a backup. Retrying on its next run")


def test_a_read_only_database_stops_start_up_with_one_line(
    config: Path, db: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    Store.open(db).close()
    connect = sqlite3.connect

    def read_only(path: str, **kwargs: object) -> sqlite3.Connection:
        # As root, chmod cannot make the file read-only: open it as SQLite does then.
        return connect(f"file:{path}?mode=ro", uri=True, **kwargs)  # type: ignore[arg-type,call-overload]

    monkeypatch.setattr(sqlite3, "connect", read_only)
    assert main(["once", "--config", str(config)]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert f"database {db}: the file cannot be written (SQLITE_READONLY" in line
    assert line.endswith("make the file and its folder writable. Exiting with status 2")


async def test_a_database_turned_read_only_costs_the_run_one_warning(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    store.db.execute("PRAGMA query_only = ON")
    caplog.set_level(logging.INFO)
    outcome = await within(pipeline(store).run(SEEDS))
    assert not outcome.ok
    assert store.count_postings() == 0
    line = one_warning(caplog)
    assert "the file cannot be written (SQLITE_READONLY: attempt to write a readonly" in line
    assert line.endswith("make the file and its folder writable. Retrying on its next run")


async def test_a_full_disk_costs_the_run_one_warning_and_the_next_run_stores(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    """Regression: a full disk logged a traceback per cycle, as if a parser had a bug."""
    pages = store.db.execute("PRAGMA page_count").fetchone()[0]
    store.db.execute(f"PRAGMA max_page_count = {pages}")
    caplog.set_level(logging.INFO)
    outcome = await within(pipeline(store).run(SEEDS))
    assert not outcome.ok
    assert store.count_postings() == 0
    line = one_warning(caplog)
    assert "the disk (or the database's size limit) is full (SQLITE_FULL" in line
    assert line.endswith("free disk space. Retrying on its next run")

    store.db.execute(f"PRAGMA max_page_count = {pages * 100}")  # space freed
    assert (await within(pipeline(store).run(SEEDS))).ok
    assert store.count_postings() == 5


async def test_a_write_lock_held_by_another_program_fails_fast_then_the_next_run_stores(
    store: Store, db: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A write waits on the event loop for at most the busy timeout, then gives up.
    assert store.db.execute("PRAGMA busy_timeout").fetchone()[0] == BUSY_TIMEOUT_MS <= 100
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # e.g. a sqlite3 shell in the middle of an UPDATE
    caplog.set_level(logging.INFO)
    try:
        outcome = await within(pipeline(store).run(SEEDS))
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert not outcome.ok
    line = one_warning(caplog)
    assert "locked by another program (SQLITE_BUSY: database is locked)" in line
    assert line.endswith("close the program holding it. Retrying on its next run")
    assert (await within(pipeline(store).run(SEEDS))).ok
    assert store.count_postings() == 5


def test_a_write_lock_held_by_another_program_does_not_stop_start_up(db: Path) -> None:
    Store.open(db).close()
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        store = Store.open(db, check_writable=True)  # what the daemon does
    finally:
        other.execute("ROLLBACK")
        other.close()
    store.record_success("seeds", count=0, new=0)  # and it writes once the lock is gone
    store.close()


def test_reads_and_writes_raise_store_errors_by_kind(store: Store) -> None:
    store.db.execute("PRAGMA query_only = ON")
    with pytest.raises(StoreReadOnlyError):
        store.record_success("seeds", count=1, new=0)
    store.db.execute("PRAGMA query_only = OFF")
    pages = store.db.execute("PRAGMA page_count").fetchone()[0]
    store.db.execute(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(StoreFullError):
        store.ingest("seeds", [Posting(url="https://x/1", title="Job", description="x" * 10**6)])
    assert store.count_postings() == 0
    assert issubclass(StoreBusyError, StoreError)


def test_a_bug_in_sql_is_not_a_storage_fault(store: Store) -> None:
    # A mistake of ours keeps its sqlite3 class (and traceback): it is not the disk's fault.
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        store._in("SELECT x FROM nowhere WHERE x IN ({marks})", [], [1])


def test_a_store_error_logged_with_a_traceback_anywhere_is_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # python-telegram-bot's error hook logs a command's StoreError with exc_info.
    setup_logging(logging.INFO)
    try:
        raise StoreFullError("the disk is full (SQLITE_FULL)", path="data/j.db")
    except StoreError:
        logging.getLogger("bot.telegram.app").exception("a command handler crashed")
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "WARNING" in line
    assert line.endswith(
        "a command handler crashed (StoreFullError: database data/j.db: the disk is full "
        "(SQLITE_FULL))"
    )


async def test_the_daemon_checkpoints_the_wal_on_its_clock(tmp_path: Path) -> None:
    """Regression: the connection never checkpoints by itself and an ingest did only after
    25,000 rows, so small writes (sent marks, health, validators) grew the WAL for as long as
    the daemon ran."""
    from bot.daemon import checkpoint_wal
    from bot.store import WAL_LIMIT_BYTES

    path = tmp_path / "jobhound.db"
    store = Store.open(path)
    try:
        assert store.db.execute("PRAGMA journal_size_limit").fetchone()[0] == WAL_LIMIT_BYTES
        for n in range(300):  # one small transaction each, as the daemon's writers make them
            store.record_success(f"source-{n}", count=n, new=0)
        wal = path.with_name(path.name + "-wal")
        before = path.stat().st_size
        assert wal.stat().st_size > 100_000  # all of it in the WAL so far
        stop = asyncio.Event()
        task = asyncio.create_task(checkpoint_wal(str(path), stop, interval=0.01))

        async def copied_back() -> None:  # the pages reach the database file
            while path.stat().st_size == before:  # noqa: ASYNC110 - a file, nothing to await
                await asyncio.sleep(0.01)

        await within(copied_back())
        stop.set()
        await within(task)
        store.record_success("after", count=1, new=0)  # the WAL starts over from its start
        with sqlite3.connect(path) as other:
            busy, frames, copied = other.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        assert busy == 0
        assert frames < 10  # the one write since, not the 300 before
        assert copied == frames
    finally:
        store.close()
