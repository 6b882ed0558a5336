"""The chat commands' table: which command runs which handler, every one behind the guard.

Handlers live by topic: `subscriptions` (/subscribe, /list, /unsubscribe, /pause, /resume),
`latest` (/latest), `admin` (/sources, /stats, /addsource); texts in `help`; rate limit, input
bound and group-admin check in `guard`. Every reply escapes what it quotes; bad input gets one
clear line, never silence or a traceback.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.deliver.format import MUTE_PREFIX, NOT_FOR_ME_PREFIX
from bot.operations import Operations
from bot.settings import Settings
from bot.store import Store
from bot.subscriptions import PostingScans, Subscriptions
from bot.telegram.admin import Status
from bot.telegram.feedback import REASON_PREFIX, UNMUTE_PREFIX, FeedbackCommands
from bot.telegram.guard import CommandGuard, Handler, reply
from bot.telegram.help import COMMANDS_ONLY, HELP
from bot.telegram.latest import LatestCommand
from bot.telegram.subscriptions import UNSUB_PREFIX, SubscriptionCommands
from bot.telegram.timing import MODE_PREFIX, SETTINGS_PREFIX, TimingCommands


class Commands:
    """Every chat command, bound to the store and subscriptions they work on."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        subs: Subscriptions,
        *,
        guard: CommandGuard | None = None,
        ops: Operations | None = None,
    ) -> None:
        self.store = store
        scans = PostingScans(store, path=store.file_path())
        self.guard = guard or CommandGuard()
        self.subscriptions = SubscriptionCommands(settings, store, subs, scans)
        self.timing = TimingCommands(settings, store, subs)
        self.latest = LatestCommand(store, subs, scans)
        self.status = Status(settings, store, scans, ops)
        self.feedback = FeedbackCommands(settings, store)

    def register(self, app: Application) -> None:  # type: ignore[type-arg]
        """Add every handler to the application."""
        app.add_handler(TypeHandler(Update, self._remember_chat), group=-1)
        subs = self.subscriptions
        table: Sequence[tuple[Sequence[str], Handler]] = (
            (("start", "help"), self.help),
            (("subscribe", "sub"), subs.subscribe),
            (("list",), subs.list),
            (("unsubscribe", "unsub"), subs.unsubscribe),
            (("latest",), self.latest.latest),
            (("pause",), subs.pause),
            (("resume",), subs.resume),
            (("settings",), self.timing.settings_command),
            (("mode",), self.timing.mode),
            (("sources",), self.status.sources),
            (("stats",), self.status.stats),
            (("unmute",), self.feedback.unmute),
        )
        guard = self.guard.wrap
        for names, handler in table:
            app.add_handler(CommandHandler(list(names), guard(handler)))
        app.add_handler(CallbackQueryHandler(subs.unsubscribe_button, pattern=f"^{UNSUB_PREFIX}"))
        app.add_handler(
            CallbackQueryHandler(
                self.timing.button, pattern=f"^(?:{SETTINGS_PREFIX}|{MODE_PREFIX})"
            )
        )
        feedback = self.feedback
        for prefix, answer in (
            (MUTE_PREFIX, feedback.mute_button),
            (UNMUTE_PREFIX, feedback.unmute_button),
            (NOT_FOR_ME_PREFIX, feedback.not_for_me_button),
            (REASON_PREFIX, feedback.reason_button),
        ):
            app.add_handler(CallbackQueryHandler(answer, pattern=f"^{prefix}"))
        # Buttons of an older version, or data no handler knows: answered, never left spinning.
        app.add_handler(CallbackQueryHandler(subs.expired_button))
        app.add_handler(MessageHandler(filters.COMMAND, guard(self.unknown)))
        app.add_handler(
            MessageHandler(
                filters.ChatType.PRIVATE & filters.TEXT & ~filters.COMMAND, guard(self.chatter)
            )
        )

    async def _remember_chat(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = update.effective_chat
        if chat is None:
            return
        title = chat.title or chat.full_name or chat.username or ""
        self.store.touch_chat(chat.id, type=chat.type, title=title)

    async def help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await reply(update, HELP)

    async def unknown(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        chat = update.effective_chat
        word = (message.text or "").split()[0] if message and message.text else "?"
        command, _, addressee = word.partition("@")
        # In groups, commands for other bots are none of our business.
        in_group = chat is not None and chat.type != ChatType.PRIVATE
        if in_group and addressee.lower() != (context.bot.username or "").lower():
            return
        command = command[:40]
        await reply(
            update, f"Unknown command {html.escape(command)}. Send /help to see what I can do."
        )

    async def chatter(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await reply(update, COMMANDS_ONLY)
