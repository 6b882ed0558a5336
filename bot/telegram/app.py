"""The Telegram front: a python-telegram-bot Application serving commands, and the sender.

Run inside the daemon's event loop (no `run_polling`): start-up registers the commands, polling
and the outbox sender run until the daemon stops, then both are shut down in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from telegram import Update
from telegram.error import Conflict, InvalidToken, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import Application, ApplicationBuilder, ContextTypes
from telegram.request import HTTPXRequest

from bot.config import Settings
from bot.deliver import FloodLimiter, Limits, Sender
from bot.errors import ConfigError
from bot.store import Store
from bot.subscriptions import Subscriptions
from bot.telegram.admin import Admin
from bot.telegram.commands import Commands

log = logging.getLogger(__name__)

START_ATTEMPTS = 5


@dataclass
class TelegramFront:
    """The running Telegram side of the daemon."""

    app: Application  # type: ignore[type-arg]
    sender: Sender


def build_application(settings: Settings, limits: Limits | None = None) -> Application:  # type: ignore[type-arg]
    """The PTB application, pointed at `telegram.api_url`, with our flood limiter."""
    token = settings.telegram.token
    assert token is not None
    api = settings.telegram.api_url
    return (
        ApplicationBuilder()
        .token(token)
        .base_url(f"{api}/bot")
        .base_file_url(f"{api}/file/bot")
        .rate_limiter(FloodLimiter(limits))
        .request(
            HTTPXRequest(
                connection_pool_size=64, connect_timeout=10, read_timeout=20, write_timeout=20
            )
        )
        .get_updates_request(HTTPXRequest(connect_timeout=10, read_timeout=40))
        .concurrent_updates(8)
        .build()
    )


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Expected Telegram faults are one line; anything else is a bug and keeps its traceback."""
    error = context.error
    if isinstance(error, NetworkError | RetryAfter | TimedOut):
        log.warning(
            "Telegram request failed while handling an update (%s: %s)",
            error.__class__.__name__,
            error,
        )
        return
    log.error("a command handler crashed", exc_info=error)


def _polling_error(error: TelegramError) -> None:
    if isinstance(error, Conflict):
        log.error("another instance polls this bot token (409 Conflict); retrying")
    else:
        log.warning("polling Telegram failed (%s: %s); retrying", error.__class__.__name__, error)


@contextlib.asynccontextmanager
async def telegram_front(
    settings: Settings,
    store: Store,
    subs: Subscriptions,
    stop: asyncio.Event,
    *,
    limits: Limits | None = None,
) -> AsyncIterator[TelegramFront]:
    """Start polling and the sender; stop both when the block ends."""
    app = build_application(settings, limits)
    Commands(settings, store, subs).register(app)
    Admin(settings).register(app)
    app.add_error_handler(on_error)
    await _initialize(app, stop)
    # A migrated group's subscriptions moved to the new chat id: the index must follow.
    sender = Sender(store, app.bot, on_migrate=lambda _old, _new: subs.reload())
    sender_task: asyncio.Task[None] | None = None
    try:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(
            allowed_updates=[Update.MESSAGE, Update.CALLBACK_QUERY, Update.MY_CHAT_MEMBER],
            error_callback=_polling_error,
        )
        try:
            await app.bot.set_my_commands(Commands.bot_commands())
        except TelegramError as exc:
            log.warning("could not register the command list with Telegram (%s); continuing", exc)
        log.info("Telegram bot @%s is serving chats", app.bot.username)
        sender_task = asyncio.create_task(sender.run(stop), name="sender")
        yield TelegramFront(app, sender)
    finally:
        stop.set()
        if sender_task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(sender_task, timeout=5)
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
        await app.shutdown()


async def _initialize(app: Application, stop: asyncio.Event) -> None:  # type: ignore[type-arg]
    """getMe with retries: Telegram may be briefly unreachable; a wrong token is fatal."""
    for attempt in range(1, START_ATTEMPTS + 1):
        try:
            await app.initialize()
            return
        except InvalidToken:
            raise ConfigError(
                "Telegram rejected TELEGRAM_BOT_TOKEN (401 Unauthorized)", key="TELEGRAM_BOT_TOKEN"
            ) from None
        except (NetworkError, TimedOut) as exc:
            if attempt == START_ATTEMPTS or stop.is_set():
                raise ConfigError(
                    f"cannot reach the Telegram Bot API at the configured api_url: {exc}",
                    key="telegram.api_url",
                ) from None
            wait = 2**attempt
            log.warning("cannot reach Telegram (%s); retrying in %ds", exc, wait)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=wait)
