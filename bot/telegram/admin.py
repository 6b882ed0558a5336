"""Operator commands: `/addsource URL` places a board, previews it and appends it to the config;
/stats counts what is stored; `/pausesource NAME`, `/resumesource NAME` and `/runsource NAME`
(issue 14); and /sources, the boards' health for everyone.

Only the user ids in `telegram.admins` may use /addsource, /stats and the source commands;
anyone else gets a one-line refusal. The running daemon
notices the changed config file (`bot.daemon.watch_config`) and schedules the new source
without a restart.
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Protocol

from telegram import Bot, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import Application, ApplicationHandlerStop, CommandHandler, ContextTypes

from bot.config import load_settings
from bot.discover import AlreadyConfigured, NotPlaced, add_source
from bot.errors import ConfigError, SourceError, StoreError
from bot.models import http_url_problem
from bot.operations import Operations, sources_with_state
from bot.settings import Settings, SourceSettings
from bot.sources.registry import KINDS
from bot.store import SourceHealth, Subscription
from bot.subscriptions import PostingScans
from bot.telegram.guard import reply, reply_pages
from bot.telegram.help import ADDSOURCE_USAGE
from bot.text import counted

log = logging.getLogger(__name__)

# Before the chat commands' group: their catch-all would answer "Unknown command" otherwise.
ADMIN_GROUP = -2
MAX_URL_CHARS = 2000


class Admin:
    """`/addsource` for the bot's operators, writing to the config file the daemon watches."""

    def __init__(self, settings: Settings, ops: Operations | None = None) -> None:
        self.settings = settings
        # Paused sources and "run now" (None: the source commands answer that they are off).
        self.ops = ops
        # One config edit at a time: two concurrent appends would each miss the other's entry.
        self._editing = asyncio.Lock()

    def register(self, app: Application) -> None:  # type: ignore[type-arg]
        """Add the operator commands to the application (before the chat commands)."""
        app.add_handler(CommandHandler("addsource", self.addsource), group=ADMIN_GROUP)
        for name in ("pausesource", "resumesource", "runsource"):
            app.add_handler(CommandHandler(name, self.source_command), group=ADMIN_GROUP)

    async def source_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/pausesource, /resumesource, /runsource NAME: admins only, one answer either way."""
        try:
            await reply(update, self._source_command(update, list(context.args or [])))
        except Exception:  # a bug: keep its traceback; the chat commands stay quiet
            log.exception("a source command failed")
        raise ApplicationHandlerStop

    def _source_command(self, update: Update, args: list[str]) -> str:
        message = update.effective_message
        command = (message.text or "").split()[0].partition("@")[0] if message else "/?"
        user = update.effective_user
        if user is None or user.id not in self.settings.telegram.admins:
            return f"{html.escape(command)} is for the bot's operators."
        if self.ops is None:
            return "Source commands need the daemon (python main.py run)."
        names = {s.name: s for s in self.ops.settings.sources}
        if len(args) != 1 or args[0] not in names:
            known = ", ".join(sorted(names)) or "none"
            return f"Usage: {html.escape(command)} NAME, one of: {html.escape(known)}"
        name = args[0]
        try:
            return self._apply(command, names[name])
        except StoreError as exc:
            return f"Not recorded: {html.escape(str(exc))}; try again later."

    def _apply(self, command: str, source: SourceSettings) -> str:
        assert self.ops is not None
        name = html.escape(source.name)
        if command == "/pausesource":
            self.ops.set_paused(source.name, True)
            log.info("source %s paused by an admin", source.name)
            return f"Paused <b>{name}</b>: no runs until /resumesource {name} (kept on restart)."
        if command == "/resumesource":
            self.ops.set_paused(source.name, False)
            log.info("source %s resumed by an admin", source.name)
            return f"Resumed <b>{name}</b>: it runs on its schedule again."
        if self.ops.paused(source.name):
            return f"<b>{name}</b> is paused: /resumesource {name} first."
        if not source.enabled or self.ops.run_now is None or not self.ops.run_now(source.name):
            return f"<b>{name}</b> is not scheduled (disabled in the config?)."
        log.info("source %s run now by an admin", source.name)
        return f"Running <b>{name}</b> now; /sources shows how it went."

    async def addsource(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Place the URL, preview the board, append its `[[sources]]` entry; answer either way."""
        try:
            await self._addsource(update, context)
        except Exception:  # a bug: keep its traceback, but still answer nothing more
            log.exception("/addsource failed")
        raise ApplicationHandlerStop  # handled: the chat commands' catch-all stays quiet

    async def _addsource(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        user = update.effective_user
        if user is None or user.id not in self.settings.telegram.admins:
            await reply(update, "/addsource is for the bot's operators.")
            return
        args = list(context.args or [])
        if len(args) != 1 or not args[0].startswith(("http://", "https://")):
            await reply(update, html.escape(ADDSOURCE_USAGE))
            return
        url = args[0]
        if len(url) > MAX_URL_CHARS:
            await reply(update, f"That URL is too long (over {MAX_URL_CHARS} characters).")
            return
        if (problem := http_url_problem(url)) is not None:
            await reply(update, f"Cannot use that: {html.escape(problem)}.")
            return
        await reply(update, f"Looking at {html.escape(url)} …")
        async with self._editing:
            try:
                current = load_settings(self.settings.path, kinds=KINDS)
                outcome = await add_source(current, url)
            except SourceError as exc:
                await reply(update, f"Could not read that board: {html.escape(exc.detail)}")
                return
            except ConfigError as exc:
                await reply(update, f"Not added: {html.escape(str(exc))}")
                return
        if isinstance(outcome, NotPlaced):
            await reply(update, f"<pre>{html.escape(outcome.message())}</pre>")
            return
        if isinstance(outcome, AlreadyConfigured):
            await reply(update, f"Not added: {html.escape(outcome.message())}")
            return
        log.info("/addsource by %s: source %r added", user.id, outcome.entry["name"])
        await reply(
            update,
            f"{html.escape(outcome.preview.line())}\n"
            f"Added source <b>{html.escape(str(outcome.entry['name']))}</b> "
            f"({html.escape(str(outcome.entry['kind']))}); it starts within seconds, "
            "its first run is a baseline and later postings are alerted.",
        )


class AdminMessages:
    """Breakage alerts (`bot.operations`) to every user id in `telegram.admins`, each as a
    private message; a failure to reach one admin is one log line (the alert is not retried)."""

    def __init__(self, bot: Bot, admins: Iterable[int]) -> None:
        self.bot = bot
        self.admins = sorted(admins)

    async def send(self, text: str) -> None:
        """Send `text` (escaped HTML) to each admin; with none configured, log it at WARNING."""
        if not self.admins:
            log.warning("%s (no telegram.admins to tell)", html.unescape(text).replace("\n", " "))
            return
        for admin in self.admins:
            try:
                await self.bot.send_message(admin, text, parse_mode=ParseMode.HTML)
            except TelegramError as exc:
                log.warning("could not tell admin %s about a source (%s)", admin, exc)


class StatusStore(Protocol):
    """The store as /sources and /stats use it: each source's health (`Health`), every
    subscription (`Chats`), the pending alerts (`Outbox`), the feedback counts (`Feedback`)."""

    def source_health(self) -> list[SourceHealth]: ...
    def subscriptions_all(self) -> list[Subscription]: ...
    def pending_count(self) -> int: ...
    def feedback_counts(self) -> dict[str, int]: ...


class Status:
    """/sources (every chat) and /stats (operators): what is watched and how it is going."""

    def __init__(
        self,
        settings: Settings,
        store: StatusStore,
        scans: PostingScans,
        ops: Operations | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.scans = scans
        self.ops = ops

    async def sources(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if self.ops is not None:
            lines = sources_with_state(self.ops, self.ops.settings.sources)
            shown = ["<b>Watched boards</b>", *map(html.escape, lines)]
            await reply_pages(update, [(line, ()) for line in shown])
            return
        now = datetime.now(UTC)
        health = {h.name: h for h in self.store.source_health()}
        lines = ["<b>Watched boards</b>"]
        for source in self.settings.sources:
            h = health.get(source.name)
            name = f"<b>{html.escape(source.name)}</b> ({html.escape(source.kind)})"
            if not source.enabled:
                lines.append(f"⚪️ {name}: disabled")
            elif h is None:
                lines.append(f"⏳ {name}: not run yet")
            elif h.consecutive_failures:
                error = html.escape((h.last_error or "")[:200])
                lines.append(
                    f"❌ {name}: {counted(h.consecutive_failures, 'failed run')} in a row, "
                    "last success "
                    f"{_ago(h.last_success_at, now)}; last error: {error}"
                )
            else:
                count = h.last_count if h.last_count is not None else 0
                lines.append(
                    f"✅ {name}: {counted(count, 'posting')}, "
                    f"last success {_ago(h.last_success_at, now)}"
                )
        await reply_pages(update, [(line, ()) for line in lines])

    async def stats(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        user = update.effective_user
        if user is None or user.id not in self.settings.telegram.admins:
            await reply(update, "/stats is for the bot's operators.")
            return
        feedback = _feedback(self.store.feedback_counts())
        if self.ops is not None:
            lines = [f"{name}: {value}" for name, value in self.ops.stats().items()]
            await reply(update, "\n".join([*lines, feedback]))
            return
        await reply(
            update,
            f"postings: {await self.scans.count_postings()}\n"
            f"subscriptions: {len(self.store.subscriptions_all())}\n"
            f"pending alerts: {self.store.pending_count()}\n" + feedback,
        )


def _feedback(counts: dict[str, int]) -> str:
    """The Not for me answers, by reason."""
    total = sum(counts.values())
    reasons = ", ".join(f"{reason} {count}" for reason, count in counts.items())
    return f"not for me: {total}" + (f" ({reasons})" if reasons else "")


def _ago(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "never"
    seconds = int((now - moment).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return "just now"
