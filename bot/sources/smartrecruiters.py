"""SmartRecruiters: `GET https://api.smartrecruiters.com/v1/companies/<co>/postings`.

Answers `{offset, limit, totalFound, content[]}`; pages of up to 100 by `offset`. Postings are
public at `https://jobs.smartrecruiters.com/<company>/<id>`. The list has no description: the
detail `GET .../postings/<id>` has it in `jobAd.sections` (`jobDescription`, `qualifications`,
`additionalInformation`, `companyDescription`, each `{title, text}` HTML), fetched once for each
posting not stored yet (../shared/fixtures/FORMATS.md).
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

API_ROOT = "https://api.smartrecruiters.com/v1/companies"
PUBLIC_ROOT = "https://jobs.smartrecruiters.com"
PAGE_SIZE = 100
SECTIONS = ("jobDescription", "qualifications", "additionalInformation", "companyDescription")


def company_of(url: str) -> str:
    path = common.segments(url)
    if "companies" in path and path.index("companies") + 1 < len(path):
        return path[path.index("companies") + 1]
    if not path:
        raise ParseError(f"no SmartRecruiters company in {url!r}")
    return path[0]


def api_url(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    if host.endswith("smartrecruiters.com") and host != "api.smartrecruiters.com":
        return f"{API_ROOT}/{company_of(url)}/postings"
    return url.split("?", 1)[0]


def parse_page(text: str, *, company: str = "", account: str = "") -> tuple[list[Posting], int]:
    """One page of postings, and the total the board reports. `account` (the company id of the
    configured URL) builds the public URL of an item that does not name its company."""
    data = common.load_json(text)
    items = common.expect_list(data, "a SmartRecruiters postings page", "content")
    total = data.get("totalFound")
    postings = [p for p in (_posting(item, company, account) for item in items) if p is not None]
    return postings, total if isinstance(total, int) else len(items)


def _label(value: Any) -> str:
    return common.text_of(value.get("label")) if isinstance(value, dict) else ""


def _posting(item: Mapping[str, Any], company: str, account: str = "") -> Posting | None:
    posting_id = common.text_of(item.get("id"))
    title = common.text_of(item.get("name"))
    raw_company = item.get("company")
    owner: Mapping[str, Any] = raw_company if isinstance(raw_company, dict) else {}
    identifier = common.text_of(owner.get("identifier")) or account
    if not posting_id or not title or not identifier:
        return None
    url = f"{PUBLIC_ROOT}/{identifier}/{posting_id}"
    raw_location = item.get("location")
    where: Mapping[str, Any] = raw_location if isinstance(raw_location, dict) else {}
    location = common.text_of(where.get("fullLocation")) or common.join(
        [where.get("city"), where.get("region"), common.text_of(where.get("country")).upper()]
    )
    return Posting(
        url=url,
        title=title,
        company=company or common.text_of(owner.get("name")) or identifier,
        location=location,
        remote=where.get("remote") is True or common.is_remote(location),
        tags=common.tags(
            _label(item.get("department")),
            _label(item.get("function")),
            _label(item.get("typeOfEmployment")),
        ),
        posted_at=common.parse_date(item.get("releasedDate")),
        apply_url=url,
        extra={"id": posting_id, "experience": _label(item.get("experienceLevel"))}
        | common.facts_extra(
            workplace_type="remote" if where.get("remote") is True else "",
            employment_type=_label(item.get("typeOfEmployment")),
        ),
    )


async def collect(ctx: SourceContext, source: SourceSettings) -> ScrapeResult:
    url = api_url(source.url)
    try:
        account = company_of(url)
    except ParseError:
        account = ""
    company = common.option_str(source.options, "company")
    max_pages = common.option_int(source.options, "max_pages", common.DEFAULT_MAX_PAGES)
    postings: list[Posting] = []
    warnings: list[str] = []
    for page in range(max_pages):
        page_url = common.with_query(url, {"limit": PAGE_SIZE, "offset": page * PAGE_SIZE})
        try:
            result = await common.get(ctx, source, page_url)
            found, total = parse_page(result.text, company=company, account=account)
        except (FetchError, ParseError) as exc:
            where = f"offset {page * PAGE_SIZE}"
            warnings.append(common.page_failed(exc, source, page_url, first=page == 0, where=where))
            break
        postings.extend(found)
        if not found or (page + 1) * PAGE_SIZE >= total:
            break
    filled = await _details(ctx, source, url, postings)
    return ScrapeResult(
        postings=filled.postings,
        warnings=(*warnings, *filled.warnings),
        complete=filled.complete,
    )


def parse_detail(text: str, posting: Posting) -> Posting:
    """`posting` with the text of its detail's `jobAd.sections`, the job's own sections first.

    Raises ParseError when the body has no `jobAd`.
    """
    data = common.load_json(text)
    ad = data.get("jobAd") if isinstance(data, dict) else None
    if not isinstance(ad, dict):
        raise ParseError("expected a SmartRecruiters posting with a 'jobAd' object")
    raw = ad.get("sections")
    sections: Mapping[str, Any] = raw if isinstance(raw, dict) else {}
    parts: list[str] = []
    for key in SECTIONS:
        section = sections.get(key)
        if isinstance(section, dict) and section.get("text"):
            parts.append(f"<h3>{section.get('title') or ''}</h3>{section['text']}")
    return replace(posting, description=html_to_text("".join(parts), limit=EXCERPT_CHARS))


async def _details(
    ctx: SourceContext, source: SourceSettings, url: str, postings: list[Posting]
) -> details.Filled:
    async def detail(posting: Posting) -> Posting:
        target = f"{url}/{posting.extra['id']}"
        answer = await common.get(ctx, source, target)
        try:
            return parse_detail(answer.text, posting)
        except ParseError as exc:
            raise common.reraise(exc, source, target) from None

    limit = common.option_int(source.options, "max_details", details.DEFAULT_MAX_DETAILS)
    return await details.fill_new(ctx, postings, detail, identity=source.identity, limit=limit)


def validate(options: Mapping[str, Any]) -> None:
    common.check_options(
        options, strings=("company",), ints={"max_pages": (1, 1000), "max_details": (0, 10000)}
    )


KIND = SourceKind(
    "smartrecruiters",
    collect,
    options=frozenset({"company", "max_pages", "max_details"}),
    validate=validate,
)
