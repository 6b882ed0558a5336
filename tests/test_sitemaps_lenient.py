"""Sitemaps (index and urlset, gzipped or not) read with a recovering XML parser (issue 8 part 1).

Field case 13 through the real path; beyond it, the kind: undefined entities, control
characters, a bare `&`, CDATA `<loc>` values, a BOM and white space before `<?xml`, a wrong
declared encoding, a broken entry costing only itself, and a truncated sitemap refused.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import ParseError
from bot.sources import jsonld
from tests.boardserver import serve
from tests.fetchkit import context, fetcher, fixture, source, within
from tests.fieldkit import case_dir, field_site, gzipped, once, serve_file, stored, write_config

NODESK = "nodesk_job_detail_jsonld.html"
SHARD = "/sitemap/salesChannel-7f3a-91c2/7f3a91c2-sitemap-shop-example-{}.xml.gz"
NS = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'


def _urlset(locs: str, declaration: str = '<?xml version="1.0" encoding="UTF-8"?>') -> str:
    return f"{declaration}<urlset {NS}>{locs}</urlset>"


async def test_field_13_gzipped_shards_with_cdata_locations(tmp_path: Path) -> None:
    """Hashed `.xml.gz` shard names, one shard gzipped twice (once as Content-Encoding)."""
    case = "13-sitemap-index-gzip-shards"
    async with field_site(case) as (server, base):
        for n in (1, 2):
            body = (case_dir(case) / "shards" / f"{n}.xml").read_bytes()
            body = gzipped(body.replace(b"@BASE@", base.encode()))
            headers = {}
            if n == 2:
                body, headers = gzipped(body), {"Content-Encoding": "gzip"}
            serve_file(server, SHARD.format(n), body, headers=headers)
        settings = write_config(
            tmp_path,
            [{"name": "field", "kind": "jsonld", "url": f"{base}/sitemap.xml", "pattern": "/job/"}],
        )
        (outcome,) = await once(settings)
        about_hits = server.hits("/about")
    assert outcome.ok
    assert outcome.seen == 3
    postings = {p.title: p for p in stored(settings)}
    assert set(postings) == {"Backend Engineer", "Store Manager", "Warehouse Associate"}
    assert {(p.company, p.location) for p in postings.values()} == {
        ("Example Shop GmbH", "Hamburg, DE")
    }
    assert about_hits == 0


@pytest.mark.parametrize(
    ("loc", "expected"),
    [
        ("<![CDATA[https://w.test/job/c?a=1&b=2]]>", "https://w.test/job/c?a=1&b=2"),
        ("https://w.test/job/d?a=1&b=2", "https://w.test/job/d?a=1&b=2"),
        ("https://w.test/job/e?a=1&amp;b=2", "https://w.test/job/e?a=1&b=2"),
        ("https://w.test/job/caf&eacute;-1", "https://w.test/job/café-1"),
        ("https://w.test/job/f&hellip;&mdash;&shy;", "https://w.test/job/f…—\u00ad"),
        ("https://w.test/job/\x01g\x1d-2\x08", "https://w.test/job/g-2"),
        ("  https://w.test/job/h-3&nbsp;\n", "https://w.test/job/h-3"),
    ],
)
def test_every_readable_location_is_kept(loc: str, expected: str) -> None:
    body = _urlset(
        f"<url><loc>https://w.test/job/first</loc></url><url><loc>{loc}</loc></url>"
        "<url><loc>https://w.test/job/last</loc></url>"
    )
    sitemap = jsonld.parse_sitemap(body.encode("utf-8"))
    assert [entry[0] for entry in sitemap.entries] == [
        "https://w.test/job/first",
        expected,
        "https://w.test/job/last",
    ]


def test_bom_and_white_space_before_the_declaration() -> None:
    locs = "<url><loc>https://w.test/job/münchen-1</loc></url>"
    for prefix in (b"\xef\xbb\xbf", b"\n \t", b"\xef\xbb\xbf\r\n"):
        sitemap = jsonld.parse_sitemap(prefix + _urlset(locs).encode("utf-8"))
        assert sitemap.entries == (("https://w.test/job/münchen-1", ""),)
    sitemap = jsonld.parse_sitemap("\ufeff \n" + _urlset(locs))  # already decoded text
    assert sitemap.entries == (("https://w.test/job/münchen-1", ""),)


@pytest.mark.parametrize(
    ("declared", "encoding"),
    [
        ("ISO-8859-1", "utf-8"),  # UTF-8 bytes declared Latin-1
        ("UTF-16", "utf-8"),  # UTF-8 bytes declared UTF-16
        ("UTF-8", "cp1252"),  # windows-1252 bytes declared UTF-8
        ("ISO-8859-1", "latin-1"),  # and a right declaration still holds
    ],
)
def test_a_wrong_declared_encoding(declared: str, encoding: str) -> None:
    locs = (
        "<url><loc>https://w.test/job/münchen-1</loc></url><url><loc>https://w.test/b</loc></url>"
    )
    body = _urlset(locs, f'<?xml version="1.0" encoding="{declared}"?>').encode(encoding)
    assert [loc for loc, _ in jsonld.parse_sitemap(body).entries] == [
        "https://w.test/job/münchen-1",
        "https://w.test/b",
    ]


def test_a_broken_entry_costs_only_itself() -> None:
    body = _urlset(
        "<url><loc>https://w.test/job/a-1</loc></url>"
        "<url><lastmod>2024-01-01</lastmod></url>"  # no <loc>
        "<url><loc>https://w.test/job/b-2</loc><lastmod>2024-02-01</url>"  # unclosed lastmod
        "<url><loc>https://w.test/job/c-3</loc></url>"
    )
    sitemap = jsonld.parse_sitemap(body)
    assert [loc for loc, _ in sitemap.entries] == [
        "https://w.test/job/a-1",
        "https://w.test/job/b-2",
        "https://w.test/job/c-3",
    ]
    assert sitemap.skipped == 1


async def test_a_skipped_entry_is_one_warning_naming_the_sitemap() -> None:
    async with serve() as server, fetcher() as fetch:
        base = server.url("").rstrip("/")
        body = _urlset(f"<url><loc>{base}/job/a-1</loc></url><url><loc>  </loc></url><url></url>")
        server.add("/sitemap.xml", body=body.encode())
        server.add("/job/a-1", body=fixture(NODESK))
        result = await within(
            jsonld.collect(context(fetch), source("jsonld", f"{base}/sitemap.xml"))
        )
    assert [p.url for p in result.postings] == [f"{base}/job/a-1"]
    assert result.warnings == (
        f"<{base}/sitemap.xml>: 2 sitemap entries without a readable <loc> skipped",
    )


def test_a_truncated_or_foreign_document_is_refused() -> None:
    with pytest.raises(ParseError, match="invalid sitemap"):
        jsonld.parse_sitemap(_urlset("<url><loc>https://w.test/job/a-1</loc></url>")[:-12])
    with pytest.raises(ParseError, match="not a sitemap"):
        jsonld.parse_sitemap("<rss><channel/></rss>")
    with pytest.raises(ParseError, match="entities"):
        jsonld.parse_sitemap('<!DOCTYPE u [<!ENTITY a "aaaa">]><urlset>&a;</urlset>')
