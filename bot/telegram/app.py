"""The Telegram front: a python-telegram-bot Application serving commands, and the sender.

Run inside the daemon's event loop (no `run_polling`, no PTB `Updater`): start-up registers the
commands, then our `Poller` and the outbox sender run until the daemon stops, then both are shut
down in order, each within a bound (SIGTERM ends the daemon within 10 s).

Polling never gives up: PTB's updater aborts for good on one 401 (a proxy's answer as much as
Telegram's) and sleeps its backoff out without looking at the stop event; ours retries every
failure with a capped backoff that a stop interrupts. Updates are processed concurrently across
chats and one at a time within a chat (`PerChatProcessor`), so one busy or flooding chat never
holds up another.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import sqlite3
import warnings
from collections.abc import AsyncIterator, Awaitable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from telegram import Update
from telegram.constants import ParseMode
from telegram.error import Conflict, InvalidToken, RetryAfter, TelegramError
from telegram.ext import Application, ApplicationBuilder, BaseUpdateProcessor, ContextTypes
from telegram.request import HTTPXRequest

from bot.deliver import FloodLimiter, Limits, Sender
from bot.deliver.sender import SenderStore
from bot.errors import ConfigError, JobhoundError
from bot.operations import Operations
from bot.settings import Settings
from bot.store import Store
from bot.subscriptions import Subscriptions
from bot.telegram.admin import Admin
from bot.telegram.commands import Commands
from bot.telegram.help import bot_commands
from bot.text import counted

log = logging.getLogger(__name__)

START_ATTEMPTS = 5
ALLOWED_UPDATES = (Update.MESSAGE, Update.CALLBACK_QUERY, Update.MY_CHAT_MEMBER)
# Long-poll length asked of getUpdates (seconds); the HTTP read timeout is 10 s longer.
POLL_TIMEOUT = 30
# Backoff after a failed getUpdates: 1 s, doubling per consecutive failure, at most 60 s.
POLL_BACKOFF_FIRST, POLL_BACKOFF_MAX = 1.0, 60.0
# A chat's updates waiting behind its running one; beyond this a flood is dropped unread
# (the per-chat rate limit refuses far fewer commands than this per minute anyway).
MAX_WAITING_PER_CHAT = 40
# On shutdown, a running command gets this long to finish before it is cancelled.
HANDLER_GRACE_SECONDS = 2.0
# Shutdown waits this long for Telegram to take note of the last updates read.
CONFIRM_SECONDS = 2.0


@dataclass
class TelegramFront:
    """The running Telegram side of the daemon."""

    app: Application  # type: ignore[type-arg]
    sender: Sender
    poller: Poller


def build_application(
    settings: Settings, limits: Limits | None = None, ops: Operations | None = None
) -> Application:  # type: ignore[type-arg]
    """The PTB application, pointed at `telegram.api_url`, with our flood limiter (which
    tells `ops` of every 429)."""
    token = settings.telegram.token
    assert token is not None
    api = settings.telegram.api_url
    return (
        ApplicationBuilder()
        .token(token)
        .base_url(f"{api}/bot")
        .base_file_url(f"{api}/file/bot")
        .rate_limiter(FloodLimiter(limits, on_retry_after=ops.telegram_429 if ops else None))
        .request(
            HTTPXRequest(
                connection_pool_size=64, connect_timeout=10, read_timeout=20, write_timeout=20
            )
        )
        .get_updates_request(HTTPXRequest(connect_timeout=10, read_timeout=POLL_TIMEOUT + 10))
        .updater(None)
        .concurrent_updates(PerChatProcessor())
        .build()
    )


@dataclass
class _ChatQueue:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    waiting: int = 0


class PerChatProcessor(BaseUpdateProcessor):
    """Updates of different chats run concurrently; one chat's run one at a time, in order.

    A chat that floods (or runs a long scan) queues behind itself only. At most
    `max_waiting` updates of one chat wait; more are dropped unprocessed (silence is the
    answer to a flood past the rate limit). `close` drops the waiting ones and cancels what
    still runs after a grace period, so that stopping never waits for a backlog.
    """

    def __init__(self, max_waiting: int = MAX_WAITING_PER_CHAT) -> None:
        # The semaphore only bounds memory; the real bound is one running update per chat.
        super().__init__(max_concurrent_updates=65_536)
        self.max_waiting = max_waiting
        self._chats: dict[int, _ChatQueue] = {}
        self._running: set[asyncio.Task[Any]] = set()
        self._closing = False
        self.dropped = 0

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Run `coroutine` once the chat's earlier updates are done (or drop it)."""
        chat = update.effective_chat if isinstance(update, Update) else None
        if chat is None:
            await self._run(coroutine)
            return
        queue = self._chats.setdefault(chat.id, _ChatQueue())
        if queue.waiting >= self.max_waiting or self._closing:
            self._drop(coroutine)
            return
        queue.waiting += 1
        try:
            async with queue.lock:
                if self._closing:
                    self._drop(coroutine)
                    return
                await self._run(coroutine)
        finally:
            queue.waiting -= 1
            if queue.waiting == 0:
                self._chats.pop(chat.id, None)

    async def _run(self, coroutine: Awaitable[Any]) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
        try:
            await coroutine
        finally:
            if task is not None:
                self._running.discard(task)

    def _drop(self, coroutine: Awaitable[Any]) -> None:
        self.dropped += 1
        if inspect.iscoroutine(coroutine):
            coroutine.close()

    async def close(self, grace: float = HANDLER_GRACE_SECONDS) -> None:
        """Drop waiting updates; give running ones `grace` seconds, then cancel them."""
        self._closing = True  # waiters drop themselves as they wake; nothing new is admitted
        running = set(self._running)
        if not running:
            return
        _, pending = await asyncio.wait(running, timeout=grace)
        for task in pending:
            task.cancel()
        if pending:
            log.info("stopping: cancelled %s still running", counted(len(pending), "chat command"))

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""


