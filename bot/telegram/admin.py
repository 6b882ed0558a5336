"""Operator commands: `/addsource URL` places a board, previews it and appends it to the config;
/stats counts what is stored; and /sources, the boards' health for everyone.

Only the user ids in `telegram.admins` may use /addsource and /stats. The running daemon
notices the changed config file (`bot.daemon.watch_config`) and schedules the new source
without a restart.
"""

from __future__ import annotations

import asyncio
import html
import logging
from datetime import UTC, datetime

from telegram import Update
from telegram.ext import Application, ApplicationHandlerStop, CommandHandler, ContextTypes

from bot.config import load_settings
from bot.discover import NotPlaced, add_source
from bot.errors import ConfigError, SourceError
from bot.settings import Settings
from bot.sources.registry import KINDS
from bot.store import Store
from bot.subscriptions import PostingScans
from bot.telegram.guard import reply
from bot.telegram.help import ADDSOURCE_USAGE

log = logging.getLogger(__name__)

# Before the chat commands' group: their catch-all would answer "Unknown command" otherwise.
ADMIN_GROUP = -2
MAX_URL_CHARS = 2000


class Admin:
    """`/addsource` for the bot's operators, writing to the config file the daemon watches."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # One config edit at a time: two concurrent appends would each miss the other's entry.
        self._editing = asyncio.Lock()

    def register(self, app: Application) -> None:  # type: ignore[type-arg]
        """Add the operator commands to the application (before the chat commands)."""
        app.add_handler(CommandHandler("addsource", self.addsource), group=ADMIN_GROUP)

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
        log.info("/addsource by %s: source %r added", user.id, outcome.entry["name"])
        await reply(
            update,
            f"{html.escape(outcome.preview.line())}\n"
            f"Added source <b>{html.escape(str(outcome.entry['name']))}</b> "
            f"({html.escape(str(outcome.entry['kind']))}); it starts within seconds, "
            "its first run is a baseline and later postings are alerted.",
        )


class Status:
    """/sources (every chat) and /stats (operators): what is watched and how it is going."""

    def __init__(self, settings: Settings, store: Store, scans: PostingScans) -> None:
        self.settings = settings
        self.store = store
        self.scans = scans

    async def sources(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
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
                    f"❌ {name}: {h.consecutive_failures} failed runs in a row, last success "
                    f"{_ago(h.last_success_at, now)}; last error: {error}"
                )
            else:
                count = h.last_count if h.last_count is not None else 0
                lines.append(
                    f"✅ {name}: {count} postings, last success {_ago(h.last_success_at, now)}"
                )
        await reply(update, "\n".join(lines))

    async def stats(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        user = update.effective_user
        if user is None or user.id not in self.settings.telegram.admins:
            await reply(update, "/stats is for the bot's operators.")
            return
        await reply(
            update,
            f"postings: {await self.scans.count_postings()}\n"
            f"subscriptions: {len(self.store.subscriptions_all())}\n"
            f"pending alerts: {self.store.pending_count()}\n"
            f"{_feedback(self.store.feedback_counts())}",
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
