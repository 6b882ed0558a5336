"""Chat commands about when alerts come (issue 13): `/settings` (time zone, quiet hours, daily
cap; alone, a summary with buttons), `/mode ID MODE`, and the buttons of `/settings` and
`/list`. In groups only the group's administrators change them. The rules and the words are
`bot.timing`'s; every change reschedules the chat's waiting alerts (`Subscriptions.reschedule`).
"""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import ContextTypes

from bot.due import chat_timing
from bot.settings import Settings
from bot.store import Chat, Subscription, now_utc
from bot.subscriptions import Subscriptions
from bot.telegram.guard import may_change, refuse_non_admin, reply
from bot.telegram.help import EXPIRED_BUTTON, NOT_ADMIN
from bot.telegram.numbers import MAX_ID, ascii_number
from bot.timing import (
    HELP_TIMING,
    ChatTiming,
    Mode,
    local_day_bounds,
    parse_cap,
    parse_quiet,
    resolve_timezone,
    settings_text,
)

SETTINGS_PREFIX = "set:"
MODE_PREFIX = "mode:"
SETTINGS_USAGE = (
    "Usage: /settings alone shows everything; change with\n"
    "<code>/settings tz Berlin</code> (a city, an IANA name or UTC+2)\n"
    "<code>/settings quiet 22:00-08:00</code> (add <code>silent</code>, or <code>off</code>)\n"
    "<code>/settings cap 30</code> (or <code>off</code>)"
)
MODE_USAGE = (
    "Usage: /mode <i>ID</i> instant | daily <i>HH:MM</i> | weekly <i>DAY HH:MM</i>, "
    "for example <code>/mode 3 daily 09:00</code> (see /list for the ids)."
)
# The choices offered as buttons (anything else is typed).
_QUIET_CHOICES = ("22:00-08:00", "22:00-08:00 silent", "off")
_CAP_CHOICES = ("20", "50", "off")
_TZ_CHOICES = ("UTC", "Europe/London", "Europe/Berlin", "America/New_York")
_MODE_CHOICES = ("instant", "daily 09:00", "weekly mon 09:00")


def mode_buttons(sub_id: int, current: Mode) -> list[InlineKeyboardButton]:
    """One row of buttons setting a subscription's mode (the current one ticked)."""
    row = []
    for choice in _MODE_CHOICES:
        mode = Mode.parse(choice)
        tick = "✓ " if mode == current else ""
        row.append(
            InlineKeyboardButton(
                f"{tick}{mode.describe()}", callback_data=f"{MODE_PREFIX}{sub_id}:{choice}"
            )
        )
    return row


class TimingStore(Protocol):
    """The store as these handlers use it: a chat, its timing and subscriptions (`Chats`), the
    alerts sent to it in a day (`Outbox`)."""

    def get_chat(self, chat_id: int) -> Chat | None: ...
    def subscriptions(self, chat_id: int) -> list[Subscription]: ...
    def set_timing(
        self, chat_id: int, *, tz: str | None, quiet: str | None, cap: int | None
    ) -> None: ...
    def instant_count(self, chat_id: int, start: datetime, end: datetime) -> int: ...


