"""Subscriptions as a service: the saved queries, their match index, and the outbox matcher.

Matching runs inside the scrape's transaction (see `Postings.ingest`): new postings are matched
through the index, never by evaluating every subscription against every posting, and each
(chat, posting) becomes one pending delivery, however many of the chat's queries it matches.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import Protocol, TypeVar

from bot.due import ChatPlanner, InstantCounts, chat_timing, parse_mode, rescheduled
from bot.errors import LimitError, QueryError
from bot.matching import Match, MatchIndex, TermStats
from bot.models import StoredPosting
from bot.query import Document, Query, parse_query
from bot.store import (
    Chat,
    PendingDelivery,
    Postings,
    Store,
    Subscription,
    company_key,
    now_utc,
)
from bot.timing import Mode

log = logging.getLogger(__name__)

MAX_PER_CHAT = 50
# Word statistics for the match index come from this many of the newest stored postings:
# enough for the shares of the words queries use; reading them takes a fraction of a second.
STATS_SAMPLE = 2_000
# /latest and "matches N stored postings" scan at most this many of the newest postings.
SCAN_LIMIT = 20_000
# New postings matched per hold of the index lock (see `Subscriptions.matcher`).
_MATCH_CHUNK = 16
# A posting some of a chat's subscriptions match: (posting id, subscription id, ...).
_Matched = tuple[str, *tuple[int, ...]]


@dataclass(frozen=True)
class Added:
    subscription: Subscription
    query: Query


class SubscriptionsStore(InstantCounts, Protocol):
    """The store as `Subscriptions` uses it: chats and their subscriptions (`Chats`), the
    waiting alerts it reschedules and the day's counts its due times read (`Outbox`)."""

    def get_chat(self, chat_id: int) -> Chat | None: ...
    def chats(self, ids: Sequence[int]) -> list[Chat]: ...
    def plain_chats(self, ids: Sequence[int]) -> set[int]: ...
    def subscriptions(self, chat_id: int) -> list[Subscription]: ...
    def subscriptions_all(self) -> list[Subscription]: ...
    def add_subscription(
        self, chat_id: int, query: str, *, now: datetime | None = None, mode: str = "instant"
    ) -> Subscription: ...
    def remove_subscriptions(self, chat_id: int, ids: Sequence[int] | None = None) -> list[int]: ...
    def set_mode(self, chat_id: int, sub_id: int, mode: str) -> bool: ...
    def waiting(self, chat_id: int) -> list[tuple[int, int | None, str]]: ...
    def reschedule(self, changes: Iterable[tuple[int, datetime, bool, str]]) -> None: ...
    def mutes(self) -> dict[int, frozenset[str]]: ...
    def iter_postings(
        self,
        *,
        newest_first: bool = True,
        batch: int = 500,
        closed: bool = False,
        members: bool = False,
    ) -> Iterator[StoredPosting]: ...


