"""SQLite storage through sqlite-utils: postings (deduped by canonical URL), source health,
HTTP validators, chats, subscriptions and the delivery outbox.

A single statement commits by itself (sqlite-utils' `execute`); several that must land
together run in `db.atomic()`.

The schema is a list of sqlite-utils migrations applied at start-up. Every SQL statement is
parameterised. One write transaction per scrape: postings and their pending deliveries land
together or not at all.

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

import asyncio
import functools
import inspect
import json
import logging
import sqlite3
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlite_utils import Database, Migrations

from bot.errors import (
    StoreBusyError,
    StoreCorruptError,
    StoreError,
    StoreFullError,
    StoreReadOnlyError,
)
from bot.logs import redact
from bot.models import URL_IDENTITY, Identity, Posting, StoredPosting, canonical_url

log = logging.getLogger(__name__)

# How long a write waits for a lock another program holds, blocking the event loop meanwhile.
BUSY_TIMEOUT_MS = 100
# SQLite's default limit on host parameters is 999 on old builds; stay well under it.
_CHUNK = 500
# Outbox rows written between two turns of the event loop during `ingest_async` (~10 ms).
_DELIVERY_CHUNK = 5000

migrations = Migrations("jobhound")
_POSTING_NAMES = (
    *("id", "url", "source", "title", "company", "location", "remote", "tags", "posted_at"),
    *("salary", "description", "apply_url", "first_seen", "last_seen"),
)
_POSTING_COLUMNS = ", ".join(_POSTING_NAMES)


@migrations()
def m001_postings(db: Database) -> None:
    db.table("postings").create(
        {
            "id": str,
            "url": str,
            "source": str,
            "title": str,
            "company": str,
            "location": str,
            "remote": int,
            "tags": str,
            "posted_at": str,
            "salary": str,
            "description": str,
            "apply_url": str,
            "first_seen": str,
            "last_seen": str,
        },
        pk="id",
        not_null={"url", "source", "title", "first_seen", "last_seen"},
    )
    db.table("postings").create_index(["first_seen"])
    db.table("postings").create_index(["source", "last_seen"])
    db.table("sources").create(
        {
            "name": str,
            "baseline_at": str,
            "last_run_at": str,
            "last_success_at": str,
            "last_error": str,
            "last_error_at": str,
            "consecutive_failures": int,
            "last_count": int,
            "last_new": int,
        },
        pk="name",
        defaults={"consecutive_failures": 0},
    )
    db.table("http_cache").create(
        {"url": str, "etag": str, "last_modified": str, "updated_at": str}, pk="url"
    )


@migrations()
def m002_chats_and_outbox(db: Database) -> None:
    db.table("chats").create(
        {
            "id": int,
            "type": str,
            "title": str,
            "active": int,
            "paused": int,
            "created_at": str,
            "updated_at": str,
        },
        pk="id",
        defaults={"active": 1, "paused": 0},
    )
    db.table("subscriptions").create(
        {"id": int, "chat_id": int, "query": str, "created_at": str},
        pk="id",
        foreign_keys=[("chat_id", "chats", "id")],
    )
    db.table("subscriptions").create_index(["chat_id"])
    db.table("deliveries").create(
        {
            "id": int,
            "chat_id": int,
            "posting_id": str,
            "subscription_ids": str,
            "terms": str,
            "status": str,
            "created_at": str,
            "attempts": int,
            "next_attempt_at": str,
            "sent_at": str,
            "last_error": str,
            # Alerts this chat did not get this cycle because of the per-cycle cap.
            "overflow": int,
        },
        pk="id",
        defaults={"status": "pending", "attempts": 0, "overflow": 0},
        foreign_keys=[("posting_id", "postings", "id")],
    )
    # The outbox's guarantee: one delivery per (chat, posting), whatever retries happen.
    db.table("deliveries").create_index(["chat_id", "posting_id"], unique=True)
    db.table("deliveries").create_index(["status", "next_attempt_at"])


@migrations()
def m003_canonical_ids(db: Database) -> None:
    """Ids recomputed with today's canonical URL (RFC 3986 normalisation, session ids removed);
    rows that now name one posting are merged. `sources.identity` records the identity rules
    each source's ids were made with, so a changed `url_ignore`/`id_pattern` re-keys too."""
    db.table("sources").add_column("identity", str)
    rows = db.execute("SELECT rowid, id, url, first_seen, last_seen FROM postings").fetchall()
    rekey(db, rows, URL_IDENTITY)


@migrations()
def m004_compact_outbox(db: Database) -> None:
    """One plain row per delivery: the JSON lists of subscription ids and matched terms give
    way to the one subscription (the chat's lowest-numbered match) that caused it; the matched
    terms are computed when the message is built. Rows keep their id and status, so pending
    ones are delivered exactly once."""
    db.table("deliveries").add_column("subscription_id", int)
    db.execute(
        "UPDATE deliveries SET subscription_id = json_extract(subscription_ids, '$[0]') "
        "WHERE json_valid(subscription_ids)"
    )
    db.table("deliveries").transform(drop={"subscription_ids", "terms"})


