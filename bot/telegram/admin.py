"""Operator commands: `/addsource URL` places a board, previews it and appends it to the config.

Only the user ids in `telegram.admins` may use it. The running daemon notices the changed
config file (`bot.daemon.watch_config`) and schedules the new source without a restart.
"""

from __future__ import annotations

import asyncio
import html
import logging

from telegram import LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.ext import Application, ApplicationHandlerStop, CommandHandler, ContextTypes

from bot.config import load_settings
from bot.discover import NotPlaced, add_source
from bot.errors import ConfigError, SourceError
from bot.settings import Settings
from bot.sources.registry import KINDS

log = logging.getLogger(__name__)

# Before the chat commands' group: their catch-all would answer "Unknown command" otherwise.
ADMIN_GROUP = -2
MAX_URL_CHARS = 2000
USAGE = "Usage: /addsource URL (a job board page, a posting on it, its API URL or a careers page)"


class Admin:
    """`/addsource` for the bot's operators, writing to the config file the daemon watches."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # One config edit at a time: two concurrent appends would each miss the other's entry.
        self._editing = asyncio.Lock()

    def register(self, app: Application) -> None:  # type: ignore[type-arg]
        """Add the operator commands to the application (before the chat commands)."""
        app.add_handler(CommandHandler("addsource", self.addsource), group=ADMIN_GROUP)

    async def _reply(self, update: Update, text: str) -> None:
        message = update.effective_message
        if message is not None:
            await message.reply_text(
                text,
                parse_mode=ParseMode.HTML,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
                do_quote=False,
            )

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
            await self._reply(update, "/addsource is for the bot's operators.")
            return
        args = list(context.args or [])
        if len(args) != 1 or not args[0].startswith(("http://", "https://")):
            await self._reply(update, html.escape(USAGE))
            return
        url = args[0]
        if len(url) > MAX_URL_CHARS:
            await self._reply(update, f"That URL is too long (over {MAX_URL_CHARS} characters).")
            return
        await self._reply(update, f"Looking at {html.escape(url)} …")
        async with self._editing:
            try:
                current = load_settings(self.settings.path, kinds=KINDS)
                outcome = await add_source(current, url)
            except SourceError as exc:
                await self._reply(update, f"Could not read that board: {html.escape(exc.detail)}")
                return
            except ConfigError as exc:
                await self._reply(update, f"Not added: {html.escape(str(exc))}")
                return
        if isinstance(outcome, NotPlaced):
            await self._reply(update, f"<pre>{html.escape(outcome.message())}</pre>")
            return
        log.info("/addsource by %s: source %r added", user.id, outcome.entry["name"])
        await self._reply(
            update,
            f"{html.escape(outcome.preview.line())}\n"
            f"Added source <b>{html.escape(str(outcome.entry['name']))}</b> "
            f"({html.escape(str(outcome.entry['kind']))}); it starts within seconds, "
            "its first run is a baseline and later postings are alerted.",
        )
