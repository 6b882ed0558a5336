"""Personio: the public XML feed `https://<company>.jobs.personio.de/xml` (`.com` works too).

`<workzag-jobs>` holds one `<position>` per job, no paging; an empty board is an empty root.
A position's title is its direct child `<name>` (`jobDescription` sections have `<name>`s
too); the description is the `jobDescriptions/jobDescription{name, value}` sections, HTML in
CDATA. The feed carries no URL and no company: the page is `/job/<id>` on the board's host and
the company is the config's `company`, else `<subcompany>`, else the host's first label.
Descriptions are language-scoped: a posting written in another language comes back with empty
`<jobDescriptions>`, which `?language=en` fills. Facts from ../shared/fixtures/FORMATS.md.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from bot.errors import FetchError, ParseError
from bot.facets.salary import period_of, salary_from_range
from bot.models import Posting, ScrapeResult
from bot.sources import common
from bot.sources.base import SourceContext, SourceKind
from bot.text import EXCERPT_CHARS, html_to_text

if TYPE_CHECKING:
    from bot.settings import SourceSettings

# Languages to ask for, in turn, when the bare feed leaves a description empty.
FALLBACK_LANGUAGE = "en"


def origin_of(url: str) -> str:
    parts = urlsplit(url.strip())
    return f"{parts.scheme or 'https'}://{parts.netloc}"


def feed_url(url: str) -> str:
    """The `/xml` feed of a board, job or feed URL (a `?language=` on a feed URL is kept)."""
    parts = urlsplit(url.strip())
    if parts.path.rstrip("/").endswith("/xml"):
        return url.strip()
    return f"{origin_of(url)}/xml"


def parse_feed(text: str, *, board_url: str, company: str = "") -> list[Posting]:
    """Postings from a `<workzag-jobs>` document; `board_url` gives the host of the job pages.

    Raises ParseError on invalid XML or another root element.
    """
    root = common.load_xml(text, "Personio feed", ("workzag-jobs",))
    origin = origin_of(board_url)
    fallback = (urlsplit(board_url).hostname or "").split(".")[0]
    found = (_posting(node, origin, company, fallback) for node in root.findall("position"))
    return [p for p in found if p is not None]


def _text(node: ET.Element, path: str) -> str:
    child = node.find(path)
    return common.line(child.text) if child is not None and child.text else ""


def _description(node: ET.Element) -> str:
    sections: list[str] = []
    for section in node.findall("jobDescriptions/jobDescription"):
        heading = _text(section, "name")
        value = section.find("value")
        body = value.text if value is not None and value.text else ""
        if not body.strip():
            continue
        sections.append(f"<h3>{heading}</h3>{body}" if heading else body)
    return html_to_text("".join(sections), limit=EXCERPT_CHARS) if sections else ""


_PERIODS = {"yearly": "year", "monthly": "month", "hourly": "hour"}


def _salary(node: ET.Element) -> str:
    info = node.find("salaryInformation")
    if info is None:
        return ""
    currency = _text(info, "currencyCode") or _text(info, "currencySymbol")
    period = _PERIODS.get(_text(info, "type"), "")
    return common.salary(_text(info, "min"), _text(info, "max"), currency, period)


def _facts(node: ET.Element) -> dict[str, str]:
    """`salaryInformation {min, max, currencyCode, type}` and `schedule`/`employmentType`."""
    info = node.find("salaryInformation")
    salary = None
    if info is not None:
        period = period_of(_PERIODS.get(_text(info, "type"), "year"))
        salary = salary_from_range(
            _text(info, "min"), _text(info, "max"), _text(info, "currencyCode"), period
        )
    kind = _text(node, "schedule") or _text(node, "employmentType")
    return common.facts_extra(salary, employment_type=kind)


def _posting(node: ET.Element, origin: str, company: str, fallback: str) -> Posting | None:
    job_id = _text(node, "id")
    title = _text(node, "name")  # the direct child, not a section heading
    if not job_id or not title:
        return None
    offices = [
        _text(node, "office"),
        *(_text(o, ".") for o in node.findall("additionalOffices/office")),
    ]
    location = common.join(offices)
    url = f"{origin}/job/{job_id}"
    keywords = [k.strip() for k in _text(node, "keywords").split(",")]
    return Posting(
        url=url,
        title=title,
        company=company or _text(node, "subcompany") or fallback,
        location=location,
        remote=common.is_remote(location),
        tags=common.tags(
            _text(node, "department"),
            _text(node, "employmentType"),
            _text(node, "schedule"),
            _text(node, "seniority"),
            keywords,
        ),
        posted_at=common.parse_date(_text(node, "createdAt")),
        salary=_salary(node),
        description=_description(node),
        apply_url=url,
        extra={"id": job_id} | _facts(node),
    )


async def collect(ctx: SourceContext, source: SourceSettings) -> ScrapeResult:
    """The feed (conditional GET); postings left without a description are filled from the
    `?language=en` feed, and a failure of that second request is a warning."""
    fetcher = common.fetcher_of(ctx, source)
    url = feed_url(source.url)
    company = common.option_str(source.options, "company")
    result = await fetcher.get(url, source=source.name, robots=source.robots, conditional=True)
    if result.not_modified:
        return ScrapeResult(unchanged=True)
    if urlsplit(result.url).netloc != urlsplit(url).netloc:
        # An unknown or departed board redirects to personio.com's marketing site.
        raise FetchError(
            f"board not found (redirected to {common.host_of(result.url)})",
            source=source.name,
            url=url,
            status=result.status,
        )
    try:
        postings = parse_feed(result.text, board_url=url, company=company)
    except ParseError as exc:
        raise common.reraise(exc, source, url) from None
    warnings: list[str] = []
    if "language=" not in url and any(not p.description for p in postings):
        postings, warning = await _fill_language(ctx, source, url, company, postings)
        warnings.extend(warning)
    fetcher.remember(result)
    return ScrapeResult(postings=tuple(postings), warnings=tuple(warnings))


async def _fill_language(
    ctx: SourceContext, source: SourceSettings, url: str, company: str, postings: list[Posting]
) -> tuple[list[Posting], list[str]]:
    other_url = common.with_query(url, {"language": FALLBACK_LANGUAGE})
    try:
        other = await common.get(ctx, source, other_url)
        texts = {
            p.url: p.description
            for p in parse_feed(other.text, board_url=url, company=company)
            if p.description
        }
    except (FetchError, ParseError) as exc:
        return postings, [f"{FALLBACK_LANGUAGE} descriptions: {exc.detail}"]
    return [
        p if p.description or p.url not in texts else replace(p, description=texts[p.url])
        for p in postings
    ], []


def validate(options: Mapping[str, Any]) -> None:
    common.check_options(options, strings=("company",))


KIND = SourceKind("personio", collect, options=frozenset({"company"}), validate=validate)
