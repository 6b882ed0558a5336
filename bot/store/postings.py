"""Stored postings and the ingest of one scrape (new postings, last_seen, outbox rows)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from bot.facets.filters import Facts
from bot.models import URL_IDENTITY, Identity, Posting, StoredPosting
from bot.store.base import (
    _CHUNK,
    Repository,
    _from_iso,
    _guarded,
    _iso,
    now_utc,
    store_error,
)
from bot.store.facts import FACT_COLUMNS, facts_from_row, facts_row, posting_facts
from bot.store.migrations import rekey
from bot.store.outbox import PendingDelivery, insert_deliveries

log = logging.getLogger(__name__)


_POSTING_NAMES = (
    *("id", "url", "source", "title", "company", "location", "remote", "tags", "posted_at"),
    *("salary", "description", "apply_url", "first_seen", "last_seen"),
    *FACT_COLUMNS,
)
_POSTING_COLUMNS = ", ".join(_POSTING_NAMES)


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
class _Plan:
    """One scrape's writes, worked out before its transaction opens."""

    source: str
    stamp: str | None
    seen: int
    known: list[str]
    rows: list[dict[str, Any]]
    stored: tuple[StoredPosting, ...]
    baseline: bool
    closes_baseline: bool

    @property
    def alerts(self) -> bool:
        """Whether the new postings are alerted (not while the source's baseline is open)."""
        return bool(self.stored) and not self.baseline


# Given the postings a scrape stored for the first time, the deliveries they cause.
Matcher = Callable[[Sequence[StoredPosting]], Iterable[PendingDelivery]]


@_guarded
class Postings(Repository):
    """Stored postings, one per id (see `bot.models.Identity`), and the ingest that stores a
    scrape with the outbox rows it causes in one transaction."""

    def __init__(self, db: Database, *, path: str = "", secrets: Sequence[str] = ()) -> None:
        super().__init__(db, path=path, secrets=secrets)
        # One `ingest_async` at a time: scrapes share the connection's one transaction.
        self._ingest_lock: asyncio.Lock | None = None

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
        plan = self._plan(source, postings, now, complete, identity)
        deliveries = _deliveries(matcher, plan.stored) if plan.alerts and matcher else []
        return self._write(plan, deliveries)

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
        """As `ingest`, with `matcher` (the CPU-bound part) in a worker thread while the event
        loop goes on. The scrape's transaction is opened only for the write itself and never
        spans an `await`: no other coroutine's statement can join it, and nothing reads a
        scrape's rows before they are committed. One ingest at a time (a lock), so what the
        plan read (which ids are known, whether the baseline is open) still holds at the write.
        """
        if self._ingest_lock is None:
            self._ingest_lock = asyncio.Lock()
        postings = list(postings)
        async with self._ingest_lock:
            # The facts of the postings new to the store, parsed in a worker (ms each).
            by_id = {identity.posting_id(p.url): p for p in reversed(postings)}
            try:
                known = self._existing_ids(list(by_id))
            except sqlite3.Error as exc:
                raise (store_error(exc, self.path) or exc) from None
            fresh = [(pid, p) for pid, p in by_id.items() if pid not in known]
            facts = await asyncio.to_thread(_facts_of_all, fresh)
            try:
                plan = self._plan(source, postings, now, complete, identity, facts)
                deliveries: list[PendingDelivery] = []
                if plan.alerts and matcher is not None:
                    deliveries = await asyncio.to_thread(_deliveries, matcher, plan.stored)
                result = self._write(plan, deliveries)
            except sqlite3.Error as exc:  # `_guarded` covers the synchronous methods only
                raise (store_error(exc, self.path) or exc) from None
            if Path(self.path).is_file():  # noqa: ASYNC240 - one stat per scrape
                await asyncio.to_thread(checkpoint, self.path)
            return result

    def _plan(
        self,
        source: str,
        postings: Iterable[Posting],
        now: datetime | None,
        complete: bool,
        identity: Identity,
        facts: Mapping[str, Facts] | None = None,
    ) -> _Plan:
        """What a scrape will write, from committed state (no transaction is left open).
        `facts` holds the facts of new postings computed beforehand; the others' are computed
        here."""
        stamp = _iso(now or now_utc())
        facts = facts or {}
        unique: dict[str, Posting] = {}
        for posting in postings:
            unique.setdefault(identity.posting_id(posting.url), posting)
        with self.db.atomic():  # re-keying (rare: the source's rules changed) commits first
            self._adopt_identity(source, identity)
        known = self._existing_ids(list(unique))
        fresh = [(pid, p) for pid, p in unique.items() if pid not in known]
        rows = [
            _posting_row(pid, p, source, stamp, facts.get(pid) or posting_facts(p))
            for pid, p in fresh
        ]
        baseline = self._baseline_pending(source)
        return _Plan(
            source=source,
            stamp=stamp,
            seen=len(unique),
            known=sorted(known),
            rows=rows,
            stored=tuple(_stored(row) for row in rows),
            baseline=baseline,
            # An empty first answer sets no baseline, else the next real one would flood.
            closes_baseline=baseline and bool(unique) and complete,
        )

    def _write(self, plan: _Plan, deliveries: Sequence[PendingDelivery]) -> IngestResult:
        """The scrape's one transaction: postings, last_seen, baseline, outbox rows."""
        with self.db.atomic():
            if plan.rows:
                self.db.table("postings").insert_all(plan.rows, batch_size=_CHUNK)
            self._in(
                "UPDATE postings SET last_seen = ? WHERE id IN ({marks})", [plan.stamp], plan.known
            )
            if plan.closes_baseline:
                self.db.execute(
                    "INSERT INTO sources (name, baseline_at) VALUES (?, ?) "
                    "ON CONFLICT(name) DO UPDATE SET baseline_at = excluded.baseline_at",
                    [plan.source, plan.stamp],
                )
            queued = insert_deliveries(self.db, deliveries, plan.stamp) if plan.alerts else 0
        return IngestResult(plan.source, plan.seen, plan.stored, plan.baseline, queued)

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

    def iter_rows(
        self, *, source: str | None = None, batch: int = 500
    ) -> Iterator[tuple[dict[str, Any], StoredPosting]]:
        """Every stored posting newest first (as `latest`), optionally of one `source`, as its
        whole row (every column, whoever added it) and as a `StoredPosting`; streamed in
        batches, so a caller may read all of them in constant memory."""
        cursor = self.db.execute(
            "SELECT * FROM postings WHERE ?1 IS NULL OR source = ?1 "
            "ORDER BY first_seen DESC, posted_at DESC, rowid DESC",
            [source],
        )
        names = [column[0] for column in cursor.description]
        while rows := cursor.fetchmany(batch):
            for row in rows:
                data = dict(zip(names, row, strict=True))
                yield data, _stored(data)

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

    def open_count(self, source: str | None = None) -> int:
        """Postings still on their board: those its latest scrape saw (every posting a scrape
        sees is stamped with that scrape's `last_seen`), all sources or one."""
        row = self.db.execute(
            "SELECT count(*) FROM postings AS p JOIN (SELECT source, max(last_seen) AS seen "
            "FROM postings WHERE ?1 IS NULL OR source = ?1 GROUP BY source) AS l "
            "ON p.source = l.source AND p.last_seen = l.seen",
            [source],
        ).fetchone()
        return int(row[0])