class Subscriptions:
    """The chats' saved queries and the index that matches new postings against them."""

    def __init__(
        self,
        store: SubscriptionsStore,
        *,
        max_per_chat: int = MAX_PER_CHAT,
        cap_per_cycle: int = 20,
        clock: Callable[[], datetime] = now_utc,
    ) -> None:
        # Due times also read the chats' counts of instant alerts today (the daily cap).
        self.store = store
        self.max_per_chat = max_per_chat
        self.cap_per_cycle = cap_per_cycle
        # The matcher's clock (UTC, aware): when new alerts are queued, for their due times.
        self.clock = clock
        self.index = MatchIndex()
        self._queries: dict[int, Query] = {}
        # Each subscription's mode (instant, daily, weekly) and its chat's digest modes.
        self._modes: dict[int, Mode] = {}
        self._chat_modes: dict[int, dict[int, Mode]] = defaultdict(dict)
        # Chats with at least one digest subscription (read without the lock: a set lookup).
        self._digest_chats: set[int] = set()
        # The index is read by the ingest worker thread and changed on the event loop.
        self._lock = threading.Lock()
        self.reload()

    def reload(self) -> None:
        """Rebuild the index from the store (at start-up), with
        word statistics from the newest stored postings (`STATS_SAMPLE`)."""
        index, queries = MatchIndex(stats=self.word_statistics()), {}
        modes: dict[int, Mode] = {}
        chat_modes: dict[int, dict[int, Mode]] = defaultdict(dict)
        for sub in self.store.subscriptions_all():
            modes[sub.id] = chat_modes[sub.chat_id][sub.id] = parse_mode(sub.mode)
            try:
                query = parse_query(sub.query)
            except QueryError as exc:  # saved by an older parser: keep it, skip matching
                log.warning("subscription %d (%r) no longer parses: %s", sub.id, sub.query, exc)
                continue
            queries[sub.id] = query
            index.add(sub.id, sub.chat_id, query)
        with self._lock:
            self.index, self._queries = index, queries
            self._modes, self._chat_modes = modes, chat_modes
            self._digest_chats = {
                chat for chat, subs in chat_modes.items() if any(m.digest for m in subs.values())
            }

    def word_statistics(self) -> TermStats:
        """How many of the newest `STATS_SAMPLE` stored postings have each key: the index files
        each query under its rarest key first, so that few postings walk deep (about 1.6x
        faster matching than the guess used without postings, benchmarks/bench_matching.py).
        Empty statistics (the guess) when nothing is stored yet."""
        sample = islice(self.store.iter_postings(closed=True, members=True), STATS_SAMPLE)
        return TermStats.from_documents(Document.from_posting(p) for p in sample)

    def add(self, chat_id: int, text: str, mode: Mode | None = None) -> Added:
        """Parse and save a query (instant unless `mode` says otherwise); QueryError (or
        LimitError) says what is wrong."""
        query = parse_query(text)
        mode = mode or Mode()
        if len(self.store.subscriptions(chat_id)) >= self.max_per_chat:
            raise LimitError(
                f"This chat already has the maximum of {self.max_per_chat} subscriptions; "
                "remove one with /unsubscribe first."
            )
        sub = self.store.add_subscription(chat_id, str(query), mode=str(mode))
        with self._lock:
            self._queries[sub.id] = query
            self._modes[sub.id] = self._chat_modes[chat_id][sub.id] = mode
            self._note_digests(chat_id)
            self.index.add(sub.id, chat_id, query)
        return Added(sub, query)

    def remove(self, chat_id: int, ids: Sequence[int] | None = None) -> list[int]:
        """Remove some (or all) of a chat's subscriptions; returns the ids removed."""
        removed = self.store.remove_subscriptions(chat_id, ids)
        with self._lock:
            for sub_id in removed:
                self._queries.pop(sub_id, None)
                self._modes.pop(sub_id, None)
                self._chat_modes[chat_id].pop(sub_id, None)
                self.index.remove(sub_id)
            self._note_digests(chat_id)
        return removed

    def query(self, sub_id: int) -> Query | None:
        return self._queries.get(sub_id)

    def mode(self, sub_id: int) -> Mode:
        """A subscription's mode (instant for an unknown id)."""
        return self._modes.get(sub_id, Mode())

    def set_mode(self, chat_id: int, sub_id: int, mode: Mode) -> bool:
        """Change one of the chat's subscriptions to `mode`, its waiting alerts rescheduled;
        False when the chat has no such subscription."""
        if not self.store.set_mode(chat_id, sub_id, str(mode)):
            return False
        with self._lock:
            self._modes[sub_id] = self._chat_modes[chat_id][sub_id] = mode
            self._note_digests(chat_id)
        self.reschedule(chat_id)
        return True

    def migrate_chat(self, old_id: int, new_id: int) -> int:
        """Follow a group that became a supergroup (`Chats.migrate_chat` has moved its rows):
        the old chat's subscriptions are re-filed under `new_id`, one at a time, instead of a
        `reload` that rebuilt the whole index on the event loop (seconds at 100,000
        subscriptions). Returns how many moved."""
        with self._lock:
            moved = self._chat_modes.pop(old_id, {})
            self._chat_modes[new_id].update(moved)
            for sub_id in moved:
                query = self._queries.get(sub_id)
                if query is not None:  # one that no longer parses is not indexed
                    self.index.add(sub_id, new_id, query)
            self._note_digests(old_id)
            self._note_digests(new_id)
        return len(moved)

    def _note_digests(self, chat_id: int) -> None:
        """Keep `_digest_chats` right for one chat (called with the lock held)."""
        if any(m.digest for m in self._chat_modes.get(chat_id, {}).values()):
            self._digest_chats.add(chat_id)
        else:
            self._digest_chats.discard(chat_id)

    def reschedule(self, chat_id: int) -> int:
        """New due times for the chat's waiting alerts after its settings or a mode changed
        (a digest moved, quiet hours ended early, another time zone). Returns how many."""
        chat = self.store.get_chat(chat_id)
        modes = dict(self._chat_modes.get(chat_id, {}))
        changes = rescheduled(self.store.waiting(chat_id), modes, chat_timing(chat), self.clock())
        self.store.reschedule(changes)
        return len(changes)

    def matcher(self, postings: Sequence[StoredPosting]) -> Iterator[PendingDelivery]:
        """The deliveries new postings cause: one per (chat, posting), capped per chat.

        Only ids are collected here (proportional to the matches, no text work): the matched
        terms are computed when a message is built (`matched_terms`), for the postings shown.
        Safe to call from the ingest worker thread while the loop adds subscriptions.

        A generator, and what it keeps meanwhile is flat tuples of ints and strings, which the
        garbage collector stops tracking: an ingest of 1,000 postings makes about two million
        deliveries, and tracked objects kept that long (lists, named tuples, nested tuples)
        set off full collections, which walk the whole match index (0.5 s, the GIL held)."""
        now = self.clock()
        per_chat = self._matches_by_chat(postings)
        if per_chat:
            _unmuted(per_chat, self.store.mutes(), postings)
            yield from self._deliveries(per_chat, now)

    def _matches_by_chat(self, postings: Sequence[StoredPosting]) -> dict[int, list[_Matched]]:
        """For each chat, (posting id, subscription id, ...) per posting that some of its
        subscriptions match, in posting order."""
        per_chat: dict[int, list[_Matched]] = defaultdict(list)
        docs = [Document.from_posting(posting) for posting in postings]
        for start in range(0, len(docs), _MATCH_CHUNK):
            chunk = docs[start : start + _MATCH_CHUNK]
            # The lock is held one chunk at a time: /subscribe waits for a chunk, not a scrape.
            with self._lock:
                matched = self.index.match_many(chunk)
            for posting, matches in zip(postings[start : start + len(chunk)], matched, strict=True):
                for chat_id, found in _by_chat(posting.id, matches).items():
                    per_chat[chat_id].append(found)
        return per_chat

    def _deliveries(
        self, per_chat: dict[int, list[_Matched]], now: datetime
    ) -> Iterator[PendingDelivery]:
        """One delivery per (chat, posting) of `per_chat`, timed and capped per chat."""
        # Most chats: instant, no quiet hours, no cap, so due now whatever the time zone (the
        # rows' stamp); a due time per chat would cost ~50 µs x ~2,000 chats a posting. Kept
        # as ids, not thousands of `Chat`s alive while the deliveries are made (see above):
        # only the others are read whole.
        instant = self.store.plain_chats(list(per_chat)) - self._digest_chats
        timed = {
            chat.id: chat
            for chat in self.store.chats([c for c in per_chat if c not in instant])
            if chat.active and not chat.paused
        }
        # In chat order: the ingest writes the rows in this order, and a transaction whose
        # rows are neighbours in the outbox's chat index changes (and logs) few of its pages.
        for chat_id in sorted(per_chat):
            # Freed chat by chat: two million tuples freed at once would hold the GIL (and
            # the event loop) for a tenth of a second.
            found = per_chat.pop(chat_id)
            if chat_id in instant:  # made one at a time, each dropped once written down
                made = (PendingDelivery(chat_id, m[0], min(m[1:])) for m in found)
                yield from self._capped(len(found), made)
                continue
            if (timing := timed.get(chat_id)) is None:  # gone, inactive or paused
                continue
            deliveries = self._timed(timing, found, now)
            # The per-cycle cap is about a burst of alerts at once: digests are one message.
            burst = [d for d in deliveries if d.held in ("now", "quiet")]
            yield from self._capped(len(burst), burst)
            yield from (d for d in deliveries if d.held not in ("now", "quiet"))

    def _timed(
        self, chat: Chat, matched: Sequence[_Matched], now: datetime
    ) -> list[PendingDelivery]:
        """One delivery per posting, due when the soonest of the subscriptions it matched
        says (`bot.due.ChatPlanner`), under that subscription's id."""
        with self._lock:
            modes = dict(self._chat_modes.get(chat.id, {}))
        planner = ChatPlanner.for_chat(
            self.store, chat, now, [m for m in modes.values() if m.digest]
        )
        deliveries = []
        for posting_id, *sub_ids in matched:
            sub_id, due = planner.due((s, modes.get(s, Mode())) for s in sorted(sub_ids))
            deliveries.append(
                PendingDelivery(
                    chat.id, posting_id, sub_id, due_at=due.at, silent=due.silent, held=due.why
                )
            )
        return deliveries

    def matched_terms(
        self, chat_id: int, postings: Sequence[StoredPosting]
    ) -> dict[str, tuple[str, ...]]:
        """For each posting (by id), the terms of `chat_id`'s queries that it matches, in the
        order of the chat's subscriptions, without repeats: what an alert underlines."""
        queries = [
            query for sub in self.store.subscriptions(chat_id) if (query := self.query(sub.id))
        ]
        found: dict[str, tuple[str, ...]] = {}
        for posting in postings:
            doc = Document.from_posting(posting)
            terms: list[str] = []
            for query in queries:
                if query.matches(doc):
                    terms.extend(query.matched_terms(doc))
            found[posting.id] = tuple(dict.fromkeys(terms))
        return found

    def unstated_facts(
        self, chat_id: int, postings: Sequence[StoredPosting]
    ) -> dict[str, tuple[str, ...]]:
        """For each posting (by id), the facts it passed the chat's facet filters without
        stating ("salary not stated"), from the queries it matches: what its alert says."""
        queries = [
            query
            for sub in self.store.subscriptions(chat_id)
            if (query := self.query(sub.id)) and query.facets
        ]
        found: dict[str, tuple[str, ...]] = {}
        for posting in postings if queries else ():
            doc = Document.from_posting(posting)
            notes = [n for q in queries if q.matches(doc) for n in q.unstated(doc)]
            if notes:
                found[posting.id] = tuple(dict.fromkeys(notes))
        return found

    def _capped(
        self, count: int, deliveries: Iterable[PendingDelivery]
    ) -> Iterator[PendingDelivery]:
        """The first `cap_per_cycle` of a chat's `count` `deliveries` go out, the last of them
        saying how many more were held back; the rest are recorded as held back."""
        cap = self.cap_per_cycle
        held = count - cap
        if held <= 0:
            yield from deliveries
            return
        for n, delivery in enumerate(deliveries):
            if n < cap - 1:
                yield delivery
            elif n == cap - 1:
                yield delivery._replace(overflow=held)
            else:
                yield delivery._replace(capped=True)


