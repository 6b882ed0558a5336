"""RemoteOK: `https://remoteok.com/api` (optionally `?tags=a,b`).

A JSON array whose first element is a legal notice, not a job; text is double-encoded UTF-8
(`Ã¡`, `â€™`) and descriptions end in a honeypot line; both are removed. Its terms ask for a
followed backlink to the posting, which the alert's link to `url` is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from bot.facets.salary import salary_from_remoteok
from bot.models import Posting, ScrapeResult
from bot.sources import common
from bot.sources.base import SourceContext, SourceKind
from bot.text import EXCERPT_CHARS, excerpt, html_to_text

if TYPE_CHECKING:
    from bot.fetch import FetchResult
    from bot.settings import SourceSettings

# "Please mention the word **WARMEST** and tag RMTg4LjE… when applying" — a scraper trap.
_HONEYPOT = re.compile(r"\s*Please mention the word\b.*\Z", re.IGNORECASE | re.DOTALL)


def api_url(url: str) -> str:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if host.endswith("remoteok.com") and not parts.path.startswith("/api"):
        return "https://remoteok.com/api"
    return url


def parse_api(text: str) -> list[Posting]:
    """Postings from the API array; the legal notice and malformed items are skipped."""
    items = common.expect_list(common.load_json(text), "RemoteOK jobs")
    return [p for p in (_posting(item) for item in items if "legal" not in item) if p is not None]


def _posting(item: Mapping[str, Any]) -> Posting | None:
    url = common.text_of(item.get("url"))
    title = common.text_of(item.get("position"))
    if not url or not title:
        return None
    description = _HONEYPOT.sub("", html_to_text(str(item.get("description") or "")))
    return Posting(
        url=url,
        title=title,
        company=common.text_of(item.get("company")),
        location=common.text_of(item.get("location")) or "Remote",
        remote=True,
        tags=common.tags(item.get("tags") or []),
        posted_at=common.parse_date(item.get("epoch") or item.get("date")),
        salary=common.salary(item.get("salary_min"), item.get("salary_max"), "USD", "year"),
        description=excerpt(description, EXCERPT_CHARS),
        apply_url=common.text_of(item.get("apply_url")) or url,
        extra=({"id": common.text_of(item.get("id"))} if item.get("id") else {})
        | common.facts_extra(salary_from_remoteok(item.get("salary_min"), item.get("salary_max"))),
    )


async def collect(ctx: SourceContext, source: SourceSettings) -> ScrapeResult:
    def parse(result: FetchResult) -> list[Posting]:
        return parse_api(result.text)

    return await common.fetch_one(ctx, source, api_url(source.url), parse)


# The API lists the newest postings only: absence is not closing.
KIND = SourceKind("remoteok", collect, lists_all=False)
