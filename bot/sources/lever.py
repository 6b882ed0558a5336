"""Lever: the postings API (`lever`) and the hosted board page (`lever_html`).

API `https://api.lever.co/v0/postings/<site>?mode=json` returns a bare JSON array (the whole
board unless `skip`/`limit` page it). The hosted board `https://jobs.lever.co/<site>` is one
HTML page of `div.posting` items, grouped by department (see ../shared/fixtures/FORMATS.md).
Either URL may be configured for either kind.
"""

from __future__ import annotations

import html as htmllib
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode

from bot.errors import ParseError
from bot.facets.salary import salary_from_lever
from bot.models import Posting, ScrapeResult
from bot.sources import common
from bot.sources.base import SourceContext, SourceKind
from bot.text import EXCERPT_CHARS, excerpt, html_to_text, normalise_paragraphs, repair

if TYPE_CHECKING:
    from bot.fetch import FetchResult
    from bot.settings import SourceSettings

OPTIONS = frozenset({"company", "page_size", "max_pages"})
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def site_of(url: str) -> str:
    """The Lever site name in a board, posting or API URL (`binance`)."""
    parts = common.segments(url)
    if len(parts) >= 3 and parts[0] == "v0" and parts[1] == "postings":
        return parts[2]
    if not parts:
        raise ParseError(f"no Lever site name in {url!r}")
    return parts[0]


def api_url(url: str) -> str:
    """The postings API URL for a board or API URL (`jobs.eu.lever.co` → `api.eu.lever.co`)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if "/v0/postings/" in parts.path:
        return common.with_query(url, {"mode": "json"})
    if host.startswith("jobs.") and host.endswith("lever.co"):
        api_host = "api." + host.removeprefix("jobs.")
        return f"https://{api_host}/v0/postings/{site_of(url)}?mode=json"
    return common.with_query(url, {"mode": "json"})


def board_url(url: str) -> str:
    """The hosted board URL for a board or API URL (`api.lever.co` → `jobs.lever.co`)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if "/v0/postings/" in parts.path:
        board_host = "jobs." + host.removeprefix("api.") if host.startswith("api.") else host
        return urlunsplit((parts.scheme, board_host, f"/{site_of(url)}", "", ""))
    return url


# -- the postings API ------------------------------------------------------------------------


def parse_api(text: str, *, company: str = "") -> list[Posting]:
    """Postings from a `/v0/postings/<site>?mode=json` answer (plain or `group=` shape)."""
    data = common.load_json(text)
    if isinstance(data, dict) and "ok" in data and data.get("ok") is False:
        raise ParseError(f"Lever API error: {common.text_of(data.get('error')) or data}")
    items = common.expect_list(data, "Lever postings")
    if items and "postings" in items[0] and "text" not in items[0]:  # group=… answers
        items = [p for group in items for p in common.expect_list(group, "postings", "postings")]
    return [p for p in (_api_posting(item, company) for item in items) if p is not None]


def _api_posting(item: Mapping[str, Any], company: str) -> Posting | None:
    url = common.text_of(item.get("hostedUrl"))
    title = common.text_of(item.get("text"))
    if not url or not title:
        return None
    raw_categories = item.get("categories")
    categories: Mapping[str, Any] = raw_categories if isinstance(raw_categories, dict) else {}
    location = common.text_of(categories.get("location"))
    if not location and isinstance(categories.get("allLocations"), list):
        location = common.join(categories["allLocations"])
    workplace = common.text_of(item.get("workplaceType"))
    raw_range = item.get("salaryRange")
    pay: Mapping[str, Any] = raw_range if isinstance(raw_range, dict) else {}
    salary = common.salary(
        pay.get("min"), pay.get("max"), pay.get("currency"), _interval(pay.get("interval"))
    ) or common.text_of(item.get("salaryDescriptionPlain") or item.get("salaryDescription"))
    return Posting(
        url=url,
        title=title,
        company=company,
        location=location,
        remote=workplace == "remote" or common.is_remote(location),
        tags=common.tags(
            categories.get("department"), categories.get("team"), categories.get("commitment")
        ),
        posted_at=common.parse_date(item.get("createdAt")),
        salary=salary,
        description=_description(item),
        apply_url=common.text_of(item.get("applyUrl")) or url,
        extra={
            k: v
            for k, v in (
                ("id", common.text_of(item.get("id"))),
                ("workplace", workplace),
                ("country", common.text_of(item.get("country"))),
            )
            if v
        }
        | common.facts_extra(
            salary_from_lever(pay),
            workplace_type=workplace,
            employment_type=categories.get("commitment"),
        ),
    )


def _interval(value: Any) -> str:
    text = common.text_of(value).lower()  # "per-year-salary", "per-hour-wage"
    return text.removesuffix("-salary").removesuffix("-wage").replace("-", " ")


def _description(item: Mapping[str, Any]) -> str:
    plain = item.get("descriptionPlain")
    if isinstance(plain, str) and plain.strip():
        head = plain
        lists = item.get("lists")
        if isinstance(lists, list) and len(head) < EXCERPT_CHARS:
            for block in lists:
                if isinstance(block, dict):
                    head += "\n\n" + str(block.get("text") or "")
                    head += "\n" + html_to_text(str(block.get("content") or ""))
        return repair(excerpt(normalise_paragraphs(head), EXCERPT_CHARS))
    html = str(item.get("description") or "")
    return html_to_text(html, limit=EXCERPT_CHARS)


