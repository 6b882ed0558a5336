"""Plain-text alerts split into messages within Telegram's length limit (UTF-16 code units)."""

from __future__ import annotations

from bot.deliver.format import MESSAGE_LIMIT, utf16_len


def _cut_utf16(text: str, limit: int) -> tuple[str, str]:
    """The longest head of `text` within `limit` UTF-16 units, and the rest."""
    units = 0
    for index, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > limit:
            return text[:index], text[index:]
    return text, ""


def split_plain(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """`text` in messages of at most `limit` UTF-16 units, cut between paragraphs if possible."""
    parts: list[str] = []
    current = ""
    for paragraph in text.split("\n\n"):
        candidate = f"{current}\n\n{paragraph}" if current else paragraph
        if utf16_len(candidate) <= limit:
            current = candidate
            continue
        if current:
            parts.append(current)
        current = paragraph
        while utf16_len(current) > limit:
            head, current = _cut_utf16(current, limit)
            parts.append(head)
    if current:
        parts.append(current)
    return [part for part in parts if part.strip()]
