"""The sender: works the outbox, within Telegram's limits, through every Telegram fault.

Matching wrote one pending delivery per (chat, posting) in the scrape's transaction; here each
is marked sent only after Telegram accepted the message that carried it. A kill at any moment
loses nothing: at worst a message in flight at the kill is sent again after the restart.

Telegram's limits are respected by design, by `bot.deliver.flood.FloodLimiter` (python-telegram-
bot's rate limiter interface). A 429 still pauses the whole sender for `retry_after`.

A failed send is retried after a backoff of at most `BACKOFF_CAP_SECONDS`; the first message
Telegram accepts after an outage (failures and no success for `OUTAGE_SECONDS`) brings every
backed-off delivery forward (`Store.reset_backoff`), so an outage's end is not followed by
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
from typing import Any

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    RetryAfter,
    TelegramError,
)

from bot.deliver.faults import chat_gone, retry_seconds
from bot.deliver.flood import FloodLimiter
from bot.deliver.format import AlertItem, Message, pack_alerts
from bot.deliver.plain import split_plain
from bot.errors import StoreError
from bot.models import StoredPosting
from bot.store import Store, now_utc

log = logging.getLogger(__name__)

JSONDict = dict[str, Any]


# Issue 9: a delivery waited 3,161 s after a long outage with a one-hour cap.
BACKOFF_CAP_SECONDS = 600.0
# Failures without any success for this long are an outage: its end resets every backoff.
OUTAGE_SECONDS = 30.0
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


class Sender:
    """Works the outbox: one task per chat with due deliveries, many chats at once.

    A chat's failure is that chat's: it is deferred, dropped or moved, and the others go on.
    """

    def __init__(
        self,
        store: Store,
        bot: Bot,
        *,
        concurrency: int = 32,
        batch_limit: int = 200,
        idle_poll: float = 30.0,
        retry_base: float = 5.0,
        stop_grace: float = 2.0,
        on_migrate: Callable[[int, int], None] | None = None,
        clock: Callable[[], datetime] = now_utc,
        matched_terms: MatchedTerms | None = None,
    ) -> None:
        self.store = store
        self.bot = bot
        # The words each alert underlines, computed for the postings a message shows
        # (`Subscriptions.matched_terms`); None: no underlining (console, tests of sending).
        self.matched_terms = matched_terms
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
                pending = [
                    d.id for d in self.store.pending_for_chat(chat_id, limit=self.batch_limit)
                ]
                self.store.defer(pending, self.clock() + timedelta(minutes=5), "internal error")
            except StoreError as exc:
                self._store_failed(exc)
        finally:
            self._busy.discard(chat_id)
            self._wake.set()

    async def deliver_chat(self, chat_id: int) -> None:
        """Send a chat's pending deliveries, packed into as few messages as fit."""
        if self._stopping or self._held():
            return
        chat = self.store.get_chat(chat_id)
        deliveries = self.store.pending_for_chat(chat_id, limit=self.batch_limit)
        if not deliveries:
            return
        if chat is not None and (not chat.active or chat.paused):
            reason = "chat inactive" if not chat.active else "chat paused"
            self.store.mark_dropped([d.id for d in deliveries], reason)
            return
        postings = self.store.get_postings([d.posting_id for d in deliveries])
        closed = [d for d in deliveries if (p := postings.get(d.posting_id)) and p.closed_at]
        if closed:
            # Issue 12: the job closed before its alert went out; announcing it helps nobody.
            self.store.mark_dropped([d.id for d in closed], "closed")
            self.closed_dropped += len(closed)
            log.info(
                "chat %s: %d pending alert(s) dropped: posting closed before sending (%s)",
                chat_id,
                len(closed),
                ", ".join(d.posting_id for d in closed[:5]),
            )
            deliveries = [d for d in deliveries if d not in closed]
        terms = self.matched_terms(chat_id, list(postings.values())) if self.matched_terms else {}
        items = [
            AlertItem(d.id, postings[d.posting_id], terms.get(d.posting_id, ()), d.overflow)
            for d in deliveries
            if d.posting_id in postings
        ]
        attempts = {d.id: d.attempts for d in deliveries}
        for message in pack_alerts(items):
            if self._stopping or not await self._send(chat_id, message, attempts):
                return

    async def _send(self, chat_id: int, message: Message, attempts: dict[int, int]) -> bool:
        """Send one message; False when the chat's remaining deliveries must wait or stop."""
        markup = InlineKeyboardMarkup(
            [[InlineKeyboardButton(b.label, url=b.url)] for b in message.buttons]
        )
        try:
            await self.bot.send_message(
                chat_id,
                message.html,
                parse_mode=ParseMode.HTML,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
                reply_markup=markup if message.buttons else None,
            )
        except BadRequest as exc:
            if chat_gone(exc):
                return self._failed(chat_id, message, exc, attempts)
            # Malformed markup, too long, a button URL Telegram refuses: the words still go out.
            return await self._send_plain(chat_id, message, exc, attempts)
        except TelegramError as exc:
            return self._failed(chat_id, message, exc, attempts)
        self._delivered(message)
        return True

    async def _send_plain(
        self, chat_id: int, message: Message, cause: BadRequest, attempts: dict[int, int]
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
                    chat_id, part, link_preview_options=LinkPreviewOptions(is_disabled=True)
                )
        except TelegramError as exc:
            return self._failed(chat_id, message, exc, attempts, plain=True)
        self._delivered(message)
        return True

    def _delivered(self, message: Message) -> None:
        now = self.clock()
        self.store.mark_sent(list(message.delivery_ids), now=now)
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
            self._chat_gone(chat_id, exc.message)
            return False
        if isinstance(exc, BadRequest) and plain:
            log.warning(
                "chat %s refused the alert even as plain text (%s): posting(s) %s dropped",
                chat_id,
                exc.message,
                ", ".join(message.posting_ids),
            )
            self.store.mark_dropped(ids, exc.message)
            return True
        if isinstance(exc, RetryAfter):
            wait = retry_seconds(exc)
            log.warning(
                "chat %s: still rate limited after retries; trying again in %.0fs", chat_id, wait
            )
            self.store.defer(
                ids, self.clock() + timedelta(seconds=wait + 1), "429 Too Many Requests"
            )
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
        return False

    def _chat_gone(self, chat_id: int, reason: str) -> None:
        log.warning(
            "chat %s is unreachable (%s): alerts stop until someone writes to the bot there; "
            "subscriptions kept",
            chat_id,
            reason,
        )
        self.store.set_active(chat_id, False)
        pending = [d.id for d in self.store.pending_for_chat(chat_id, limit=100_000)]
        self.store.mark_dropped(pending, f"chat inactive: {reason}")
