"""Job pages carrying schema.org `JobPosting` JSON-LD, found through a sitemap or a listing page.

The configured URL is a sitemap index (its newest `max_shards` shards are read), a sitemap
urlset, or an HTML listing page whose links lead to job pages. Only job pages whose URL is not
stored yet are fetched, newest first, at most `max_pages` a run. remotewlb.com works this way:
`/sitemap.xml` → monthly shards `/sitemaps/jobs/YYYY-MM-1` listed oldest first → `/job/<slug>-<id>`.
"""

from __future__ import annotations

import asyncio
import gzip
import html as htmllib
import io
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from selectolax.lexbor import LexborHTMLParser

from bot.errors import FetchError, ParseError
from bot.facets.remote import JOB_LOCATION_OFFICE
from bot.facets.salary import salary_from_schema_org
from bot.models import Posting, ScrapeResult
from bot.sources import common
from bot.sources.base import SourceContext, SourceKind
from bot.text import EXCERPT_CHARS, html_to_text

if TYPE_CHECKING:
    from bot.fetch import FetchResult
    from bot.settings import SourceSettings

OPTIONS = frozenset({"pattern", "max_pages", "max_shards", "company"})
DEFAULT_MAX_PAGES = 50
DEFAULT_MAX_SHARDS = 2
MAX_SITEMAP_BYTES = 50 * 1024 * 1024  # the sitemap protocol's own limit, uncompressed
DEFAULT_PATTERN = re.compile(r"/(jobs?|careers?|positions?|vacanc(y|ies)|openings?)/", re.I)
_SITEMAP_NS = re.compile(r"^\{[^}]*\}")


@dataclass(frozen=True, slots=True)
class Sitemap:
    """A parsed sitemap: an index of other sitemaps or a set of page URLs, in document order."""

    is_index: bool
    entries: tuple[tuple[str, str], ...]  # (loc, lastmod or "")
    skipped: int = 0  # entries without a readable <loc>

    def newest_first(self) -> list[str]:
        """Locations newest first: by lastmod when every entry has one, else reversed order
        (shards and urlsets are commonly listed oldest first)."""
        if self.entries and all(lastmod for _, lastmod in self.entries):
            ordered = sorted(self.entries, key=lambda e: _sort_key(e[1]), reverse=True)
            return [loc for loc, _ in ordered]
        return [loc for loc, _ in reversed(self.entries)]


def _sort_key(lastmod: str) -> float:
    when = common.parse_date(lastmod)
    return when.timestamp() if when is not None else 0.0


def looks_like_sitemap(content: bytes) -> bool:
    """A gzip file, or XML whose root is <urlset> or <sitemapindex>."""
    if content.startswith(b"\x1f\x8b"):
        return True
    head = content[:4096]
    if not head.lstrip().startswith(b"<"):
        return False
    return b"<urlset" in head or b"<sitemapindex" in head


def sitemap_body(result: FetchResult) -> bytes:
    """The XML of a sitemap answer, gunzipped when it is a `.xml.gz` file (also when a server
    gzipped that file once more without saying so), at most MAX_SITEMAP_BYTES."""
    raw = result.content
    for _ in range(2):
        if not raw.startswith(b"\x1f\x8b"):
            break
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(raw)) as stream:
                raw = stream.read(MAX_SITEMAP_BYTES + 1)
        except (OSError, EOFError) as exc:
            raise ParseError(f"invalid gzip sitemap ({exc})") from None
        if len(raw) > MAX_SITEMAP_BYTES:
            raise ParseError(f"sitemap is larger than {MAX_SITEMAP_BYTES} bytes uncompressed")
    return raw


