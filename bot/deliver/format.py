"""Alert messages: HTML with every scraped string escaped, packed under Telegram's limits
(4096 UTF-16 code units of visible text, 100 formatting entities, the inline buttons).

Pure: postings and deliveries in, message texts and buttons out.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from bot.errors import QueryError
from bot.models import StoredPosting
from bot.query import Document, Query, parse_query
from bot.sameness import also_on, location_list

MESSAGE_LIMIT = 4096
_TAG = re.compile(r"<[^>]*>")
# Room kept free under the limit; Telegram counts UTF-16 code units of the visible text.
_SAFETY = 96
BUTTON_LABEL_CHARS = 40
FIELD_CHARS = {"title": 200, "company": 100, "location": 120, "salary": 80}
# Telegram allows up to 100 inline buttons; a message of many alerts gets one per posting.
MAX_BUTTONS = 50
# Telegram applies at most 100 formatting entities per message and silently ignores every tag
# after the 100th (tdlib/telegram-bot-api#820, rubenlagus/TelegramBots#854).
MAX_ENTITIES = 100
# The HTML tags of https://core.telegram.org/bots/api#html-style; each one is one entity.
_ENTITY_TAG = re.compile(
    r"<(?:b|strong|i|em|u|ins|s|strike|del|a|code|pre|tg-spoiler|tg-emoji|blockquote|span)[\s>]"
)


@dataclass(frozen=True)
class AlertItem:
    """One posting to announce to one chat, with the words that made it match."""

    delivery_id: int
    posting: StoredPosting
    terms: tuple[str, ...] = ()
    # Alerts held back by the per-cycle cap, announced after this item.
    overflow: int = 0
    # The numbers the Mute company / Not for me buttons name (companies.id, posting_refs.ref);
    # None: no such button.
    company_ref: int | None = None
    posting_ref: int | None = None
    # Facts the posting passed a filter without stating ("salary not stated").
    unstated: tuple[str, ...] = ()
    # When the message is built: the posting's age is shown from it.
    now: datetime | None = None


@dataclass(frozen=True)
class Button:
    """An inline button: a link (`url`) or a press the bot answers (`callback_data`)."""

    label: str
    url: str = ""
    callback_data: str = ""


# callback_data prefixes (Telegram allows 1-64 bytes: a prefix and a number always fit).
MUTE_PREFIX = "mute:"
NOT_FOR_ME_PREFIX = "nfm:"
# Telegram's cap on the inline buttons of one message.
TELEGRAM_BUTTONS = 100


@dataclass(frozen=True)
class Message:
    """One Telegram message covering one or more deliveries."""

    html: str
    plain: str
    buttons: tuple[Button, ...] = ()
    # Per posting, the buttons under its Apply button (Mute company, Not for me).
    actions: tuple[tuple[Button, ...], ...] = ()
    delivery_ids: tuple[int, ...] = field(default=())
    posting_ids: tuple[str, ...] = field(default=())


def visible_text(markup: str) -> str:
    """What a user sees of our HTML (it only ever holds tags and entities we wrote)."""
    return html.unescape(_TAG.sub("", markup))


def entity_count(markup: str) -> int:
    """Formatting entities Telegram makes of our HTML: one per opening tag (b, i, u, a, ...)."""
    return len(_ENTITY_TAG.findall(markup))


def utf16_len(text: str) -> int:
    """Length as Telegram counts it."""
    return len(text.encode("utf-16-le")) // 2


def _cut(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def highlight(text: str, terms: Sequence[str], limit: int | None = None) -> str:
    """Escape `text` and underline where the matched terms occur (as the query language
    matches them: whole words, case and accents folded, `engineer*` prefixes, phrases); at
    most `limit` underlines (each is one of the message's 100 entities), the first ones."""
    spans: list[tuple[int, int]] = []
    if terms and (limit is None or limit > 0):
        try:
            spans = parse_query(" OR ".join(terms)).highlight_spans(text)
        except QueryError:  # terms come from our own parser; never let display break an alert
            spans = []
    spans = spans[:limit]
    pieces: list[str] = []
    last = 0
    for start, end in spans:
        pieces.append(html.escape(text[last:start], quote=False))
        pieces.append(f"<u>{html.escape(text[start:end], quote=False)}</u>")
        last = end
    pieces.append(html.escape(text[last:], quote=False))
    return "".join(pieces)


def _details(posting: StoredPosting) -> list[str]:
    parts = []
    facts = posting.facts
    if posting.company:
        parts.append(f"🏢 {_cut(posting.company, FIELD_CHARS['company'])}")
    if posting.locations:  # one job listed once per place (issue 12): "Berlin, Munich +28"
        parts.append(f"📍 {_cut(location_list(posting.locations), FIELD_CHARS['location'])}")
    elif posting.location:
        parts.append(f"📍 {_cut(posting.location, FIELD_CHARS['location'])}")
    scope = facts.remote.label()
    if scope and (facts.remote.regions or scope.lower() not in posting.location.lower()):
        parts.append(f"🌍 {scope}")
    elif not scope and posting.remote and "remote" not in posting.location.lower():
        parts.append("🌍 Remote")
    if facts.salary is not None:
        parts.append(f"💰 {facts.salary.compact()}")
    elif posting.salary:
        parts.append(f"💰 {_cut(posting.salary, FIELD_CHARS['salary'])}")
    if facts.seniority is not None:
        parts.append(f"🎓 {facts.seniority.name.capitalize()}")
    return parts


def age_label(since: datetime | None, now: datetime | None) -> str:
    """A posting's age for an alert line: "today", "3d ago", "5w ago"; "" when unknown."""
    if since is None or now is None:
        return ""
    if since.tzinfo is None:
        since = since.replace(tzinfo=now.tzinfo)
    days = (now - since).days
    if days < 1:
        return "today"
    return f"{days}d ago" if days < 28 else f"{days // 7}w ago"


def _group_notes(posting: StoredPosting) -> list[str]:
    """Issue 12's lines: "closed", the repost label, "also on: remotewlb.com, jobs.lever.co"."""
    notes = ["closed"] if posting.closed_at else []
    if posting.repost:
        notes.append(posting.repost)
    if posting.also_on:
        notes.append(also_on(posting.also_on))
    return notes


def render_item(item: AlertItem, highlights: int | None = None) -> tuple[str, str]:
    """The HTML and plain-text block announcing one posting (at most `highlights` underlined
    words: the first thing given up under the entity cap; the linked title never is)."""
    posting = item.posting
    title = _cut(posting.title, FIELD_CHARS["title"])
    link = html.escape(posting.url, quote=True)
    details = _details(posting)
    age = age_label(posting.facts.posted_at or posting.first_seen, item.now)
    if age:
        details.append(f"🕒 {age}")
    if item.unstated:
        details.append(", ".join(item.unstated))
    html_lines = [f'<b><a href="{link}">{highlight(title, item.terms, highlights)}</a></b>']
    plain_lines = [title]
    if details:
        html_lines.append(html.escape(" · ".join(details), quote=False))
        plain_lines.append(" · ".join(details))
    for note in _group_notes(posting):
        html_lines.append(f"<i>{html.escape(note, quote=False)}</i>")
        plain_lines.append(note)
    if item.terms:
        shown = ", ".join(item.terms[:8])
        html_lines.append(f"🔎 <i>{html.escape(shown, quote=False)}</i>")
        plain_lines.append(f"🔎 {shown}")
    plain_lines.append(posting.url)
    if item.overflow:
        more = f"…and {item.overflow} more, see /latest"
        html_lines.append(f"\n<i>{html.escape(more, quote=False)}</i>")
        plain_lines.append(f"\n{more}")
    return "\n".join(html_lines), "\n".join(plain_lines)


def _actions(item: AlertItem, numbered: bool, index: int) -> tuple[Button, ...]:
    """Mute company and Not for me under one posting; callback_data holds numbers only, so it
    stays within Telegram's 64 bytes however long the company name."""
    number = f"{index}. " if numbered else ""
    found = []
    if item.company_ref is not None:
        company = _cut(item.posting.company, 24)
        found.append(
            Button(f"🔇 {number}Mute {company}", callback_data=f"{MUTE_PREFIX}{item.company_ref}")
        )
    if item.posting_ref is not None:
        found.append(
            Button(f"👎 {number}Not for me", callback_data=f"{NOT_FOR_ME_PREFIX}{item.posting_ref}")
        )
    return tuple(found)


def _button(item: AlertItem, numbered: bool, index: int) -> Button:
    title = _cut(item.posting.title, BUTTON_LABEL_CHARS)
    label = f"{index}. Apply: {title}" if numbered else f"Apply: {title}"
    return Button(
        label=_cut(label, BUTTON_LABEL_CHARS + 12), url=item.posting.apply_url or item.posting.url
    )


@dataclass(frozen=True)
class Heading:
    """The first line of a message: `one` above a single posting, `many` (with `{n}`) above
    several; HTML and plain text. Each HTML form holds exactly one entity (`<b>`)."""

    one_html: str
    one_plain: str
    many_html: str
    many_plain: str

    def html(self, count: int) -> str:
        return self.many_html.format(n=count) if count > 1 else self.one_html

    def plain(self, count: int) -> str:
        return self.many_plain.format(n=count) if count > 1 else self.one_plain


ALERT_HEADING = Heading(
    "🔔 <b>New posting</b>\n",
    "🔔 New posting\n",
    "🔔 <b>{n} new postings</b>\n\n",
    "🔔 {n} new postings\n\n",
)
# /latest lists stored postings, not new ones.
LATEST_HEADING = Heading(
    "<b>Latest posting</b>\n",
    "Latest posting\n",
    "🔔 <b>{n} latest postings</b>\n\n",
    "🔔 {n} latest postings\n\n",
)


def matched_terms(queries: Iterable[Query], posting: StoredPosting) -> tuple[str, ...]:
    """The words of `queries` that `posting` matched, in query order without repeats (what an
    alert underlines and lists after 🔎); queries `posting` does not match add nothing."""
    doc = Document.from_posting(posting)
    terms: list[str] = []
    for query in queries:
        if query.matches(doc):
            terms.extend(query.matched_terms(doc))
    return tuple(dict.fromkeys(terms))


def _message(
    batch: Sequence[tuple[AlertItem, str, str]], heading: Heading, max_entities: int
) -> Message:
    """One message of the alerts in `batch` (item, its HTML block, its plain block)."""
    several = len(batch) > 1
    numbered_html = [
        f"{i}. {block}" if several else block for i, (_, block, _) in enumerate(batch, 1)
    ]
    numbered_plain = [
        f"{i}. {block}" if several else block for i, (_, _, block) in enumerate(batch, 1)
    ]
    buttons = tuple(_button(item, several, i) for i, (item, _, _) in enumerate(batch, 1))
    actions = tuple(_actions(item, several, i) for i, (item, _, _) in enumerate(batch, 1))
    text = heading.html(len(batch)) + "\n\n".join(numbered_html)
    assert entity_count(text) <= max_entities, "alert batch over Telegram's entity cap"
    return Message(
        html=text,
        plain=heading.plain(len(batch)) + "\n\n".join(numbered_plain),
        buttons=buttons[:MAX_BUTTONS],
        actions=actions[:MAX_BUTTONS],
        delivery_ids=tuple(item.delivery_id for item, _, _ in batch),
        posting_ids=tuple(item.posting.id for item, _, _ in batch),
    )


def pack_alerts(
    items: Sequence[AlertItem],
    limit: int = MESSAGE_LIMIT,
    max_entities: int = MAX_ENTITIES,
    *,
    heading: Heading = ALERT_HEADING,
) -> list[Message]:
    """As few messages as Telegram's limits allow, each listing several postings under
    `heading` (alerts; /latest passes `LATEST_HEADING`).

    Each message stays under `limit` UTF-16 code units of visible text, `max_entities`
    formatting entities and MAX_BUTTONS postings, each with its Apply button and its action
    buttons, all within Telegram's TELEGRAM_BUTTONS. When an alert's entities do not fit what is
    left of a message, its underlined words go first (fewer, then none); only when even its
    bare linked title does not fit does a new message start, so no title ever loses its link.
    """
    budget = limit - _SAFETY
    messages: list[Message] = []
    batch: list[tuple[AlertItem, str, str]] = []
    # The heading's <b>; numbering and separators are plain text.
    header_entities = 1
    size = 0
    entities = header_entities
    buttons = 0
    for item in items:
        item_buttons = 1 + len(_actions(item, False, 0))
        block_html, block_plain = render_item(item)
        bare = entity_count(render_item(item, highlights=0)[0])
        # Telegram counts the text after entity parsing: tags and entities cost nothing.
        cost = utf16_len(visible_text(block_html)) + 8
        if batch and (
            size + cost > budget - 40
            or len(batch) >= MAX_BUTTONS
            or buttons + item_buttons > TELEGRAM_BUTTONS
            or entities + bare > max_entities
        ):
            messages.append(_message(batch, heading, max_entities))
            batch.clear()
            size, entities, buttons = 0, header_entities, 0
        room = max_entities - entities
        if entity_count(block_html) > room:
            block_html = render_item(item, highlights=max(room - bare, 0))[0]
        batch.append((item, block_html, block_plain))
        size += cost
        buttons += item_buttons
        entities += entity_count(block_html)
    if batch:
        messages.append(_message(batch, heading, max_entities))
    return messages
