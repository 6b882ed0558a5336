"""BambooHR: the hosted careers site's JSON, `https://<company>.bamboohr.com/careers/list`.

List (no paging): `{meta{totalCount}, result[{id, jobOpeningName, departmentLabel,
employmentStatusLabel, location{city,state}, atsLocation{country,state,province,city},
locationType}]}`, `locationType` "0" on-site, "1" remote, "2" hybrid (`isRemote` is always
null). No date or description there: `GET /careers/<id>/detail` gives `result.jobOpening
{description (HTML), compensation (free text), datePosted (YYYY-MM-DD), location{...,
addressCountry}}`, fetched once for each posting not stored yet. The payloads never name the
company: the config's `company`, else the host's first label. An unknown tenant redirects to
www.bamboohr.com. Facts from ../shared/fixtures/FORMATS.md (openings-mcp's captures).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from bot.errors import FetchError, ParseError
from bot.models import Posting, ScrapeResult
from bot.sources import common, details
from bot.sources.base import SourceContext, SourceKind
from bot.text import EXCERPT_CHARS, html_to_text

if TYPE_CHECKING:
    from bot.settings import SourceSettings

OPTIONS = frozenset({"company", "max_details"})
WORKPLACE = {"0": "on-site", "1": "remote", "2": "hybrid"}


def origin_of(url: str) -> str:
    parts = urlsplit(url.strip())
    return f"{parts.scheme or 'https'}://{parts.netloc}"


def list_url(url: str) -> str:
    return f"{origin_of(url)}/careers/list"


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def parse_list(text: str, *, board_url: str, company: str = "") -> list[Posting]:
    """Postings from `/careers/list`; job pages are `/careers/<id>` on the board's host.

    Raises ParseError when the body has no `result` list.
    """
    rows = common.expect_list(common.load_json(text), "a BambooHR careers list", "result")
    origin = origin_of(board_url)
    company = company or (urlsplit(board_url).hostname or "").split(".")[0]
    return [p for p in (_posting(row, origin, company) for row in rows) if p is not None]


def _posting(row: Mapping[str, Any], origin: str, company: str) -> Posting | None:
    job_id = common.text_of(row.get("id"))
    title = common.text_of(row.get("jobOpeningName"))
    if not job_id or not title:
        return None
    where, ats = _dict(row.get("location")), _dict(row.get("atsLocation"))
    location = common.join(
        [
            where.get("city") or ats.get("city"),
            where.get("state") or ats.get("state") or ats.get("province"),
            ats.get("country"),
        ]
    )
    workplace = WORKPLACE.get(common.text_of(row.get("locationType")), "")
    url = f"{origin}/careers/{job_id}"
    return Posting(
        url=url,
        title=title,
        company=company,
        location=location or ("Remote" if workplace == "remote" else ""),
        remote=workplace == "remote",
        tags=common.tags(row.get("departmentLabel"), row.get("employmentStatusLabel"), workplace),
        apply_url=url,
        extra={"id": job_id}
        | common.facts_extra(
            workplace_type=workplace, employment_type=row.get("employmentStatusLabel")
        ),
    )


def parse_detail(text: str, posting: Posting) -> Posting:
    """`posting` completed from `/careers/<id>/detail`: description, pay, date, country.

    Raises ParseError when the body has no `result.jobOpening`.
    """
    data = common.load_json(text)
    opening = _dict(_dict(_dict(data).get("result")).get("jobOpening"))
    if not opening:
        raise ParseError("expected a BambooHR job with a 'result.jobOpening' object")
    where = _dict(opening.get("location"))
    location = common.join([where.get("city"), where.get("state"), where.get("addressCountry")])
    return replace(
        posting,
        location=location or posting.location,
        posted_at=common.parse_date(opening.get("datePosted")) or posting.posted_at,
        salary=common.text_of(opening.get("compensation")),
        description=html_to_text(str(opening.get("description") or ""), limit=EXCERPT_CHARS),
    )


async def collect(ctx: SourceContext, source: SourceSettings) -> ScrapeResult:
    """The list, then the detail of each posting not stored yet."""
    url = list_url(source.url)
    company = common.option_str(source.options, "company")
    result = await common.get(ctx, source, url)
    if urlsplit(result.url).netloc != urlsplit(url).netloc:
        # An unknown tenant redirects to BambooHR's own site.
        raise FetchError(
            f"board not found (redirected to {common.host_of(result.url)})",
            source=source.name,
            url=url,
            status=result.status,
        )
    try:
        postings = parse_list(result.text, board_url=url, company=company)
    except ParseError as exc:
        raise common.reraise(exc, source, url) from None

    async def detail(posting: Posting) -> Posting:
        detail_url = f"{posting.url}/detail"
        answer = await common.get(ctx, source, detail_url)
        try:
            return parse_detail(answer.text, posting)
        except ParseError as exc:
            raise common.reraise(exc, source, detail_url) from None

    limit = common.option_int(source.options, "max_details", details.DEFAULT_MAX_DETAILS)
    filled = await details.fill_new(ctx, postings, detail, identity=source.identity, limit=limit)
    return ScrapeResult(
        postings=filled.postings, warnings=filled.warnings, complete=filled.complete
    )


def validate(options: Mapping[str, Any]) -> None:
    common.check_options(options, strings=("company",), ints={"max_details": (0, 10000)})


KIND = SourceKind("bamboohr", collect, options=OPTIONS, validate=validate)
