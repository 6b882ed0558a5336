"""/latest [all] [N] [QUERY]: the newest stored jobs (one per group; `all` adds closed ones,
marked "closed") matching a query or the chat's
subscriptions, rendered exactly as alerts are (`bot.deliver.format`) under their own heading."""

from __future__ import annotations

import html

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import ContextTypes

from bot.deliver.format import LATEST_HEADING, AlertItem, matched_terms, pack_alerts
from bot.errors import QueryError
from bot.query import parse_query
from bot.store import Store
from bot.subscriptions import PostingScans, Subscriptions
from bot.telegram.guard import reply
from bot.telegram.numbers import ascii_number

LATEST_DEFAULT, LATEST_MAX = 5, 20


class LatestCommand:
    """/latest, reading the newest postings one scan at a time (`PostingScans`)."""

    def __init__(self, store: Store, subs: Subscriptions, scans: PostingScans) -> None:
        self.store = store
        self.subs = subs
        self.scans = scans

    async def latest(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = update.effective_chat
        assert chat is not None
        args = list(context.args or [])
        closed = bool(args) and args[0].lower() == "all"
        if closed:
            args.pop(0)
        count = LATEST_DEFAULT
        if args and args[0].isdigit():  # any script's digits: answered with the bound below
            number = ascii_number(args.pop(0), 1, LATEST_MAX)
            if number is None:
                await reply(update, f"N must be a whole number between 1 and {LATEST_MAX}.")
                return
            count = number
        text = " ".join(args).strip()
        if text:
            try:
                queries = [parse_query(text)]
            except QueryError as exc:
                await reply(update, f"Cannot use that query: {html.escape(str(exc))}")
                return
        else:
            queries = [q for s in self.store.subscriptions(chat.id) if (q := self.subs.query(s.id))]
        postings = await self.scans.latest(queries, count, closed=closed)
        if not postings:
            await reply(
                update, "No stored posting matches yet." if queries else "No postings stored yet."
            )
            return
        items = [
            AlertItem(i, posting, matched_terms(queries, posting))
            for i, posting in enumerate(postings)
        ]
        for message in pack_alerts(items, heading=LATEST_HEADING):
            buttons = [[InlineKeyboardButton(b.label, url=b.url)] for b in message.buttons]
            await reply(
                update, message.html, markup=InlineKeyboardMarkup(buttons) if buttons else None
            )