def _by_chat(posting_id: str, matches: Iterable[Match]) -> dict[int, _Matched]:
    """One posting's matches by chat: chat id -> (posting id, subscription id, ...). Tuples of
    ints and strings, which the garbage collector stops tracking (see `matcher`)."""
    found: dict[int, _Matched] = {}
    for sub_id, chat_id in matches:
        known = found.get(chat_id)
        found[chat_id] = (posting_id, sub_id) if known is None else (*known, sub_id)
    return found


def _unmuted(
    per_chat: dict[int, list[_Matched]],
    mutes: Mapping[int, frozenset[str]],
    postings: Sequence[StoredPosting],
) -> None:
    """Drop, in place, the matches of postings by a company the chat muted: before the
    per-cycle cap counts them (the sender also drops those queued before the mute)."""
    if not mutes:
        return
    company = {p.id: company_key(p.company) for p in postings}
    for chat_id in per_chat.keys() & mutes.keys():
        muted = mutes[chat_id]
        per_chat[chat_id] = [m for m in per_chat[chat_id] if company[m[0]] not in muted]
        if not per_chat[chat_id]:
            del per_chat[chat_id]


def latest_matching(
    store: Postings,
    queries: Iterable[Query],
    count: int,
    *,
    scan_limit: int = SCAN_LIMIT,
    cancel: threading.Event | None = None,
    muted: frozenset[str] = frozenset(),
    now: datetime | None = None,
    closed: bool = False,
) -> list[StoredPosting]:
    """The `count` newest stored jobs (one per group, open ones unless `closed`) matching any
    of `queries` (all when none given), among the `scan_limit` newest, leaving out the `muted`
    companies (`company_key`s); `now` is when `age<14d` is judged. A set `cancel` ends the scan
    early with what was found. Returned with their group's facts (`with_groups`)."""
    wanted = list(queries)
    if not wanted and not muted:
        return store.latest(count, closed=closed)
    found: list[StoredPosting] = []
    for scanned, posting in enumerate(store.iter_postings(closed=closed)):
        if scanned >= scan_limit or _cancelled(cancel, scanned):
            break
        if muted and company_key(posting.company) in muted:
            continue
        doc = Document.from_posting(posting, now)
        if not wanted or any(query.matches(doc) for query in wanted):
            found.append(posting)
            if len(found) >= count:
                break
    return store.with_groups(found)