# A (chat, posting) alert kept when merged postings both had one: the one the chat got.
_STATUS_RANK = {"sent": 0, "capped": 1, "pending": 2}


def rekey(db: Database, rows: Sequence[Sequence[Any]], identity: Identity) -> int:
    """Give `rows` (rowid, id, url, first_seen, last_seen) of postings the id `identity` gives
    their URL, merging rows that now share an id (with each other or with a stored row): the
    earliest `first_seen` is kept with the latest `last_seen`, and each chat keeps one delivery
    (the sent one if any). Runs in the caller's transaction; alerts nobody. Returns the number
    of rows merged away."""
    groups: dict[str, list[tuple[Any, ...]]] = {}
    for rowid, old_id, url, first_seen, last_seen in rows:
        new_id = identity.posting_id(url)
        groups.setdefault(new_id, []).append((first_seen, rowid, old_id, last_seen, url))
    members = {row[1] for rows_ in groups.values() for row in rows_}
    # Stored rows outside `rows` that already hold one of the new ids join their group.
    for new_id in [g for g, rs in groups.items() if any(r[2] != g for r in rs)]:
        held = db.execute(
            "SELECT first_seen, rowid, id, last_seen, url FROM postings WHERE id = ?", [new_id]
        ).fetchone()
        if held is not None and held[1] not in members:
            groups[new_id].append(tuple(held))
    changed = {g: sorted(rs) for g, rs in groups.items() if len(rs) > 1 or rs[0][2] != g}
    if not changed:
        return 0
    # Parent keys change under their deliveries: foreign keys are checked at commit.
    db.execute("PRAGMA defer_foreign_keys = ON")
    merged = 0
    for new_id, group in changed.items():
        survivor, losers = group[0], group[1:]
        old_ids = [row[2] for row in group]
        _merge_deliveries(db, old_ids, new_id)
        for loser in losers:
            db.execute("DELETE FROM postings WHERE rowid = ?", [loser[1]])
        merged += len(losers)
        # A temporary id first: the new id may still be held by a row of another group.
        db.execute(
            "UPDATE postings SET id = ?, url = ?, last_seen = ? WHERE rowid = ?",
            [
                f"rekey {new_id}",
                canonical_url(survivor[4]),
                max(row[3] for row in group),
                survivor[1],
            ],
        )
    db.execute("UPDATE postings SET id = substr(id, 7) WHERE id LIKE 'rekey %'")
    return merged


def _merge_deliveries(db: Database, old_ids: Sequence[str], new_id: str) -> None:
    marks = ",".join("?" * len(old_ids))
    rows = db.execute(
        f"SELECT id, chat_id, status FROM deliveries WHERE posting_id IN ({marks})",  # noqa: S608
        list(old_ids),
    ).fetchall()
    keep: dict[int, tuple[int, int]] = {}
    for delivery_id, chat_id, status in rows:
        rank = (_STATUS_RANK.get(status, 3), delivery_id)
        if chat_id not in keep or rank < keep[chat_id]:
            keep[chat_id] = rank
    kept = {rank[1] for rank in keep.values()}
    for delivery_id, _, _ in rows:
        if delivery_id not in kept:
            db.execute("DELETE FROM deliveries WHERE id = ?", [delivery_id])
    for delivery_id in kept:
        db.execute("UPDATE deliveries SET posting_id = ? WHERE id = ?", [new_id, delivery_id])


def now_utc() -> datetime:
    """The current time, aware and in UTC (the store's only clock, injectable by argument)."""
    return datetime.now(UTC)


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat(timespec="seconds") if moment else None