def parse_sitemap(body: bytes | str) -> Sitemap:
    """A sitemap index or urlset (sitemaps.org protocol), read leniently: undefined entities,
    a bare `&`, controls, CDATA `<loc>` values and broken entries do not stop it (a `<url>`
    without a readable `<loc>` is skipped). ParseError for anything else or a truncated one."""
    root = common.load_xml(body, "sitemap", ("sitemapindex", "urlset"))
    entries: list[tuple[str, str]] = []
    skipped = 0
    # Entries wherever they sit: recovery from a broken one can nest the next inside it.
    for child in root.iter("{*}url", "{*}sitemap", "url", "sitemap"):
        loc = lastmod = ""
        for field in child:
            if not isinstance(field.tag, str):
                continue
            name = _SITEMAP_NS.sub("", field.tag)
            if name == "loc" and field.text:
                loc = field.text.strip()
            elif name == "lastmod" and field.text:
                lastmod = field.text.strip()
        if loc:
            entries.append((loc, lastmod))
        else:
            skipped += 1
    is_index = _SITEMAP_NS.sub("", str(root.tag)) == "sitemapindex"
    return Sitemap(is_index=is_index, entries=tuple(entries), skipped=skipped)


def job_links(html: str, *, base_url: str, pattern: re.Pattern[str] | None = None) -> list[str]:
    """Links on a listing page that look like job pages, on the listing's own host, in order."""
    tree = LexborHTMLParser(html)
    host = common.host_of(base_url)
    seen: dict[str, None] = {}
    for anchor in tree.css("a[href]"):
        href = (anchor.attributes.get("href") or "").strip()
        if not href or href.startswith(("#", "mailto:", "javascript:")):
            continue
        url = urljoin(base_url, href).split("#", 1)[0]
        if common.host_of(url) != host or url.rstrip("/") == base_url.rstrip("/"):
            continue
        if (pattern or DEFAULT_PATTERN).search(urlsplit(url).path):
            seen.setdefault(url, None)
    return list(seen)


# -- JSON-LD -----------------------------------------------------------------------------------


def read_json_ld(html: str) -> tuple[list[Any], list[str]]:
    """Every `application/ld+json` script's data, and why each unreadable one could not be read
    (invalid JSON, or nested deeper than `common.MAX_JSON_DEPTH`). Raw control characters
    inside strings are accepted, as browsers' JSON-LD consumers accept them."""
    tree = LexborHTMLParser(html)
    blocks: list[Any] = []
    problems: list[str] = []
    for script in tree.css("script"):
        kind = (script.attributes.get("type") or "").strip().lower()
        if kind != "application/ld+json":
            continue
        raw = (script.text(deep=True) or "").strip()
        raw = raw.removeprefix("<!--").removesuffix("-->").strip()
        if raw.startswith("//<![CDATA["):
            raw = raw.removeprefix("//<![CDATA[").removesuffix("//]]>")
        try:
            blocks.append(common.load_json(raw, strict=False))
        except ParseError as exc:
            problems.append(f"JSON-LD block {len(blocks) + len(problems) + 1}: {exc.detail}")
    return blocks, problems


def job_postings(data: Any) -> Iterator[Mapping[str, Any]]:
    """The JobPosting nodes in JSON-LD data: top level, arrays, `@graph`, ItemList elements."""
    if isinstance(data, list):
        for item in data:
            yield from job_postings(item)
        return
    if not isinstance(data, dict):
        return
    types = data.get("@type")
    type_list = types if isinstance(types, list) else [types]
    if "JobPosting" in type_list:
        yield data
    for key in ("@graph", "itemListElement", "item", "mainEntity"):
        if key in data:
            yield from job_postings(data[key])


def parse_job_page(html: str, *, url: str, company: str = "") -> list[Posting]:
    """The postings a job page describes in JSON-LD (usually one); [] when there is none."""
    return read_job_page(html, url=url, company=company)[0]


def read_job_page(html: str, *, url: str, company: str = "") -> tuple[list[Posting], list[str]]:
    """`parse_job_page`, with the reasons its unreadable JSON-LD blocks were skipped."""
    blocks, problems = read_json_ld(html)
    found: list[Posting] = []
    for block in blocks:
        for node in job_postings(block):
            posting = posting_from_jsonld(node, page_url=url, company=company)
            if posting is not None:
                found.append(posting)
    return found, problems


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _names_of(value: Any) -> list[str]:
    """Each place of `applicantLocationRequirements` by name (a list stays a list)."""
    return [_name(item) for item in _list(value)]


