"""Recruitee: `GET https://<co>.recruitee.com/api/offers/` → `{offers[]}` (every published offer).

Custom career domains serve the same API at `/api/offers/`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from bot.facets.salary import period_of, salary_from_range
from bot.models import Posting, ScrapeResult
from bot.sources import common
from bot.sources.base import SourceContext, SourceKind
from bot.text import EXCERPT_CHARS, html_to_text

if TYPE_CHECKING:
    from bot.fetch import FetchResult
    from bot.settings import SourceSettings


def api_url(url: str) -> str:
    parts = urlsplit(url)
    if "/api/offers" in parts.path:
        return url
    return urlunsplit((parts.scheme, parts.netloc, "/api/offers/", "", ""))


def parse_offers(text: str, *, company: str = "") -> list[Posting]:
    """Postings from an `/api/offers/` answer; unpublished offers are left out."""
    items = common.expect_list(common.load_json(text), "a Recruitee offers list", "offers")
    return [
        p
        for p in (_posting(item, company) for item in items if item.get("status") != "draft")
        if p is not None
    ]


def _posting(item: Mapping[str, Any], company: str) -> Posting | None:
    url = common.text_of(item.get("careers_url"))
    title = common.text_of(item.get("title"))
    if not url or not title:
        return None
    location = common.text_of(item.get("location"))
    if not location and isinstance(item.get("locations"), list):
        location = common.join(
            loc.get("name") for loc in item["locations"] if isinstance(loc, dict)
        )
    remote = item.get("remote") is True
    raw_pay = item.get("salary")
    pay: Mapping[str, Any] = raw_pay if isinstance(raw_pay, dict) else {}
    html = "\n".join(str(item.get(key) or "") for key in ("description", "requirements"))
    return Posting(
        url=url,
        title=title,
        company=company or common.text_of(item.get("company_name")),
        location=location or ("Remote" if remote else ""),
        remote=remote or common.is_remote(location),
        tags=common.tags(
            item.get("department"),
            item.get("employment_type_code"),
            "hybrid" if item.get("hybrid") is True else "",
        ),
        posted_at=common.parse_date(item.get("published_at") or item.get("created_at")),
        salary=common.salary(
            pay.get("min"), pay.get("max"), pay.get("currency"), pay.get("period")
        ),
        description=html_to_text(html, limit=EXCERPT_CHARS),
        apply_url=common.text_of(item.get("careers_apply_url")) or url,
        extra=({"id": common.text_of(item.get("id"))} if item.get("id") else {})
        | common.facts_extra(
            salary_from_range(
                pay.get("min"), pay.get("max"), pay.get("currency"), period_of(pay.get("period"))
            ),
            workplace_type="remote" if remote else "hybrid" if item.get("hybrid") is True else "",
            # "fulltime_permanent", "parttime_fixed_term": the first word is the kind
            employment_type=common.text_of(item.get("employment_type_code")).split("_")[0],
        ),
    )


async def collect(ctx: SourceContext, source: SourceSettings) -> ScrapeResult:
    company = common.option_str(source.options, "company")

    def parse(result: FetchResult) -> list[Posting]:
        return parse_offers(result.text, company=company)

    return await common.fetch_one(ctx, source, api_url(source.url), parse)


def validate(options: Mapping[str, Any]) -> None:
    common.check_options(options, strings=("company",))


KIND = SourceKind("recruitee", collect, options=frozenset({"company"}), validate=validate)