def count_matching(
    store: Postings,
    query: Query,
    *,
    scan_limit: int = SCAN_LIMIT,
    cancel: threading.Event | None = None,
    now: datetime | None = None,
) -> tuple[int, bool]:
    """How many of the `scan_limit` newest stored postings `query` matches (`age<14d` judged
    at `now`), and whether the scan stopped short of the whole store (at its limit, or
    because `cancel` was set)."""
    total = 0
    for scanned, posting in enumerate(store.iter_postings()):
        if scanned >= scan_limit or _cancelled(cancel, scanned):
            return total, True
        if query.matches(Document.from_posting(posting, now)):
            total += 1
    return total, False


def _cancelled(cancel: threading.Event | None, scanned: int) -> bool:
    return cancel is not None and scanned % 256 == 0 and cancel.is_set()


T = TypeVar("T")


class PostingScans:
    """The scans of stored postings a chat command asks for (/latest QUERY, "matches N now"),
    run in a worker thread on a read-only connection of their own, so that a scan of
    `scan_limit` postings (seconds of CPU) never stalls the event loop: other chats, the
    scheduler and the sender go on meanwhile.

    Scans run one at a time: they are CPU-bound Python, so two at once take as long as one
    after the other (the GIL), and every extra one takes the interpreter from the event loop.
    An in-memory store (tests, `once`) cannot be shared with another thread: there the scan
    runs inline. A cancelled caller (shutdown) stops the worker within 256 postings.

    `path` is the database file of `postings` (`Store.file_path`), which each worker opens
    read-only; None for an in-memory database.
    """

    def __init__(
        self, postings: Postings, *, path: str | None, scan_limit: int = SCAN_LIMIT
    ) -> None:
        self.postings = postings
        self.scan_limit = scan_limit
        self._path = path
        self._one_at_a_time = asyncio.Semaphore(1)

    async def latest(
        self,
        queries: Sequence[Query],
        count: int,
        *,
        muted: frozenset[str] = frozenset(),
        now: datetime | None = None,
        closed: bool = False,
    ) -> list[StoredPosting]:
        """As `latest_matching`, off the event loop."""
        return await self._run(
            lambda store, cancel: latest_matching(
                store,
                queries,
                count,
                scan_limit=self.scan_limit,
                cancel=cancel,
                muted=muted,
                now=now,
                closed=closed,
            )
        )

    async def count(self, query: Query, now: datetime | None = None) -> tuple[int, bool]:
        """As `count_matching`, off the event loop."""
        return await self._run(
            lambda store, cancel: count_matching(
                store, query, scan_limit=self.scan_limit, cancel=cancel, now=now
            )
        )

    async def count_postings(self) -> int:
        """How many postings are stored, off the event loop."""
        return await self._run(lambda store, _cancel: store.count_postings())

    async def _run(self, scan: Callable[[Postings, threading.Event], T]) -> T:
        cancel = threading.Event()
        if self._path is None:
            return scan(self.postings, cancel)
        path = self._path

        def work() -> T:
            reader = Store.open_readonly(path)
            try:
                return scan(reader, cancel)
            finally:
                reader.close()

        async with self._one_at_a_time:
            try:
                return await asyncio.to_thread(work)
            except asyncio.CancelledError:
                cancel.set()
                raise
