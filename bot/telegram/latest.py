"""/latest [all] [N] [QUERY]: the newest stored jobs (one per group; `all` adds closed ones,
marked "closed") matching a query or the chat's
subscriptions, rendered exactly as alerts are (`bot.deliver.format`) under their own heading."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import Protocol

from telegram import Update
from telegram.ext import ContextTypes

from bot.deliver.actions import RefStore, alert_refs, keyboard
from bot.deliver.format import LATEST_HEADING, AlertItem, matched_terms, pack_alerts
from bot.errors import QueryError
from bot.query import Document, parse_query
from bot.store import Subscription
from bot.subscriptions import PostingScans, Subscriptions
from bot.telegram.guard import reply
from bot.telegram.numbers import ascii_number

LATEST_DEFAULT, LATEST_MAX = 5, 20


class LatestStore(RefStore, Protocol):
    """The store as /latest uses it: a chat's subscriptions (`Chats`), its muted companies and
    the buttons' numbers (`Feedback`)."""

    def subscriptions(self, chat_id: int) -> list[Subscription]: ...
    def muted(self, chat_id: int) -> list[str]: ...


class LatestCommand:
    """/latest, reading the newest postings one scan at a time (`PostingScans`)."""

    def __init__(self, store: LatestStore, subs: Subscriptions, scans: PostingScans) -> None:
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
        # any script's digits, or a negative number: answered with the bound below
        if args and args[0].removeprefix("-").isdigit():
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
        now = datetime.now(UTC)
        muted = frozenset(self.store.muted(chat.id))
        postings = await self.scans.latest(queries, count, muted=muted, now=now, closed=closed)
        if not postings:
            await reply(
                update, "No stored posting matches yet." if queries else "No postings stored yet."
            )
            return
        refs = alert_refs(self.store, postings)
        items = []
        for i, posting in enumerate(postings):
            doc = Document.from_posting(posting, now)
            notes = (n for q in queries if q.matches(doc) for n in q.unstated(doc))
            items.append(
                AlertItem(
                    i,
                    posting,
                    matched_terms(queries, posting),
                    0,
                    *refs[posting.id],
                    unstated=tuple(dict.fromkeys(notes)),
                    now=now,
                )
            )
        for message in pack_alerts(items, heading=LATEST_HEADING):
            await reply(update, message.html, markup=keyboard(message))