def checkpoint(path: str) -> None:
    """Copy the WAL back into the database file (a PASSIVE checkpoint, on a connection of its
    own: it waits for nobody). The daemon's connection does not checkpoint by itself
    (`open_database` turns wal_autocheckpoint off): at the commit of a large scrape that took
    hundreds of milliseconds on the event loop. A failure is harmless (the next one catches
    up; closing the last connection checkpoints too) and only logged at debug level."""
    try:
        with contextlib.closing(sqlite3.connect(path, timeout=0)) as conn:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
    except sqlite3.Error as exc:
        log.debug("%s: WAL checkpoint skipped: %s", path, exc)


def _deliveries(matcher: Matcher, postings: Sequence[StoredPosting]) -> list[PendingDelivery]:
    """The outbox rows `matcher` derives from a scrape's new postings (runs in a worker)."""
    return list(matcher(postings))


def _facts_of_all(postings: Sequence[tuple[str, Posting]]) -> dict[str, Facts]:
    return {pid: posting_facts(posting) for pid, posting in postings}


def _posting_row(
    pid: str, posting: Posting, source: str, stamp: str | None, facts: Facts
) -> dict[str, Any]:
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
        **facts_row(facts),
    }


def _stored(row: dict[str, Any]) -> StoredPosting:
    first_seen = _from_iso(row["first_seen"])
    last_seen = _from_iso(row["last_seen"])
    assert first_seen is not None
    assert last_seen is not None
    posted_at = _from_iso(row["posted_at"])
    location = row["location"] or ""
    return StoredPosting(
        id=row["id"],
        url=row["url"],
        source=row["source"],
        title=row["title"],
        company=row["company"] or "",
        location=location,
        remote=bool(row["remote"]),
        tags=tuple(json.loads(row["tags"] or "[]")),
        posted_at=posted_at,
        salary=row["salary"] or "",
        description=row["description"] or "",
        apply_url=row["apply_url"] or row["url"],
        first_seen=first_seen,
        last_seen=last_seen,
        facts=facts_from_row(row, location=location, posted_at=posted_at, first_seen=first_seen),
    )