class Poller:
    """Long-polls getUpdates into the application's update queue until `stop` is set.

    Every failure (network, timeout, 401, 409, a proxy's HTML page, 429) is one log line and
    a retry after `first_backoff` seconds doubling up to `max_backoff` (a 429's retry_after
    when longer); the first success after failures says polling recovered. The in-flight
    request and the backoff both end as soon as `stop` is set.
    """

    def __init__(
        self,
        app: Application,  # type: ignore[type-arg]
        *,
        allowed_updates: Sequence[str] = ALLOWED_UPDATES,
        timeout: int = POLL_TIMEOUT,
        first_backoff: float = POLL_BACKOFF_FIRST,
        max_backoff: float = POLL_BACKOFF_MAX,
    ) -> None:
        self.app = app
        self.allowed_updates = list(allowed_updates)
        self.timeout = timeout
        self.first_backoff = first_backoff
        self.max_backoff = max_backoff
        self.offset: int | None = None
        self.failures = 0  # consecutive, reset by a success
        self.healthy = True
        self._webhook_cleared = False

    def backoff(self, failures: int) -> float:
        """Seconds to wait after the `failures`-th consecutive failure."""
        return min(self.max_backoff, self.first_backoff * 2.0 ** min(failures - 1, 30))

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until `stop` is set; never raises: whatever the API (or a proxy in front of
        it) answers, polling goes on."""
        while not stop.is_set():
            try:
                updates = await _until(stop, self._poll())
                if updates is not None:
                    offset = _next_offset(updates)
            # Whatever failed (a TelegramError, or an answer PTB could not read: JSON of the wrong
            # shape raises KeyError/TypeError), polling must go on: it is the bot's only ear.
            except Exception as exc:  # noqa: BLE001
                self.failures += 1
                self.healthy = False
                wait = self.backoff(self.failures)
                if isinstance(exc, RetryAfter):
                    wait = max(wait, _retry_after(exc))
                log.warning("polling Telegram failed (%s); retrying in %.0fs", _describe(exc), wait)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=wait)
                continue
            if updates is None:  # stopped while waiting for Telegram
                break
            if not self.healthy:
                log.info(
                    "polling Telegram works again after %s",
                    counted(self.failures, "failed attempt"),
                )
                self.failures, self.healthy = 0, True
            for update in updates:
                await self.app.update_queue.put(update)
            self.offset = offset if offset is not None else self.offset

    async def _poll(self) -> tuple[Update, ...]:
        bot = self.app.bot
        if not self._webhook_cleared:
            # "getUpdates will not work if an outgoing webhook is set up" (Bot API, getUpdates).
            await bot.delete_webhook()
            self._webhook_cleared = True
        updates: tuple[Update, ...] = await bot.get_updates(
            offset=self.offset, timeout=self.timeout, allowed_updates=self.allowed_updates
        )
        return updates

    async def confirm(self) -> None:
        """Tell Telegram the updates taken so far are read, so a restart does not get them
        again (best effort, bounded by `CONFIRM_SECONDS`)."""
        if self.offset is None:
            return
        try:
            await asyncio.wait_for(
                self.app.bot.get_updates(offset=self.offset, timeout=0, limit=1), CONFIRM_SECONDS
            )
        except (TelegramError, OSError, TimeoutError) as exc:
            log.info("could not confirm the last updates to Telegram (%s)", _describe(exc))


def _next_offset(updates: Sequence[Update]) -> int | None:
    """The getUpdates offset confirming `updates`; ValueError if their ids are not numbers."""
    ids = [update.update_id for update in updates]
    if not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        raise ValueError(f"update_id is not a number in {ids[:3]!r}")
    return max(ids) + 1 if ids else None


async def _until(stop: asyncio.Event, work: Awaitable[Any]) -> Any:
    """`work`'s result, or None if `stop` is set first (`work` is then cancelled)."""
    task = asyncio.ensure_future(work)
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait((task, stopped), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for pending in (task, stopped):
            if not pending.done():
                pending.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await pending
    if task.cancelled():
        return None
    return task.result()


def _retry_after(exc: RetryAfter) -> float:
    with warnings.catch_warnings():  # PTB warns that the int form of retry_after will go
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, Conflict):
        return "409 Conflict: another instance polls this bot token, or a webhook is set"
    text = (str(exc) or exc.__class__.__name__)[:160]
    if isinstance(exc, InvalidToken):
        return f"401/404 from the Bot API or a proxy in front of it: {text}"
    if not isinstance(exc, TelegramError | OSError | TimeoutError):
        return f"an answer that is no Bot API answer, {exc.__class__.__name__}: {text}"
    return f"{exc.__class__.__name__}: {text}"


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Expected faults are one line (and the chat is told when we could not do what it asked);
    anything else is a bug and keeps its traceback."""
    error = context.error
    if isinstance(error, TelegramError):
        log.warning(
            "Telegram request failed while handling an update (%s: %s); the reply is lost",
            error.__class__.__name__,
            error,
        )
        return
    if isinstance(error, JobhoundError | sqlite3.Error):
        log.error(
            "a chat command failed on the database (%s: %s); the chat was told to retry",
            error.__class__.__name__,
            error,
        )
        message = update.effective_message if isinstance(update, Update) else None
        if message is not None:
            with contextlib.suppress(TelegramError):
                await message.reply_text(
                    "Sorry, that failed on our side; please try again in a minute.",
                    parse_mode=ParseMode.HTML,
                    do_quote=False,
                )
        return
    log.error("a command handler crashed", exc_info=error)


def _sender(
    store: SenderStore,
    app: Application[Any, Any, Any, Any, Any, Any],
    subs: Subscriptions,
    ops: Operations | None,
) -> Sender:
    """The outbox sender over the application's bot."""
    # A migrated group's subscriptions moved to the new chat id: the index must follow.
    return Sender(
        store,
        app.bot,
        on_migrate=subs.migrate_chat,
        matched_terms=subs.matched_terms,
        metrics=ops.metrics if ops else None,
        unstated=subs.unstated_facts,
    )


