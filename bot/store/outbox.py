"""The outbox: pending alerts, one plain row per (chat, posting), written with the scrape
that caused them and worked by the sender."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlite_utils import Database

from bot.store.base import Repository, _from_iso, _guarded, _iso, now_utc


class PendingDelivery(NamedTuple):
    """One (chat, posting) alert to send, as written by matching. A named tuple, not a
    dataclass: an ingest makes thousands per new posting and tuples are the cheapest."""

    chat_id: int
    posting_id: str
    # The chat's lowest-numbered subscription that matched (None: queued by hand).
    subscription_id: int | None = None
    # How many more alerts for this chat the per-cycle cap held back (said after this one).
    overflow: int = 0
    # Held back by the cap: recorded (so never sent later) but not pending.
    capped: bool = False
    # When it may go (UTC, aware; None: at once), see `bot.timing.due_for`.
    due_at: datetime | None = None
    # Sent without a notification sound (quiet hours chosen "silent").
    silent: bool = False
    # Why it waits until `due_at`: "now", "quiet", "digest" or "cap" (`bot.timing.Due.why`).
    held: str = "now"


@dataclass(frozen=True)
class Delivery:
    """A row of the outbox as the sender reads it."""

    id: int
    chat_id: int
    posting_id: str
    subscription_id: int | None
    attempts: int
    overflow: int
    due_at: datetime | None = None
    silent: bool = False
    held: str = "now"

    @property
    def digest(self) -> bool:
        """Whether it goes in a digest (its subscription's, or held there by the daily cap)."""
        return self.held in ("digest", "cap")


# An outbox row as `insert_rows` writes it: (chat_id, posting_id, subscription_id, status,
# created_at, next_attempt_at, overflow, due_at, silent, held); a plain tuple of ints and
# strings, which the garbage collector stops tracking (an ingest holds millions).
OutboxRow = tuple[int, str, int | None, str, str | None, str | None, int, str | None, int, str]


def outbox_row(d: PendingDelivery, stamp: str | None) -> OutboxRow:
    """`d` as the outbox row queued at `stamp` (ISO, UTC). A delivery with a `due_at` is first
    tried then (`next_attempt_at` starts at its due time)."""
    # Unpacked, not read field by field: an ingest builds ~2,000 rows per new posting.
    chat_id, posting_id, subscription_id, overflow, capped, due_at, silent, held = d
    due = stamp if due_at is None else _iso(due_at)
    status = "capped" if capped else "pending"
    return (chat_id, posting_id, subscription_id, status, stamp, due, overflow, due, silent, held)


def insert_rows(db: Database, rows: Iterable[OutboxRow]) -> int:
    """Write outbox rows with one `executemany` (plain columns, nothing encoded per row); a
    (chat, posting) pair already queued or sent is ignored. Runs in the caller's transaction,
    if any. Returns the number of rows written."""
    before = db.conn.total_changes
    db.conn.executemany(
        "INSERT OR IGNORE INTO deliveries (chat_id, posting_id, subscription_id, "
        "status, created_at, next_attempt_at, overflow, due_at, silent, held, attempts) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)",
        rows,
    )
    return db.conn.total_changes - before


def insert_deliveries(
    db: Database, deliveries: Iterable[PendingDelivery], stamp: str | None
) -> int:
    """Write pending deliveries queued at `stamp` (see `outbox_row`, `insert_rows`): a
    (chat, posting) pair already queued or sent is ignored. Returns the number written."""
    # A generator: each row is bound and dropped, not kept.
    return insert_rows(db, (outbox_row(d, stamp) for d in deliveries))


@_guarded
class Outbox(Repository):
    """The delivery outbox: one row per (chat, posting) alert, pending until Telegram took it."""

    def enqueue(self, deliveries: Iterable[PendingDelivery], *, now: datetime | None = None) -> int:
        """Add pending deliveries; a (chat, posting) pair already queued or sent is ignored."""
        # Its own transaction when alone (ingest writes its rows in the scrape's own).
        with self.db.atomic():
            return insert_deliveries(self.db, deliveries, _iso(now or now_utc()))

    def due_chats(self, *, now: datetime | None = None, limit: int = 1000) -> list[int]:
        """Chats with pending deliveries due now, the longest-waiting first."""
        # Named: without statistics, SQLite would rather walk the whole chat index for the
        # GROUP BY than read the due rows of the partial index (`m_outbox_partial_indexes`).
        rows = self.db.execute(
            "SELECT chat_id FROM deliveries INDEXED BY idx_deliveries_pending_due "
            "WHERE status = 'pending' AND next_attempt_at <= ? "
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

    def pending_for_chat(
        self, chat_id: int, *, limit: int = 100, due_by: datetime | None = None
    ) -> list[Delivery]:
        """A chat's pending deliveries in the order they were queued; with `due_by`, only
        those due by then (digests and alerts held by quiet hours wait for their time)."""
        cursor = self.db.execute(
            "SELECT id, chat_id, posting_id, subscription_id, attempts, overflow, due_at, "
            "silent, held FROM deliveries WHERE chat_id = ? AND status = 'pending' "
            "AND next_attempt_at <= coalesce(?, next_attempt_at) ORDER BY id LIMIT ?",
            [chat_id, _iso(due_by), limit],
        )
        return [
            Delivery(
                id=row[0],
                chat_id=row[1],
                posting_id=row[2],
                subscription_id=row[3],
                attempts=row[4] or 0,
                overflow=row[5] or 0,
                due_at=_from_iso(row[6]),
                silent=bool(row[7]),
                held=row[8] or "now",
            )
            for row in cursor.fetchall()
        ]

    def instant_count(self, chat_id: int, start: datetime, end: datetime) -> int:
        """Instant alerts of a chat sent or due within [start, end) (UTC): what its daily cap
        compares (`bot.timing.local_day_bounds` gives the local day)."""
        row = self.db.execute(
            "SELECT count(*) FROM deliveries WHERE chat_id = ? AND status IN ('pending', 'sent') "
            "AND held IN ('now', 'quiet') AND due_at >= ? AND due_at < ?",
            [chat_id, _iso(start), _iso(end)],
        ).fetchone()
        return int(row[0])

    def waiting(self, chat_id: int) -> list[tuple[int, int | None, str]]:
        """A chat's pending deliveries not tried yet: (id, subscription id, held), to be
        rescheduled after its time zone, quiet hours or a subscription's mode changed."""
        rows = self.db.execute(
            "SELECT id, subscription_id, held FROM deliveries "
            "WHERE chat_id = ? AND status = 'pending' AND attempts = 0",
            [chat_id],
        ).fetchall()
        return [(int(r[0]), r[1], str(r[2])) for r in rows]

    def reschedule(self, changes: Iterable[tuple[int, datetime, bool, str]]) -> None:
        """Give pending deliveries a new due time: (id, due_at, silent, held) each, in one
        transaction."""
        rows = [(_iso(at), _iso(at), int(silent), held, i) for i, at, silent, held in changes]
        with self.db.atomic():
            self.db.conn.executemany(
                "UPDATE deliveries SET due_at = ?, next_attempt_at = ?, silent = ?, held = ? "
                "WHERE id = ? AND status = 'pending'",
                rows,
            )

    def last_sent_at(self) -> datetime | None:
        """When Telegram last accepted an alert (whole seconds)."""
        row = self.db.execute(
            "SELECT max(sent_at) FROM deliveries WHERE status = 'sent'"
        ).fetchone()
        return _from_iso(row[0]) if row else None

    def pending_count(self) -> int:
        row = self.db.execute("SELECT count(*) FROM deliveries WHERE status = 'pending'").fetchone()
        return int(row[0])

    def oldest_pending_at(self) -> datetime | None:
        """When the oldest pending alert was queued (None: the outbox is empty)."""
        row = self.db.execute(
            "SELECT min(created_at) FROM deliveries WHERE status = 'pending'"
        ).fetchone()
        return _from_iso(row[0]) if row else None

    def sent_count_since(self, since: datetime) -> int:
        """Alerts Telegram accepted at or after `since` (for /stats' "alerts today")."""
        row = self.db.execute(
            "SELECT count(*) FROM deliveries WHERE status = 'sent' AND sent_at >= ?",
            [_iso(since)],
        ).fetchone()
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
