"""The buttons under an alert and what undoes them: Mute company (and its Undo button,
/unmute), Not for me (asks why, records the answer; counted in /stats).

callback_data carries numbers only (`mute:ID`, `unmute:ID`, `nfm:N`, `nfr:N:CODE`), ids of the
`companies` table and posting numbers, so it stays within Telegram's 64 bytes."""

from __future__ import annotations

import html

from telegram import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import ContextTypes

from bot.deliver.format import MUTE_PREFIX, NOT_FOR_ME_PREFIX
from bot.settings import Settings
from bot.store import REASONS, Feedback
from bot.telegram.guard import may_change, refuse_non_admin, reply
from bot.telegram.help import EXPIRED_BUTTON, NOT_ADMIN
from bot.telegram.numbers import MAX_ID, ascii_number

UNMUTE_PREFIX = "unmute:"
REASON_PREFIX = "nfr:"
# A company name a user types to /unmute, at most (longer text cannot be a muted name).
MAX_COMPANY_CHARS = 200


class FeedbackCommands:
    """Mute company / Not for me buttons, their answers, and /unmute."""

    def __init__(self, settings: Settings, store: Feedback) -> None:
        self.settings = settings
        self.store = store

    async def mute_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """`mute:ID`: add company ID to the chat's mute list, with an Undo button."""
        pressed = await self._company_button(update, context, MUTE_PREFIX)
        if pressed is None:
            return
        query, chat_id, company_id = pressed
        name = self.store.mute(chat_id, company_id)
        if name is None:
            await query.answer(EXPIRED_BUTTON)
            return
        await query.answer(f"Muted {name[:100]}.")
        undo = InlineKeyboardButton("Undo", callback_data=f"{UNMUTE_PREFIX}{company_id}")
        await reply(
            update,
            f"🔇 Muted <b>{html.escape(name)}</b>: no more alerts from it in this chat, for "
            "every subscription (queued ones too). /list shows the mute list; "
            f"<code>/unmute {html.escape(name)}</code> or the button undoes it.",
            markup=InlineKeyboardMarkup([[undo]]),
        )

    async def unmute_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """`unmute:ID`: take company ID off the chat's mute list."""
        pressed = await self._company_button(update, context, UNMUTE_PREFIX)
        if pressed is None:
            return
        query, chat_id, company_id = pressed
        name = self.store.unmute(chat_id, company_id)
        await query.answer(f"Unmuted {name[:100]}." if name else "Not muted any more.")
        if name:
            await reply(update, f"🔔 Unmuted <b>{html.escape(name)}</b>.")

    async def unmute(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/unmute COMPANY: take a company off the chat's mute list (any case)."""
        chat = update.effective_chat
        assert chat is not None
        name = " ".join(context.args or []).strip().strip('"“”')
        if not name or len(name) > MAX_COMPANY_CHARS:
            await reply(update, "Usage: /unmute <i>company</i> (see /list for the mute list).")
            return
        if not await may_change(update, context, self.settings.telegram.admins):
            await refuse_non_admin(update)
            return
        found = self.store.unmute(chat.id, name)
        if found is None:
            await reply(update, f"<b>{html.escape(name)}</b> is not muted here (see /list).")
            return
        await reply(update, f"🔔 Unmuted <b>{html.escape(found)}</b>.")

    async def _company_button(
        self, update: Update, context: ContextTypes.DEFAULT_TYPE, prefix: str
    ) -> tuple[CallbackQuery, int, int] | None:
        """(query, chat id, company id) of a Mute/Undo press this chat may act on; None once
        the press is answered (an expired button, or a group member who is not an admin)."""
        query, chat = update.callback_query, update.effective_chat
        if query is None or chat is None:
            return None
        company_id = ascii_number((query.data or "").removeprefix(prefix), 1, MAX_ID)
        if company_id is None:
            await query.answer(EXPIRED_BUTTON)
            return None
        if not await may_change(update, context, self.settings.telegram.admins):
            await query.answer(NOT_ADMIN, show_alert=True)
            return None
        return query, chat.id, company_id

    async def not_for_me_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """`nfm:N`: ask why posting N is not for this chat, one button per reason."""
        query = update.callback_query
        if query is None:
            return
        ref = ascii_number((query.data or "").removeprefix(NOT_FOR_ME_PREFIX), 1, MAX_ID)
        posting_id = self.store.posting_of_ref(ref) if ref is not None else None
        if posting_id is None:
            await query.answer(EXPIRED_BUTTON)
            return
        await query.answer()
        buttons = [
            [InlineKeyboardButton(label.capitalize(), callback_data=f"{REASON_PREFIX}{ref}:{code}")]
            for code, label in REASONS.items()
        ]
        # An alert may list several postings: the question says which one it is about.
        title = self.store.posting_heading(posting_id) or "this posting"
        await reply(
            update,
            f"👎 Why is <b>{html.escape(title)}</b> not for you?",
            markup=InlineKeyboardMarkup(buttons),
        )

    async def reason_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """`nfr:N:CODE`: record why posting N was not for this chat."""
        query, chat = update.callback_query, update.effective_chat
        if query is None or chat is None:
            return
        number, _, code = (query.data or "").removeprefix(REASON_PREFIX).partition(":")
        ref = ascii_number(number, 1, MAX_ID)
        posting_id = self.store.posting_of_ref(ref) if ref is not None else None
        if posting_id is None or code not in REASONS:
            await query.answer(EXPIRED_BUTTON)
            return
        self.store.record_feedback(chat.id, posting_id, code)
        await query.answer(f"Noted: {REASONS[code]}. Thanks!")


def mute_lines(muted: list[str], width: int = 500) -> list[str]:
    """The mute list as /list shows it (nothing when empty): a heading, the names (escaped) in
    lines of about `width` characters, so that a long list can be paged like the rest."""
    if not muted:
        return []
    lines, line = [f"\n<b>Muted companies ({len(muted)})</b>:"], ""
    for name in map(html.escape, muted):
        if line and len(line) + len(name) > width:
            lines.append(line + ",")
            line = ""
        line = f"{line}, {name}" if line else name
    return [*lines, line, "/unmute <i>company</i> undoes one."]
