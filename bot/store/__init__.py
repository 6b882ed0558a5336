"""SQLite storage through sqlite-utils, one repository per concern, a module each: postings
(deduped by canonical URL), source health, HTTP validators, chats and subscriptions, the
delivery outbox; the schema in `migrations`.

A single statement commits by itself (sqlite-utils' `execute`); several that must land
together run in `db.atomic()`.

The schema is a list of sqlite-utils migrations applied at start-up. Every SQL statement is
parameterised. A scrape is written in short transactions, new postings a slab at a time with
their pending deliveries (a slab's postings marked in `fanout` until its last delivery is
written; `Postings._writes` orders them so that any crash point is safe), so that the event loop
runs between them.

Storage faults (disk full, read-only file, corrupt file, a lock held by another program) leave
every public method as a `StoreError` subclass (`_guarded`), so callers tell them from bugs; SQL
mistakes stay `sqlite3` errors with their traceback. Error texts are redacted (`bot.logs.redact`)
before they are stored.

Writes never wait long on the event loop: the busy timeout is short (`BUSY_TIMEOUT_MS`) rather
than the write run in a thread. Our own writes take milliseconds and the daemon is the only
writer (`bot.lock`); a lock held by another program (a sqlite3 shell, a backup) can last
minutes, and a thread would then hold a queue of writes on the one shared connection while the
loop's reads ran inside its open transaction. Failing fast is the pipeline's model for every
fault: the run is retried on its schedule, deliveries stay pending in the outbox.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

from sqlite_utils import Database

from bot.errors import StoreCorruptError, StoreError
from bot.store.base import BUSY_TIMEOUT_MS, Repository, _guarded, now_utc, store_error
from bot.store.chats import Chat, Chats, Subscription
from bot.store.feedback import REASONS, Feedback, company_key
from bot.store.health import Health, SourceHealth
from bot.store.http_cache import HttpCache
from bot.store.migrations import migrations, rekey
from bot.store.outbox import Delivery, Outbox, PendingDelivery
from bot.store.postings import IngestResult, Matcher, Postings, checkpoint

# The page cache of the daemon's connection, in KiB (SQLite's default is 2,000).
CACHE_KIB = 64 * 1024
# The size a WAL file is cut back to when it starts over (`PRAGMA journal_size_limit`).
WAL_LIMIT_BYTES = 64 * 1024 * 1024

__all__ = [
    "BUSY_TIMEOUT_MS",
    "REASONS",
    "Chat",
    "Chats",
    "Delivery",
    "Feedback",
    "Health",
    "HttpCache",
    "IngestResult",
    "Matcher",
    "Outbox",
    "PendingDelivery",
    "Postings",
    "Repository",
    "SourceHealth",
    "Store",
    "Subscription",
    "checkpoint",
    "company_key",
    "migrations",
    "now_utc",
    "open_database",
    "rekey",
    "store_error",
]


def _connect(path: Path | str) -> tuple[Database, str]:
    """The database at `path`, not yet migrated, with the path as errors name it;
    StoreCorruptError for an existing empty file, StoreError when its folder cannot be made."""
    if str(path) == ":memory:":
        return Database(memory=True), ":memory:"
    path = Path(path)
    where = str(path)
    if path.is_file() and path.stat().st_size == 0:
        raise StoreCorruptError(
            "the file is empty (0 bytes), not a jobhound database",
            path=where,
            remedy="restore a backup (or delete the empty file to start afresh)",
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create its folder: {exc.strerror}", path=where) from None
    # check_same_thread off: the daemon hands short jobs to worker threads, one at a time.
    return Database(sqlite3.connect(str(path), check_same_thread=False)), where


def open_database(path: Path | str, *, check_writable: bool = False) -> tuple[Database, str]:
    """Open (creating folders as needed) and migrate the database at `path` (":memory:" ok);
    returns it with the path as errors name it.

    Raises a `StoreError` subclass for a storage fault: `StoreCorruptError` for a damaged
    file, a file that is not SQLite, or an existing zero-byte file (SQLite would silently
    take that for a new, empty database: it is far likelier a truncated copy of the real
    one); `StoreReadOnlyError` for a file that cannot be written (with `check_writable`,
    as the daemon opens it: checked here, not at the first write); `StoreBusyError`,
    `StoreFullError` as their names say.
    """
    db, where = _connect(path)
    try:
        if where != ":memory:":
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            # Checkpoints run off the event loop: every `CHECKPOINT_ROWS` an ingest writes, and
            # on the daemon's clock (`bot.daemon.checkpoint_wal`) for every other write.
            db.execute("PRAGMA wal_autocheckpoint=0")
            # When a checkpoint lets the WAL start over, its file is cut back to this size: a
            # scrape of a thousand alerted postings grows it to about a gigabyte.
            db.execute(f"PRAGMA journal_size_limit={WAL_LIMIT_BYTES}")
            # The outbox's (chat, posting) index takes a page per chat an alert goes to: with
            # SQLite's default 2 MB of cache most inserts read their page again.
            db.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
        db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        db.execute("PRAGMA foreign_keys=ON")
        migrations.apply(db)
        if check_writable:
            # A read-only file is refused now, not at the first scrape: rewriting the
            # header's user_version (unchanged) is the smallest write there is.
            version = int(db.execute("PRAGMA user_version").fetchone()[0])
            try:
                db.execute(f"PRAGMA user_version = {version}")
            except sqlite3.OperationalError as exc:
                # Busy is no reason not to start: writes are retried run after run.
                if getattr(exc, "sqlite_errorcode", 0) & 0xFF != sqlite3.SQLITE_BUSY:
                    raise
    except sqlite3.Error as exc:
        db.close()
        error = store_error(exc, where)
        if error is None:
            raise
        raise error from None
    return db, where


@_guarded
class Store(Postings, Health, HttpCache, Chats, Outbox, Feedback):
    """Every repository over one database handle, opened once at start-up and held only by
    the wiring. A consumer is typed with the repository it uses (`Postings`, `Health`,
    `HttpCache`, `Feedback`) or, when it uses several, with a `Protocol` of its own module
    listing the methods it calls (`SenderStore`, `SubscriptionsStore`, ...), which mypy proves
    this class satisfies where the wiring passes it. `secrets` (the bot token) are redacted
    from every error text the store keeps."""

    @classmethod
    def open(
        cls, path: Path | str, *, secrets: Sequence[str] = (), check_writable: bool = False
    ) -> Store:
        """All repositories over `open_database(path)` (which says what it raises)."""
        db, where = open_database(path, check_writable=check_writable)
        return cls(db, path=where, secrets=secrets)

    @classmethod
    def open_readonly(cls, path: Path | str) -> Store:
        """A read-only handle on the existing database file at `path`, on a connection of its
        own (no migrations): for scans in a worker thread while the daemon keeps writing (WAL
        lets both proceed). Raises sqlite3.OperationalError when the file cannot be opened."""
        uri = f"{Path(path).resolve().as_uri()}?mode=ro"
        db = Database(sqlite3.connect(uri, uri=True, check_same_thread=False))
        db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        return cls(db)

    def file_path(self) -> str | None:
        """The database file's path, or None for an in-memory database."""
        for row in self.db.execute("PRAGMA database_list").fetchall():
            if row[1] == "main":
                return str(row[2]) or None
        return None

    def close(self) -> None:
        self.db.close()
