"""SQLite storage through sqlite-utils: postings (deduped by canonical URL), source health,
HTTP validators, chats, subscriptions and the delivery outbox.

The schema is a list of sqlite-utils migrations applied at start-up. Every SQL statement is
parameterised. One write transaction per scrape: postings and their pending deliveries land
together or not at all.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlite_utils import Database, Migrations

from bot.models import Posting, StoredPosting

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 10_000
# SQLite's default limit on host parameters is 999 on old builds; stay well under it.
_CHUNK = 500

migrations = Migrations("jobhound")


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
        },
        pk="id",
        defaults={"status": "pending", "attempts": 0},
        foreign_keys=[("posting_id", "postings", "id")],
    )
    # The outbox's guarantee: one delivery per (chat, posting), whatever retries happen.
    db.table("deliveries").create_index(["chat_id", "posting_id"], unique=True)
    db.table("deliveries").create_index(["status", "next_attempt_at"])


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
    subscription_ids: tuple[int, ...] = ()
    terms: tuple[str, ...] = ()


@dataclass(frozen=True)
class IngestResult:
    """What storing one scrape changed."""

    source: str
    seen: int
    new: tuple[StoredPosting, ...]
    baseline: bool
    deliveries: int = 0


# Given the postings a scrape stored for the first time, the deliveries they cause.
Matcher = Callable[[Sequence[StoredPosting]], Iterable[PendingDelivery]]


class Store:
    """The one database handle, created at start-up and passed to whoever needs it."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @classmethod
    def open(cls, path: Path | str) -> Store:
        """Open (creating folders as needed) and migrate the database at `path` (":memory:" ok)."""
        if str(path) == ":memory:":
            db = Database(memory=True)
        else:
            path = Path(path)
            path.parent.mkdir(parents=True, exist_ok=True)
            # check_same_thread off: the daemon hands short jobs to worker threads, one at a time.
            db = Database(sqlite3.connect(str(path), check_same_thread=False))
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
        db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        db.execute("PRAGMA foreign_keys=ON")
        migrations.apply(db)
        return cls(db)

    def close(self) -> None:
        self.db.close()

    # -- postings ---------------------------------------------------------------------------

    def ingest(
        self,
        source: str,
        postings: Iterable[Posting],
        *,
        now: datetime | None = None,
        matcher: Matcher | None = None,
    ) -> IngestResult:
        """Store one scrape in one transaction: new postings, last_seen of known ones, and the
        pending deliveries `matcher` derives from the new ones. The first successful scrape of
        a source is its baseline: stored, never alerted."""
        now = now or now_utc()
        stamp = _iso(now)
        unique: dict[str, Posting] = {}
        for posting in postings:
            unique.setdefault(posting.id, posting)
        with self.db.atomic():
            known = self._existing_ids(list(unique))
            fresh = [(pid, p) for pid, p in unique.items() if pid not in known]
            rows = [_posting_row(pid, p, source, stamp) for pid, p in fresh]
            if rows:
                self.db.table("postings").insert_all(rows, batch_size=_CHUNK)
            for chunk in _chunks(sorted(known)):
                marks = ",".join("?" * len(chunk))
                self.db.execute(
                    f"UPDATE postings SET last_seen = ? WHERE id IN ({marks})",  # noqa: S608
                    [stamp, *chunk],
                )
            baseline = self._baseline_pending(source)
            # An empty first answer sets no baseline, else the next real one would flood.
            if baseline and unique:
                self.db.execute(
                    "INSERT INTO sources (name, baseline_at) VALUES (?, ?) "
                    "ON CONFLICT(name) DO UPDATE SET baseline_at = excluded.baseline_at",
                    [source, stamp],
                )
            stored = tuple(_stored(row) for row in rows)
            queued = 0
            if matcher is not None and stored and not baseline:
                queued = self.enqueue(matcher(stored), now=now)
        return IngestResult(source, len(unique), stored, baseline, queued)

    def _existing_ids(self, ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for chunk in _chunks(ids):
            marks = ",".join("?" * len(chunk))
            sql = f"SELECT id FROM postings WHERE id IN ({marks})"  # noqa: S608
            found.update(row[0] for row in self.db.execute(sql, list(chunk)).fetchall())
        return found

    def _baseline_pending(self, source: str) -> bool:
        row = self.db.execute("SELECT baseline_at FROM sources WHERE name = ?", [source]).fetchone()
        return row is None or row[0] is None

    def known_urls(self, urls: Iterable[str]) -> set[str]:
        """Which of `urls` are stored already (compared by canonical URL)."""
        from bot.models import posting_id

        by_id = {posting_id(url): url for url in urls}
        return {by_id[pid] for pid in self._existing_ids(list(by_id))}

    def latest(self, limit: int = 5, *, offset: int = 0) -> list[StoredPosting]:
        """The newest stored postings, newest first (by first_seen, then posted date)."""
        rows = self.db.execute(
            "SELECT * FROM postings ORDER BY first_seen DESC, posted_at DESC, rowid DESC "
            "LIMIT ? OFFSET ?",
            [limit, offset],
        )
        return [_stored(dict(zip([c[0] for c in rows.description], r, strict=True))) for r in rows]

    def iter_postings(
        self, *, newest_first: bool = True, batch: int = 500
    ) -> Iterator[StoredPosting]:
        """Every stored posting, in batches, for scans such as /latest QUERY."""
        order = "DESC" if newest_first else "ASC"
        sql = f"SELECT * FROM postings ORDER BY first_seen {order}, rowid {order}"  # noqa: S608
        cursor = self.db.execute(sql)
        names = [c[0] for c in cursor.description]
        while rows := cursor.fetchmany(batch):
            for row in rows:
                yield _stored(dict(zip(names, row, strict=True)))

    def get_postings(self, ids: Sequence[str]) -> dict[str, StoredPosting]:
        """Stored postings by id."""
        found: dict[str, StoredPosting] = {}
        for chunk in _chunks(list(ids)):
            marks = ",".join("?" * len(chunk))
            cursor = self.db.execute(
                f"SELECT * FROM postings WHERE id IN ({marks})",  # noqa: S608
                list(chunk),
            )
            names = [c[0] for c in cursor.description]
            for row in cursor.fetchall():
                posting = _stored(dict(zip(names, row, strict=True)))
                found[posting.id] = posting
        return found

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
        self.db.conn.commit()

    def record_failure(self, source: str, error: str, *, now: datetime | None = None) -> int:
        """A run that failed; returns the number of consecutive failures so far."""
        stamp = _iso(now or now_utc())
        self.db.execute(
            "INSERT INTO sources (name, last_run_at, last_error, last_error_at, "
            "consecutive_failures) VALUES (?, ?, ?, ?, 1) "
            "ON CONFLICT(name) DO UPDATE SET last_run_at = excluded.last_run_at, "
            "last_error = excluded.last_error, last_error_at = excluded.last_error_at, "
            "consecutive_failures = sources.consecutive_failures + 1",
            [source, stamp, error[:500], stamp],
        )
        self.db.conn.commit()
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
        self.db.conn.commit()

    # -- outbox -----------------------------------------------------------------------------

    def enqueue(self, deliveries: Iterable[PendingDelivery], *, now: datetime | None = None) -> int:
        """Add pending deliveries; a (chat, posting) pair already queued or sent is ignored."""
        stamp = _iso(now or now_utc())
        rows = [
            (
                d.chat_id,
                d.posting_id,
                json.dumps(list(d.subscription_ids)),
                json.dumps(list(d.terms)),
                stamp,
                stamp,
            )
            for d in deliveries
        ]
        if not rows:
            return 0
        before = self.db.conn.total_changes
        self.db.conn.executemany(
            "INSERT OR IGNORE INTO deliveries (chat_id, posting_id, subscription_ids, terms, "
            "status, created_at, attempts, next_attempt_at) "
            "VALUES (?, ?, ?, ?, 'pending', ?, 0, ?)",
            rows,
        )
        return self.db.conn.total_changes - before


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
