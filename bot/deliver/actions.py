"""What the Mute company / Not for me buttons under an alert need: the numbers they carry
(`alert_refs`) and the inline keyboard of a message (`keyboard`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.deliver.format import Button, Message
from bot.models import StoredPosting


class RefStore(Protocol):
    """The store as `alert_refs` uses it: the `Feedback` repository's numbering."""

    def company_ids(self, names: Iterable[str]) -> dict[str, int]: ...
    def posting_ref(self, posting_id: str) -> int | None: ...


def alert_refs(
    store: RefStore, postings: Sequence[StoredPosting]
) -> dict[str, tuple[int | None, int | None]]:
    """For each posting (by id), the company's id (None: no company named) and the posting's
    number, which the buttons' callback_data carry instead of the text: Telegram allows 64
    bytes, and a company name may be longer."""
    companies = store.company_ids(p.company for p in postings)
    return {p.id: (companies.get(p.company), store.posting_ref(p.id)) for p in postings}


def _inline(button: Button) -> InlineKeyboardButton:
    if button.url:
        return InlineKeyboardButton(button.label, url=button.url)
    return InlineKeyboardButton(button.label, callback_data=button.callback_data)


def keyboard(message: Message) -> InlineKeyboardMarkup | None:
    """One row per posting with its Apply link, then a row with its action buttons."""
    rows: list[list[InlineKeyboardButton]] = []
    for i, apply in enumerate(message.buttons):
        rows.append([_inline(apply)])
        actions = message.actions[i] if i < len(message.actions) else ()
        if actions:
            rows.append([_inline(b) for b in actions])
    return InlineKeyboardMarkup(rows) if rows else None
