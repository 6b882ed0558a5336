"""Chat commands about a chat's subscriptions: /subscribe, /list, /unsubscribe (and its
buttons), /pause, /resume. In groups only the group's administrators change them."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from typing import Protocol

from telegram import InlineKeyboardButton, Update
from telegram.ext import ContextTypes

from bot.errors import LimitError, QueryError
from bot.query import Query, signed_facets
from bot.settings import Settings
from bot.store import Chat, Subscription
from bot.subscriptions import PostingScans, Subscriptions
from bot.telegram.feedback import mute_lines
from bot.telegram.guard import Line, may_change, refuse_non_admin, reply, reply_pages
from bot.telegram.help import EXPIRED_BUTTON, NOT_ADMIN, SUBSCRIBE_USAGE
from bot.telegram.numbers import MAX_ID, ascii_number
from bot.telegram.timing import mode_buttons
from bot.text import counted
from bot.timing import Mode

UNSUB_PREFIX = "unsub:"
_MODE_FLAG = re.compile(r"(?:^|\s)--(?=(?:instant|daily|weekly)\b)", re.IGNORECASE)


def facet_lines(query: Query) -> str:
    """The facet filters of a query as understood, one line each, and what passes them
    unstated ("" for a query without facets)."""
    facets = query.facets
    if not facets:
        return ""
    lines = [
        f"• {'excluded: ' if negated else ''}{html.escape(f.describe())}"
        for f, negated in dict.fromkeys(signed_facets(query.root))
    ]
    if not all(f.required for f in facets):
        lines.append(
            "Postings that do not state a fact pass (the alert says so); "
            "end a filter with ! to require it, as in salary>=90k!."
        )
    if not query.terms:
        lines.append(
            "⚠️ No word to look for: every posting that passes these filters is sent, "
            "those that do not state the facts included."
        )
    return "Filters:\n" + "\n".join(lines) + "\n"


class SubscriptionStore(Protocol):
    """The store as these handlers use it: a chat, its subscriptions and paused state
    (`Chats`), its muted companies (`Feedback`)."""

    def get_chat(self, chat_id: int) -> Chat | None: ...
    def subscriptions(self, chat_id: int) -> list[Subscription]: ...
    def set_paused(self, chat_id: int, paused: bool) -> None: ...
    def muted_shown(self, chat_id: int) -> list[str]: ...


class SubscriptionCommands:
    """The handlers that change or show a chat's subscriptions and its paused state."""

    def __init__(
        self,
        settings: Settings,
        store: SubscriptionStore,
        subs: Subscriptions,
        scans: PostingScans,
    ) -> None:
        self.settings = settings
        self.store = store
        self.subs = subs
        self.scans = scans

    async def subscribe(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = update.effective_chat
        assert chat is not None
        text = " ".join(list(context.args or [])).strip()
        # "/subscribe rust remote --daily 09:00": a mode word after " --" ends the query.
        flag = _MODE_FLAG.search(text)
        mode_text = text[flag.end() :] if flag else ""
        text = text[: flag.start()].strip() if flag else text
        if not text:
            await reply(update, SUBSCRIBE_USAGE)
            return
        try:
            mode = Mode.parse(mode_text) if flag else Mode()
        except ValueError as exc:
            await reply(update, html.escape(str(exc)))
            return
        if not await may_change(update, context, self.settings.telegram.admins):
            await refuse_non_admin(update)
            return
        try:
            added = self.subs.add(chat.id, text, mode)
        except LimitError as exc:
            await reply(update, html.escape(str(exc)))
            return
        except QueryError as exc:
            await reply(
                update, f"Cannot use that query: {html.escape(str(exc))}\nSee /help for the syntax."
            )
            return
        count, partial = await self.scans.count(added.query, datetime.now(UTC))
        scope = (
            "of the newest stored postings"
            if partial
            else ("stored posting" if count == 1 else "stored postings")
        )
        paused = (
            "\nAlerts are paused in this chat: /resume to get them."
            if self._paused(chat.id)
            else ""
        )
        await reply(
            update,
            f"✅ Subscription #{added.subscription.id}: "
            f"<code>{html.escape(str(added.query))}</code>\n"
            f"{facet_lines(added.query)}"
            f"It matches {count} {scope} right now (/latest shows them). "
            f"New matching postings will be sent here{_how(mode)}.{paused}",
        )

    def _paused(self, chat_id: int) -> bool:
        chat = self.store.get_chat(chat_id)
        return chat is not None and chat.paused

    async def list(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """The chat's subscriptions with their buttons, its mute list and whether it is
        paused, in as many messages as Telegram's limits need (`pages`)."""
        chat = update.effective_chat
        assert chat is not None
        subs = self.store.subscriptions(chat.id)
        tail = mute_lines(self.store.muted_shown(chat.id))
        if subs and self._paused(chat.id):
            tail.append("\n⏸ Alerts are paused: /resume to get them again.")
        head = (
            f"<b>Subscriptions ({len(subs)})</b>"
            if subs
            else "This chat has no subscriptions. Add one with /subscribe <i>query</i>."
        )
        entries = [self._entry(s) for s in subs]
        await reply_pages(update, [(head, ()), *entries, *((line, ()) for line in tail)])

    def _entry(self, sub: Subscription) -> Line:
        """One subscription's /list line and its buttons: Unsubscribe, then its modes."""
        mode = self.subs.mode(sub.id)
        line = f"#{sub.id}: <code>{html.escape(sub.query)}</code> · {html.escape(mode.describe())}"
        unsubscribe = InlineKeyboardButton(
            f"Unsubscribe #{sub.id}", callback_data=f"{UNSUB_PREFIX}{sub.id}"
        )
        return line, [[unsubscribe], mode_buttons(sub.id, mode)]

    async def unsubscribe(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = update.effective_chat
        assert chat is not None
        args = list(context.args or [])
        everything = len(args) == 1 and args[0].lower() == "all"
        sub_id = ascii_number(args[0].removeprefix("#"), 1, MAX_ID) if len(args) == 1 else None
        if not everything and sub_id is None:
            await reply(
                update, "Usage: /unsubscribe <i>ID</i> or /unsubscribe all (see /list for the ids)."
            )
            return
        if not await may_change(update, context, self.settings.telegram.admins):
            await refuse_non_admin(update)
            return
        if everything:
            removed = self.subs.remove(chat.id)
            text = (
                f"Removed all {counted(len(removed), 'subscription')}."
                if removed
                else "This chat had no subscriptions."
            )
        else:
            assert sub_id is not None
            removed = self.subs.remove(chat.id, [sub_id])
            text = (
                f"Removed subscription #{sub_id}."
                if removed
                else f"This chat has no subscription #{sub_id} (see /list)."
            )
        await reply(update, text)

    async def unsubscribe_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        chat = update.effective_chat
        if query is None or chat is None:
            return
        sub_id = ascii_number((query.data or "").removeprefix(UNSUB_PREFIX), 1, MAX_ID)
        if sub_id is None:
            await query.answer(EXPIRED_BUTTON)
            return
        if not await may_change(update, context, self.settings.telegram.admins):
            await query.answer(NOT_ADMIN, show_alert=True)
            return
        removed = self.subs.remove(chat.id, [sub_id])
        await query.answer(f"Removed subscription #{sub_id}." if removed else "Already removed.")
        if removed and query.message is not None:
            await reply(update, f"Removed subscription #{sub_id}.")

    async def expired_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A press on a button no handler knows (older version, forged data): say so."""
        if update.callback_query is not None:
            await update.callback_query.answer(EXPIRED_BUTTON)

    async def pause(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._set_paused(update, context, True)

    async def resume(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._set_paused(update, context, False)

    async def _set_paused(
        self, update: Update, context: ContextTypes.DEFAULT_TYPE, paused: bool
    ) -> None:
        chat = update.effective_chat
        assert chat is not None
        if not await may_change(update, context, self.settings.telegram.admins):
            await refuse_non_admin(update)
            return
        self.store.set_paused(chat.id, paused)
        if paused:
            text = "⏸ Alerts paused. Your subscriptions are kept; /resume to get alerts again."
        else:
            text = "▶️ Alerts resumed: postings first seen from now on will be sent here."
        await reply(update, text)


def _how(mode: Mode) -> str:
    return "" if not mode.digest else f" in a digest, {html.escape(mode.describe())}"
