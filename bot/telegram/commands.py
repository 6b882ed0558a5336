"""Chat commands: /subscribe, /list, /unsubscribe, /latest, /pause, /resume, /sources, /help.

Every reply escapes what it quotes; bad input gets one clear line, never silence or a traceback.
In groups only the group's administrators (or the bot's admins) change subscriptions.
"""

from __future__ import annotations

import html
import logging
import time
from collections import deque
from collections.abc import Callable, Coroutine, Sequence
from datetime import UTC, datetime
from typing import Any

from telegram import (
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Update,
)
from telegram.constants import ChatMemberStatus, ChatType, ParseMode
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.deliver.format import LATEST_HEADING, AlertItem, matched_terms, pack_alerts
from bot.errors import LimitError, QueryError
from bot.query import parse_query
from bot.settings import Settings
from bot.store import Store
from bot.subscriptions import PostingScans, Subscriptions

log = logging.getLogger(__name__)

LATEST_DEFAULT, LATEST_MAX = 5, 20
MAX_INPUT_CHARS = 1000
# Commands a chat may send per minute before the bot asks it to slow down.
COMMANDS_PER_MINUTE = 20
UNSUB_PREFIX = "unsub:"
# Subscription ids are SQLite rowids, signed 64-bit (sqlite.org/lang_createtable.html#rowid).
MAX_ID = 2**63 - 1
EXPIRED_BUTTON = "This button has expired."

COMMANDS = (
    ("subscribe", "Alert this chat about postings matching a query"),
    ("list", "Show this chat's subscriptions"),
    ("unsubscribe", "Remove a subscription: /unsubscribe ID or all"),
    ("latest", "Newest postings: /latest [N] [QUERY]"),
    ("pause", "Pause alerts in this chat"),
    ("resume", "Resume alerts in this chat"),
    ("sources", "The watched job boards and their health"),
    ("help", "What this bot does and the query syntax"),
)

HELP = """<b>jobhound</b> watches job boards and sends you new postings that match your filters.

<b>Commands</b>
/subscribe <i>query</i> (or /sub) — alert this chat about matching postings
/list — this chat's subscriptions, with buttons to remove them
/unsubscribe <i>ID</i>|all (or /unsub) — remove subscriptions
/latest [<i>N</i>] [<i>query</i>] — the newest postings (default 5, at most 20)
/pause, /resume — stop and restart alerts, keeping subscriptions
/sources — the watched boards and their health

<b>Queries</b>
<code>rust remote</code> — all the words, any order
<code>rust OR golang</code> — either word
<code>(rust OR golang) backend</code> — groups (OR binds tighter than AND)
<code>python -django</code> or <code>python NOT django</code> — exclude a word
<code>"site reliability"</code> — an exact phrase
<code>title:senior company:acme location:berlin tag:python</code> — one field only \
(also <code>title:"site reliability"</code>, <code>title:(rust OR go)</code>)
<code>engineer*</code> — any word starting with engineer

Whole words, tech names intact: <code>java</code> is not JavaScript, <code>go</code> is not \
"good"; <code>c++</code>, <code>c#</code>, <code>.net</code>, <code>node.js</code> work. Case \
and accents don't matter (<code>munchen</code> = München). To search for or/and/not, quote it. \
A query needs a word to look for (<code>-php</code> alone is refused). Limits: 200 characters, \
20 terms, 50 subscriptions per chat.

In groups, only administrators can change subscriptions."""

SUBSCRIBE_USAGE = (
    "Usage: /subscribe <i>query</i>, for example\n"
    "<code>/subscribe rust remote</code>\n"
    "<code>/subscribe (python OR golang) backend -intern</code>\n"
    '<code>/subscribe title:"site reliability" location:europe</code>\n'
    "See /help for the full syntax."
)


def ascii_number(text: str, low: int, high: int) -> int | None:
    """`text` as an integer when it is ASCII digits only (no sign, no "²" or "١") and within
    `low`..`high`; None otherwise. `str.isdigit` alone accepts digits `int` refuses."""
    if not text or len(text) > len(str(high)) or not (text.isascii() and text.isdigit()):
        return None
    number = int(text)
    return number if low <= number <= high else None


