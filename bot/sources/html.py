"""The `html` kind: any board page described in config by CSS selectors.

    [[sources]]
    name = "acme"
    kind = "html"
    url = "https://acme.example/careers"
    item = "li.job"              # one element per posting (required)
    title = "h3"                 # inside the item (required)
    link = "a"                   # inside the item; its href (default: the first a[href])
    company = ".org"             # optional selectors inside the item …
    location = ".where"
    date = "time"                # its datetime attribute, else its text
    company_name = "Acme"        # … or one company name for the whole board
    next = "a[rel=next]"         # optional: follow this link for more pages (max_pages)

For boards with no API and no JSON-LD; a selector that stops matching yields no postings,
which the pipeline reports as a changed layout.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

from selectolax.lexbor import LexborHTMLParser, LexborNode, SelectolaxError

from bot.errors import FetchError, ParseError
from bot.models import Posting, ScrapeResult
from bot.sources import common
from bot.sources.base import SourceContext, SourceKind
from bot.text import EXCERPT_CHARS, clean_line, html_to_text

if TYPE_CHECKING:
    from bot.settings import SourceSettings

SELECTORS = ("item", "title", "link", "company", "location", "date", "description", "next")
OPTIONS = frozenset({*SELECTORS, "company_name", "max_pages"})
DEFAULT_MAX_PAGES = 10


def parse_page(
    html: str, selectors: Mapping[str, str], *, base_url: str = "", company_name: str = ""
) -> tuple[list[Posting], str | None]:
    """Postings on one page by the configured selectors, and the next page's URL if any.
    Raises ParseError for an empty answer (no page at all) or a selector selectolax refuses."""
    if not html.strip():
        raise ParseError("empty answer (no HTML page)")
    tree = LexborHTMLParser(html)
    try:
        items = tree.css(selectors["item"])
        postings = [
            p
            for p in (_posting(node, selectors, base_url, company_name) for node in items)
            if p is not None
        ]
        next_node = tree.css_first(selectors["next"]) if selectors.get("next") else None
    except SelectolaxError as exc:
        raise ParseError(f"a CSS selector cannot be used: {exc}") from None
    href = next_node.attributes.get("href") if next_node is not None else None
    return postings, urljoin(base_url, href) if href else None


def _text(node: LexborNode, selector: str | None) -> str:
    if not selector:
        return ""
    found = node.css_first(selector)
    return clean_line(found.text()) if found is not None else ""


def _posting(
    node: LexborNode, selectors: Mapping[str, str], base_url: str, company_name: str
) -> Posting | None:
    title = _text(node, selectors["title"])
    link_node = node if node.tag == "a" else node.css_first(selectors.get("link") or "a[href]")
    href = link_node.attributes.get("href") if link_node is not None else None
    if not title or not href:
        return None
    url = urljoin(base_url, href.strip())
    location = _text(node, selectors.get("location"))
    posted_at = None
    if selectors.get("date"):
        when = node.css_first(selectors["date"])
        if when is not None:
            posted_at = common.parse_date(
                when.attributes.get("datetime") or clean_line(when.text())
            )
    description = ""
    if selectors.get("description"):
        found = node.css_first(selectors["description"])
        if found is not None:
            description = html_to_text(found.html or "", limit=EXCERPT_CHARS)
    return Posting(
        url=url,
        title=title,
        company=_text(node, selectors.get("company")) or company_name,
        location=location,
        remote=common.is_remote(location, title),
        posted_at=posted_at,
        description=description,
        apply_url=url,
    )


def _selectors(options: Mapping[str, Any]) -> dict[str, str]:
    return {key: options[key] for key in SELECTORS if isinstance(options.get(key), str)}


async def collect(ctx: SourceContext, source: SourceSettings) -> ScrapeResult:
    selectors = _selectors(source.options)
    company_name = common.option_str(source.options, "company_name")
    max_pages = common.option_int(source.options, "max_pages", DEFAULT_MAX_PAGES)
    postings: list[Posting] = []
    warnings: list[str] = []
    url: str | None = source.url
    seen: set[str] = set()
    for page in range(1, max_pages + 1):
        if url is None or url in seen:
            break
        seen.add(url)
        try:
            result = await common.get(ctx, source, url)
            found, url = parse_page(
                result.text, selectors, base_url=result.url, company_name=company_name
            )
        except (FetchError, ParseError) as exc:
            page_url = url or source.url
            where = f"page {page}"
            warnings.append(common.page_failed(exc, source, page_url, first=page == 1, where=where))
            break
        if page == 1 and not found:  # a board with no openings, or selectors that miss
            warnings.append(
                f"page 1 lists no posting by the selectors (item {selectors['item']!r}, "
                f"title {selectors['title']!r}); check them if the board has openings"
            )
        postings.extend(found)
    else:  # max_pages reached: a next page may hold more
        return ScrapeResult(
            postings=tuple(postings), warnings=tuple(warnings), listed_all=url is None
        )
    return ScrapeResult(postings=tuple(postings), warnings=tuple(warnings))


def validate(options: Mapping[str, Any]) -> None:
    """`item` and `title` are required; every selector must parse."""
    for key in ("item", "title"):
        if key not in options:
            raise ValueError(f"the html kind needs a {key!r} CSS selector")
    common.check_options(
        options, strings=(*SELECTORS, "company_name"), ints={"max_pages": (1, 100)}
    )
    probe = LexborHTMLParser("<p></p>")
    for key in SELECTORS:
        if key in options:
            if not options[key].strip():
                raise ValueError(f"{key} must not be empty")
            try:
                probe.css(options[key])
            except SelectolaxError:
                raise ValueError(f"{key} = {options[key]!r} is not a valid CSS selector") from None


KIND = SourceKind("html", collect, options=OPTIONS, validate=validate)
