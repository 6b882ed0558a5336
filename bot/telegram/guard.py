"""The command guard: how often a chat may send commands, how long a message may be, and who
in a group may change its subscriptions; and the one way handlers answer (`reply`).
"""

from __future__ import annotations

import logging
import re
import time
from collections import deque
from collections.abc import Callable, Collection, Coroutine, Sequence
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions, Update
from telegram.constants import ChatMemberStatus, ChatType, ParseMode
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot.deliver.format import MAX_ENTITIES, MESSAGE_LIMIT, utf16_len
from bot.telegram.help import NOT_ADMIN

log = logging.getLogger(__name__)

MAX_INPUT_CHARS = 1000
# A paged reply's buttons per message: Telegram refuses a keyboard of over 100 buttons ("reply
# markup is too long"; tginfo/Telegram-Limits#228) or of about 10 KB of JSON (#187).
PAGE_BUTTONS = 80
# An opening tag of Telegram HTML: one formatting entity.
_TAG = re.compile(r"<[a-z]")
# A line of a paged reply and the rows of buttons that go in the same message as it.
Line = tuple[str, Sequence[Sequence[InlineKeyboardButton]]]
# Commands a chat may send per minute before the bot asks it to slow down.
COMMANDS_PER_MINUTE = 20

Handler = Callable[[Update, ContextTypes.DEFAULT_TYPE], Coroutine[Any, Any, None]]


class ChatRateLimit:
    """At most `rate` commands per chat per minute; the first refusal says why, later ones
    are dropped quietly."""

    def __init__(
        self,
        rate: int = COMMANDS_PER_MINUTE,
        period: float = 60.0,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self.period = period
        # Seconds, monotonic: tests pass a fake clock instead of waiting a minute.
        self.clock = clock
        self._seen: dict[int, deque[float]] = {}
        self._warned: set[int] = set()

    def check(self, chat_id: int) -> str:
        """ "ok", "warn" (refuse, say why) or "drop" (refuse silently)."""
        now = self.clock()
        if len(self._seen) > 10_000:
            self._seen = {k: v for k, v in self._seen.items() if v and now - v[-1] < self.period}
        times = self._seen.setdefault(chat_id, deque())
        while times and now - times[0] >= self.period:
            times.popleft()
        if len(times) < self.rate:
            times.append(now)
            self._warned.discard(chat_id)
            return "ok"
        if chat_id in self._warned:
            return "drop"
        self._warned.add(chat_id)
        return "warn"


class CommandGuard:
    """Wraps every command handler: a chat over its rate gets one refusal, then silence; a
    message over `MAX_INPUT_CHARS` is refused with a clear line; updates without a chat are
    ignored."""

    def __init__(self, limit: ChatRateLimit | None = None) -> None:
        self.limit = limit or ChatRateLimit()

    def wrap(self, handler: Handler) -> Handler:
        """`handler`, run only when the guard lets the update through."""

        async def guarded(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
            chat = update.effective_chat
            message = update.effective_message
            if chat is None or message is None:
                return
            verdict = self.limit.check(chat.id)
            if verdict == "warn":
                await reply(update, "Too many commands from this chat; please wait a minute.")
            if verdict != "ok":
                return
            if len(message.text or "") > MAX_INPUT_CHARS:
                await reply(
                    update, f"That message is too long (over {MAX_INPUT_CHARS} characters)."
                )
                return
            await handler(update, context)

        return guarded


async def reply(update: Update, text: str, *, markup: InlineKeyboardMarkup | None = None) -> None:
    """Answer `update` in its chat: `text` is Telegram HTML (escape what it quotes), no link
    preview, not quoting the command."""
    message = update.effective_message
    if message is None:
        return
    await message.reply_text(
        text,
        parse_mode=ParseMode.HTML,
        reply_markup=markup,
        link_preview_options=LinkPreviewOptions(is_disabled=True),
        do_quote=False,
    )


def pages(lines: Sequence[Line]) -> list[tuple[str, InlineKeyboardMarkup | None]]:
    """Lines (Telegram HTML, each with its buttons) as messages within Telegram's limits:
    `MESSAGE_LIMIT` UTF-16 code units (counted on the HTML, an upper bound of what shows),
    `MAX_ENTITIES` formatting tags and `PAGE_BUTTONS` buttons. A line is never split (callers
    keep each line bounded)."""
    found: list[tuple[list[str], list[Sequence[InlineKeyboardButton]]]] = []
    for line, rows in lines:
        if not found or _overflows(found[-1][0], found[-1][1], line, rows):
            found.append(([], []))
        found[-1][0].append(line)
        found[-1][1].extend(rows)
    return [("\n".join(text), InlineKeyboardMarkup(rows) if rows else None) for text, rows in found]


def _overflows(
    text: list[str],
    rows: list[Sequence[InlineKeyboardButton]],
    line: str,
    more: Sequence[Sequence[InlineKeyboardButton]],
) -> bool:
    """Whether a page of `text` and `rows` would break a limit with `line` and `more` added."""
    joined = "\n".join([*text, line])
    return (
        sum(map(len, rows)) + sum(map(len, more)) > PAGE_BUTTONS
        or utf16_len(joined) > MESSAGE_LIMIT
        or len(_TAG.findall(joined)) > MAX_ENTITIES
    )


async def reply_pages(update: Update, lines: Sequence[Line]) -> None:
    """`reply` with `lines` in as many messages as `pages` makes, in order."""
    for text, markup in pages(lines):
        await reply(update, text, markup=markup)


async def may_change(
    update: Update, context: ContextTypes.DEFAULT_TYPE, admins: Collection[int]
) -> bool:
    """In groups, only administrators (or the bot's `admins`) change subscriptions; private
    chats always may. A failed membership check refuses (one warning)."""
    chat, user = update.effective_chat, update.effective_user
    if chat is None or user is None:
        return False
    if chat.type == ChatType.PRIVATE or user.id in admins:
        return True
    try:
        member = await context.bot.get_chat_member(chat.id, user.id)
    except TelegramError as exc:
        log.warning("could not check admin rights in chat %s: %s", chat.id, exc)
        return False
    return member.status in (ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER)


async def refuse_non_admin(update: Update) -> None:
    """The one answer to a group member who may not change subscriptions."""
    await reply(update, NOT_ADMIN)
