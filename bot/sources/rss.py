"""RSS 2.0 / 1.0 and Atom job feeds (We Work Remotely: `/remote-jobs.rss`, `/categories/…`).

Feeds are read with feedparser, as a feed reader reads them: HTML entities XML does not define
(`&ndash;`), bare `&`, C0 control characters, a byte-order mark or white space before `<?xml`
and a wrong declared encoding do not stop it (it falls back to its lenient parser), and it knows
the dialects, dates and Atom `type="html"` text constructs (RFC 4287 §3.1). Every item that can
be read is a posting; an item without a title or link is one warning naming it.

We Work Remotely items title as "Company: Role" and add `region`, `country`, `state`,
`skills`, `category` and `type` elements; `description` is escaped HTML. Set
`company_in_title` to split such titles on other feeds and `remote` when every item is remote
(both are on for weworkremotely.com).
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import feedparser

from bot.errors import ParseError
from bot.models import Posting, ScrapeResult
from bot.sources import common
from bot.sources.base import SourceContext, SourceKind
from bot.text import EXCERPT_CHARS, excerpt, html_to_text, plain_line

if TYPE_CHECKING:
    from bot.fetch import FetchResult
    from bot.settings import SourceSettings

_HTML_TYPES = ("text/html", "application/xhtml+xml", "html", "xhtml")
# The end of a feed that arrived whole; a lenient parse of a cut body would store cut items.
_ROOT_ENDS = (b"</rss>", b"</feed>", b"RDF>")


def read_feed(
    body: bytes | str,
    *,
    company: str = "",
    company_in_title: bool = False,
    remote: bool = False,
    content_type: str = "",
) -> ScrapeResult:
    """Postings from an RSS or Atom document (bytes as served, or text), plus one warning per
    item that could not be read (no title or no link).

    `content_type` is the HTTP header (its charset is one hint among the XML declaration and
    the bytes themselves). Raises ParseError for a document that is no feed, declares XML
    entities, or is cut short (its root element never closes: a truncated answer).
    """
    # Mended first (undefined entities, a bare `&`, controls, a BOM or space before `<?xml`):
    # feedparser's strict parser then reads most real feeds, and its lenient fallback, which
    # turns a bare `R&D` into `R&D;`, is left for the rest.
    raw = common.xml_bytes(body)
    if not raw:  # feedparser answers an empty document with a result that has no `version`
        raise ParseError("empty answer (no feed document)")
    if b"<!ENTITY" in raw[:4096]:
        raise ParseError("the feed declares XML entities; refusing to expand them")
    headers = {"content-type": content_type} if content_type else {}
    # A stream, never a str: feedparser fetches a str that looks like a URL or names a file.
    feed = feedparser.parse(io.BytesIO(raw), response_headers=headers)
    problem = feed.get("bozo_exception")
    if feed.bozo and not any(end in raw[-1024:] for end in _ROOT_ENDS):
        raise ParseError(f"invalid XML ({problem}; the document ends before the feed closes)")
    if not feed.get("version"):
        if problem is not None and not feed.entries:
            raise ParseError(f"not an RSS or Atom feed (invalid XML: {problem})")
        if not feed.entries:
            raise ParseError("not an RSS or Atom feed (no rss, RDF or Atom feed element)")
    atom = str(feed.get("version", "")).startswith("atom")
    postings: list[Posting] = []
    warnings: list[str] = []
    for number, entry in enumerate(feed.entries, 1):
        posting = _posting(entry, company, company_in_title, remote, atom=atom)
        if isinstance(posting, str):
            warnings.append(f"item {number}: {posting}")
        else:
            postings.append(posting)
    return ScrapeResult(postings=tuple(postings), warnings=tuple(warnings))


def parse_feed(
    text: bytes | str, *, company: str = "", company_in_title: bool = False, remote: bool = False
) -> list[Posting]:
    """The postings of `read_feed`, without its warnings."""
    result = read_feed(text, company=company, company_in_title=company_in_title, remote=remote)
    return list(result.postings)


def _text(entry: Mapping[str, Any], key: str) -> str:
    value = entry.get(key)
    return value.strip() if isinstance(value, str) else ""


def _link(entry: Mapping[str, Any]) -> str:
    """The entry's alternate link (an absent rel means alternate, RFC 4287 §4.2.7.2), never an
    enclosure or related link; else a guid that is a URL."""
    for link in entry.get("links") or ():
        if link.get("rel", "alternate") == "alternate" and link.get("href"):
            return str(link["href"]).strip()
    guid = _text(entry, "id")
    return guid if guid.startswith(("http://", "https://")) else ""


def _body(entry: Mapping[str, Any]) -> str:
    """The entry's longest text (content:encoded / Atom content, else description / summary)
    as a plain-text excerpt."""
    detail: Any = None
    contents = entry.get("content")
    if contents:
        detail = contents[0]
    elif entry.get("summary_detail"):
        detail = entry["summary_detail"]
    if not detail or not detail.get("value"):
        return _text(entry, "summary")
    value = str(detail["value"])
    if str(detail.get("type") or "text/html").lower() in _HTML_TYPES:
        return html_to_text(value, limit=EXCERPT_CHARS)
    return excerpt(value, EXCERPT_CHARS)


def _when(entry: Mapping[str, Any]) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        parsed = entry.get(key)
        if parsed:
            try:
                year, month, day, hour, minute, second = parsed[:6]
                return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
            except (TypeError, ValueError):
                continue
    return None


def _posting(
    entry: Mapping[str, Any], company: str, company_in_title: bool, remote: bool, *, atom: bool
) -> Posting | str:
    """One entry as a Posting, or why it cannot be one (naming the entry)."""
    title = plain_line(_text(entry, "title"))
    url = _link(entry)
    if not title or not url:
        missing = " and ".join(n for n, v in (("title", title), ("link", url)) if not v)
        name = repr(title) if title else f"<{_text(entry, 'id') or url or 'no id'}>"
        return f"{name} has no {missing}; skipped"
    author = company
    if company_in_title and ": " in title:
        author, title = (part.strip() for part in title.split(": ", 1))
    location = common.join([_text(entry, "region"), _text(entry, "country")]) or _text(
        entry, "location"
    )
    categories = [tag.get("term") for tag in entry.get("tags") or ()]
    skills = [skill.strip() for skill in _text(entry, "skills").split(",")]
    guid = _text(entry, "id")
    if atom:
        extra = {"id": guid} if guid else {}
    else:
        expires = _text(entry, "expires_at")
        extra = {k: v for k, v in (("guid", guid), ("expires_at", expires)) if v}
    return Posting(
        url=url,
        title=title,
        company=author or _text(entry, "author"),
        location=location,
        remote=remote or common.is_remote(location),
        tags=common.tags(categories, [] if atom else skills, "" if atom else _text(entry, "type")),
        posted_at=_when(entry),
        description=_body(entry),
        apply_url=url,
        extra=extra,
    )


async def collect(ctx: SourceContext, source: SourceSettings) -> ScrapeResult:
    company = common.option_str(source.options, "company")
    wwr = common.host_of(source.url).endswith("weworkremotely.com")
    split = source.options.get("company_in_title", wwr) is True
    remote = source.options.get("remote", wwr) is True

    def parse(result: FetchResult) -> ScrapeResult:
        return read_feed(
            result.content or result.text,
            company=company,
            company_in_title=split,
            remote=remote,
            content_type=result.headers.get("content-type", ""),
        )

    return await common.fetch_one(ctx, source, source.url, parse)


def validate(options: Mapping[str, Any]) -> None:
    common.check_options(options, strings=("company",), bools=("company_in_title", "remote"))


# A feed shows its newest items only: absence from it is not closing (issue 12).
KIND = SourceKind(
    "rss",
    collect,
    options=frozenset({"company", "company_in_title", "remote"}),
    validate=validate,
    lists_all=False,
)
