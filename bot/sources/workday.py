"""Workday: the career sites' own JSON ("CXS") API behind `<tenant>.wd<N>.myworkdayjobs.com/<site>`.

List: `POST {origin}/wday/cxs/<tenant>/<site>/jobs` with
`{"appliedFacets": {}, "limit": 20, "offset": N, "searchText": ""}` (all four keys required;
some tenants answer 400 to a limit above 20) → `{total, jobPostings[{title, externalPath,
locationsText, postedOn, bulletFields}]}`. `total` is reliable on the first page only (and
capped at 2000 unfiltered), so paging also stops at an empty page.
Detail: `GET {list base}{externalPath}` → `{jobPostingInfo{jobDescription (HTML), location,
additionalLocations[], timeType, startDate, jobReqId, externalUrl, remoteType?}}`.
Dates are relative ("Posted 30+ Days Ago"). `hiringOrganization.name` is a legal entity, so
the company is the config's `company` or the tenant. Facts from ../shared/fixtures/FORMATS.md
(openings-mcp's captures of NVIDIA and Trend Micro).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from bot.errors import FetchError, ParseError
from bot.models import Posting, ScrapeResult
from bot.sources import common, details
from bot.sources.base import SourceContext, SourceKind
from bot.text import EXCERPT_CHARS, html_to_text

if TYPE_CHECKING:
    from bot.settings import SourceSettings

PAGE_SIZE = 20  # the largest limit every tenant accepts
OPTIONS = frozenset({"company", "max_pages", "max_details"})
_LOCALE = re.compile(r"^[a-z]{2}(-[A-Za-z]{2,4})?$")
_POSTED = re.compile(r"posted\s+(?:(today)|(yesterday)|(\d+)\+?\s+days?\s+ago)", re.IGNORECASE)
_LOCATIONS_COUNT = re.compile(r"^\d+\s+locations?$", re.IGNORECASE)
Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Board:
    """Where a Workday board lives: `origin` (scheme + host), `tenant`, `site`, and the path
    prefix of its public pages (`/<site>`, or `/recruiting/<tenant>/<site>` on myworkdaysite)."""

    origin: str
    tenant: str
    site: str
    public_prefix: str

    @property
    def api_base(self) -> str:
        """`{origin}/wday/cxs/<tenant>/<site>`: the list is `/jobs`, a detail `externalPath`."""
        return f"{self.origin}/wday/cxs/{self.tenant}/{self.site}"

    @property
    def jobs_url(self) -> str:
        return f"{self.api_base}/jobs"

    def page_url(self, external_path: str) -> str:
        """The public job page (where Apply is) of an `externalPath`, appended as-is."""
        return f"{self.origin}{self.public_prefix}{external_path}"


def board_of(url: str) -> Board:
    """The board of any Workday URL: a board page (with or without a locale segment), a job
    page, the CXS API URL, or `wd<N>.myworkdaysite.com/recruiting/<tenant>/<site>`.

    Raises ParseError when the URL names no site.
    """
    parts = urlsplit(url.strip())
    origin = f"{parts.scheme or 'https'}://{parts.netloc}"
    path = common.segments(url)
    if len(path) >= 4 and path[0] == "wday" and path[1] == "cxs":
        tenant, site = path[2], path[3]
        host = (parts.hostname or "").lower()
        prefix = f"/recruiting/{tenant}/{site}" if "myworkdaysite" in host else f"/{site}"
        return Board(origin, tenant, site, prefix)
    if len(path) >= 3 and path[0] == "recruiting":
        return Board(origin, path[1], path[2], f"/recruiting/{path[1]}/{path[2]}")
    if path and _LOCALE.match(path[0]) and len(path) >= 2:
        path = path[1:]
    if not path or path[0] in ("job", "details", "wday"):
        raise ParseError(
            f"no Workday site in {url!r} (expected https://<tenant>.wdN.myworkdayjobs.com/<site>)"
        )
    tenant = (parts.hostname or "").split(".")[0]
    return Board(origin, tenant, path[0], f"/{path[0]}")


def posted_before(text: str, now: datetime) -> datetime | None:
    """The start of the day a relative "Posted …" text names, in UTC: "Posted Today" → today,
    "Posted 3 Days Ago" → 3 days before, "Posted 30+ Days Ago" → 30 days before (the posting is
    no newer than that). None for text it does not know."""
    found = _POSTED.search(text or "")
    if found is None:
        return None
    days = 0 if found.group(1) else 1 if found.group(2) else int(found.group(3))
    day = (now.astimezone(UTC) - timedelta(days=days)).date()
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def parse_page(
    text: str, *, board: Board, company: str = "", now: datetime
) -> tuple[list[Posting], int | None]:
    """One page of the jobs list and the `total` it reports (None when absent).

    Rows without a title or `externalPath` are skipped. Raises ParseError on a body that is not
    a jobs page.
    """
    data = common.load_json(text)
    items = common.expect_list(data, "a Workday jobs page", "jobPostings")
    total = data.get("total")
    postings = [
        p for p in (_list_posting(item, board, company, now) for item in items) if p is not None
    ]
    return postings, total if isinstance(total, int) and not isinstance(total, bool) else None


def _list_posting(
    item: Mapping[str, Any], board: Board, company: str, now: datetime
) -> Posting | None:
    title = common.text_of(item.get("title"))
    path = common.text_of(item.get("externalPath"))
    if not title or not path.startswith("/"):
        return None
    url = board.page_url(path)
    where = common.text_of(item.get("locationsText"))
    location = "" if _LOCATIONS_COUNT.match(where) else where
    bullets = item.get("bulletFields")
    req_id = common.text_of(bullets[0]) if isinstance(bullets, list) and bullets else ""
    extra = {"path": path, **({"req_id": req_id} if req_id else {})}
    return Posting(
        url=url,
        title=title,
        company=company or board.tenant,
        location=location,
        remote=common.is_remote(location, path.split("/")[2] if path.count("/") >= 3 else ""),
        posted_at=posted_before(common.text_of(item.get("postedOn")), now),
        apply_url=url,
        extra=extra,
    )


def parse_detail(text: str, posting: Posting, *, now: datetime) -> Posting:
    """`posting` completed from its detail JSON: description, every location, time type, and
    the posted date (the start date, never later than the relative "Posted …" bound).

    Raises ParseError when the body has no `jobPostingInfo`.
    """
    data = common.load_json(text)
    info = data.get("jobPostingInfo") if isinstance(data, dict) else None
    if not isinstance(info, dict):
        raise ParseError("expected a Workday job with a 'jobPostingInfo' object")
    more = info.get("additionalLocations")
    places = [info.get("location"), *(more if isinstance(more, list) else [])]
    location = common.join(places, "; ") or posting.location
    remote_type = common.text_of(info.get("remoteType"))
    country = info.get("jobRequisitionLocation")
    alpha2 = ""
    if isinstance(country, dict) and isinstance(country.get("country"), dict):
        alpha2 = common.text_of(country["country"].get("alpha2Code"))
    bound = posted_before(common.text_of(info.get("postedOn")), now) or posting.posted_at
    started = common.parse_date(common.text_of(info.get("startDate")) or None)
    posted = min(d for d in (bound, started) if d) if (bound or started) else None
    extra = dict(posting.extra)
    if alpha2:
        extra["country"] = alpha2
    if req_id := common.text_of(info.get("jobReqId")):
        extra["req_id"] = req_id
    extra |= common.facts_extra(
        employment_type=info.get("timeType"), workplace_type=remote_type.replace(" ", "")
    )
    return replace(
        posting,
        title=common.text_of(info.get("title")) or posting.title,
        location=location,
        remote=remote_type.lower() == "remote" or posting.remote or common.is_remote(location),
        tags=common.tags(info.get("timeType"), remote_type),
        posted_at=posted,
        description=html_to_text(str(info.get("jobDescription") or ""), limit=EXCERPT_CHARS),
        extra=extra,
    )


async def collect(ctx: SourceContext, source: SourceSettings) -> ScrapeResult:
    """Every page of the list, then the detail of each posting not stored yet."""
    return await crawl(ctx, source, clock=lambda: datetime.now(UTC))


async def crawl(ctx: SourceContext, source: SourceSettings, *, clock: Clock) -> ScrapeResult:
    """`collect` with the clock that turns "Posted 3 Days Ago" into a date passed in."""
    fetcher = common.fetcher_of(ctx, source)
    now = clock()
    try:
        board = board_of(source.url)
    except ParseError as exc:
        raise common.reraise(exc, source, source.url) from None
    company = common.option_str(source.options, "company")
    max_pages = common.option_int(source.options, "max_pages", common.DEFAULT_MAX_PAGES)
    postings: list[Posting] = []
    warnings: list[str] = []
    total: int | None = None
    for page in range(max_pages):
        offset = page * PAGE_SIZE
        body = {"appliedFacets": {}, "limit": PAGE_SIZE, "offset": offset, "searchText": ""}
        try:
            result = await fetcher.post_json(
                board.jobs_url, body, source=source.name, robots=source.robots
            )
            found, reported = parse_page(result.text, board=board, company=company, now=now)
        except (FetchError, ParseError) as exc:
            where = f"offset {page * PAGE_SIZE}"
            warnings.append(
                common.page_failed(exc, source, board.jobs_url, first=page == 0, where=where)
            )
            break
        if page == 0:
            total = reported
        postings.extend(found)
        if not found or (total is not None and (page + 1) * PAGE_SIZE >= total):
            break

    async def detail(posting: Posting) -> Posting:
        url = board.api_base + posting.extra["path"]
        answer = await common.get(ctx, source, url)
        try:
            return parse_detail(answer.text, posting, now=now)
        except ParseError as exc:
            raise common.reraise(exc, source, url) from None

    limit = common.option_int(source.options, "max_details", details.DEFAULT_MAX_DETAILS)
    filled = await details.fill_new(ctx, postings, detail, identity=source.identity, limit=limit)
    return ScrapeResult(
        postings=filled.postings,
        warnings=(*warnings, *filled.warnings),
        complete=filled.complete,
    )


def validate(options: Mapping[str, Any]) -> None:
    common.check_options(
        options, strings=("company",), ints={"max_pages": (1, 1000), "max_details": (0, 10000)}
    )


KIND = SourceKind("workday", collect, options=OPTIONS, validate=validate)
