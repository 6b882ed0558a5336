"""RSS 2.0 and Atom job feeds (We Work Remotely: `/remote-jobs.rss`, `/categories/<slug>.rss`).

We Work Remotely items title as "Company: Role" and add `region`, `country`, `state`,
`skills`, `category` and `type` elements; `description` is escaped HTML. Set
`company_in_title` to split such titles on other feeds and `remote` when every item is remote
(both are on for weworkremotely.com).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from bot.errors import ParseError
from bot.models import Posting, ScrapeResult
from bot.sources import common
from bot.sources.base import SourceContext, SourceKind
from bot.text import EXCERPT_CHARS, clean_line, html_to_text

if TYPE_CHECKING:
    from bot.config import SourceSettings
    from bot.fetch import FetchResult

ATOM = "{http://www.w3.org/2005/Atom}"
CONTENT = "{http://purl.org/rss/1.0/modules/content/}encoded"


def parse_feed(
    text: str, *, company: str = "", company_in_title: bool = False, remote: bool = False
) -> list[Posting]:
    """Postings from an RSS 2.0 or Atom document."""
    root = common.load_xml(text, "feed")
    if root.tag == f"{ATOM}feed":
        return [
            p
            for p in (_atom_entry(e, company, remote) for e in root.iter(f"{ATOM}entry"))
            if p is not None
        ]
    if root.tag not in ("rss", "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}RDF"):
        raise ParseError(f"not an RSS or Atom feed (root element <{root.tag}>)")
    items = [el for el in root.iter() if el.tag in ("item", "{http://purl.org/rss/1.0/}item")]
    return [
        p
        for p in (_rss_item(item, company, company_in_title, remote) for item in items)
        if p is not None
    ]


def _child(node: ET.Element, *names: str) -> str:
    for name in names:
        found = node.find(name)
        if found is not None and found.text and found.text.strip():
            return found.text.strip()
    return ""


def _rss_item(
    item: ET.Element, company: str, company_in_title: bool, remote: bool
) -> Posting | None:
    title = clean_line(_child(item, "title", "{http://purl.org/rss/1.0/}title"))
    url = _child(item, "link", "{http://purl.org/rss/1.0/}link")
    guid = _child(item, "guid")
    if not url and guid.startswith(("http://", "https://")):
        url = guid
    if not url or not title:
        return None
    author = company
    if company_in_title and ": " in title:
        author, title = (part.strip() for part in title.split(": ", 1))
    region = clean_line(_child(item, "region"))
    country = clean_line(_child(item, "country"))
    location = common.join([region, country]) or clean_line(_child(item, "location"))
    skills = [s.strip() for s in _child(item, "skills").split(",")]
    categories = [clean_line(c.text) for c in item.findall("category") if c.text]
    kind = clean_line(_child(item, "type"))
    description = html_to_text(_child(item, CONTENT, "description"), limit=EXCERPT_CHARS)
    extra = {k: v for k, v in (("guid", guid), ("expires_at", _child(item, "expires_at"))) if v}
    return Posting(
        url=url,
        title=title,
        company=author or clean_line(_child(item, "{http://purl.org/dc/elements/1.1/}creator")),
        location=location,
        remote=remote or common.is_remote(location),
        tags=common.tags(categories, skills, kind),
        posted_at=common.parse_date(
            _child(item, "pubDate", "{http://purl.org/dc/elements/1.1/}date")
        ),
        description=description,
        apply_url=url,
        extra=extra,
    )


def _atom_entry(entry: ET.Element, company: str, remote: bool) -> Posting | None:
    title = clean_line(_child(entry, f"{ATOM}title"))
    url = ""
    for link in entry.findall(f"{ATOM}link"):
        if link.get("rel", "alternate") == "alternate" and link.get("href"):
            url = link.get("href", "")
            break
    if not url or not title:
        return None
    author = entry.find(f"{ATOM}author")
    name = _child(author, f"{ATOM}name") if author is not None else ""
    content = _child(entry, f"{ATOM}content", f"{ATOM}summary")
    return Posting(
        url=url,
        title=title,
        company=company or clean_line(name),
        remote=remote,
        tags=common.tags([c.get("term") for c in entry.findall(f"{ATOM}category")]),
        posted_at=common.parse_date(_child(entry, f"{ATOM}published", f"{ATOM}updated")),
        description=html_to_text(content, limit=EXCERPT_CHARS),
        apply_url=url,
        extra={"id": _child(entry, f"{ATOM}id")} if _child(entry, f"{ATOM}id") else {},
    )


async def collect(ctx: SourceContext, source: SourceSettings) -> ScrapeResult:
    company = common.option_str(source.options, "company")
    wwr = common.host_of(source.url).endswith("weworkremotely.com")
    split = source.options.get("company_in_title", wwr) is True
    remote = source.options.get("remote", wwr) is True

    def parse(result: FetchResult) -> list[Posting]:
        return parse_feed(result.text, company=company, company_in_title=split, remote=remote)

    return await common.fetch_one(ctx, source, source.url, parse)


def validate(options: Mapping[str, Any]) -> None:
    common.check_options(options, strings=("company",), bools=("company_in_title", "remote"))


KIND = SourceKind(
    "rss", collect, options=frozenset({"company", "company_in_title", "remote"}), validate=validate
)