def _name(value: Any) -> str:
    if isinstance(value, dict):
        return common.text_of(value.get("name"))
    if isinstance(value, list):
        return common.join(_name(item) for item in value)
    return common.text_of(value)


def _place(value: Any) -> str:
    if isinstance(value, list):
        return common.join((_place(item) for item in value), "; ")
    if not isinstance(value, dict):
        return common.text_of(value)
    address = value.get("address", value)
    if not isinstance(address, dict):
        return common.text_of(address) or _name(value)
    parts = [
        address.get("addressLocality"),
        address.get("addressRegion"),
        _name(address.get("addressCountry")),
    ]
    return common.join(p for p in parts if common.text_of(p).upper() != "UNAVAILABLE")


def _countries(value: Any) -> list[str]:
    """The `addressCountry` of each `jobLocation` (codes or names, as given)."""
    if isinstance(value, list):
        return [country for item in value for country in _countries(item)]
    address = value.get("address", value) if isinstance(value, dict) else None
    country = _name(address.get("addressCountry")) if isinstance(address, dict) else ""
    return [country] if country else []


def _salary(node: Mapping[str, Any]) -> str:
    base = node.get("baseSalary") or node.get("estimatedSalary")
    if isinstance(base, list) and base:
        base = base[0]
    if isinstance(base, dict):
        value = base.get("value")
        currency = base.get("currency") or node.get("salaryCurrency")
        if isinstance(value, dict):
            low = value.get("minValue", value.get("value"))
            return common.salary(low, value.get("maxValue"), currency, value.get("unitText"))
        return common.salary(value, None, currency, base.get("unitText"))
    if isinstance(base, int | float | str) and common.money(base):
        return common.salary(base, None, node.get("salaryCurrency"))
    currency = common.text_of(node.get("salaryCurrency"))
    return currency if len(currency) > 3 else ""  # iCIMS puts the whole range in salaryCurrency


def _description(raw: Any) -> str:
    text = str(raw or "")
    if "<" not in text and "&lt;" in text:  # an HTML-escaped description
        text = htmllib.unescape(text)
    return html_to_text(text, limit=EXCERPT_CHARS)


def posting_from_jsonld(
    node: Mapping[str, Any], *, page_url: str, company: str = ""
) -> Posting | None:
    """A Posting from one JobPosting node; the page URL is its identity."""
    title = common.text_of(node.get("title") or node.get("name"))
    if not title:
        return None
    remote = "TELECOMMUTE" in str(node.get("jobLocationType") or "").upper()
    location = _place(node.get("jobLocation"))
    requirements = _name(node.get("applicantLocationRequirements"))
    if remote:
        location = common.join(["Remote", requirements]) if requirements else "Remote"
    elif not location:
        location = requirements
    apply_url = common.text_of(node.get("url")) or page_url
    extra = {
        k: v
        for k, v in (
            ("valid_through", common.text_of(node.get("validThrough"))),
            ("identifier", _name(node.get("identifier"))),
        )
        if v
    } | common.facts_extra(
        salary_from_schema_org(node.get("baseSalary") or node.get("estimatedSalary")),
        employment_type=common.join(_list(node.get("employmentType")), ","),
    )
    if remote:  # schema.org: TELECOMMUTE, and where an applicant may live
        extra["job_location_type"] = "TELECOMMUTE"
        extra["applicant_locations"] = common.join(
            _names_of(node.get("applicantLocationRequirements")), ","
        )
    elif node.get("jobLocation"):
        # the address is where the employee reports to work (Google's JobPosting guide); a
        # title or location saying remote or hybrid still wins (`scope_from_schema_org`)
        extra["job_location_type"] = JOB_LOCATION_OFFICE
        # the country as structured: "Berlin, DE" as text reads as Delaware
        extra["job_countries"] = common.join(_countries(node.get("jobLocation")), ",")
    return Posting(
        url=page_url,
        title=title,
        company=company or _name(node.get("hiringOrganization")),
        location=location,
        remote=remote or common.is_remote(location),
        tags=common.tags(node.get("employmentType") or [], node.get("occupationalCategory")),
        posted_at=common.parse_date(node.get("datePosted")),
        salary=_salary(node),
        description=_description(node.get("description")),
        apply_url=apply_url,
        extra=extra,
    )


