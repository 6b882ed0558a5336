"""The sender: works the outbox, within Telegram's limits, through every Telegram fault.

Matching wrote one pending delivery per (chat, posting) in the scrape's transaction; here each
is marked sent only after Telegram accepted the message that carried it. A kill at any moment
loses nothing: at worst a message in flight at the kill is sent again after the restart.

Telegram's limits are respected by design, by `bot.deliver.flood.FloodLimiter` (python-telegram-
bot's rate limiter interface). A 429 still pauses the whole sender for `retry_after`.

A failed send is retried after a backoff of at most `BACKOFF_CAP_SECONDS`; the first message
Telegram accepts after an outage (failures and no success for `OUTAGE_SECONDS`) brings every
backed-off delivery forward (`Outbox.reset_backoff`), so an outage's end is not followed by
minutes of silence, while one chat that keeps failing among working ones keeps its backoff.
A storage fault (disk full, a lock held by another program) holds the whole sender, one log line
per fault, deliveries pending.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from telegram import Bot, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)

from bot.deliver.actions import RefStore, alert_refs, keyboard
from bot.deliver.digest import DigestGroup, pack_digest
from bot.deliver.faults import chat_gone, retry_seconds
from bot.deliver.flood import FloodLimiter
from bot.deliver.format import AlertItem, Message, pack_alerts
from bot.deliver.plain import split_plain
from bot.due import parse_mode
from bot.errors import StoreError
from bot.metrics import Metrics
from bot.models import StoredPosting
from bot.store import Chat, Delivery, Subscription, company_key, now_utc

log = logging.getLogger(__name__)

JSONDict = dict[str, Any]


# Issue 9: a delivery waited 3,161 s after a long outage with a one-hour cap.
BACKOFF_CAP_SECONDS = 600.0
# Failures without any success for this long are an outage: its end resets every backoff.
OUTAGE_SECONDS = 30.0
# Most rows one pass of one chat reads when a digest is due (a digest's postings at once).
DIGEST_LIMIT = 2000
# How long a storage fault holds the sender: doubling from the first to the last.
STORE_HOLD_SECONDS = (30.0, 600.0)


def backoff_seconds(attempts: int, *, base: float = 5.0, cap: float = BACKOFF_CAP_SECONDS) -> float:
    """Seconds before a delivery's retry after its `attempts`-th failure: `base` doubling per
    failure up to `cap`, the upper half jittered (so between cap/2 and cap once capped)."""
    ceiling = min(cap, base * float(2 ** min(attempts, 20)))
    jitter: float = random.uniform(0, ceiling / 2)
    return ceiling / 2 + jitter


# (chat id, postings) -> the matched terms to underline, by posting id.
MatchedTerms = Callable[[int, Sequence[StoredPosting]], Mapping[str, tuple[str, ...]]]


class SenderStore(RefStore, Protocol):
    """The store as the sender uses it: the outbox (`Outbox`), the postings a message shows
    (`Postings`), the chat and its subscriptions (`Chats`), its muted companies and the buttons'
    numbers (`Feedback`)."""

    def due_chats(self, *, now: datetime | None = None, limit: int = 1000) -> list[int]: ...
    def next_due_at(self) -> datetime | None: ...
    def last_sent_at(self) -> datetime | None: ...
    def pending_for_chat(
        self, chat_id: int, *, limit: int = 100, due_by: datetime | None = None
    ) -> list[Delivery]: ...
    def mark_sent(self, ids: Sequence[int], *, now: datetime | None = None) -> None: ...
    def mark_dropped(self, ids: Sequence[int], reason: str) -> None: ...
    def defer(self, ids: Sequence[int], until: datetime, error: str) -> None: ...
    def reset_backoff(
        self, *, now: datetime | None = None, keep: Sequence[str] = ("internal error",)
    ) -> int: ...
    def get_postings(self, ids: Sequence[str]) -> dict[str, StoredPosting]: ...
    def get_chat(self, chat_id: int) -> Chat | None: ...
    def subscriptions(self, chat_id: int) -> list[Subscription]: ...
    def set_active(self, chat_id: int, active: bool) -> None: ...
    def migrate_chat(self, old_id: int, new_id: int, *, now: datetime | None = None) -> None: ...
    def muted(self, chat_id: int) -> list[str]: ...


class Sender:
    """Works the outbox: one task per chat with due deliveries, many chats at once.

    A chat's failure is that chat's: it is deferred, dropped or moved, and the others go on.
    """

    def __init__(
        self,
        store: SenderStore,
        bot: Bot,
        *,
        concurrency: int = 32,
        batch_limit: int = 200,
        idle_poll: float = 30.0,
        retry_base: float = 5.0,
        stop_grace: float = 2.0,
        on_migrate: Callable[[int, int], object] | None = None,
        clock: Callable[[], datetime] = now_utc,
        matched_terms: MatchedTerms | None = None,
        metrics: Metrics | None = None,
        unstated: MatchedTerms | None = None,
    ) -> None:
        # Long: one attribute per setting or piece of state, each with the reason it exists.
        self.store = store
        # Alerts sent, failed (retried) and dropped, by reason (issue 14's /metrics).
        self.metrics = metrics
        self.bot = bot
        # The words each alert underlines, computed for the postings a message shows
        # (`Subscriptions.matched_terms`); None: no underlining (console, tests of sending).
        self.matched_terms = matched_terms
        # What each posting passed the chat's facet filters without stating ("salary not
        # stated"; `Subscriptions.unstated_facts`); None: nothing said.
        self.unstated = unstated
        self.concurrency = concurrency
        self.batch_limit = batch_limit
        self.idle_poll = idle_poll
        # First backoff after a network error, timeout or 5xx; doubles with each failure.
        self.retry_base = retry_base
        self.stop_grace = stop_grace
        # Told (old id, new id) after a group became a supergroup, e.g. to rebuild a match index.
        self.on_migrate = on_migrate
        # The sender's only clock (UTC, aware): tests move time instead of sleeping.
        self.clock = clock
        # When sends began failing with no success since (None: the last send went through).
        # Unknown at start-up, taken as long ago: the first success also brings forward
        # deliveries a previous run left backed off.
        self._failing_since: datetime | None = datetime.min.replace(tzinfo=UTC)
        # A storage fault holds every send until then (and the fault logged once).
        self._store_fault: str | None = None
        self._store_faults = 0
        self._held_until: datetime | None = None
        self._wake = asyncio.Event()
        self._busy: set[int] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = False
        self.sent_messages = 0
        # Pending alerts dropped because their posting (its job's group) closed first.
        self.closed_dropped = 0

    def wake(self) -> None:
        """New deliveries were queued: look at the outbox now."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set; sends in flight get `stop_grace` seconds to finish."""
        slots = asyncio.Semaphore(self.concurrency)
        self._stopping = False
        try:
            try:
                self._hold_after_restart()
            except StoreError as exc:
                self._store_failed(exc)
            while not stop.is_set():
                self._wake.clear()
                try:
                    if not self._held():
                        self._start_due_chats(slots)
                    await self._sleep_until_work(stop)
                except StoreError as exc:
                    self._store_failed(exc)
                    await self._sleep_until_work(stop, store_ok=False)
        finally:
            # No new message starts; one cancelled mid-request would be sent again next time.
            self._stopping = True
            if self._tasks:
                await asyncio.wait(list(self._tasks), timeout=self.stop_grace)
            for task in list(self._tasks):
                task.cancel()
            if self._tasks:
                await asyncio.wait(list(self._tasks), timeout=2)
            self._stopping = False

    def _start_due_chats(self, slots: asyncio.Semaphore) -> None:
        for chat_id in self.store.due_chats(now=self.clock(), limit=self.concurrency * 4):
            if chat_id in self._busy:
                continue
            self._busy.add(chat_id)
            task = asyncio.create_task(self._chat_task(chat_id, slots))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _held(self) -> bool:
        """Whether a recent storage fault still holds every send."""
        return self._held_until is not None and self.clock() < self._held_until

    def _store_failed(self, exc: StoreError) -> None:
        """A storage fault: hold all sends (a message sent but not marked sent would go out
        again on every retry), with a doubling hold; one log line per distinct fault."""
        low, high = STORE_HOLD_SECONDS
        hold = min(high, low * 2 ** min(self._store_faults, 10))
        self._store_faults += 1
        self._held_until = self.clock() + timedelta(seconds=hold)
        if str(exc) != self._store_fault:
            self._store_fault = str(exc)
            log.warning(
                "outbox: %s; %s. Deliveries stay pending; sending again in %.0fs",
                exc,
                exc.remedy,
                hold,
            )

    def _store_recovered(self) -> None:
        if self._store_fault is not None:
            log.info("outbox: the database works again; sending resumes")
        self._store_fault, self._store_faults, self._held_until = None, 0, None

    def _hold_after_restart(self) -> None:
        """A process killed a moment ago may have just used up Telegram's overall window, which
        a new limiter cannot know: when the outbox shows messages sent in the last seconds,
        hold every send for one window rather than start with a burst of 429s."""
        limiter = getattr(self.bot, "rate_limiter", None)
        if not isinstance(limiter, FloodLimiter) or limiter.has_sent:
            return
        last = self.store.last_sent_at()
        # sent_at has whole seconds: "within 3 s" covers anything in the last two.
        if last is not None and self.clock() - last < timedelta(seconds=3):
            log.info("messages went out moments ago (a restart?): first send in one second")
            limiter.pause(limiter.window_seconds())

    async def _sleep_until_work(self, stop: asyncio.Event, *, store_ok: bool = True) -> None:
        timeout = self.idle_poll
        due = self.store.next_due_at() if store_ok else None
        if due is not None:
            wait = (due - self.clock()).total_seconds()
            # Due already yet not started means its chat is busy: a finishing task wakes us.
            timeout = min(timeout, wait if wait > 0 else 0.5)
        if self._busy:
            timeout = min(timeout, 0.5)
        if self._held_until is not None:
            timeout = min(timeout, max((self._held_until - self.clock()).total_seconds(), 0.05))
        waiters = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())]
        try:
            await asyncio.wait(
                waiters, timeout=max(timeout, 0.05), return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for waiter in waiters:
                waiter.cancel()

    # A deadline for polling the outbox, after which the sender stops in order: cancelling from
    # outside (asyncio.timeout) would abandon the runner task this starts.
    async def drain(self, timeout: float = 60.0) -> None:  # noqa: ASYNC109
        """Deliver everything due now and return (for `once` and tests), giving up after
        `timeout` seconds."""
        stop = asyncio.Event()
        runner = asyncio.create_task(self.run(stop))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            if self._store_fault is not None:
                break  # the outbox cannot be written: what is pending waits for the daemon
            if not self._busy and not self.store.due_chats(now=self.clock(), limit=1):
                break
        stop.set()
        await runner

    async def _chat_task(self, chat_id: int, slots: asyncio.Semaphore) -> None:
        try:
            async with slots:
                await self.deliver_chat(chat_id)
        except StoreError as exc:  # the disk's fault: the deliveries stay pending
            self._store_failed(exc)
        except Exception:  # a bug: keep the sender alive, the deliveries stay pending
            log.exception("delivering to chat %s failed unexpectedly; will retry", chat_id)
            try:
                # Only the rows this attempt took: a digest due tomorrow must not come forward.
                due = self.store.pending_for_chat(
                    chat_id, limit=self.batch_limit, due_by=self.clock()
                )
                pending = [d.id for d in due]
                self.store.defer(pending, self.clock() + timedelta(minutes=5), "internal error")
            except StoreError as exc:
                self._store_failed(exc)
        finally:
            self._busy.discard(chat_id)
            self._wake.set()

    async def deliver_chat(self, chat_id: int) -> None:
        """Send a chat's deliveries due now, packed into as few messages as fit: instant ones
        (those held by quiet hours among them) as alerts, those chosen "silent" without a
        sound, digest ones as one digest (`pack_digest`)."""
        if self._stopping or self._held():
            return
        now = self.clock()
        deliveries = self._due(chat_id, now)
        if not deliveries or self._chat_closed(chat_id, deliveries):
            return
        postings = self.store.get_postings([d.posting_id for d in deliveries])
        deliveries = self._without_closed(chat_id, deliveries, postings)
        deliveries = self._unmuted(chat_id, deliveries, postings)
        items = self._items(chat_id, deliveries, postings, now)
        attempts = {d.id: d.attempts for d in deliveries}
        for message, silent in self._messages(chat_id, deliveries, items):
            if self._stopping or not await self._send(chat_id, message, attempts, silent=silent):
                return

    def _due(self, chat_id: int, now: datetime) -> list[Delivery]:
        """The chat's rows due now; a digest is read whole (it is one message, not a batch)."""
        deliveries = self.store.pending_for_chat(chat_id, limit=self.batch_limit, due_by=now)
        if len(deliveries) == self.batch_limit and any(d.digest for d in deliveries):
            deliveries = self.store.pending_for_chat(chat_id, limit=DIGEST_LIMIT, due_by=now)
        return deliveries

    def _chat_closed(self, chat_id: int, deliveries: list[Delivery]) -> bool:
        """Drop the rows of an inactive or paused chat; True when it is such a chat."""
        chat = self.store.get_chat(chat_id)
        if chat is None or (chat.active and not chat.paused):
            return False
        reason = "chat inactive" if not chat.active else "chat paused"
        self.store.mark_dropped([d.id for d in deliveries], reason)
        self._count("dropped", "chat_inactive", len(deliveries))
        return True

    def _without_closed(
        self, chat_id: int, deliveries: list[Delivery], postings: Mapping[str, StoredPosting]
    ) -> list[Delivery]:
        """Issue 12: a job that closed before its alert went out is not announced."""
        closed = [d for d in deliveries if (p := postings.get(d.posting_id)) and p.closed_at]
        if not closed:
            return deliveries
        self.store.mark_dropped([d.id for d in closed], "closed")
        self.closed_dropped += len(closed)
        self._count("dropped", "expired", len(closed))
        log.info(
            "chat %s: %d pending alert(s) dropped: posting closed before sending (%s)",
            chat_id,
            len(closed),
            ", ".join(d.posting_id for d in closed[:5]),
        )
        return [d for d in deliveries if d not in closed]

    def _items(
        self,
        chat_id: int,
        deliveries: list[Delivery],
        postings: Mapping[str, StoredPosting],
        now: datetime,
    ) -> dict[int, AlertItem]:
        """Each row's alert with what it shows: matched words, unstated facts, button refs."""
        shown = list(postings.values())
        terms = self.matched_terms(chat_id, shown) if self.matched_terms else {}
        notes = self.unstated(chat_id, shown) if self.unstated else {}
        refs = alert_refs(
            self.store, [postings[d.posting_id] for d in deliveries if d.posting_id in postings]
        )
        return {
            d.id: AlertItem(
                d.id,
                postings[d.posting_id],
                terms.get(d.posting_id, ()),
                d.overflow,
                *refs[d.posting_id],
                unstated=notes.get(d.posting_id, ()),
                now=now,
            )
            for d in deliveries
            if d.posting_id in postings
        }

    def _messages(
        self, chat_id: int, deliveries: list[Delivery], items: Mapping[int, AlertItem]
    ) -> list[tuple[Message, bool]]:
        """(message, silent): instant alerts (with sound, then silent ones), then the digest."""
        shown = [d for d in deliveries if d.id in items]
        messages = [
            (message, silent)
            for silent in (False, True)
            for message in pack_alerts(
                [items[d.id] for d in shown if not d.digest and d.silent == silent]
            )
        ]
        digest = [d for d in shown if d.digest]
        if digest:
            groups = self._digest_groups(chat_id, digest, items)
            messages += [(message, False) for message in pack_digest(groups)]
        return messages

    def _unmuted(
        self, chat_id: int, deliveries: list[Delivery], postings: Mapping[str, StoredPosting]
    ) -> list[Delivery]:
        """The deliveries left once those of companies the chat muted are dropped (a mute
        applies to alerts queued before it too)."""
        muted = frozenset(self.store.muted(chat_id))
        if not muted:
            return deliveries
        gone = [
            d.id
            for d in deliveries
            if d.posting_id in postings and company_key(postings[d.posting_id].company) in muted
        ]
        if gone:
            self.store.mark_dropped(gone, "company muted")
            self._count("dropped", "muted", len(gone))
        return [d for d in deliveries if d.id not in set(gone)]

    def _digest_groups(
        self, chat_id: int, rows: Sequence[Delivery], items: Mapping[int, AlertItem]
    ) -> list[DigestGroup]:
        """Digest rows grouped by subscription (in id order), each group newest first."""
        subs = {s.id: s for s in self.store.subscriptions(chat_id)}
        by_sub: dict[int | None, list[Delivery]] = {}
        for row in rows:
            by_sub.setdefault(row.subscription_id, []).append(row)
        groups = []
        for sub_id in sorted(by_sub, key=lambda s: (s is None, s or 0)):
            sub = subs.get(sub_id) if sub_id is not None else None
            if sub is None:
                label = "Other postings"
            else:
                mode = parse_mode(sub.mode)
                how = "held by the daily cap" if not mode.digest else mode.describe()
                label = f"#{sub.id} {sub.query} · {how}"
            members = [items[row.id] for row in by_sub[sub_id]]
            members.sort(key=_newest_first)
            groups.append(DigestGroup(label, members))
        return groups

    async def _send(
        self, chat_id: int, message: Message, attempts: dict[int, int], *, silent: bool = False
    ) -> bool:
        """Send one message (without a notification sound if `silent`); False when the chat's
        remaining deliveries must wait or stop."""
        markup = keyboard(message)
        try:
            await self.bot.send_message(
                chat_id,
                message.html,
                parse_mode=ParseMode.HTML,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
                reply_markup=markup,
                disable_notification=silent,
            )
        except BadRequest as exc:
            if chat_gone(exc):
                return self._failed(chat_id, message, exc, attempts)
            # Malformed markup, too long, a button URL Telegram refuses: the words still go out.
            return await self._send_plain(chat_id, message, exc, attempts, silent=silent)
        except TelegramError as exc:
            return self._failed(chat_id, message, exc, attempts)
        self._delivered(message)
        return True

    async def _send_plain(
        self,
        chat_id: int,
        message: Message,
        cause: BadRequest,
        attempts: dict[int, int],
        *,
        silent: bool = False,
    ) -> bool:
        """Telegram rejected the HTML: send the same alert as plain text rather than drop it."""
        log.warning(
            "chat %s: Telegram rejected the alert (%s) for posting(s) %s; sending plain text",
            chat_id,
            cause.message,
            ", ".join(message.posting_ids),
        )
        try:
            for part in split_plain(message.plain):
                await self.bot.send_message(
                    chat_id,
                    part,
                    link_preview_options=LinkPreviewOptions(is_disabled=True),
                    disable_notification=silent,
                )
        except TelegramError as exc:
            return self._failed(chat_id, message, exc, attempts, plain=True)
        self._delivered(message)
        return True

    def _delivered(self, message: Message) -> None:
        now = self.clock()
        self.store.mark_sent(list(message.delivery_ids), now=now)
        self._count("sent", "", len(message.delivery_ids))
        self._store_recovered()
        self.sent_messages += 1
        outage = self._failing_since is not None and (
            now - self._failing_since >= timedelta(seconds=OUTAGE_SECONDS)
        )
        self._failing_since = None
        # After an outage, what waited for Telegram goes now and backoff starts over.
        if outage and (brought := self.store.reset_backoff(now=now)):
            log.info("Telegram accepts messages again: %d deferred alerts are due now", brought)
            self._wake.set()

    def _failed(
        self,
        chat_id: int,
        message: Message,
        exc: TelegramError,
        attempts: dict[int, int],
        *,
        plain: bool = False,
    ) -> bool:
        """Settle `message` after Telegram refused it; False stops the chat's other messages."""
        # Over 50 lines on purpose: one decision table over Telegram's fault classes, in the
        # order that matters (a migration before "gone", "gone" before a plain-text refusal).
        ids = list(message.delivery_ids)
        if isinstance(exc, ChatMigrated):
            new_id = int(exc.new_chat_id)
            log.info("chat %s became supergroup %s: moving its subscriptions", chat_id, new_id)
            self.store.migrate_chat(chat_id, new_id)
            if self.on_migrate is not None:
                self.on_migrate(chat_id, new_id)
            self._wake.set()
            return False
        if chat_gone(exc):
            self._chat_gone(chat_id, exc)
            return False
        if isinstance(exc, BadRequest) and plain:
            log.warning(
                "chat %s refused the alert even as plain text (%s): posting(s) %s dropped",
                chat_id,
                exc.message,
                ", ".join(message.posting_ids),
            )
            self.store.mark_dropped(ids, exc.message)
            self._count("dropped", "bad_request", len(ids))
            return True
        if isinstance(exc, RetryAfter):
            wait = retry_seconds(exc)
            log.warning(
                "chat %s: still rate limited after retries; trying again in %.0fs", chat_id, wait
            )
            self.store.defer(
                ids, self.clock() + timedelta(seconds=wait + 1), "429 Too Many Requests"
            )
            self._count("failed", "rate_limited", len(ids))
            return False
        # Timeouts, connection faults, 5xx (NetworkError) and anything unforeseen: try again.
        if self._failing_since is None:
            self._failing_since = self.clock()
        wait = backoff_seconds(max(attempts.get(i, 0) for i in ids), base=self.retry_base)
        log.warning(
            "chat %s: sending failed (%s: %s); retrying in %.0fs",
            chat_id,
            exc.__class__.__name__,
            exc,
            wait,
        )
        self.store.defer(
            ids, self.clock() + timedelta(seconds=wait), f"{exc.__class__.__name__}: {exc}"
        )
        self._count("failed", failure_reason(exc), len(ids))
        return False

    def _chat_gone(self, chat_id: int, exc: TelegramError) -> None:
        reason = exc.message
        log.warning(
            "chat %s is unreachable (%s): alerts stop until someone writes to the bot there; "
            "subscriptions kept",
            chat_id,
            reason,
        )
        self.store.set_active(chat_id, False)
        pending = [d.id for d in self.store.pending_for_chat(chat_id, limit=100_000)]
        self.store.mark_dropped(pending, f"chat inactive: {reason}")
        blocked = isinstance(exc, Forbidden) and "blocked" in exc.message.lower()
        self._count("dropped", "blocked" if blocked else "chat_not_found", len(pending))

    def _count(self, what: str, reason: str, n: int) -> None:
        """Record `n` alerts `what` ("sent", "failed", "dropped") for `reason` in the metrics."""
        if self.metrics is None:
            return
        for _ in range(n):
            if what == "sent":
                self.metrics.alert_sent()
            elif what == "failed":
                self.metrics.alert_failed(reason)
            else:
                self.metrics.alert_dropped(reason)


def failure_reason(exc: TelegramError) -> str:
    """The `jobhound_alerts_failed_total` reason of a send that will be retried."""
    if isinstance(exc, TimedOut):
        return "network"
    if isinstance(exc, NetworkError) and not isinstance(exc, BadRequest):
        # PTB raises NetworkError for a 5xx answer too, with its reason phrase.
        text = exc.message.lower()
        return "server_error" if any(w in text for w in SERVER_ERROR_WORDS) else "network"
    return "other"


SERVER_ERROR_WORDS = ("bad gateway", "internal server", "service unavailable", "gateway time")


def _newest_first(item: AlertItem) -> tuple[float, float]:
    """Sort key: first seen latest first, then posted latest first."""
    posting = item.posting
    posted = posting.posted_at.timestamp() if posting.posted_at else 0.0
    return (-posting.first_seen.timestamp(), -posted)
