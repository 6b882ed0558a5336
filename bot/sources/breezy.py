"""Breezy HR: `GET https://<company>.breezy.hr/json?verbose=true`, a bare JSON array of every
position (no paging); `verbose=true` adds each one's `description` (HTML).

Rows: `{id, friendly_id, name (title), url, published_date, type{id,name}, location{city,
state{name}, country{name,id}, is_remote?, remote_details{value}, name}, locations[],
department, salary (free text), company{name}}`. `is_remote` is also true for hybrid roles
(`remote_details.value == "hybrid"`). Facts from ../shared/fixtures/FORMATS.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from bot.models import Posting, ScrapeResult
from bot.sources import common
from bot.sources.base import SourceContext, SourceKind
from bot.text import EXCERPT_CHARS, html_to_text

if TYPE_CHECKING:
    from bot.fetch import FetchResult
    from bot.settings import SourceSettings


def feed_url(url: str) -> str:
    """The verbose `/json` feed of a board, position or feed URL."""
    parts = urlsplit(url.strip())
    return f"{parts.scheme or 'https'}://{parts.netloc}/json?verbose=true"


def parse_feed(text: str, *, company: str = "") -> list[Posting]:
    """Postings from a Breezy `/json` answer; ParseError when it is not a JSON array."""
    items = common.expect_list(common.load_json(text), "Breezy positions")
    return [p for p in (_posting(item, company) for item in items) if p is not None]


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _place(where: Mapping[str, Any]) -> str:
    named = common.text_of(where.get("name"))
    country = common.text_of(_dict(where.get("country")).get("name"))
    if named:
        return f"{named}, {country}" if country and country not in named else named
    state = _dict(where.get("state")).get("name")
    return common.join([where.get("city"), state, country])


def _posting(item: Mapping[str, Any], company: str) -> Posting | None:
    url = common.text_of(item.get("url"))
    title = common.text_of(item.get("name"))
    if not url or not title:
        return None
    where = _dict(item.get("location"))
    others = [_dict(o) for o in item.get("locations") or [] if isinstance(o, dict)]
    location = common.join([_place(where), *(_place(o) for o in others)], "; ")
    workplace = common.text_of(_dict(where.get("remote_details")).get("value")).lower()
    remote = where.get("is_remote") is True and workplace != "hybrid"
    kind = _dict(item.get("type"))
    return Posting(
        url=url,
        title=title,
        company=company or common.text_of(_dict(item.get("company")).get("name")),
        location=location or ("Remote" if remote else ""),
        remote=remote or common.is_remote(location),
        tags=common.tags(item.get("department"), kind.get("id"), workplace),
        posted_at=common.parse_date(item.get("published_date")),
        salary=common.text_of(item.get("salary")),
        description=html_to_text(str(item.get("description") or ""), limit=EXCERPT_CHARS),
        apply_url=url,
        extra={"id": common.text_of(item.get("id"))}
        | common.facts_extra(
            workplace_type="remote" if remote else workplace, employment_type=kind.get("id")
        ),
    )


async def collect(ctx: SourceContext, source: SourceSettings) -> ScrapeResult:
    """The whole board in one conditional GET."""
    company = common.option_str(source.options, "company")

    def parse(result: FetchResult) -> list[Posting]:
        return parse_feed(result.text, company=company)

    return await common.fetch_one(ctx, source, feed_url(source.url), parse)


def validate(options: Mapping[str, Any]) -> None:
    common.check_options(options, strings=("company",))


KIND = SourceKind("breezy", collect, options=frozenset({"company"}), validate=validate)
