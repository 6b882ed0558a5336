"""Greenhouse: the board API (`greenhouse`) and the hosted board pages (`greenhouse_html`).

API `https://boards-api.greenhouse.io/v1/boards/<token>/jobs?content=true` returns
`{jobs[], meta}` in one answer; `content` is HTML-escaped HTML. The hosted board
`https://job-boards.greenhouse.io/<token>` lists 50 `tr.job-post` rows per `?page=N`.
Board, embed (`/embed/job_board?for=<token>`) and API URLs all work for both kinds.
"""

from __future__ import annotations

import html as htmllib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urljoin, urlsplit, urlunsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode

from bot.errors import FetchError, ParseError
from bot.models import Posting, ScrapeResult
from bot.sources import common
from bot.sources.base import SourceContext, SourceKind
from bot.text import EXCERPT_CHARS, clean_line, html_to_text

if TYPE_CHECKING:
    from bot.fetch import FetchResult
    from bot.settings import SourceSettings

API_HOST = "boards-api.greenhouse.io"
BOARD_HOST = "job-boards.greenhouse.io"


def token_of(url: str) -> str:
    """The board token in an API, board, embed or job URL."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    if "for" in query:
        return query["for"][0]
    path = common.segments(url)
    if len(path) >= 3 and path[0] == "v1" and path[1] == "boards":
        return path[2]
    if path and path[0] != "embed":
        return path[0]
    raise ParseError(f"no Greenhouse board token in {url!r}")


def api_url(url: str, *, content: bool = True) -> str:
    """The jobs API URL for any Greenhouse URL; other hosts (a test server) are kept."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if host.endswith("greenhouse.io") and host != API_HOST:
        url = f"https://{API_HOST}/v1/boards/{token_of(url)}/jobs"
    return common.with_query(url, {"content": "true" if content else "false"})


def board_url(url: str) -> str:
    """The hosted board URL for any Greenhouse URL (embed pages are kept as they are)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if host == API_HOST:
        return f"https://{BOARD_HOST}/{token_of(url)}"
    if host == "boards.greenhouse.io" and "for" not in parse_qs(parts.query):
        return f"https://{BOARD_HOST}/{token_of(url)}"
    return url


def parse_api(text: str, *, company: str = "") -> list[Posting]:
    """Postings from a `/v1/boards/<token>/jobs` answer."""
    items = common.expect_list(common.load_json(text), "a Greenhouse board", "jobs")
    return [p for p in (_api_posting(item, company) for item in items) if p is not None]


def _api_posting(item: Mapping[str, Any], company: str) -> Posting | None:
    url = common.text_of(item.get("absolute_url"))
    title = common.text_of(item.get("title"))
    if not url or not title:
        return None
    raw_location = item.get("location")
    location = common.text_of(raw_location.get("name")) if isinstance(raw_location, dict) else ""
    content = item.get("content")
    description = ""
    if isinstance(content, str) and content:
        description = html_to_text(htmllib.unescape(content), limit=EXCERPT_CHARS)
    departments = [d.get("name") for d in item.get("departments") or [] if isinstance(d, dict)]
    return Posting(
        url=url,
        title=title,
        company=company or common.text_of(item.get("company_name")),
        location=location,
        remote=common.is_remote(location),
        tags=common.tags(departments),
        posted_at=common.parse_date(item.get("first_published") or item.get("updated_at")),
        description=description,
        apply_url=url,
        extra={"id": common.text_of(item.get("id"))} if item.get("id") else {},
    )


async def collect(ctx: SourceContext, source: SourceSettings) -> ScrapeResult:
    """The whole board in one conditional request."""
    content = source.options.get("content", True) is not False
    url = api_url(source.url, content=content)
    company = common.option_str(source.options, "company")

    def parse(result: FetchResult) -> list[Posting]:
        return parse_api(result.text, company=company)

    return await common.fetch_one(ctx, source, url, parse)


# -- hosted board pages ------------------------------------------------------------------------


def parse_board(html: str, *, base_url: str = "", company: str = "") -> tuple[list[Posting], bool]:
    """Postings of one board page, and whether a next page exists."""
    tree = LexborHTMLParser(html)
    if not company:
        og = tree.css_first('meta[property="og:title"]')
        title = tree.css_first("title")
        if og is not None and og.attributes.get("content"):
            company = clean_line(og.attributes.get("content"))
        elif title is not None:
            company = clean_line(title.text()).removeprefix("Jobs at ")
    postings: list[Posting] = []
    sections = tree.css("div.job-posts--table--department")
    if sections:
        for section in sections:
            header = section.css_first("h3")
            department = clean_line(header.text()) if header is not None else ""
            postings.extend(_rows(section, base_url, company, department))
    else:
        postings.extend(_rows(tree.root, base_url, company, ""))
    if not postings and tree.css_first("div.job-posts, [data-testid=job-count-header]") is None:
        raise ParseError("not a Greenhouse job board page (no tr.job-post rows)")
    after = tree.css_first("button.pagination__next")
    has_next = after is not None and after.attributes.get("aria-disabled") == "false"
    return postings, has_next


def _rows(root: LexborNode | None, base_url: str, company: str, department: str) -> list[Posting]:
    if root is None:
        return []
    found: list[Posting] = []
    for row in root.css("tr.job-post"):
        link = row.css_first("a[href]")
        href = link.attributes.get("href") if link is not None else None
        if link is None or not href:
            continue
        title_node = link.css_first("p.body--medium") or link
        for tag in title_node.css("span.tag-container"):
            tag.decompose()  # the "New" badge is not part of the title
        title = clean_line(title_node.text())
        where = link.css_first("p.body__secondary")
        location = clean_line(where.text()) if where is not None else ""
        if not title:
            continue
        url = urljoin(base_url, href.strip())
        found.append(
            Posting(
                url=url,
                title=title,
                company=company,
                location=location,
                remote=common.is_remote(location),
                tags=common.tags(department),
                apply_url=url,
            )
        )
    return found


def _page_url(url: str, page: int) -> str:
    if page == 1:
        return url
    return common.with_query(url, {"page": page})


async def collect_board(ctx: SourceContext, source: SourceSettings) -> ScrapeResult:
    """Follow `?page=N` while the board has a next page (at most `max_pages`)."""
    url = board_url(source.url)
    parts = urlsplit(url)
    url = urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, ""))
    company = common.option_str(source.options, "company")
    max_pages = common.option_int(source.options, "max_pages", common.DEFAULT_MAX_PAGES)
    postings: list[Posting] = []
    warnings: list[str] = []
    for page in range(1, max_pages + 1):
        page_url = _page_url(url, page)
        try:
            result = await common.get(ctx, source, page_url)
            found, has_next = parse_board(result.text, base_url=result.url, company=company)
        except (FetchError, ParseError) as exc:
            where = f"page {page}"
            warnings.append(common.page_failed(exc, source, page_url, first=page == 1, where=where))
            break
        postings.extend(found)
        if not has_next or not found:
            break
    return ScrapeResult(postings=tuple(postings), warnings=tuple(warnings))


def validate(options: Mapping[str, Any]) -> None:
    common.check_options(
        options, strings=("company",), ints={"max_pages": (1, 1000)}, bools=("content",)
    )


KIND = SourceKind(
    "greenhouse", collect, options=frozenset({"company", "content"}), validate=validate
)
HTML_KIND = SourceKind(
    "greenhouse_html",
    collect_board,
    options=frozenset({"company", "max_pages"}),
    validate=validate,
)