@contextlib.asynccontextmanager
async def telegram_front(
    settings: Settings,
    store: Store,
    subs: Subscriptions,
    stop: asyncio.Event,
    *,
    limits: Limits | None = None,
    poll_options: dict[str, Any] | None = None,
    ops: Operations | None = None,
) -> AsyncIterator[TelegramFront]:
    """Start polling and the sender; stop both when the block ends (or `stop` is set).

    `poll_options` are keyword arguments of `Poller` (tests shorten or lengthen its backoff).
    """
    app = build_application(settings, limits, ops)
    Commands(settings, store, subs, ops=ops).register(app)
    Admin(settings, ops).register(app)
    app.add_error_handler(on_error)
    with _quiet_invalid_json_log():
        started = await _initialize(app, stop)
        sender = _sender(store, app, subs, ops)
        poller = Poller(app, **(poll_options or {}))
        tasks: list[asyncio.Task[None]] = []
        try:
            if not started:
                log.info("stopped before Telegram answered; the bot was not started")
                yield TelegramFront(app, sender, poller)
                return
            await app.start()
            tasks.append(asyncio.create_task(poller.run(stop), name="poller"))
            # Commands stop with the daemon's stop, not after the scrapes' grace period.
            tasks.append(asyncio.create_task(_close_on(stop, app), name="commands-closer"))
            try:
                await app.bot.set_my_commands(bot_commands())
            except TelegramError as exc:
                log.warning(
                    "could not register the command list with Telegram (%s); continuing", exc
                )
            log.info("Telegram bot @%s is serving chats", app.bot.username)
            tasks.append(asyncio.create_task(sender.run(stop), name="sender"))
            yield TelegramFront(app, sender, poller)
        finally:
            stop.set()
            await _stop_front(app, poller, tasks)