# -- collect ------------------------------------------------------------------------------------


async def collect(ctx: SourceContext, source: SourceSettings) -> ScrapeResult:
    """Discover job URLs, then fetch the ones not stored yet (the stored ones the listing
    links are reported as `listed`: seen, not read again); failed pages become warnings."""
    fetcher = common.fetcher_of(ctx, source)
    options = source.options
    pattern_text = common.option_str(options, "pattern")
    pattern = re.compile(pattern_text) if pattern_text else None
    company = common.option_str(options, "company")
    max_pages = common.option_int(options, "max_pages", DEFAULT_MAX_PAGES)
    first = await common.get(ctx, source, source.url)
    try:
        found = await _discover(ctx, source, first, pattern, company)
    except ParseError as exc:
        raise common.reraise(exc, source, exc.url or first.url) from None
    if found is None:  # every shard answered 304
        return ScrapeResult(unchanged=True)
    urls = found.urls
    if not urls and not found.page_postings:  # not "unchanged": the pipeline checks layouts
        where = "sitemap" if found.maps else "listing"
        return ScrapeResult(warnings=(f"the {where} links no job page",))
    known = ctx.known_urls(urls, source.identity)
    unknown = [url for url in dict.fromkeys(urls) if url not in known]
    listed = tuple(url for url in dict.fromkeys(urls) if url in known)
    if not unknown and not found.page_postings:
        for shard in found.shards:
            fetcher.remember(shard)
        return ScrapeResult(listed=listed)
    todo = unknown[:max_pages]
    outcomes = await asyncio.gather(*(_job_page(ctx, source, url, company) for url in todo))
    postings, warnings, transient = _gathered(found, outcomes)
    if todo and not postings:
        raise ParseError(
            f"none of {len(todo)} job pages could be read; first: {warnings[0]}",
            source=source.name,
            url=source.url,
        )
    if not transient and len(unknown) <= max_pages:
        for shard in found.shards:  # every job of these shards is handled: a 304 next time is safe
            fetcher.remember(shard)
    return ScrapeResult(
        postings=tuple(postings),
        warnings=tuple(warnings),
        complete=len(unknown) <= max_pages,
        listed=listed,
    )


@dataclass(frozen=True, slots=True)
class _Found:
    """What the first page leads to: job page `urls`, the sitemap `shards` fetched (remembered
    for a 304 once their jobs are handled), the parsed `maps` by URL, and postings the page
    itself carries (`page_postings`, a listing's JSON-LD naming other pages)."""

    urls: list[str]
    shards: list[FetchResult]
    maps: list[tuple[str, Sitemap]]
    page_postings: list[Posting]


