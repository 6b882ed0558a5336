"""Stored postings and the ingest of one scrape (new postings, last_seen, outbox rows)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import sqlite3
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlite_utils import Database

from bot.facets.filters import Facts
from bot.models import URL_IDENTITY, Identity, Posting, StoredPosting
from bot.sameness import group_key, host, locations_compatible, repost_label
from bot.store.base import (
    _CHUNK,
    BUSY_TIMEOUT_MS,
    Repository,
    _chunks,
    _from_iso,
    _guarded,
    _iso,
    now_utc,
    store_error,
)
from bot.store.facts import FACT_COLUMNS, facts_from_row, facts_row, posting_facts
from bot.store.groups import (
    POSTING_NAMES,
    Grouper,
    recompute_closed,
)
from bot.store.migrations import rekey
from bot.store.outbox import OutboxRow, PendingDelivery, insert_rows, outbox_row

log = logging.getLogger(__name__)


_POSTING_NAMES = (*POSTING_NAMES, *FACT_COLUMNS)
_POSTING_COLUMNS = ", ".join(_POSTING_NAMES)
# As read joined with `groups g` (one row per open group: its canonical member).
_P_COLUMNS = ", ".join(f"p.{name}" for name in _POSTING_NAMES)
_SHOWN = (
    "FROM postings p LEFT JOIN groups g ON g.id = p.group_id "
    "WHERE (g.id IS NULL OR g.canonical_id = p.id) "
    "AND (? OR coalesce(g.closed_at, p.closed_at) IS NULL)"
)


@dataclass(frozen=True)
class IngestResult:
    """What storing one scrape changed."""

    source: str
    seen: int
    new: tuple[StoredPosting, ...]
    baseline: bool
    # Rows written to the outbox (pending, and those the per-cycle cap held back).
    deliveries: int = 0
    # Of `new`, those that founded or reopened a group (the rest joined a job already known).
    alerted: tuple[StoredPosting, ...] = ()
    # Known postings whose link changed (same job, same source, new URL; kept as seen).
    relinked: int = 0


# An ingest's write transactions are sized to last about this long (seconds of SQLite work on
# the event loop), from the time the previous one took: the cost of a row grows with the
# outbox (its chat index outgrows the page cache) and with the machine's load.
WRITE_SECONDS = 0.015
# The first transaction's rows (about one new posting at 100,000 subscriptions), and the most.
FIRST_WRITE_ROWS = 2_000
WRITE_ROWS = 20_000
# A new posting's own row weighs as this many outbox rows (its text and seven indexes).
_POSTING_ROWS = 25
# Iterations of the event loop between two of an ingest's transactions (see `Postings._paced`).
_TURNS = 3
# A slab's outbox rows are written in parts of at least this many (a part per transaction).
_MIN_PART = 200
# New postings are written a slab of this many at a time (see `_Slab`).
SLAB_POSTINGS = 50
# Every transaction writes each page it changed to the WAL again: a scrape of 1,000 postings in
# short transactions grows the WAL to hundreds of megabytes. After this many rows it is
# checkpointed (in a worker) between two transactions, and SQLite writes the next ones from its
# start again.
CHECKPOINT_ROWS = 25_000


@dataclass
class _Unit:
    """One new posting as it is written (see `_Slab`): its row (with its group columns), its
    group's row and ATS ids as placing it left them."""

    row: dict[str, Any]
    groups: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    ats: list[dict[str, str]] = dataclasses.field(default_factory=list)