async def collect(ctx: SourceContext, source: SourceSettings) -> ScrapeResult:
    """The whole board in one request; with `page_size`, `skip`/`limit` pages."""
    url = api_url(source.url)
    company = common.option_str(source.options, "company") or site_of(url)
    page_size = common.option_int(source.options, "page_size", 0)

    def parse(result: FetchResult) -> list[Posting]:
        return parse_api(result.text, company=company)

    if not page_size:
        return await common.fetch_one(ctx, source, url, parse)
    postings: list[Posting] = []
    max_pages = common.option_int(source.options, "max_pages", common.DEFAULT_MAX_PAGES)
    for page in range(max_pages):
        page_url = common.with_query(url, {"skip": page * page_size, "limit": page_size})
        result = await common.get(ctx, source, page_url)
        try:
            found = parse(result)
        except ParseError as exc:
            raise common.reraise(exc, source, page_url) from None
        postings.extend(found)
        if len(found) < page_size:
            break
    return ScrapeResult(postings=tuple(postings))


# -- the hosted board page ---------------------------------------------------------------------


def parse_board(html: str, *, base_url: str = "", company: str = "") -> list[Posting]:
    """Postings from a `jobs.lever.co/<site>` board page."""
    # The head of a Lever board is ~700 KB of inline CSS: build the DOM of the body only,
    # and take the company name (the page title) from the head with a regex.
    body_at = html.find("<body")
    if not company:
        title = _TITLE.search(html, 0, body_at if body_at > 0 else len(html))
        company = common.line(htmllib.unescape(title.group(1))) if title else ""
    if body_at > 0:
        postings = _board_postings(LexborHTMLParser(html[body_at:]), base_url, company)
        if postings is not None:
            return postings
    postings = _board_postings(LexborHTMLParser(html), base_url, company)
    if postings is None:
        raise ParseError("not a Lever job board page (no div.posting and no postings wrapper)")
    return postings


def _board_postings(tree: LexborHTMLParser, base_url: str, company: str) -> list[Posting] | None:
    """The postings of a parsed board; None when the page has no Lever board at all."""
    groups = tree.css("div.postings-group")
    postings: list[Posting] = []
    if groups:
        for group in groups:
            department = _first_text(group, "div.large-category-header")
            team = _first_text(group, "div.posting-category-title")
            for node in group.css("div.posting"):
                posting = _board_posting(node, base_url, company, department, team)
                if posting is not None:
                    postings.append(posting)
    else:
        for node in tree.css("div.posting"):
            posting = _board_posting(node, base_url, company, "", "")
            if posting is not None:
                postings.append(posting)
    if not postings and tree.css_first("div.postings-wrapper, div.main-footer-text") is None:
        return None
    return postings


def _first_text(node: LexborNode, selector: str) -> str:
    found = node.css_first(selector)
    return common.line(found.text()) if found is not None else ""


def _board_posting(  # noqa: C901 - one walk, one branch per field (speed, see below)
    node: LexborNode, base_url: str, company: str, department: str, team: str
) -> Posting | None:
    # One walk over the item's ~10 elements: much faster than a CSS query per field, and the
    # parse of big boards (Binance has hundreds of postings) is dominated by this loop.
    href = apply_href = title = location = commitment = own_team = workplace = ""
    title_link: LexborNode | None = None
    for child in node.traverse():
        attrs = child.attributes
        if not attrs:
            continue
        if attrs.get("data-qa") == "posting-name":
            title = common.line(child.text())
            continue
        classes = f" {attrs.get('class') or ''} "
        if child.tag == "a":
            if " posting-title " in classes:
                href, title_link = attrs.get("href") or "", child
            elif " posting-btn-submit " in classes:
                apply_href = attrs.get("href") or ""
        elif " sort-by-location " in classes:
            location = common.line(child.text())
        elif " sort-by-commitment " in classes:
            commitment = common.line(child.text())
        elif " sort-by-team " in classes:
            own_team = common.line(child.text())
        elif " workplaceTypes " in classes:
            workplace = common.line(child.text()).rstrip(" —-–").strip()
    href = href or apply_href
    if not title and title_link is not None:
        title = common.line(title_link.text())
    if not href or not title:
        return None
    url = common.absolute(base_url, href)
    extra = {"workplace": workplace} if workplace else {}
    extra |= common.facts_extra(workplace_type=workplace, employment_type=commitment)
    if posting_id := node.attributes.get("data-qa-posting-id"):
        extra["id"] = posting_id
    return Posting(
        url=url,
        title=title,
        company=company,
        location=location,
        remote=workplace.lower() == "remote" or common.is_remote(location),
        tags=tuple(dict.fromkeys(t for t in (department, own_team or team, commitment) if t)),
        apply_url=url.rstrip("/") + "/apply",
        extra=extra,
    )


async def collect_board(ctx: SourceContext, source: SourceSettings) -> ScrapeResult:
    """Read the hosted board page (conditional GET)."""
    url = board_url(source.url)
    company = common.option_str(source.options, "company")

    def parse(result: FetchResult) -> list[Posting]:
        return parse_board(result.text, base_url=result.url, company=company)

    return await common.fetch_one(ctx, source, url, parse)


def validate(options: Mapping[str, Any]) -> None:
    common.check_options(
        options, strings=("company",), ints={"page_size": (1, 1000), "max_pages": (1, 1000)}
    )


KIND = SourceKind("lever", collect, options=OPTIONS, validate=validate)
HTML_KIND = SourceKind(
    "lever_html", collect_board, options=frozenset({"company"}), validate=validate
)