def _ago(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "never"
    seconds = int((now - moment).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return "just now"


class ChatRateLimit:
    """At most `rate` commands per chat per minute; the first refusal says why, later ones
    are dropped quietly."""

    def __init__(self, rate: int = COMMANDS_PER_MINUTE, period: float = 60.0) -> None:
        self.rate = rate
        self.period = period
        self._seen: dict[int, deque[float]] = {}
        self._warned: set[int] = set()

    def check(self, chat_id: int, now: float | None = None) -> str:
        """ "ok", "warn" (refuse, say why) or "drop" (refuse silently)."""
        now = time.monotonic() if now is None else now
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


Handler = Callable[[Update, ContextTypes.DEFAULT_TYPE], Coroutine[Any, Any, None]]


class Commands:
    """The handlers, bound to the store and subscriptions they work on."""

    def __init__(self, settings: Settings, store: Store, subs: Subscriptions) -> None:
        self.settings = settings
        self.store = store
        self.subs = subs
        self.scans = PostingScans(store)
        self.limit = ChatRateLimit()

    def register(self, app: Application) -> None:  # type: ignore[type-arg]
        """Add every handler to the application."""
        app.add_handler(TypeHandler(Update, self._remember_chat), group=-1)
        table: Sequence[tuple[Sequence[str], Handler]] = (
            (("start", "help"), self.help),
            (("subscribe", "sub"), self.subscribe),
            (("list",), self.list),
            (("unsubscribe", "unsub"), self.unsubscribe),
            (("latest",), self.latest),
            (("pause",), self.pause),
            (("resume",), self.resume),
            (("sources",), self.sources),
            (("stats",), self.stats),
        )
        for names, handler in table:
            app.add_handler(CommandHandler(list(names), self._guard(handler)))
        app.add_handler(CallbackQueryHandler(self.unsubscribe_button, pattern=f"^{UNSUB_PREFIX}"))
        # Buttons of an older version, or data no handler knows: answered, never left spinning.
        app.add_handler(CallbackQueryHandler(self.expired_button))
        app.add_handler(MessageHandler(filters.COMMAND, self._guard(self.unknown)))
        app.add_handler(
            MessageHandler(
                filters.ChatType.PRIVATE & filters.TEXT & ~filters.COMMAND,
                self._guard(self.chatter),
            )
        )

    @staticmethod
    def bot_commands() -> list[BotCommand]:
        return [BotCommand(name, text) for name, text in COMMANDS]

    # -- plumbing ---------------------------------------------------------------------------

    async def _remember_chat(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = update.effective_chat
        if chat is None:
            return
        title = chat.title or chat.full_name or chat.username or ""
        self.store.touch_chat(chat.id, type=chat.type, title=title)

    def _guard(self, handler: Handler) -> Handler:
        async def guarded(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
            chat = update.effective_chat
            message = update.effective_message
            if chat is None or message is None:
                return
            verdict = self.limit.check(chat.id)
            if verdict == "warn":
                await self._reply(update, "Too many commands from this chat; please wait a minute.")
            if verdict != "ok":
                return
            if len(message.text or "") > MAX_INPUT_CHARS:
                await self._reply(
                    update, f"That message is too long (over {MAX_INPUT_CHARS} characters)."
                )
                return
            await handler(update, context)

        return guarded

    async def _reply(
        self,
        update: Update,
        text: str,
        *,
        markup: InlineKeyboardMarkup | None = None,
    ) -> None:
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

    async def _may_change(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
        """In groups, only administrators change subscriptions; private chats always may."""
        chat, user = update.effective_chat, update.effective_user
        if chat is None or user is None:
            return False
        if chat.type == ChatType.PRIVATE or user.id in self.settings.telegram.admins:
            return True
        try:
            member = await context.bot.get_chat_member(chat.id, user.id)
        except TelegramError as exc:
            log.warning("could not check admin rights in chat %s: %s", chat.id, exc)
            return False
        return member.status in (ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER)

    async def _refuse_non_admin(self, update: Update) -> None:
        await self._reply(update, "Only this group's administrators can change its subscriptions.")

    @staticmethod
    def _args(context: ContextTypes.DEFAULT_TYPE) -> list[str]:
        return list(context.args or [])

    # -- commands ---------------------------------------------------------------------------

    async def help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._reply(update, HELP)

    async def subscribe(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = update.effective_chat
        assert chat is not None
        text = " ".join(self._args(context)).strip()
        if not text:
            await self._reply(update, SUBSCRIBE_USAGE)
            return
        if not await self._may_change(update, context):
            await self._refuse_non_admin(update)
            return
        try:
            added = self.subs.add(chat.id, text)
        except LimitError as exc:
            await self._reply(update, html.escape(str(exc)))
            return
        except QueryError as exc:
            await self._reply(
                update, f"Cannot use that query: {html.escape(str(exc))}\nSee /help for the syntax."
            )
            return
        count, partial = await self.scans.count(added.query)
        scope = "of the newest stored postings" if partial else "stored postings"
        paused = (
            "\nAlerts are paused in this chat: /resume to get them."
            if self._paused(chat.id)
            else ""
        )
        await self._reply(
            update,
            f"✅ Subscription #{added.subscription.id}: "
            f"<code>{html.escape(str(added.query))}</code>\n"
            f"It matches {count} {scope} right now (/latest shows them). "
            f"New matching postings will be sent here.{paused}",
        )

    def _paused(self, chat_id: int) -> bool:
        chat = self.store.get_chat(chat_id)
        return chat is not None and chat.paused

    async def list(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = update.effective_chat
        assert chat is not None
        subs = self.store.subscriptions(chat.id)
        if not subs:
            await self._reply(
                update, "This chat has no subscriptions. Add one with /subscribe <i>query</i>."
            )
            return
        lines = [f"<b>Subscriptions ({len(subs)})</b>"]
        lines += [f"#{s.id}: <code>{html.escape(s.query)}</code>" for s in subs]
        if self._paused(chat.id):
            lines.append("\n⏸ Alerts are paused: /resume to get them again.")
        buttons = [
            [InlineKeyboardButton(f"Unsubscribe #{s.id}", callback_data=f"{UNSUB_PREFIX}{s.id}")]
            for s in subs
        ]
        await self._reply(update, "\n".join(lines), markup=InlineKeyboardMarkup(buttons))

    async def unsubscribe(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = update.effective_chat
        assert chat is not None
        args = self._args(context)
        everything = len(args) == 1 and args[0].lower() == "all"
        sub_id = ascii_number(args[0].removeprefix("#"), 1, MAX_ID) if len(args) == 1 else None
        if not everything and sub_id is None:
            await self._reply(
                update, "Usage: /unsubscribe <i>ID</i> or /unsubscribe all (see /list for the ids)."
            )
            return
        if not await self._may_change(update, context):
            await self._refuse_non_admin(update)
            return
        if everything:
            removed = self.subs.remove(chat.id)
            text = (
                f"Removed all {len(removed)} subscriptions."
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
        await self._reply(update, text)

    async def unsubscribe_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        chat = update.effective_chat
        if query is None or chat is None:
            return
        sub_id = ascii_number((query.data or "").removeprefix(UNSUB_PREFIX), 1, MAX_ID)
        if sub_id is None:
            await query.answer(EXPIRED_BUTTON)
            return
        if not await self._may_change(update, context):
            await query.answer(
                "Only this group's administrators can change its subscriptions.", show_alert=True
            )
            return
        removed = self.subs.remove(chat.id, [sub_id])
        await query.answer(f"Removed subscription #{sub_id}." if removed else "Already removed.")
        if removed and query.message is not None:
            await self._reply(update, f"Removed subscription #{sub_id}.")

    async def expired_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A press on a button no handler knows (older version, forged data): say so."""
        if update.callback_query is not None:
            await update.callback_query.answer(EXPIRED_BUTTON)

    async def latest(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = update.effective_chat
        assert chat is not None
        args = self._args(context)
        count = LATEST_DEFAULT
        if args and args[0].isdigit():  # any script's digits: answered with the bound below
            number = ascii_number(args.pop(0), 1, LATEST_MAX)
            if number is None:
                await self._reply(update, f"N must be a whole number between 1 and {LATEST_MAX}.")
                return
            count = number
        text = " ".join(args).strip()
        if text:
            try:
                queries = [parse_query(text)]
            except QueryError as exc:
                await self._reply(update, f"Cannot use that query: {html.escape(str(exc))}")
                return
        else:
            queries = [q for s in self.store.subscriptions(chat.id) if (q := self.subs.query(s.id))]
        postings = await self.scans.latest(queries, count)
        if not postings:
            await self._reply(
                update, "No stored posting matches yet." if queries else "No postings stored yet."
            )
            return
        items = [
            AlertItem(i, posting, matched_terms(queries, posting))
            for i, posting in enumerate(postings)
        ]
        for message in pack_alerts(items, heading=LATEST_HEADING):
            buttons = [[InlineKeyboardButton(b.label, url=b.url)] for b in message.buttons]
            await self._reply(
                update, message.html, markup=InlineKeyboardMarkup(buttons) if buttons else None
            )

    async def pause(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._set_paused(update, context, True)

    async def resume(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._set_paused(update, context, False)

    async def _set_paused(
        self, update: Update, context: ContextTypes.DEFAULT_TYPE, paused: bool
    ) -> None:
        chat = update.effective_chat
        assert chat is not None
        if not await self._may_change(update, context):
            await self._refuse_non_admin(update)
            return
        self.store.set_paused(chat.id, paused)
        if paused:
            text = "⏸ Alerts paused. Your subscriptions are kept; /resume to get alerts again."
        else:
            text = "▶️ Alerts resumed: postings first seen from now on will be sent here."
        await self._reply(update, text)

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
        await self._reply(update, "\n".join(lines))

    async def stats(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        user = update.effective_user
        if user is None or user.id not in self.settings.telegram.admins:
            await self._reply(update, "/stats is for the bot's operators.")
            return
        await self._reply(
            update,
            f"postings: {await self.scans.count_postings()}\n"
            f"subscriptions: {len(self.store.subscriptions_all())}\n"
            f"pending alerts: {self.store.pending_count()}",
        )

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
        await self._reply(
            update, f"Unknown command {html.escape(command)}. Send /help to see what I can do."
        )

    async def chatter(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._reply(update, "I understand commands only: send /help to see them.")
