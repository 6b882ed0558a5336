"""Digest messages (issue 13): one chat's postings of a day or a week, grouped by the
subscription that collected them, newest first, with the same facts as alerts
(`bot.deliver.format.render_item`), split under Telegram's limits.

Pure: alert items in, messages out. Telegram's limits are those of `format`: 4096 UTF-16 code
units of visible text, 100 formatting entities, at most `MAX_BUTTONS` inline buttons; past the
button cap a posting gets an Apply link in the text instead of a button
(https://core.telegram.org/bots/api#sendmessage, #formatting-options).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.deliver.format import (
    _SAFETY,
    MAX_BUTTONS,
    MAX_ENTITIES,
    MESSAGE_LIMIT,
    AlertItem,
    Button,
    Message,
    _button,
    entity_count,
    render_item,
    utf16_len,
    visible_text,
)

__all__ = ["DigestGroup", "pack_digest"]

# Room for the heading ("📬 Digest: 1,234 new postings (12/12)") in every part.
_HEADING_ROOM = 80


@dataclass(frozen=True)
class DigestGroup:
    """The postings one subscription collected: `label` is plain text ("#3 rust remote ·
    daily at 09:00"); `items` in the order shown (newest first)."""

    label: str
    items: Sequence[AlertItem]


@dataclass
class _Part:
    html: list[str] = field(default_factory=list)
    plain: list[str] = field(default_factory=list)
    buttons: list[Button] = field(default_factory=list)
    items: list[AlertItem] = field(default_factory=list)
    size: int = 0
    entities: int = 1  # the heading's <b>
    group: str | None = None


def _apply_link(item: AlertItem) -> tuple[str, str]:
    url = item.posting.apply_url or item.posting.url
    return f'\n<a href="{html.escape(url, quote=True)}">Apply</a>', f"\nApply: {url}"


def pack_digest(
    groups: Sequence[DigestGroup], limit: int = MESSAGE_LIMIT, max_entities: int = MAX_ENTITIES
) -> list[Message]:
    """The digest as few messages as Telegram's limits allow; an empty digest is no message.

    Every part starts with the heading (the total, and "k/n" when split); a group that
    continues in the next part repeats its label. Each posting is numbered and gets an Apply
    button while the message has fewer than MAX_BUTTONS, else an Apply link. Underlined words
    are given up first when entities run short, as in `pack_alerts`."""
    total = sum(len(g.items) for g in groups)
    if total == 0:
        return []
    budget = limit - _SAFETY - _HEADING_ROOM
    parts: list[_Part] = [_Part()]
    for group in groups:
        for item in group.items:
            part = parts[-1]
            block = _block(part, group, item, max_entities)
            if part.items and (
                part.size + block[2] > budget or part.entities + block[3] > max_entities
            ):
                parts.append(_Part())
                part = parts[-1]
                block = _block(part, group, item, max_entities)
            block_html, block_plain, cost, entities, button = block
            part.html.append(block_html)
            part.plain.append(block_plain)
            part.size += cost
            part.entities += entities
            part.items.append(item)
            part.group = group.label
            if button is not None:
                part.buttons.append(button)
    return [_message(part, total, n, len(parts)) for n, part in enumerate(parts, 1)]


def _block(
    part: _Part, group: DigestGroup, item: AlertItem, max_entities: int
) -> tuple[str, str, int, int, Button | None]:
    """One posting's block in `part`: (html, plain, visible cost, entities, its button)."""
    index = len(part.items) + 1
    header_html = header_plain = ""
    header_entities = 0
    if part.group != group.label:
        # A fresh part that does not start with the group's first posting continues it.
        more = " (continued)" if item is not group.items[0] else ""
        label = f"{group.label}{more}"
        header_html = f"\n<b>{html.escape(label, quote=False)}</b>\n"
        header_plain = f"\n{label}\n"
        header_entities = 1
    button = _button(item, True, index) if len(part.buttons) < MAX_BUTTONS else None
    link_html, link_plain = ("", "") if button is not None else _apply_link(item)
    body_html, body_plain = render_item(item)
    bare = entity_count(render_item(item, highlights=0)[0])
    room = max_entities - part.entities - header_entities - (0 if button else 1)
    if entity_count(body_html) > room:
        body_html = render_item(item, highlights=max(room - bare, 0))[0]
    block_html = f"{header_html}{index}. {body_html}{link_html}"
    block_plain = f"{header_plain}{index}. {body_plain}{link_plain}"
    cost = utf16_len(visible_text(block_html)) + 2
    return block_html, block_plain, cost, entity_count(block_html), button


def _message(part: _Part, total: int, number: int, parts: int) -> Message:
    noun = "new posting" if total == 1 else "new postings"
    split = f" ({number}/{parts})" if parts > 1 else ""
    heading_plain = f"📬 Digest: {total:,} {noun}{split}"
    text = f"📬 <b>Digest: {total:,} {noun}{split}</b>\n" + "\n\n".join(part.html)
    return Message(
        html=text,
        plain=f"{heading_plain}\n" + "\n\n".join(part.plain),
        buttons=tuple(part.buttons),
        delivery_ids=tuple(item.delivery_id for item in part.items),
        posting_ids=tuple(item.posting.id for item in part.items),
    )
