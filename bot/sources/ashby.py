"""Ashby: `https://api.ashbyhq.com/posting-api/job-board/<board>?includeCompensation=true`.

One answer `{jobs[], apiVersion}`; titles can carry stray spaces. The hosted job pages are a
React app with hashed class names, so the API is the only thing worth reading.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from bot.errors import ParseError
from bot.facets.salary import salary_from_ashby
from bot.models import Posting, ScrapeResult
from bot.sources import common
from bot.sources.base import SourceContext, SourceKind
from bot.text import EXCERPT_CHARS, excerpt, html_to_text, normalise_paragraphs, repair

if TYPE_CHECKING:
    from bot.fetch import FetchResult
    from bot.settings import SourceSettings

API_ROOT = "https://api.ashbyhq.com/posting-api/job-board"


def board_of(url: str) -> str:
    """The board name in a `jobs.ashbyhq.com/<board>` or API URL."""
    path = common.segments(url)
    if len(path) >= 3 and path[0] == "posting-api" and path[1] == "job-board":
        return path[2]
    if not path:
        raise ParseError(f"no Ashby board name in {url!r}")
    return path[0]


def api_url(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    if host.endswith("ashbyhq.com") and host != "api.ashbyhq.com":
        url = f"{API_ROOT}/{board_of(url)}"
    return common.with_query(url, {"includeCompensation": "true"})


def parse_api(text: str, *, company: str = "") -> list[Posting]:
    """Postings from a job-board API answer; unlisted jobs are left out."""
    items = common.expect_list(common.load_json(text), "an Ashby job board", "jobs")
    return [
        p
        for p in (_posting(item, company) for item in items if item.get("isListed") is not False)
        if p is not None
    ]


def _posting(item: Mapping[str, Any], company: str) -> Posting | None:
    url = common.text_of(item.get("jobUrl"))
    title = common.text_of(item.get("title"))
    if not url or not title:
        return None
    secondary = [
        loc.get("location") for loc in item.get("secondaryLocations") or [] if isinstance(loc, dict)
    ]
    location = common.join([item.get("location"), *secondary])
    workplace = common.text_of(item.get("workplaceType"))
    raw_pay = item.get("compensation")
    pay: Mapping[str, Any] = raw_pay if isinstance(raw_pay, dict) else {}
    salary = common.text_of(
        pay.get("scrapeableCompensationSalarySummary") or pay.get("compensationTierSummary")
    )
    plain = item.get("descriptionPlain")
    if isinstance(plain, str) and plain.strip():
        description = repair(excerpt(normalise_paragraphs(plain), EXCERPT_CHARS))
    else:
        description = html_to_text(str(item.get("descriptionHtml") or ""), limit=EXCERPT_CHARS)
    return Posting(
        url=url,
        title=title,
        company=company,
        location=location,
        remote=item.get("isRemote") is True or workplace.lower() == "remote",
        tags=common.tags(
            item.get("department"), item.get("team"), item.get("employmentType"), workplace
        ),
        posted_at=common.parse_date(item.get("publishedAt")),
        salary=salary,
        description=description,
        apply_url=common.text_of(item.get("applyUrl")) or url,
        extra=({"id": common.text_of(item.get("id"))} if item.get("id") else {})
        | common.facts_extra(
            salary_from_ashby(pay),
            workplace_type=workplace,
            employment_type=item.get("employmentType"),
        ),
    )


async def collect(ctx: SourceContext, source: SourceSettings) -> ScrapeResult:
    url = api_url(source.url)
    company = common.option_str(source.options, "company") or board_of(url)

    def parse(result: FetchResult) -> list[Posting]:
        return parse_api(result.text, company=company)

    return await common.fetch_one(ctx, source, url, parse)


def validate(options: Mapping[str, Any]) -> None:
    common.check_options(options, strings=("company",))


KIND = SourceKind("ashby", collect, options=frozenset({"company"}), validate=validate)