async def _discover(
    ctx: SourceContext,
    source: SourceSettings,
    first: FetchResult,
    pattern: re.Pattern[str] | None,
    company: str,
) -> _Found | None:
    """The job URLs of a sitemap, a sitemap index's newest shards, or a listing page; None when
    every shard answered 304. ParseError for an empty answer or an unreadable sitemap."""
    if not first.content.strip():
        raise ParseError("empty answer (no listing page or sitemap)", url=first.url)
    if not looks_like_sitemap(first.content):
        page_postings = [
            p
            for p in parse_job_page(first.text, url=first.url, company=company)
            if p.url != first.url  # a listing's own JSON-LD names other pages
        ]
        urls = job_links(first.text, base_url=first.url, pattern=pattern)
        return _Found(urls, shards=[], maps=[], page_postings=page_postings)
    sitemap = parse_sitemap(sitemap_body(first))
    if not sitemap.is_index:
        urls = _job_urls(sitemap.newest_first(), pattern)
        return _Found(urls, shards=[], maps=[(first.url, sitemap)], page_postings=[])
    max_shards = common.option_int(source.options, "max_shards", DEFAULT_MAX_SHARDS)
    shard_urls = _job_shards(sitemap.newest_first())[:max_shards]
    shards = await _fetch_shards(ctx, source, shard_urls)
    if shards and all(s.not_modified for s in shards):
        return None
    maps = [(shard.url, parse_sitemap(sitemap_body(shard))) for shard in shards]
    urls = [loc for _, shard_map in maps for loc in shard_map.newest_first()]
    return _Found(_job_urls(urls, pattern), shards=shards, maps=maps, page_postings=[])


def _gathered(
    found: _Found, outcomes: list[list[Posting] | str | FetchError]
) -> tuple[list[Posting], list[str], bool]:
    """The postings and warnings of the job pages read, and whether a failure was transient
    (a FetchError: the page may read next time)."""
    postings = list(found.page_postings)
    warnings = [
        f"<{url}>: {sitemap.skipped} sitemap entries without a readable <loc> skipped"
        for url, sitemap in found.maps
        if sitemap.skipped
    ]
    transient = False
    for outcome in outcomes:
        if isinstance(outcome, str):
            warnings.append(outcome)
        elif isinstance(outcome, FetchError):
            warnings.append(f"<{outcome.url}>: {outcome.detail}")
            transient = True
        else:
            postings.extend(outcome)
    return postings, warnings, transient


def _job_shards(locations: list[str]) -> list[str]:
    """Of an index's sitemaps, the ones about jobs when some are named so, else all."""
    jobs = [loc for loc in locations if "job" in loc.lower()]
    return jobs or locations


def _job_urls(urls: list[str], pattern: re.Pattern[str] | None) -> list[str]:
    if pattern is not None:
        return [url for url in urls if pattern.search(url)]
    jobs = [url for url in urls if DEFAULT_PATTERN.search(urlsplit(url).path)]
    return jobs or urls


async def _fetch_shards(
    ctx: SourceContext, source: SourceSettings, urls: list[str]
) -> list[FetchResult]:
    """The shards, conditionally; when any changed, the unchanged ones are fetched in full
    (their job URLs are needed too, and we keep no copy of them)."""
    results = list(
        await asyncio.gather(*(common.get(ctx, source, url, conditional=True) for url in urls))
    )
    if any(r.not_modified for r in results) and not all(r.not_modified for r in results):
        for i, result in enumerate(results):
            if result.not_modified:
                results[i] = await common.get(ctx, source, urls[i])
    return results


async def _job_page(
    ctx: SourceContext, source: SourceSettings, url: str, company: str
) -> list[Posting] | str | FetchError:
    try:
        result = await common.get(ctx, source, url)
    except FetchError as exc:
        return exc
    postings, problems = read_job_page(result.text, url=url, company=company)
    if not postings:
        return f"<{url}>: {problems[0] if problems else 'no JobPosting JSON-LD on the page'}"
    return postings[:1]  # one page, one posting: extra nodes are usually related jobs


def validate(options: Mapping[str, Any]) -> None:
    common.check_options(
        options,
        strings=("pattern", "company"),
        ints={"max_pages": (1, 1000), "max_shards": (1, 100)},
    )
    if "pattern" in options:
        try:
            re.compile(options["pattern"])
        except re.error as exc:
            raise ValueError(f"pattern is not a valid regular expression: {exc}") from None


# Only job pages not stored yet are fetched, so a run's postings are the new ones alone: a
# stored posting missing from them says nothing about the board. It closes by `validThrough`.
KIND = SourceKind("jsonld", collect, options=OPTIONS, validate=validate, lists_all=False)