@dataclass
class _Slab:
    """A few new postings and the outbox rows they cause, as `_write_slab` writes them: the
    postings first (each with its group and ATS ids), those in `marked` marked in `fanout`;
    then the rows in the matcher's order, chat by chat, in parts; with the last part the marks
    dropped. A kill in between leaves the marks, and the next ingest finishes the slab
    (`Postings.finish_fanout`).

    Chat by chat, not posting by posting: the outbox's index by chat takes a page per chat an
    alert goes to, and every transaction writes each page it changed to the WAL. A posting's
    ~2,000 rows go to ~2,000 chats: written posting by posting, a ~15 ms transaction rewrote
    ~2,000 pages of that index (8 MB) and spent half its time committing them; written chat by
    chat across a slab's postings, the rows of a transaction share a few dozen chats' pages and
    one page per posting of the (posting, chat) index (about a quarter of the WAL per row)."""

    units: list[_Unit]
    # Of `units` (or, when finishing a slab a kill cut short, stored before), the postings the
    # matcher saw, while their rows are not all written; empty when there are no rows.
    marked: list[str] = dataclasses.field(default_factory=list)
    outbox: list[OutboxRow] = dataclasses.field(default_factory=list)


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
    # Places the new postings (its reads done in `_plan`: it touches no database).
    grouper: Grouper | None = None
    # Filled by `_place`: the new postings that founded or reopened a group, the only ones
    # the matcher sees.
    alerting: list[StoredPosting] = dataclasses.field(default_factory=list)
    # New URL -> the stored posting of this source it is (its link changed): (id, url, apply).
    relinks: tuple[tuple[str, str, str], ...] = ()
    # True when absence from this run counts towards closing (a complete listing, run whole).
    closes: bool = False

    @property
    def alerts(self) -> bool:
        """Whether the new postings are alerted (not while the source's baseline is open)."""
        return bool(self.alerting) and not self.baseline


# Given the postings a scrape stored for the first time, the deliveries they cause.
Matcher = Callable[[Sequence[StoredPosting]], Iterable[PendingDelivery]]
_R = TypeVar("_R")