class TimingCommands:
    """/settings, /mode and their buttons, over the store and the subscriptions service."""

    def __init__(
        self,
        settings: Settings,
        store: TimingStore,
        subs: Subscriptions,
        *,
        clock: Callable[[], datetime] = now_utc,
    ) -> None:
        self.settings = settings
        self.store = store
        self.subs = subs
        self.clock = clock

    async def settings_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = update.effective_chat
        assert chat is not None
        args = list(context.args or [])
        if not args:
            text, markup = self.summary(chat.id)
            await reply(update, text, markup=markup)
            return
        if not await may_change(update, context, self.settings.telegram.admins):
            await refuse_non_admin(update)
            return
        await reply(update, self.change(chat.id, args[0].casefold(), " ".join(args[1:])))

    def summary(self, chat_id: int) -> tuple[str, InlineKeyboardMarkup]:
        """/settings alone: every setting and mode, with buttons to change them."""
        timing = chat_timing(self.store.get_chat(chat_id))
        now = self.clock()
        sent = 0
        if timing.cap.limit is not None:
            sent = self.store.instant_count(chat_id, *local_day_bounds(timing.tz, now))
        subs = [(s.id, self.subs.mode(s.id)) for s in self.store.subscriptions(chat_id)]
        lines = settings_text(timing, now, sent_today=sent, subscriptions=subs)
        text = "<b>Settings</b>\n" + "\n".join(html.escape(line) for line in lines)
        text += "\n\n" + SETTINGS_USAGE.removeprefix("Usage: /settings alone shows everything; ")
        rows = [
            [_set_button("quiet", choice) for choice in _QUIET_CHOICES],
            [_set_button("cap", choice) for choice in _CAP_CHOICES],
            [_set_button("tz", choice) for choice in _TZ_CHOICES],
        ]
        return text, InlineKeyboardMarkup(rows)

    def change(self, chat_id: int, key: str, value: str) -> str:
        """Apply `/settings KEY VALUE`; the answer (HTML) says what is set now or what is
        wrong. Waiting alerts are rescheduled."""
        timing = chat_timing(self.store.get_chat(chat_id))
        try:
            if key in ("tz", "timezone", "zone"):
                timing = ChatTiming(resolve_timezone(value), timing.quiet, timing.cap)
                done = f"Time zone: {timing.tz}."
            elif key == "quiet":
                timing = ChatTiming(timing.tz, parse_quiet(value), timing.cap)
                done = f"Quiet hours: {timing.quiet.describe() if timing.quiet else 'off'}."
            elif key == "cap":
                timing = ChatTiming(timing.tz, timing.quiet, parse_cap(value))
                done = f"Daily cap: {timing.cap}."
            else:
                return SETTINGS_USAGE
        except ValueError as exc:
            return html.escape(str(exc))
        self.store.set_timing(
            chat_id,
            tz=None if timing.tz == "UTC" else timing.tz,
            quiet=str(timing.quiet) if timing.quiet else None,
            cap=timing.cap.limit,
        )
        self.subs.reschedule(chat_id)
        return f"✅ {html.escape(done)} /settings shows everything."

    async def mode(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = update.effective_chat
        assert chat is not None
        args = list(context.args or [])
        sub_id = ascii_number(args[0].removeprefix("#"), 1, MAX_ID) if args else None
        if sub_id is None or len(args) < 2:
            await reply(update, MODE_USAGE)
            return
        try:
            mode = Mode.parse(" ".join(args[1:]))
        except ValueError as exc:
            await reply(update, html.escape(str(exc)))
            return
        if not await may_change(update, context, self.settings.telegram.admins):
            await refuse_non_admin(update)
            return
        await reply(update, self.set_mode(chat.id, sub_id, mode))

    def set_mode(self, chat_id: int, sub_id: int, mode: Mode) -> str:
        """Set a subscription's mode; the answer (HTML)."""
        if not self.subs.set_mode(chat_id, sub_id, mode):
            return f"This chat has no subscription #{sub_id} (see /list)."
        return f"✅ Subscription #{sub_id}: {html.escape(mode.describe())}."

    async def button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A press on a /settings or /list button."""
        query = update.callback_query
        chat = update.effective_chat
        if query is None or chat is None:
            return
        data = query.data or ""
        answer = None
        if data.startswith(SETTINGS_PREFIX):
            key, _, value = data.removeprefix(SETTINGS_PREFIX).partition(":")
            if key in ("tz", "quiet", "cap") and value:
                answer = lambda: self.change(chat.id, key, value)  # noqa: E731
        elif data.startswith(MODE_PREFIX):
            number, _, choice = data.removeprefix(MODE_PREFIX).partition(":")
            sub_id = ascii_number(number, 1, MAX_ID)
            mode = _mode_or_none(choice)
            if sub_id is not None and mode is not None:
                answer = lambda: self.set_mode(chat.id, sub_id, mode)  # noqa: E731
        if answer is None:
            await query.answer(EXPIRED_BUTTON)
            return
        if not await may_change(update, context, self.settings.telegram.admins):
            await query.answer(NOT_ADMIN, show_alert=True)
            return
        text = answer()
        await query.answer(_plain(text)[:190])
        await reply(update, text)


def _set_button(key: str, value: str) -> InlineKeyboardButton:
    label = {"quiet": "Quiet", "cap": "Cap", "tz": "Zone"}[key]
    return InlineKeyboardButton(f"{label} {value}", callback_data=f"{SETTINGS_PREFIX}{key}:{value}")


def _mode_or_none(text: str) -> Mode | None:
    try:
        return Mode.parse(text)
    except ValueError:
        return None


def _plain(text: str) -> str:
    return html.unescape(text.replace("<code>", "").replace("</code>", ""))


HELP_TIMING_HTML = html.escape(HELP_TIMING)
