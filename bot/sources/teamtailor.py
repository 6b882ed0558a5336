"""Teamtailor: `GET https://<company>.teamtailor.com/jobs.json` (regional hosts such as
`<company>.na.teamtailor.com` too), a JSON Feed 1.1 document of the whole board, no paging.

`{title (company), items[{id, title, url, date_published, content_html, _jobposting}]}`, where
`_jobposting` is a schema.org JobPosting (hiringOrganization, jobLocation[] that may be absent,
baseSalary with string values). An unknown company answers 404 with an empty body. Facts from
../shared/fixtures/FORMATS.md (openings-mcp's captures).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from bot.errors import ParseError
from bot.models import Posting, ScrapeResult
from bot.sources import common, jsonld
from bot.sources.base import SourceContext, SourceKind
from bot.text import EXCERPT_CHARS, html_to_text

if TYPE_CHECKING:
    from bot.fetch import FetchResult
    from bot.settings import SourceSettings


def feed_url(url: str) -> str:
    """The `/jobs.json` feed of a board, job or feed URL."""
    parts = urlsplit(url.strip())
    if parts.path.endswith("/jobs.json"):
        return url.strip()
    return f"{parts.scheme or 'https'}://{parts.netloc}/jobs.json"


def parse_feed(text: str, *, company: str = "") -> list[Posting]:
    """Postings from a Teamtailor `jobs.json` feed; the feed's `title` is the company.

    Raises ParseError when the body is not a JSON Feed with `items`.
    """
    data = common.load_json(text)
    items = common.expect_list(data, "a Teamtailor JSON feed", "items")
    company = company or common.text_of(data.get("title"))
    return [p for p in (_posting(item, company) for item in items) if p is not None]


def _posting(item: Mapping[str, Any], company: str) -> Posting | None:
    url = common.text_of(item.get("url"))
    title = common.text_of(item.get("title"))
    if not url or not title:
        return None
    raw = item.get("_jobposting")
    node: Mapping[str, Any] = raw if isinstance(raw, dict) else {}
    base = jsonld.posting_from_jsonld({"title": title, **node}, page_url=url, company=company)
    if base is None:  # pragma: no cover - a title is always given above
        raise ParseError("a Teamtailor item without a title")
    description = html_to_text(str(item.get("content_html") or ""), limit=EXCERPT_CHARS)
    return replace(
        base,
        title=title,
        posted_at=common.parse_date(item.get("date_published")) or base.posted_at,
        description=description or base.description,
        apply_url=url,
        extra={**base.extra, "id": common.text_of(item.get("id"))},
    )


async def collect(ctx: SourceContext, source: SourceSettings) -> ScrapeResult:
    """The whole board in one conditional GET."""
    company = common.option_str(source.options, "company")

    def parse(result: FetchResult) -> list[Posting]:
        return parse_feed(result.text, company=company)

    return await common.fetch_one(ctx, source, feed_url(source.url), parse)


def validate(options: Mapping[str, Any]) -> None:
    common.check_options(options, strings=("company",))


KIND = SourceKind("teamtailor", collect, options=frozenset({"company"}), validate=validate)