@_guarded
class Postings(Repository):
    """Stored postings, one per id (see `bot.models.Identity`), and the ingest that stores a
    scrape with the outbox rows it causes (a slab of new postings, then their rows, see
    `_writes`)."""

    def __init__(self, db: Database, *, path: str = "", secrets: Sequence[str] = ()) -> None:
        super().__init__(db, path=path, secrets=secrets)
        # One `ingest_async` at a time: what a plan read must still hold when it is written.
        self._ingest_lock: asyncio.Lock | None = None
        # The size of the next write transaction, learnt from the last ones (see `_Pace`).
        self._pace = _Pace()
        # Rows written since the last WAL checkpoint began, and the one running (if any).
        self._unchecked = 0
        self._checkpointing: asyncio.Future[None] | None = None

    def ingest(
        self,
        source: str,
        postings: Iterable[Posting],
        *,
        now: datetime | None = None,
        matcher: Matcher | None = None,
        complete: bool = True,
        identity: Identity = URL_IDENTITY,
        closes: bool = False,
        listed: Sequence[str] = (),
    ) -> IngestResult:
        """Store one scrape: new postings, last_seen of known ones, and the pending deliveries
        `matcher` derives from the new ones. The first successful scrape of
        a source is its baseline: stored, never alerted (and while `complete` is False, the
        baseline stays open: the source is still catching up on its backlog). Postings are
        keyed by `identity` (the source's `url_ignore`/`id_pattern`); when it differs from the
        rules the source's stored ids were made with, those are re-keyed first (see `rekey`).

        Issue 12: each new posting joins the group of the job it is (`bot.store.groups`); only
        one that founds or reopens a group (a repost) reaches `matcher`. A new URL that is the
        same job as a posting of this source the previous run listed and this one does not is
        that posting with a changed link (updated, seen, not new; only with `closes`). With
        `closes` (the kind lists every open posting, and this run was complete and clean),
        postings absent from two such runs in a row are closed; present ones are open again.
        Postings past `valid_through` close on that date. `listed`: URLs of stored postings
        the listing still links that the run did not read again (a kind that fetches only
        new pages, `jsonld`): seen like the postings read, so counts and `open_count` hold.

        The write is a series of short transactions (`_writes`, which says why each crash
        point is safe): a new posting is stored with all its outbox rows or marked in
        `fanout` until they are (a kill in between is finished by the next ingest). Runs to
        the end in one call (tests, the CLI); the daemon uses `ingest_async`."""
        if matcher is not None:
            self.finish_fanout(matcher, now)
        plan = self._plan(source, postings, now, complete, identity, closes, listed)
        return _run(self._writes(plan, _place_and_match(plan, matcher)))

    async def ingest_async(
        self,
        source: str,
        postings: Iterable[Posting],
        *,
        now: datetime | None = None,
        matcher: Matcher | None = None,
        complete: bool = True,
        identity: Identity = URL_IDENTITY,
        closes: bool = False,
        listed: Sequence[str] = (),
    ) -> IngestResult:
        """As `ingest`, with grouping and `matcher` (the CPU-bound part) in a worker thread
        while the event loop goes on, and the loop free between the write's transactions
        (each about `WRITE_SECONDS` of SQLite work, see `_Pace`): polling, sending and
        commands get their turn during a scrape of thousands of alerts. No transaction spans
        an `await`: no other coroutine's statement can join one, nor read what is not
        committed. One ingest at a time (a lock), so what
        the plan read (which ids are known, whether the baseline is open) still holds at the
        write: the other writers touch chats, health, validators and sent marks, not postings.
        """
        if self._ingest_lock is None:
            self._ingest_lock = asyncio.Lock()
        postings = list(postings)
        async with self._ingest_lock:
            try:
                on_file = Path(self.path).is_file()  # noqa: ASYNC240 - one stat per scrape
                if matcher is not None and (cut := self._cut_short()) is not None:
                    # Only after a kill: a slab's rows, matched in a worker, written paced.
                    slab, marked = cut
                    slab.outbox = await asyncio.to_thread(_matched_rows, marked, matcher, now)
                    await self._paced(self._finish_slab(slab), on_file=on_file)
                # Re-keying (rare: the source's rules changed) writes: here, before the plan.
                with self.db.atomic():
                    self._adopt_identity(source, identity)
                if on_file:
                    # Its reads (grouping's candidates) and the new postings' facts: 0.2 s
                    # for 1,000 new postings, in a worker on a connection of its own.
                    plan = await asyncio.to_thread(
                        self._plan_apart, source, postings, now, complete, identity, closes, listed
                    )
                else:  # an in-memory database has the one connection, the loop's
                    plan = self._plan(source, postings, now, complete, identity, closes, listed)
                slabs: list[_Slab] = []
                if plan.rows:  # grouping (rapidfuzz) and matching: CPU, in a worker thread
                    slabs = await asyncio.to_thread(_place_and_match, plan, matcher)
                return await self._paced(self._writes(plan, slabs), on_file=on_file)
            except sqlite3.Error as exc:  # `_guarded` covers the synchronous methods only
                raise (store_error(exc, self.path) or exc) from None

    async def _paced(self, steps: Generator[int, None, _R], *, on_file: bool) -> _R:
        """Run `steps` (`_writes` or `_finish_slab`), the event loop running between their
        transactions, and the WAL checkpointed every `CHECKPOINT_ROWS` rows in a worker,
        alongside the next transactions and scrapes (a WAL lets a checkpoint run while
        another connection writes; each PASSIVE checkpoint copies what was committed when it
        began)."""
        while True:
            try:
                written = next(steps)  # one transaction, committed
            except StopIteration as done:
                result: _R = done.value
                return result
            # The loop's turn: three of its iterations. A task woken by a timer or by I/O
            # gets its wake-up call in one iteration and runs in the next, after the tasks
            # already due there; with one, polling and sending would run only after the
            # next transaction or two (a stall of two or three transactions).
            for _ in range(_TURNS):
                await asyncio.sleep(0)
            self._unchecked += written
            idle = self._checkpointing is None or self._checkpointing.done()
            if on_file and idle and self._unchecked >= CHECKPOINT_ROWS:
                loop = asyncio.get_running_loop()
                self._checkpointing = loop.run_in_executor(None, checkpoint, self.path)
                self._unchecked = 0

    def finish_fanout(self, matcher: Matcher, now: datetime | None = None) -> int:
        """Write the outbox rows of postings stored before a kill cut their rows short (still
        marked in `fanout`, at most a slab's): `matcher` again for those postings together,
        as the scrape matched them (so the per-cycle cap holds across them), rows already
        written left as they are (one per chat and posting), then the marks dropped, in
        paced transactions (`_write_slab`). Returns the rows written (0, and one query, when
        nothing is marked)."""
        cut = self._cut_short()
        if cut is None:
            return 0
        slab, marked = cut
        slab.outbox = _matched_rows(marked, matcher, now)
        return _run(self._finish_slab(slab))

    def _cut_short(self) -> tuple[_Slab, list[StoredPosting]] | None:
        """The slab a kill cut short, its rows still to match (`_matched_rows`), and its
        postings (stored, marked in `fanout`); None when nothing is marked."""
        # In the order they were stored, which is the order the scrape matched them in.
        marked = [row[0] for row in self.db.execute("SELECT posting_id FROM fanout ORDER BY rowid")]
        if not marked:
            return None
        found = self.get_postings(marked)
        return _Slab([], marked), [found[pid] for pid in marked if pid in found]

    def _finish_slab(self, slab: _Slab) -> Generator[int, None, int]:
        """`_write_slab` for a slab a kill cut short; returns the outbox rows written."""
        written = yield from self._write_slab(slab, None)
        log.info("finished the alerts of %d postings a stop had cut short", len(slab.marked))
        return written

    def _plan_apart(
        self,
        source: str,
        postings: Iterable[Posting],
        now: datetime | None,
        complete: bool,
        identity: Identity,
        closes: bool,
        listed: Sequence[str],
    ) -> _Plan:
        """`_plan` on a read-only connection of its own to the database file (committed
        state, as `_plan` reads), for a worker thread; the source's identity is adopted."""
        uri = f"{Path(self.path).resolve().as_uri()}?mode=ro"
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as conn:
            conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            reader = Postings(Database(conn), path=self.path)
            return reader._plan(source, postings, now, complete, identity, closes, listed)

    def _plan(
        self,
        source: str,
        postings: Iterable[Posting],
        now: datetime | None,
        complete: bool,
        identity: Identity,
        closes: bool = False,
        listed: Sequence[str] = (),
    ) -> _Plan:
        """What a scrape will write, from committed state (no transaction is left open)."""
        moment = now or now_utc()
        stamp = _iso(moment)
        unique: dict[str, Posting] = {}
        for posting in postings:
            unique.setdefault(identity.posting_id(posting.url), posting)
        with self.db.atomic():  # re-keying (rare: the source's rules changed) commits first
            self._adopt_identity(source, identity)
        known = self._existing_ids(list(unique))
        # Stored postings the listing links but the run did not read: seen all the same.
        relisted = self._existing_ids(
            sorted({identity.posting_id(url) for url in listed} - unique.keys())
        )
        fresh = {pid: p for pid, p in unique.items() if pid not in known}
        # Only where the listing is whole: from a feed, an old item's absence means nothing.
        relinks = self._relinks(source, fresh, known) if closes and complete else []
        relinked = {new for new, _ in relinks}
        rows = [
            _posting_row(pid, p, source, stamp, posting_facts(p))
            for pid, p in fresh.items()
            if pid not in relinked
        ]
        stored = tuple(_stored(row) for row in rows)
        grouper = Grouper(self.db, moment)
        grouper.prefetch(stored)
        baseline = self._baseline_pending(source)
        return _Plan(
            source=source,
            stamp=stamp,
            seen=len(unique) + len(relisted),
            known=sorted(known | relisted | {old for _, (old, _, _) in relinks}),
            rows=rows,
            stored=stored,
            baseline=baseline,
            # An empty first answer sets no baseline, else the next real one would flood.
            closes_baseline=baseline and bool(unique) and complete,
            grouper=grouper,
            relinks=tuple(link for _, link in relinks),
            closes=closes and complete and bool(unique),
        )

    def _relinks(
        self, source: str, fresh: dict[str, Posting], known: set[str]
    ) -> list[tuple[str, tuple[str, str, str]]]:
        """(new id, (stored id, url, apply url)) for each new posting that is a posting of
        `source` the previous run listed and this one does not, under a changed link: the
        same `group_key` (company and title) and a compatible location (field case 06: a
        per-render token in every link)."""
        if not fresh:
            return []
        rows = self.db.execute(
            "SELECT id, group_key, location, remote FROM postings WHERE source = ? "
            "AND last_seen = (SELECT max(last_seen) FROM postings WHERE source = ?)",
            [source, source],
        ).fetchall()
        gone = [row for row in rows if row[0] not in known and row[1]]
        if not gone:
            return []
        links: list[tuple[str, tuple[str, str, str]]] = []
        claimed: set[str] = set()
        for pid, posting in fresh.items():
            key = group_key(posting)
            for old_id, old_key, location, remote in gone:
                if old_id in claimed or old_key != key:
                    continue
                if locations_compatible(
                    location or "", posting.location, remote_a=bool(remote), remote_b=posting.remote
                ):
                    claimed.add(old_id)
                    apply = posting.apply_url or posting.url
                    links.append((pid, (old_id, posting.canonical_url, apply)))
                    break
        return links

    def _writes(self, plan: _Plan, slabs: Sequence[_Slab]) -> Generator[int, None, IngestResult]:
        """The scrape's write as short transactions, each committed before it yields the
        number of rows it wrote (the caller may let the event loop run there); returns what
        the scrape changed.

        A process killed between two of them leaves a store the next run completes, in order:
        1. what the run saw of the postings stored before: `missed` counted for every open
           one of the source (a closing run), relinks, last_seen (the listed ones open again,
           with no misses), those missed twice closed. One transaction, so the count and its
           reset never part; a run killed after it was still a run that saw the listing.
        2. the new postings, a slab at a time (`_Slab`, `_write_slab`): its postings, each
           with its group as placing it left it and its ATS ids, those the matcher saw marked
           in `fanout`; then the slab's outbox rows, chat by chat, in parts (see `_Pace`); with
           the last part, the marks dropped. A kill in between leaves the marks, and the next
           ingest writes the rest (`finish_fanout`, one row per chat and posting). A posting
           not stored yet is new again on the next run, and alerts then.
        3. postings past `valid_through` closed (the new ones too), and last the baseline
           mark: killed before it, the next run is still the baseline and alerts nobody, where
           a mark written first would let the unstored rest of a first scrape alert (a flood).
        """
        # Long with its docstring: the crash-point argument sits beside the code it is about.
        groups: set[str] = set()
        with self.db.atomic():
            if plan.closes:  # every open posting of the source missed this run, until listed
                self.db.execute(
                    "UPDATE postings SET missed = coalesce(missed, 0) + 1 "
                    "WHERE source = ? AND closed_at IS NULL",
                    [plan.source],
                )
            for old_id, url, apply_url in plan.relinks:
                self.db.execute(
                    "UPDATE postings SET url = ?, apply_url = ? WHERE id = ?",
                    [url, apply_url, old_id],
                )
            groups |= self._seen_and_closed(plan)
        yield 0
        queued = 0
        for slab in slabs:
            queued += yield from self._write_slab(slab, plan.stamp)
        with self.db.atomic():
            groups |= self._expire(plan.stamp)
            if plan.closes_baseline:
                self._close_baseline(plan.source, plan.stamp)
        if groups:
            log.info("%s: %d postings closed or reopened", plan.source, len(groups))
        return IngestResult(
            plan.source,
            plan.seen,
            plan.stored,
            plan.baseline,
            queued,
            alerted=tuple(plan.alerting) if not plan.baseline else (),
            relinked=len(plan.relinks),
        )

    def _close_baseline(self, source: str, stamp: str | None) -> None:
        """Mark the source's baseline taken: its later new postings alert."""
        self.db.execute(
            "INSERT INTO sources (name, baseline_at) VALUES (?, ?) "
            "ON CONFLICT(name) DO UPDATE SET baseline_at = excluded.baseline_at",
            [source, stamp],
        )

    def _write_slab(self, slab: _Slab, stamp: str | None) -> Generator[int, None, int]:
        """`slab` (see `_Slab`) in transactions of about `_Pace` rows, each committed before it
        yields the rows it weighed; returns the outbox rows written. A slab that fits in one
        transaction (as a posting and its rows did before slabs) is written whole, unmarked.
        The rows are freed as the slab ends, not all at the scrape's end on the loop."""
        rows, units = slab.outbox, slab.units
        weight = len(units) * _POSTING_ROWS + len(rows)
        if weight <= max(self._pace.rows, min(FIRST_WRITE_ROWS, WRITE_ROWS)):
            with self._pace.timing(weight), self.db.atomic():
                self._store_new(units, [])  # with all their rows: no marks needed
                written = insert_rows(self.db, rows)
                if not units:  # a slab a kill cut short: its marks go with its last rows
                    self._unmark(slab.marked)
            yield weight
            rows.clear()
            return written
        marked = set(slab.marked)
        step = max(1, self._pace.rows // _POSTING_ROWS)
        for start in range(0, len(units), step):
            chunk = units[start : start + step]
            marks = [(unit.row["id"], stamp) for unit in chunk if unit.row["id"] in marked]
            with self._pace.timing(len(chunk) * _POSTING_ROWS), self.db.atomic():
                self._store_new(chunk, marks)
            yield len(chunk) * _POSTING_ROWS
        written = start = 0
        while start < len(rows):
            end = min(len(rows), start + max(self._pace.rows, _MIN_PART))
            with self._pace.timing(end - start), self.db.atomic():
                written += insert_rows(self.db, rows[start:end])
                if end == len(rows):  # the slab's last rows: all are written
                    self._unmark(slab.marked)
            yield end - start
            start = end
        rows.clear()
        return written

    def _unmark(self, posting_ids: Sequence[str]) -> None:
        """Drop the `fanout` marks of `posting_ids` (their rows are all written)."""
        if posting_ids:
            self._in("DELETE FROM fanout WHERE posting_id IN ({marks})", [], posting_ids)

    def _store_new(self, units: Sequence[_Unit], marks: Sequence[tuple[str, str | None]]) -> None:
        """Insert new postings with their groups and ATS ids, and the `fanout` marks (posting
        id, stamp) of those whose rows follow, in the caller's transaction."""
        if not units:
            return
        self.db.table("postings").insert_all([u.row for u in units], batch_size=_CHUNK)
        # Each group as the last of these placements left it (an earlier one's row is older).
        rows = {row["id"]: row for unit in units for row in unit.groups}
        if rows:
            self.db.table("groups").upsert_all(list(rows.values()), pk="id")
        ats = [row for unit in units for row in unit.ats]
        if ats:
            self.db.table("ats_ids").insert_all(ats, pk="ats_id", ignore=True, batch_size=_CHUNK)
        # A group step 1 closed is open again when one of these joined it.
        joined = {unit.row["group_id"] for unit in units if unit.row.get("group_id")}
        recompute_closed(self.db, sorted(joined))
        if marks:
            self.db.conn.executemany(
                "INSERT INTO fanout (posting_id, created_at) VALUES (?, ?)", marks
            )

    def _seen_and_closed(self, plan: _Plan) -> set[str]:
        """last_seen of the stored postings this run listed, which are open again (unless past
        their `valid_through`) with no misses; after a closing run, those missed twice in a
        row closed (`_writes` counted the miss of every open posting first); the groups
        involved re-derived. Returns those groups' ids."""
        groups: set[str] = set()
        reopened = self._in(
            "SELECT group_id FROM postings WHERE closed_at IS NOT NULL AND id IN ({marks})",
            [],
            plan.known,
        )
        groups.update(row[0] for row in reopened if row[0])
        self._in(
            "UPDATE postings SET last_seen = ?, missed = 0, closed_at = CASE "
            "WHEN valid_through IS NOT NULL AND valid_through <= ? THEN closed_at END "
            "WHERE id IN ({marks})",
            [plan.stamp, plan.stamp],
            plan.known,
        )
        if plan.closes:
            closing = self.db.execute(
                "SELECT id, group_id FROM postings WHERE source = ? AND missed >= 2 "
                "AND closed_at IS NULL",
                [plan.source],
            ).fetchall()
            for chunk in _chunks([row[0] for row in closing]):
                self._in(
                    "UPDATE postings SET closed_at = ? WHERE id IN ({marks})",
                    [plan.stamp],
                    chunk,
                )
            groups.update(row[1] for row in closing if row[1])
        if groups:
            recompute_closed(self.db, sorted(groups))
        return groups

    def _expire(self, stamp: str | None) -> set[str]:
        """Postings past `valid_through` closed on that date, their groups re-derived; returns
        those groups' ids."""
        expired = self.db.execute(
            "SELECT id, group_id FROM postings WHERE closed_at IS NULL "
            "AND valid_through IS NOT NULL AND valid_through <= ?",
            [stamp],
        ).fetchall()
        if not expired:
            return set()
        self.db.execute(
            "UPDATE postings SET closed_at = valid_through WHERE closed_at IS NULL "
            "AND valid_through IS NOT NULL AND valid_through <= ?",
            [stamp],
        )
        groups = {row[1] for row in expired if row[1]}
        recompute_closed(self.db, sorted(groups))
        return groups

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

    def latest(
        self, limit: int = 5, *, offset: int = 0, closed: bool = False
    ) -> list[StoredPosting]:
        """The newest stored jobs, newest first (by first_seen, then posted date): one row per
        group (its canonical member), open ones only unless `closed`; with `with_groups`'
        fields filled."""
        rows = self.db.execute(
            f"SELECT {_P_COLUMNS} {_SHOWN} "
            "ORDER BY p.first_seen DESC, p.posted_at DESC, p.rowid DESC LIMIT ? OFFSET ?",
            [int(closed), limit, offset],
        )
        return self.with_groups(
            [_stored(dict(zip(_POSTING_NAMES, row, strict=True))) for row in rows]
        )

    def iter_postings(
        self,
        *,
        newest_first: bool = True,
        batch: int = 500,
        closed: bool = False,
        members: bool = False,
    ) -> Iterator[StoredPosting]:
        """Every stored job (one per group, open ones unless `closed`; every posting with
        `members`), in batches, for scans such as /latest QUERY. Bare: no group fields (see
        `with_groups`)."""
        order = "DESC" if newest_first else "ASC"
        shown = "FROM postings p WHERE (? OR p.closed_at IS NULL)" if members else _SHOWN
        # The same order as `latest` and `iter_rows`: first seen, then posted, then stored.
        sql = (
            f"SELECT {_P_COLUMNS} {shown} "
            f"ORDER BY p.first_seen {order}, p.posted_at {order}, p.rowid {order}"
        )
        cursor = self.db.execute(sql, [int(closed)])
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
        """Stored postings by id, with `with_groups`' fields filled."""
        sql = f"SELECT {_POSTING_COLUMNS} FROM postings WHERE id IN ({{marks}})"  # noqa: S608
        rows = self._in(sql, [], ids)
        postings = [_stored(dict(zip(_POSTING_NAMES, row, strict=True))) for row in rows]
        return {posting.id: posting for posting in self.with_groups(postings)}

    def with_groups(self, postings: Sequence[StoredPosting]) -> list[StoredPosting]:
        """`postings` with their group's facts (issue 12): `closed_at` (the group's, else the
        posting's), `also_on` (the other members' URLs on other hosts, canonical first),
        `locations` (every member's place, this one first, when they are several) and `repost`
        ("reposted · first seen 94 days ago · 3rd time" when it alerted as a repost)."""
        if not postings:
            return []
        facts = {
            row[0]: row[1:]
            for row in self._in(
                "SELECT p.id, p.times, p.closed_at, g.id, g.first_seen, g.closed_at "
                "FROM postings p LEFT JOIN groups g ON g.id = p.group_id "
                "WHERE p.id IN ({marks})",
                [],
                [p.id for p in postings],
            )
        }
        members = self._members(sorted({f[2] for f in facts.values() if f[2]}))
        shown: list[StoredPosting] = []
        for posting in postings:
            times, closed_at, gid, group_seen, group_closed = facts.get(
                posting.id, (1, None, None, None, None)
            )
            others = [m for m in members.get(gid or "", []) if m[0] != posting.id]
            first = _from_iso(group_seen) or posting.first_seen
            shown.append(
                dataclasses.replace(
                    _with_members(posting, others),
                    closed_at=_from_iso(group_closed if gid else closed_at),
                    repost=(
                        repost_label(first, max(first, posting.first_seen), times)
                        if (times or 1) >= 2
                        else ""
                    ),
                )
            )
        return shown

    def _members(self, group_ids: Sequence[str]) -> dict[str, list[tuple[str, str, str]]]:
        """Each group's (posting id, URL, location), canonical member first, then oldest."""
        members: dict[str, list[tuple[str, str, str]]] = {}
        for gid, pid, url, location in self._in(
            "SELECT p.group_id, p.id, p.url, p.location FROM postings p "
            "LEFT JOIN groups g ON g.id = p.group_id WHERE p.group_id IN ({marks}) "
            "ORDER BY p.id = g.canonical_id DESC, p.first_seen, p.rowid",
            [],
            group_ids,
        ):
            members.setdefault(gid, []).append((pid, url, location or ""))
        return members

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


def _place_and_match(plan: _Plan, matcher: Matcher | None) -> list[_Slab]:
    """Each new posting placed in its group (`plan.rows` get their group columns,
    `plan.alerting` those that found or reopen one), then the outbox rows `matcher` derives
    from those: the new postings in first-seen order in slabs of `SLAB_POSTINGS`, each with
    its postings' rows in the matcher's order (chat by chat). Touches no database: runs in a
    worker thread under `ingest_async`."""
    units = [_Unit(row) for row in plan.rows]
    if plan.grouper is not None:
        grouper = plan.grouper
        for unit, member in zip(units, plan.stored, strict=True):
            noted = len(grouper.new_ats)
            placement = grouper.place(member)
            unit.row.update(group_id=placement.group_id, group_key=placement.group_key)
            unit.row["times"] = placement.times
            if (group := grouper.group_row(placement.group_id)) is not None:
                unit.groups.append(group)
            unit.ats.extend(grouper.ats_rows(noted))
            if placement.alerts:
                plan.alerting.append(member)
    slabs = [_Slab(units[n : n + SLAB_POSTINGS]) for n in range(0, len(units), SLAB_POSTINGS)]
    if plan.alerts and matcher and units:
        slab_of = {unit.row["id"]: slabs[n // SLAB_POSTINGS] for n, unit in enumerate(units)}
        # Kept as plain rows, not `PendingDelivery`s (see `outbox_row`): the matcher streams.
        for delivery in matcher(plan.alerting):
            # A row for a posting stored before (a matcher may queue one) goes with the last.
            slab = slab_of.get(delivery.posting_id, slabs[-1])
            slab.outbox.append(outbox_row(delivery, plan.stamp))
        seen = {posting.id for posting in plan.alerting}
        for slab in slabs:
            if slab.outbox:
                slab.marked = [u.row["id"] for u in slab.units if u.row["id"] in seen]
    return slabs


def _matched_rows(
    postings: Sequence[StoredPosting], matcher: Matcher, now: datetime | None
) -> list[OutboxRow]:
    """The outbox rows `matcher` derives from `postings` together, queued at `now`."""
    stamp = _iso(now or now_utc())
    return [outbox_row(delivery, stamp) for delivery in matcher(postings)] if postings else []


def _run(steps: Generator[int, None, _R]) -> _R:
    """Run `_writes` or `_finish_slab` to the end, at once."""
    while True:
        try:
            next(steps)
        except StopIteration as done:
            result: _R = done.value
            return result


class _Pace:
    """How many rows (`_weight`) the next write transaction takes: as many as the last one
    wrote in `WRITE_SECONDS`, between one posting and `WRITE_ROWS`."""

    def __init__(self) -> None:
        self.rows = min(FIRST_WRITE_ROWS, WRITE_ROWS)

    def took(self, rows: int, seconds: float) -> None:
        """The last transaction wrote `rows` in `seconds`."""
        if seconds > 0:
            self.rows = max(1, min(WRITE_ROWS, int(rows * WRITE_SECONDS / seconds)))

    @contextlib.contextmanager
    def timing(self, rows: int) -> Iterator[None]:
        """`took` for the block's `rows`, from the time it took (the commit included when the
        block holds the transaction)."""
        started = time.perf_counter()
        yield
        self.took(rows, time.perf_counter() - started)


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
        # Normalised to UTC like every stamp, so closing can compare it as text.
        "valid_through": _valid_through(posting),
        "missed": 0,
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


def _with_members(posting: StoredPosting, others: Sequence[tuple[str, str, str]]) -> StoredPosting:
    """`posting` with where else its job is listed (other hosts only) and all its places."""
    own_host = host(posting.url)
    also = tuple(dict.fromkeys(url for _, url, _ in others if host(url) != own_host))
    places = tuple(dict.fromkeys(loc for loc in (posting.location, *(m[2] for m in others)) if loc))
    return dataclasses.replace(posting, also_on=also, locations=places if len(places) > 1 else ())


def _valid_through(posting: Posting) -> str | None:
    """The posting's `valid_through` (schema.org JobPosting `validThrough`, carried in
    `extra["valid_through"]` as ISO 8601) in UTC; a date alone is its midnight UTC. None when
    absent or unreadable."""
    text = posting.extra.get("valid_through", "").strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return _iso(moment)