@contextlib.contextmanager
def _quiet_invalid_json_log() -> Iterator[None]:
    """PTB logs an answer it cannot read (a proxy's HTML page, JSON of the wrong shape) with a
    traceback before raising; while the front runs, our one line about that error is the
    report."""

    loggers = [
        logging.getLogger(n) for n in ("telegram.request.BaseRequest", "telegram.ext.ExtBot")
    ]

    def keep(record: logging.LogRecord) -> bool:
        text = record.getMessage()
        return not text.startswith(
            ("Can not load invalid JSON data", "Error while parsing updates")
        )

    for logger in loggers:
        logger.addFilter(keep)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(keep)


async def _stop_front(
    app: Application,  # type: ignore[type-arg]
    poller: Poller,
    tasks: list[asyncio.Task[None]],
) -> None:
    """Stop polling, the sender and running commands together, each within its bound."""

    if tasks:
        _, pending = await asyncio.wait(tasks, timeout=5)
        for task in pending:
            task.cancel()
        await asyncio.wait(tasks, timeout=1)
    await poller.confirm()
    if app.running:
        await app.stop()
    await app.shutdown()


async def _close_on(stop: asyncio.Event, app: Application) -> None:  # type: ignore[type-arg]
    await stop.wait()
    if isinstance(app.update_processor, PerChatProcessor):
        await app.update_processor.close()


async def _initialize(app: Application, stop: asyncio.Event) -> bool:  # type: ignore[type-arg]
    """getMe with retries (2, 4, 8, 16 s apart): Telegram may be briefly unreachable, or a proxy
    may answer for it; a wrong token is fatal (ConfigError). False when `stop` came first."""

    async def started() -> bool:
        await app.initialize()
        return True

    attempt = 0
    while not stop.is_set():
        attempt += 1
        try:
            return await _until(stop, started()) is True
        except InvalidToken:
            raise ConfigError(
                "Telegram rejected TELEGRAM_BOT_TOKEN (401 Unauthorized)", key="TELEGRAM_BOT_TOKEN"
            ) from None
        except TelegramError as exc:  # unreachable, or a proxy's page instead of the API
            if attempt == START_ATTEMPTS:
                raise ConfigError(
                    f"cannot reach the Telegram Bot API at the configured api_url: {exc}",
                    key="telegram.api_url",
                ) from None
            wait = 2**attempt
            log.warning("cannot reach Telegram (%s); retrying in %ds", exc, wait)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=wait)
    return False
