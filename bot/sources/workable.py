"""Workable: `POST https://apply.workable.com/api/v3/accounts/<acct>/jobs` with `{"query": ""}`.

Pages are 10 jobs; the answer's `nextPage` cursor goes back as `"token"`. The list carries no
description: that is one more request per job, `GET /api/v2/accounts/<acct>/jobs/<shortcode>`
(`description`, `requirements`, `benefits` as HTML; 404 text/plain for an unknown job), made
once for each posting not stored yet (../shared/fixtures/FORMATS.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from bot.errors import FetchError, ParseError
from bot.models import Posting, ScrapeResult
from bot.sources import common, details
from bot.sources.base import SourceContext, SourceKind
from bot.text import EXCERPT_CHARS, html_to_text

if TYPE_CHECKING:
    from bot.settings import SourceSettings

PUBLIC_ROOT = "https://apply.workable.com"


def account_of(url: str) -> str:
    """The account in `apply.workable.com/<acct>/` or `/api/v3/accounts/<acct>/jobs`."""
    path = common.segments(url)
    if "accounts" in path and path.index("accounts") + 1 < len(path):
        return path[path.index("accounts") + 1]
    if not path:
        raise ParseError(f"no Workable account in {url!r}")
    return path[0]


def api_url(url: str) -> str:
    parts = urlsplit(url)
    if "/api/" in parts.path:
        return url
    return urlunsplit(
        (parts.scheme, parts.netloc, f"/api/v3/accounts/{account_of(url)}/jobs", "", "")
    )


def parse_page(text: str, *, account: str, company: str = "") -> tuple[list[Posting], str | None]:
    """One page of the v3 jobs list and the cursor of the next page (None at the end)."""
    data = common.load_json(text)
    items = common.expect_list(data, "a Workable jobs page", "results")
    postings = [p for p in (_posting(item, account, company) for item in items) if p is not None]
    cursor = data.get("nextPage")
    return postings, cursor if isinstance(cursor, str) and cursor else None


def _posting(item: Mapping[str, Any], account: str, company: str) -> Posting | None:
    shortcode = common.text_of(item.get("shortcode"))
    title = common.text_of(item.get("title"))
    if not shortcode or not title:
        return None
    url = f"{PUBLIC_ROOT}/{account}/j/{shortcode}/"
    raw_location = item.get("location")
    where: Mapping[str, Any] = raw_location if isinstance(raw_location, dict) else {}
    location = common.text_of(where.get("display")) or common.join(
        [where.get("city"), where.get("region"), where.get("country")]
    )
    workplace = common.text_of(item.get("workplace"))
    remote = item.get("remote") is True or workplace == "remote"
    return Posting(
        url=url,
        title=title,
        company=company or account,
        location=location or ("Remote" if remote else ""),
        remote=remote,
        tags=common.tags(item.get("department") or [], item.get("type"), workplace),
        posted_at=common.parse_date(item.get("published")),
        apply_url=f"{url}apply/",
        extra={"id": common.text_of(item.get("id")), "shortcode": shortcode}
        | common.facts_extra(
            workplace_type="remote" if remote else workplace, employment_type=item.get("type")
        ),
    )


async def collect(ctx: SourceContext, source: SourceSettings) -> ScrapeResult:
    """Every page of the list; a failing later page is a warning, the rest still counts."""
    fetcher = common.fetcher_of(ctx, source)
    url = api_url(source.url)
    account = account_of(url)
    company = common.option_str(source.options, "company")
    max_pages = common.option_int(source.options, "max_pages", common.DEFAULT_MAX_PAGES)
    postings: list[Posting] = []
    warnings: list[str] = []
    cursor: str | None = None
    for page in range(1, max_pages + 1):
        body: dict[str, Any] = {"query": ""}
        if cursor:
            body["token"] = cursor
        try:
            result = await fetcher.post_json(url, body, source=source.name, robots=source.robots)
            found, cursor = parse_page(result.text, account=account, company=company)
        except (FetchError, ParseError) as exc:
            where = f"page {page}"
            warnings.append(common.page_failed(exc, source, url, first=page == 1, where=where))
            break
        postings.extend(found)
        if cursor is None or not found:
            break
    filled = await _details(ctx, source, url, account, postings)
    return ScrapeResult(
        postings=filled.postings,
        warnings=(*warnings, *filled.warnings),
        complete=filled.complete,
    )


def detail_url(list_url: str, account: str, shortcode: str) -> str:
    """The v2 detail of a job, on the host the list came from."""
    parts = urlsplit(list_url)
    return f"{parts.scheme}://{parts.netloc}/api/v2/accounts/{account}/jobs/{shortcode}"


def parse_detail(text: str, posting: Posting) -> Posting:
    """`posting` with the description (then requirements and benefits) of its v2 detail.

    Raises ParseError when the body is not a job object.
    """
    data = common.load_json(text)
    if not isinstance(data, dict) or "shortcode" not in data:
        raise ParseError("expected a Workable job object with a 'shortcode'")
    body = "".join(str(data.get(key) or "") for key in ("description", "requirements", "benefits"))
    return replace(posting, description=html_to_text(body, limit=EXCERPT_CHARS))


async def _details(
    ctx: SourceContext, source: SourceSettings, url: str, account: str, postings: list[Posting]
) -> details.Filled:
    async def detail(posting: Posting) -> Posting:
        target = detail_url(url, account, posting.extra["shortcode"])
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
    "workable",
    collect,
    options=frozenset({"company", "max_pages", "max_details"}),
    validate=validate,
)
