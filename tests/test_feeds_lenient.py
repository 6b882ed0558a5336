"""Feeds that are not well-formed XML are read as a feed reader reads them (issue 8 part 1).

Field cases 03, 04, 05 and 12 through the real path; beyond them, the kind: other undefined
entities, control characters, a BOM and white space before `<?xml`, a wrong declared encoding,
a bare `&`, and an unreadable item costing only itself.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import ParseError
from bot.models import canonical_url
from bot.sources import rss
from tests.boardserver import serve
from tests.fetchkit import context, fetcher, source, within
from tests.fieldkit import field_site, once, stored, write_config


def _feed(items: str, declaration: str = '<?xml version="1.0" encoding="UTF-8"?>') -> str:
    return f'{declaration}\n<rss version="2.0"><channel><title>Jobs</title>{items}</channel></rss>'


def _item(title: str, n: int, description: str = "x") -> str:
    return (
        f"<item><title>{title}</title><link>https://ex.test/jobs/{n}</link>"
        f"<description>{description}</description></item>"
    )


def _line(posting: object) -> str:
    from bot.deliver.console import posting_line

    return posting_line(posting)  # type: ignore[arg-type]


async def test_field_03_undefined_html_entities_cost_nothing(tmp_path: Path) -> None:
    """Regression: one `&ndash;` in a feed made the whole source fail (XML does not define it)."""
    async with field_site("03-rss-undefined-html-entity") as (_, base):
        settings = write_config(
            tmp_path,
            [
                {
                    "name": "field",
                    "kind": "rss",
                    "url": f"{base}/remote-jobs.rss",
                    "company_in_title": True,
                }
            ],
        )
        (outcome,) = await within(once(settings))
    assert outcome.ok
    assert outcome.seen == 3
    lines = {_line(p).rsplit(" — ", 1)[0] for p in stored(settings)}
    assert {
        "Senior Rust Engineer – Motion Control — Acme Robotics — Anywhere in the World",
        "Backend Developer (Python) — Globex — Europe Only",
        "Site Reliability Engineer — Initech — USA Only",
    } == lines
    by_title = {p.title: p for p in stored(settings)}
    assert by_title["Senior Rust Engineer – Motion Control"].company == "Acme Robotics"
    assert by_title["Backend Developer (Python)"].description == "Django and Postgres."


async def test_field_04_control_characters_are_dropped(tmp_path: Path) -> None:
    """Regression: a U+001D in one title made the whole feed unreadable."""
    async with field_site("04-rss-illegal-control-char") as (_, base):
        settings = write_config(
            tmp_path, [{"name": "field", "kind": "rss", "url": f"{base}/jobs.rss"}]
        )
        (outcome,) = await within(once(settings))
    assert outcome.ok
    assert outcome.seen == 3
    postings = {p.title: p for p in stored(settings)}
    assert set(postings) == {
        "Platform Engineer (Kubernetes)",
        "Frontend Developer (React)",
        "Data Analyst",
    }
    assert postings["Frontend Developer (React)"].description == "Design system work. TypeScript."


async def test_field_12_atom_html_titles_are_plain_text(tmp_path: Path) -> None:
    """Regression: WordPress Atom titles were stored as `R&#038;D Engineer &#8211; Remote`."""
    async with field_site("12-atom-html-title-wordpress") as (_, base):
        settings = write_config(
            tmp_path, [{"name": "field", "kind": "rss", "url": f"{base}/feed/atom/index.xml"}]
        )
        (outcome,) = await within(once(settings))
    assert outcome.ok
    assert outcome.seen == 3
    postings = {p.title: p for p in stored(settings)}
    assert set(postings) == {
        "R&D Engineer – Remote",
        "Sales & Marketing Lead",
        "QA Engineer (Contract)",
    }
    assert postings["R&D Engineer – Remote"].description == "Prototype sensors & firmware."
    assert postings["R&D Engineer – Remote"].url == canonical_url(f"{base}/job/rd-engineer-remote/")


@pytest.mark.parametrize(
    ("raw", "plain"),
    [
        ("Dev &hellip; &mdash; caf&eacute;", "Dev … — café"),
        ("Co&shy;operative lead", "Cooperative lead"),
        ("R&D Engineer", "R&D Engineer"),
        ("AT&T &amp; Sons", "AT&T & Sons"),
        ("Ops&nbsp;&rsquo;24", "Ops ’24"),
        ("Title\x01 with\x0b controls\x1f", "Title with controls"),
        ("&unknownentity; stays", "&unknownentity; stays"),
    ],
)
def test_undefined_entities_controls_and_bare_ampersands(raw: str, plain: str) -> None:
    doc = _feed(_item(raw, 1) + _item("Second job", 2))
    postings = rss.parse_feed(doc.encode("utf-8"))
    assert [p.title for p in postings] == [plain, "Second job"]


def test_bom_and_white_space_before_the_declaration() -> None:
    doc = _feed(_item("Caf&eacute; manager", 1))
    for prefix in (b"\xef\xbb\xbf", b" \r\n\t", b"\xef\xbb\xbf\n  "):
        (posting,) = rss.parse_feed(prefix + doc.encode("utf-8"))
        assert posting.title == "Café manager"
    (posting,) = rss.parse_feed("\ufeff\n " + doc)  # already decoded text
    assert posting.title == "Café manager"


@pytest.mark.parametrize(
    ("declared", "encoding", "header"),
    [
        ("ISO-8859-1", "utf-8", ""),  # UTF-8 bytes declared Latin-1
        ("UTF-8", "cp1252", ""),  # windows-1252 bytes declared UTF-8
        ("UTF-8", "cp1252", "application/rss+xml; charset=utf-8"),  # and the header agrees
        ("windows-1252", "utf-8", "text/xml; charset=windows-1252"),
    ],
)
def test_a_wrong_declared_encoding(declared: str, encoding: str, header: str) -> None:
    doc = _feed(_item("Café Müller – Köln", 1), f'<?xml version="1.0" encoding="{declared}"?>')
    result = rss.read_feed(doc.encode(encoding), content_type=header)
    assert [p.title for p in result.postings] == ["Café Müller – Köln"]


def test_an_unreadable_item_costs_only_itself() -> None:
    doc = _feed(
        _item("First", 1)
        + "<item><title>No link at all</title></item>"
        + "<item><link>https://ex.test/jobs/9</link></item>"
        + _item("Last &ndash; one", 3)
    )
    result = rss.read_feed(doc)
    assert [p.title for p in result.postings] == ["First", "Last – one"]
    assert result.warnings == (
        "item 2: 'No link at all' has no link; skipped",
        "item 3: <https://ex.test/jobs/9> has no title; skipped",
    )


def test_a_truncated_feed_is_invalid_not_half_stored() -> None:
    doc = _feed(_item("First", 1) + _item("Second", 2))
    with pytest.raises(ParseError, match="invalid XML"):
        rss.parse_feed(doc[: doc.index("Second") + 3])


async def test_collect_reads_the_served_bytes_and_reports_skipped_items() -> None:
    body = b"\xef\xbb\xbf  " + _feed(
        _item("Caf&eacute; lead", 1) + "<item><title>Linkless</title></item>"
    ).encode("utf-8")
    async with serve() as server, fetcher() as fetch:
        server.add("/jobs.rss", body=body, headers={"Content-Type": "application/xml"})
        result = await within(rss.collect(context(fetch), source("rss", server.url("/jobs.rss"))))
    assert [p.title for p in result.postings] == ["Café lead"]
    assert result.warnings == ("item 2: 'Linkless' has no link; skipped",)