def _from_iso(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass(frozen=True)
class SourceHealth:
    """What the store knows about one source's recent runs."""

    name: str
    baseline_at: datetime | None
    last_run_at: datetime | None
    last_success_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    consecutive_failures: int
    last_count: int | None
    last_new: int | None


@dataclass(frozen=True)
class PendingDelivery:
    """One (chat, posting) alert to send, as written by matching."""

    chat_id: int
    posting_id: str
    # The chat's lowest-numbered subscription that matched (None: queued by hand).
    subscription_id: int | None = None
    # How many more alerts for this chat the per-cycle cap held back (said after this one).
    overflow: int = 0
    # Held back by the cap: recorded (so never sent later) but not pending.
    capped: bool = False


@dataclass(frozen=True)
class IngestResult:
    """What storing one scrape changed."""

    source: str
    seen: int
    new: tuple[StoredPosting, ...]
    baseline: bool
    # Rows written to the outbox (pending, and those the per-cycle cap held back).
    deliveries: int = 0


@dataclass(frozen=True)
class Chat:
    """A Telegram chat the bot serves."""

    id: int
    type: str
    title: str
    active: bool
    paused: bool


@dataclass(frozen=True)
class Subscription:
    """One saved query of one chat."""

    id: int
    chat_id: int
    query: str
    created_at: datetime


@dataclass(frozen=True)
class Delivery:
    """A row of the outbox as the sender reads it."""

    id: int
    chat_id: int
    posting_id: str
    subscription_id: int | None
    attempts: int
    overflow: int


# Given the postings a scrape stored for the first time, the deliveries they cause.
Matcher = Callable[[Sequence[StoredPosting]], Iterable[PendingDelivery]]


# SQLite's primary result codes (https://sqlite.org/rescode.html) that are storage faults, not
# bugs: the error class and what happened, in the operator's words.
_FAULTS: dict[int, tuple[type[StoreError], str]] = {
    sqlite3.SQLITE_BUSY: (StoreBusyError, "locked by another program"),
    sqlite3.SQLITE_LOCKED: (StoreBusyError, "locked by another connection"),
    sqlite3.SQLITE_FULL: (StoreFullError, "the disk (or the database's size limit) is full"),
    sqlite3.SQLITE_READONLY: (StoreReadOnlyError, "the file cannot be written"),
    sqlite3.SQLITE_PERM: (StoreReadOnlyError, "access denied"),
    sqlite3.SQLITE_CORRUPT: (StoreCorruptError, "the file is damaged"),
    sqlite3.SQLITE_NOTADB: (StoreCorruptError, "the file is not a SQLite database"),
    sqlite3.SQLITE_IOERR: (StoreError, "disk I/O error"),
    sqlite3.SQLITE_CANTOPEN: (StoreError, "the file cannot be opened"),
    sqlite3.SQLITE_NOMEM: (StoreError, "out of memory"),
}


def store_error(exc: sqlite3.Error, path: str) -> StoreError | None:
    """The `StoreError` for a storage fault reported by SQLite, None for anything else (a bug).

    Classified by `sqlite_errorcode` (Python 3.11+), whose low byte is SQLite's primary result
    code; extended codes such as SQLITE_IOERR_WRITE name the detail in the message.
    """
    code = getattr(exc, "sqlite_errorcode", None)
    fault = _FAULTS.get(code & 0xFF) if isinstance(code, int) else None
    if fault is None:
        return None
    kind, what = fault
    name = getattr(exc, "sqlite_errorname", "")
    return kind(f"{what} ({name}: {exc})", path=path)


_T = TypeVar("_T")


def _guarded(cls: type[_T]) -> type[_T]:
    """Every public method of `cls` raises storage faults as `StoreError` (see `store_error`)."""

    def wrap(method: Callable[..., Any]) -> Callable[..., Any]:
        if inspect.isgeneratorfunction(method):

            @functools.wraps(method)
            def generator(self: Store, *args: Any, **kwargs: Any) -> Iterator[Any]:
                try:
                    yield from method(self, *args, **kwargs)
                except sqlite3.Error as exc:
                    raise (store_error(exc, self.path) or exc) from None

            return generator

        @functools.wraps(method)
        def call(self: Store, *args: Any, **kwargs: Any) -> Any:
            try:
                return method(self, *args, **kwargs)
            except sqlite3.Error as exc:
                error = store_error(exc, self.path)
                if error is None:
                    raise
                raise error from None

        return call

    for name, member in list(vars(cls).items()):
        # Coroutine methods translate their own faults (see `Store.ingest_async`).
        if (
            not name.startswith("_")
            and inspect.isfunction(member)
            and not inspect.iscoroutinefunction(member)
        ):
            setattr(cls, name, wrap(member))
    return cls


@_guarded
class Store:
    """The one database handle, created at start-up and passed to whoever needs it.

    `secrets` (the bot token) are redacted from every error text the store keeps.
    """

    def __init__(self, db: Database, *, path: str = "", secrets: Sequence[str] = ()) -> None:
        self.db = db
        self.path = path
        self.secrets = tuple(secrets)
        # One `ingest_async` at a time: scrapes share the connection's one transaction.
        self._ingest_lock: asyncio.Lock | None = None

    @classmethod
    def open(
        cls, path: Path | str, *, secrets: Sequence[str] = (), check_writable: bool = False
    ) -> Store:
        """Open (creating folders as needed) and migrate the database at `path` (":memory:" ok).

        Raises a `StoreError` subclass for a storage fault: `StoreCorruptError` for a damaged
        file, a file that is not SQLite, or an existing zero-byte file (SQLite would silently
        take that for a new, empty database: it is far likelier a truncated copy of the real
        one); `StoreReadOnlyError` for a file that cannot be written (with `check_writable`,
        as the daemon opens it: checked here, not at the first write); `StoreBusyError`,
        `StoreFullError` as their names say.
        """
        if str(path) == ":memory:":
            db = Database(memory=True)
            where = ":memory:"
        else:
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
            db = Database(sqlite3.connect(str(path), check_same_thread=False))
        try:
            if where != ":memory:":
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
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

    def _clean(self, text: str) -> str:
        """An error text as it may be stored: no token in any form, at most 500 characters."""
        return redact(text, self.secrets)[:500]

    def _in(self, sql: str, params: Sequence[Any], ids: Sequence[Any]) -> list[tuple[Any, ...]]:
        """Run `sql` (with `{marks}` where the id list goes) over `ids`, chunk by chunk."""
        rows: list[tuple[Any, ...]] = []
        for chunk in _chunks(list(ids)):
            query = sql.format(marks=",".join("?" * len(chunk)))
            rows.extend(self.db.execute(query, [*params, *chunk]).fetchall())
        return rows

    # -- postings ---------------------------------------------------------------------------

    def ingest(
        self,
        source: str,
        postings: Iterable[Posting],
        *,
        now: datetime | None = None,
        matcher: Matcher | None = None,
        complete: bool = True,
        identity: Identity = URL_IDENTITY,
    ) -> IngestResult:
        """Store one scrape in one transaction: new postings, last_seen of known ones, and the
        pending deliveries `matcher` derives from the new ones. The first successful scrape of
        a source is its baseline: stored, never alerted (and while `complete` is False, the
        baseline stays open: the source is still catching up on its backlog). Postings are
        keyed by `identity` (the source's `url_ignore`/`id_pattern`); when it differs from the
        rules the source's stored ids were made with, those are re-keyed first (see `rekey`).

        Runs to the end in one call (tests, the CLI); the daemon uses `ingest_async`."""
        steps = self._ingest_steps(source, postings, now, complete, identity, matcher is not None)
        try:
            request = next(steps)
            while True:
                reply = list(matcher(request)) if matcher and request is not None else None
                request = steps.send(reply)
        except StopIteration as done:
            result: IngestResult = done.value
            return result
        finally:
            steps.close()  # an exception above rolls the scrape's transaction back

    async def ingest_async(
        self,
        source: str,
        postings: Iterable[Posting],
        *,
        now: datetime | None = None,
        matcher: Matcher | None = None,
        complete: bool = True,
        identity: Identity = URL_IDENTITY,
    ) -> IngestResult:
        """As `ingest`, without stalling the event loop: the writes go in chunks of at most
        `_CHUNK` postings or `_DELIVERY_CHUNK` deliveries with the loop let in between, and
        `matcher` (CPU-bound) runs in a worker thread. Still one transaction per scrape, and
        one scrape at a time (a lock): other coroutines' statements on this connection while
        it is open join it, so they commit with the scrape (or, on a storage fault, roll back
        with it, as every write of that moment would have failed anyway)."""
        if self._ingest_lock is None:
            self._ingest_lock = asyncio.Lock()
        async with self._ingest_lock:
            steps = self._ingest_steps(
                source, postings, now, complete, identity, matcher is not None
            )
            try:
                request = next(steps)
                while True:
                    reply = None
                    if matcher is not None and request is not None:
                        reply = await asyncio.to_thread(_deliveries, matcher, request)
                    else:
                        await asyncio.sleep(0)
                    request = steps.send(reply)
            except StopIteration as done:
                result: IngestResult = done.value
                return result
            except sqlite3.Error as exc:
                raise (store_error(exc, self.path) or exc) from None
            finally:
                steps.close()

    def _ingest_steps(
        self,
        source: str,
        postings: Iterable[Posting],
        now: datetime | None,
        complete: bool,
        identity: Identity,
        matching: bool,
    ) -> Generator[tuple[StoredPosting, ...] | None, list[PendingDelivery] | None, IngestResult]:
        """The steps of one ingest, in the scrape's transaction. Yields None where the caller
        may let other work run, and the new postings when it wants their deliveries (sent
        back as the reply)."""
        now = now or now_utc()
        stamp = _iso(now)
        unique: dict[str, Posting] = {}
        for posting in postings:
            unique.setdefault(identity.posting_id(posting.url), posting)
        with self.db.atomic():
            self._adopt_identity(source, identity)
            known = self._existing_ids(list(unique))
            fresh = [(pid, p) for pid, p in unique.items() if pid not in known]
            rows = [_posting_row(pid, p, source, stamp) for pid, p in fresh]
            for chunk in _chunks(rows):
                self.db.table("postings").insert_all(chunk, batch_size=_CHUNK)
                yield None
            self._in(
                "UPDATE postings SET last_seen = ? WHERE id IN ({marks})", [stamp], sorted(known)
            )
            baseline = self._baseline_pending(source)
            # An empty first answer sets no baseline, else the next real one would flood.
            if baseline and unique and complete:
                self.db.execute(
                    "INSERT INTO sources (name, baseline_at) VALUES (?, ?) "
                    "ON CONFLICT(name) DO UPDATE SET baseline_at = excluded.baseline_at",
                    [source, stamp],
                )
            stored = tuple(_stored(row) for row in rows)
            queued = 0
            if matching and stored and not baseline:
                deliveries = yield stored
                for part in _chunks(deliveries or [], _DELIVERY_CHUNK):
                    queued += self.enqueue(part, now=now)
                    yield None
        return IngestResult(source, len(unique), stored, baseline, queued)

    def _existing_ids(self, ids: Sequence[str]) -> set[str]:
        return {
            row[0] for row in self._in("SELECT id FROM postings WHERE id IN ({marks})", [], ids)
        }

    def _baseline_pending(self, source: str) -> bool:
        row = self.db.execute("SELECT baseline_at FROM sources WHERE name = ?", [source]).fetchone()
        return row is None or row[0] is None

    def _adopt_identity(self, source: str, identity: Identity) -> None:
        row = self.db.execute("SELECT identity FROM sources WHERE name = ?", [source]).fetchone()
        if ((row[0] if row else None) or "") == identity.fingerprint:
            return
        rows = self.db.execute(
            "SELECT rowid, id, url, first_seen, last_seen FROM postings WHERE source = ?", [source]
        ).fetchall()
        merged = rekey(self.db, rows, identity)
        self.db.execute(
            "INSERT INTO sources (name, identity) VALUES (?, ?) "
            "ON CONFLICT(name) DO UPDATE SET identity = excluded.identity",
            [source, identity.fingerprint],
        )
        if rows:
            log.info(
                "%s: url_ignore/id_pattern changed: %d stored postings re-keyed, %d merged",
                source,
                len(rows),
                merged,
            )

    def known_urls(self, urls: Iterable[str], identity: Identity = URL_IDENTITY) -> set[str]:
        """Which of `urls` are stored already, compared by the id `identity` gives them."""
        by_id: dict[str, list[str]] = {}
        for url in urls:
            by_id.setdefault(identity.posting_id(url), []).append(url)
        return {url for pid in self._existing_ids(list(by_id)) for url in by_id[pid]}

    def latest(self, limit: int = 5, *, offset: int = 0) -> list[StoredPosting]:
        """The newest stored postings, newest first (by first_seen, then posted date)."""
        rows = self.db.execute(
            f"SELECT {_POSTING_COLUMNS} FROM postings "  # noqa: S608
            "ORDER BY first_seen DESC, posted_at DESC, rowid DESC LIMIT ? OFFSET ?",
            [limit, offset],
        )
        return [_stored(dict(zip(_POSTING_NAMES, row, strict=True))) for row in rows]

    def iter_postings(
        self, *, newest_first: bool = True, batch: int = 500
    ) -> Iterator[StoredPosting]:
        """Every stored posting, in batches, for scans such as /latest QUERY."""
        order = "DESC" if newest_first else "ASC"
        sql = f"SELECT {_POSTING_COLUMNS} FROM postings ORDER BY first_seen {order}"  # noqa: S608
        cursor = self.db.execute(sql)
        while rows := cursor.fetchmany(batch):
            for row in rows:
                yield _stored(dict(zip(_POSTING_NAMES, row, strict=True)))

    def get_postings(self, ids: Sequence[str]) -> dict[str, StoredPosting]:
        """Stored postings by id."""
        sql = f"SELECT {_POSTING_COLUMNS} FROM postings WHERE id IN ({{marks}})"  # noqa: S608
        rows = self._in(sql, [], ids)
        postings = (_stored(dict(zip(_POSTING_NAMES, row, strict=True))) for row in rows)
        return {posting.id: posting for posting in postings}

    def count_postings(self, source: str | None = None) -> int:
        if source is None:
            row = self.db.execute("SELECT count(*) FROM postings").fetchone()
        else:
            row = self.db.execute(
                "SELECT count(*) FROM postings WHERE source = ?", [source]
            ).fetchone()
        return int(row[0])

    # -- source health ----------------------------------------------------------------------

    def record_success(
        self, source: str, *, count: int | None, new: int, now: datetime | None = None
    ) -> None:
        """A run that answered: reset the failure streak; `count` None means "unchanged"."""
        stamp = _iso(now or now_utc())
        self.db.execute(
            "INSERT INTO sources (name, last_run_at, last_success_at, consecutive_failures, "
            "last_count, last_new) VALUES (?, ?, ?, 0, ?, ?) "
            "ON CONFLICT(name) DO UPDATE SET last_run_at = excluded.last_run_at, "
            "last_success_at = excluded.last_success_at, consecutive_failures = 0, "
            "last_count = coalesce(excluded.last_count, sources.last_count), "
            "last_new = excluded.last_new",
            [source, stamp, stamp, count, new],
        )

    def record_failure(self, source: str, error: str, *, now: datetime | None = None) -> int:
        """A run that failed; returns the number of consecutive failures so far."""
        stamp = _iso(now or now_utc())
        self.db.execute(
            "INSERT INTO sources (name, last_run_at, last_error, last_error_at, "
            "consecutive_failures) VALUES (?, ?, ?, ?, 1) "
            "ON CONFLICT(name) DO UPDATE SET last_run_at = excluded.last_run_at, "
            "last_error = excluded.last_error, last_error_at = excluded.last_error_at, "
            "consecutive_failures = sources.consecutive_failures + 1",
            [source, stamp, self._clean(error), stamp],
        )
        return self.health(source).consecutive_failures  # type: ignore[union-attr]

    def health(self, source: str) -> SourceHealth | None:
        cursor = self.db.execute("SELECT * FROM sources WHERE name = ?", [source])
        row = cursor.fetchone()
        if row is None:
            return None
        data = dict(zip([c[0] for c in cursor.description], row, strict=True))
        return SourceHealth(
            name=data["name"],
            baseline_at=_from_iso(data["baseline_at"]),
            last_run_at=_from_iso(data["last_run_at"]),
            last_success_at=_from_iso(data["last_success_at"]),
            last_error=data["last_error"],
            last_error_at=_from_iso(data["last_error_at"]),
            consecutive_failures=data["consecutive_failures"] or 0,
            last_count=data["last_count"],
            last_new=data["last_new"],
        )

    # -- HTTP validators (conditional GET) --------------------------------------------------

    def get_validators(self, url: str) -> tuple[str | None, str | None] | None:
        """The ETag and Last-Modified last seen for `url`, if any."""
        row = self.db.execute(
            "SELECT etag, last_modified FROM http_cache WHERE url = ?", [url]
        ).fetchone()
        return (row[0], row[1]) if row else None

    def put_validators(self, url: str, etag: str | None, last_modified: str | None) -> None:
        """Remember the validators of a 200 answer (or forget them when it had none)."""
        if not etag and not last_modified:
            self.db.execute("DELETE FROM http_cache WHERE url = ?", [url])
        else:
            self.db.execute(
                "INSERT INTO http_cache (url, etag, last_modified, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(url) DO UPDATE SET etag = excluded.etag, "
                "last_modified = excluded.last_modified, updated_at = excluded.updated_at",
                [url, etag, last_modified, _iso(now_utc())],
            )

    # -- outbox -----------------------------------------------------------------------------

    def enqueue(self, deliveries: Iterable[PendingDelivery], *, now: datetime | None = None) -> int:
        """Add pending deliveries; a (chat, posting) pair already queued or sent is ignored."""
        stamp = _iso(now or now_utc())
        rows = [
            (
                d.chat_id,
                d.posting_id,
                d.subscription_id,
                "capped" if d.capped else "pending",
                stamp,
                stamp,
                d.overflow,
            )
            for d in deliveries
        ]
        if not rows:
            return 0
        before = self.db.conn.total_changes
        # Part of the scrape's transaction inside ingest; its own transaction when alone.
        with self.db.atomic():
            self.db.conn.executemany(
                "INSERT OR IGNORE INTO deliveries (chat_id, posting_id, subscription_id, "
                "status, created_at, attempts, next_attempt_at, overflow) "
                "VALUES (?, ?, ?, ?, ?, 0, ?, ?)",
                rows,
            )
        return self.db.conn.total_changes - before

    def due_chats(self, *, now: datetime | None = None, limit: int = 1000) -> list[int]:
        """Chats with pending deliveries due now, the longest-waiting first."""
        rows = self.db.execute(
            "SELECT chat_id FROM deliveries WHERE status = 'pending' AND next_attempt_at <= ? "
            "GROUP BY chat_id ORDER BY min(id) LIMIT ?",
            [_iso(now or now_utc()), limit],
        ).fetchall()
        return [int(row[0]) for row in rows]

    def next_due_at(self) -> datetime | None:
        """When the earliest deferred delivery falls due (None: nothing pending)."""
        row = self.db.execute(
            "SELECT min(next_attempt_at) FROM deliveries WHERE status = 'pending'"
        ).fetchone()
        return _from_iso(row[0]) if row and row[0] else None

    def pending_for_chat(self, chat_id: int, *, limit: int = 100) -> list[Delivery]:
        """A chat's pending deliveries in the order they were queued."""
        cursor = self.db.execute(
            "SELECT id, chat_id, posting_id, subscription_id, attempts, overflow "
            "FROM deliveries WHERE chat_id = ? AND status = 'pending' ORDER BY id LIMIT ?",
            [chat_id, limit],
        )
        return [
            Delivery(
                id=row[0],
                chat_id=row[1],
                posting_id=row[2],
                subscription_id=row[3],
                attempts=row[4] or 0,
                overflow=row[5] or 0,
            )
            for row in cursor.fetchall()
        ]

    def last_sent_at(self) -> datetime | None:
        """When Telegram last accepted an alert (whole seconds)."""
        row = self.db.execute(
            "SELECT max(sent_at) FROM deliveries WHERE status = 'sent'"
        ).fetchone()
        return _from_iso(row[0]) if row else None

    def pending_count(self) -> int:
        row = self.db.execute("SELECT count(*) FROM deliveries WHERE status = 'pending'").fetchone()
        return int(row[0])

    def mark_sent(self, ids: Sequence[int], *, now: datetime | None = None) -> None:
        """Telegram accepted these: never send them again."""
        self._set_status(ids, "sent", "sent_at = ?", [_iso(now or now_utc())])

    def mark_dropped(self, ids: Sequence[int], reason: str) -> None:
        """Give up on these deliveries for good (the chat is gone)."""
        self._set_status(ids, "dropped", "last_error = ?", [self._clean(reason)])

    def defer(self, ids: Sequence[int], until: datetime, error: str) -> None:
        """Try these again at `until`; they stay pending."""
        self._in(
            "UPDATE deliveries SET attempts = attempts + 1, next_attempt_at = ?, "
            "last_error = ? WHERE id IN ({marks})",
            [_iso(until), self._clean(error)],
            ids,
        )

    def reset_backoff(
        self, *, now: datetime | None = None, keep: Sequence[str] = ("internal error",)
    ) -> int:
        """Telegram works again: pending deliveries deferred after failures are due now and
        their backoff starts over (attempts 0), except those deferred for a reason in `keep`
        (a bug would only repeat). Returns how many were brought forward."""
        stamp = _iso(now or now_utc())
        marks = ",".join("?" * len(keep)) or "NULL"
        cursor = self.db.execute(
            "UPDATE deliveries SET attempts = 0, next_attempt_at = ? "  # noqa: S608
            "WHERE status = 'pending' AND attempts > 0 AND next_attempt_at > ? "
            f"AND coalesce(last_error, '') NOT IN ({marks})",
            [stamp, stamp, *keep],
        )
        return cursor.rowcount

    def _set_status(
        self, ids: Sequence[int], status: str, assignment: str, values: list[Any]
    ) -> None:
        sql = f"UPDATE deliveries SET status = ?, {assignment} WHERE id IN ({{marks}})"  # noqa: S608
        self._in(sql, [status, *values], ids)

    # -- chats and subscriptions ------------------------------------------------------------

    def touch_chat(
        self, chat_id: int, *, type: str, title: str, now: datetime | None = None
    ) -> Chat:
        """Record a chat that wrote to the bot; a chat marked inactive becomes active again."""
        stamp = _iso(now or now_utc())
        self.db.execute(
            "INSERT INTO chats (id, type, title, active, paused, created_at, updated_at) "
            "VALUES (?, ?, ?, 1, 0, ?, ?) ON CONFLICT(id) DO UPDATE SET type = excluded.type, "
            "title = excluded.title, active = 1, updated_at = excluded.updated_at",
            [chat_id, type, title[:200], stamp, stamp],
        )
        chat = self.get_chat(chat_id)
        assert chat is not None
        return chat

    def get_chat(self, chat_id: int) -> Chat | None:
        row = self.db.execute(
            "SELECT id, type, title, active, paused FROM chats WHERE id = ?", [chat_id]
        ).fetchone()
        if row is None:
            return None
        return Chat(
            id=row[0],
            type=row[1] or "",
            title=row[2] or "",
            active=bool(row[3]),
            paused=bool(row[4]),
        )

    def set_paused(self, chat_id: int, paused: bool) -> None:
        self.db.execute("UPDATE chats SET paused = ? WHERE id = ?", [int(paused), chat_id])

    def set_active(self, chat_id: int, active: bool) -> None:
        self.db.execute("UPDATE chats SET active = ? WHERE id = ?", [int(active), chat_id])

    def migrate_chat(self, old_id: int, new_id: int, *, now: datetime | None = None) -> None:
        """A group became a supergroup: its subscriptions and pending alerts move to `new_id`."""
        stamp = _iso(now or now_utc())
        with self.db.atomic():
            self.db.execute(
                "INSERT INTO chats (id, type, title, active, paused, created_at, updated_at) "
                "SELECT ?, 'supergroup', title, 1, paused, created_at, ? FROM chats WHERE id = ? "
                "ON CONFLICT(id) DO UPDATE SET active = 1, updated_at = excluded.updated_at",
                [new_id, stamp, old_id],
            )
            self.db.execute(
                "UPDATE subscriptions SET chat_id = ? WHERE chat_id = ?", [new_id, old_id]
            )
            self.db.execute(
                "UPDATE OR IGNORE deliveries SET chat_id = ? "
                "WHERE chat_id = ? AND status = 'pending'",
                [new_id, old_id],
            )
            self.db.execute(
                "UPDATE deliveries SET status = 'dropped', last_error = 'chat migrated' "
                "WHERE chat_id = ? AND status = 'pending'",
                [old_id],
            )
            self.db.execute("UPDATE chats SET active = 0 WHERE id = ?", [old_id])

    def add_subscription(
        self, chat_id: int, query: str, *, now: datetime | None = None
    ) -> Subscription:
        """Save a query for a chat (the chat must be known: see touch_chat)."""
        created = now or now_utc()
        cursor = self.db.execute(
            "INSERT INTO subscriptions (chat_id, query, created_at) VALUES (?, ?, ?)",
            [chat_id, query, _iso(created)],
        )
        assert cursor.lastrowid is not None
        return Subscription(cursor.lastrowid, chat_id, query, _from_iso(_iso(created)) or created)

    def subscriptions(self, chat_id: int) -> list[Subscription]:
        """A chat's subscriptions, oldest first."""
        cursor = self.db.execute(
            "SELECT id, chat_id, query, created_at FROM subscriptions "
            "WHERE chat_id = ? ORDER BY id",
            [chat_id],
        )
        return [_subscription(row) for row in cursor.fetchall()]

    def subscriptions_all(self) -> list[Subscription]:
        """Every chat's subscriptions (the match index is built from these)."""
        cursor = self.db.execute(
            "SELECT id, chat_id, query, created_at FROM subscriptions ORDER BY id"
        )
        return [_subscription(row) for row in cursor.fetchall()]

    def chats(self, ids: Sequence[int]) -> list[Chat]:
        """The chats with these ids (unknown ids are left out)."""
        sql = "SELECT id, type, title, active, paused FROM chats WHERE id IN ({marks})"
        return [_chat(row) for row in self._in(sql, [], ids)]

    def remove_subscriptions(self, chat_id: int, ids: Sequence[int] | None = None) -> list[int]:
        """Remove some (or, ids None, all) of a chat's subscriptions; returns the removed ids."""
        mine = [s.id for s in self.subscriptions(chat_id)]
        doomed = mine if ids is None else [i for i in ids if i in set(mine)]
        self._in(
            "DELETE FROM subscriptions WHERE chat_id = ? AND id IN ({marks})", [chat_id], doomed
        )
        return doomed

    def source_health(self) -> list[SourceHealth]:
        """Health of every source that has run."""
        names = [row[0] for row in self.db.execute("SELECT name FROM sources ORDER BY name")]
        return [h for name in names if (h := self.health(name)) is not None]


def _deliveries(matcher: Matcher, postings: Sequence[StoredPosting]) -> list[PendingDelivery]:
    return list(matcher(postings))


def _chat(row: Sequence[Any]) -> Chat:
    return Chat(
        id=row[0], type=row[1] or "", title=row[2] or "", active=bool(row[3]), paused=bool(row[4])
    )


def _subscription(row: Sequence[Any]) -> Subscription:
    created = _from_iso(row[3])
    assert created is not None
    return Subscription(id=row[0], chat_id=row[1], query=row[2], created_at=created)


def _posting_row(pid: str, posting: Posting, source: str, stamp: str | None) -> dict[str, Any]:
    return {
        "id": pid,
        "url": posting.canonical_url,
        "source": source,
        "title": posting.title,
        "company": posting.company,
        "location": posting.location,
        "remote": int(posting.remote),
        "tags": json.dumps(list(posting.tags), ensure_ascii=False),
        "posted_at": _iso(posting.posted_at),
        "salary": posting.salary,
        "description": posting.description,
        "apply_url": posting.apply_url or posting.url,
        "first_seen": stamp,
        "last_seen": stamp,
    }


def _stored(row: dict[str, Any]) -> StoredPosting:
    first_seen = _from_iso(row["first_seen"])
    last_seen = _from_iso(row["last_seen"])
    assert first_seen is not None and last_seen is not None
    return StoredPosting(
        id=row["id"],
        url=row["url"],
        source=row["source"],
        title=row["title"],
        company=row["company"] or "",
        location=row["location"] or "",
        remote=bool(row["remote"]),
        tags=tuple(json.loads(row["tags"] or "[]")),
        posted_at=_from_iso(row["posted_at"]),
        salary=row["salary"] or "",
        description=row["description"] or "",
        apply_url=row["apply_url"] or row["url"],
        first_seen=first_seen,
        last_seen=last_seen,
    )
