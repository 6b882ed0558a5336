"""Paged replies (/list, /sources): every message within Telegram's limits, every line once, in
order, each line's buttons in the same message as the line."""

from __future__ import annotations

from telegram import InlineKeyboardButton

from bot.deliver.format import MAX_ENTITIES, MESSAGE_LIMIT, utf16_len
from bot.telegram.guard import PAGE_BUTTONS, Line, pages


def test_pages_keep_text_entities_and_buttons_within_limits() -> None:
    lines: list[Line] = [("<b>Watched boards</b>", ())]
    for n in range(300):  # two entities a line; some long, some with buttons
        text = f"✅ <b>board-{n}</b> <code>{'x' * (n % 7) * 60}</code> 🚀"
        rows = [[InlineKeyboardButton(f"b{n}", callback_data=f"b:{n}")] * 3] if n % 2 else []
        lines.append((text, rows))
    made = pages(lines)
    assert len(made) > 3
    shown: list[str] = []
    for text, markup in made:
        assert utf16_len(text) <= MESSAGE_LIMIT
        assert text.count("<b>") + text.count("<code>") <= MAX_ENTITIES
        buttons = [
            b.callback_data for row in (markup.inline_keyboard if markup else ()) for b in row
        ]
        assert len(buttons) <= PAGE_BUTTONS
        here = text.split("\n")
        expected = [f"b:{n}" for n in range(300) if n % 2 and f"<b>board-{n}</b>" in text]
        assert buttons == [b for b in expected for _ in range(3)]
        shown += here
    assert shown == [line for line, _ in lines]


def test_a_short_reply_is_one_message_without_a_keyboard() -> None:
    assert pages([("Hello", ()), ("world", ())]) == [("Hello\nworld", None)]
