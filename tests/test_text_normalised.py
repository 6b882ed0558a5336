"""One normalisation step every Posting passes through (issue 8 part 2).

Field cases 01 and 02 (with 02's Telegram alert through the fake Bot API); the normaliser's
rules; and a table over every source kind: the same escaped text in every field a kind reads
comes out as the plain text a reader sees.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.models import Posting
from bot.sources import (
    ashby,
    bamboohr,
    breezy,
    greenhouse,
    html,
    jsonld,
    lever,
    markdown,
    personio,
    recruitee,
    remoteok,
    rss,
    smartrecruiters,
    teamtailor,
    workable,
    workday,
)
from bot.store import Store
from bot.subscriptions import Subscriptions
from bot.text import plain_line, plain_paragraphs
from tests.fake_telegram import FakeTelegram
from tests.fetchkit import within
from tests.fieldkit import case_dir, field_site, once, serve_file, stored, substitute, write_config

USER = 4242


async def test_field_01_raw_control_characters_in_json_ld(tmp_path: Path) -> None:
    async with field_site("01-jsonld-raw-control-chars") as (_, base):
        settings = write_config(
            tmp_path, [{"name": "field", "kind": "jsonld", "url": f"{base}/jobs/"}]
        )
        (outcome,) = await within(once(settings))
    assert outcome.ok
    assert outcome.seen == 2
    postings = {p.title: p for p in stored(settings)}
    assert (postings["Backend Developer"].company, postings["Backend Developer"].location) == (
        "Northwind Labs",
        "Lisbon, PT",
    )
    assert (postings["Data Engineer"].company, postings["Data Engineer"].location) == (
        "Northwind Labs",
        "",
    )
    assert "own the ledger service" in postings["Backend Developer"].description
    assert "Airflow experience" in postings["Data Engineer"].description


async def test_field_02_html_escaped_json_ld_is_plain_text_and_alerted_once_escaped(
    tmp_path: Path,
) -> None:
    """Regression: WP Job Manager's `Events &amp; Marketing` was stored and alerted escaped."""
    case = "02-jsonld-html-escaped-wp-job-manager"
    listing = (case_dir(case) / "site" / "jobs" / "index.html").read_bytes()
    first_listing = b"\n".join(line for line in listing.split(b"\n") if b"events-" not in line)
    with FakeTelegram(rate_limits=None) as tg:
        tg.add_private_chat(USER, "Ada")
        async with field_site(case) as (server, base):
            serve_file(server, "/jobs/", substitute(first_listing, base))
            settings = write_config(
                tmp_path,
                [{"name": "field", "kind": "jsonld", "url": f"{base}/jobs/"}],
                extra=f'[telegram]\napi_url = "{tg.url}"',
                token=tg.token,
            )
            (baseline,) = await within(once(settings))
            store = Store.open(settings.storage.path)
            try:
                store.touch_chat(USER, type="private", title="Ada")
                Subscriptions(store).add(USER, "marketing")
            finally:
                store.close()
            serve_file(server, "/jobs/", substitute(listing, base))
            (second,) = await within(once(settings))
        alerts = tg.sent_messages(USER)
    assert baseline.ok
    assert baseline.seen == 1
    assert second.ok
    assert second.new == 1
    postings = {p.title: p for p in stored(settings)}
    assert set(postings) == {"Events & Marketing coordinator", "R&D Engineer"}
    assert postings["Events & Marketing coordinator"].company == "Smith & Sons"
    assert postings["Events & Marketing coordinator"].description == (
        "Plan trade shows & run campaigns."
    )
    assert postings["R&D Engineer"].company == "Smith & Sons"
    (alert,) = alerts
    assert "Events & Marketing coordinator" in alert.text
    shown = re.sub("</?u>", "", alert.source)  # the matched word is underlined
    assert "Events &amp; Marketing coordinator" in shown
    assert "&amp;amp;" not in shown
    assert "Smith &amp; Sons" in alert.source


@pytest.mark.parametrize(
    ("raw", "plain"),
    [
        ("R&amp;#038;D Engineer &#8211; Remote", "R&D Engineer – Remote"),
        ("R&D <Lead>", "R&D <Lead>"),
        ("Senior <Data> Engineer", "Senior <Data> Engineer"),
        ("R&amp;amp;lt;Lead&amp;amp;gt;", "R<Lead>"),
        ("QA Engineer <em>(Contract)</em>", "QA Engineer (Contract)"),
        ("Line<br>break<BR/>s", "Line break s"),
        ("  spaced \t out\n title ", "spaced out title"),
        ("worldâ€™s best", "world’s best"),
        ("MÃ¼nchen", "München"),
        ("Türkçe destek", "Türkçe destek"),
        ("co\u00adop\u200b lead\x07", "coop lead"),
        ("<script>alert(1)</script>Dev", "Dev"),
        ("Plain ASCII title", "Plain ASCII title"),
    ],
)
def test_plain_line(raw: str, plain: str) -> None:
    assert plain_line(raw) == plain
    assert plain_line(plain) == plain  # idempotent: a stored value passes unchanged


def test_plain_paragraphs_keep_paragraphs() -> None:
    raw = "&lt;p&gt;Plan trade shows &amp;amp; run.&lt;/p&gt;&lt;ul&gt;&lt;li&gt;One&lt;/li&gt;"
    assert plain_paragraphs(raw) == "Plan trade shows & run.\n\nOne"
    assert plain_paragraphs("First  para.\n\n\n\nSecond\u00a0one.") == "First para.\n\nSecond one."


def test_a_posting_is_normalised_when_it_is_built() -> None:
    posting = Posting(
        url="https://ex.test/1",
        title="R&amp;amp;D &lt;b&gt;Lead&lt;/b&gt;",
        company="Smith &amp;#038; Sons",
        location="K&amp;ouml;ln",
        tags=("Dev&amp;Ops", "", "Dev&Ops", " python "),
        salary="&euro;90k",
        description="&lt;p&gt;Plan &amp;amp; run&lt;/p&gt;",
    )
    assert (posting.title, posting.company, posting.location, posting.salary) == (
        "R&D Lead",
        "Smith & Sons",
        "Köln",
        "€90k",
    )
    assert posting.tags == ("Dev&Ops", "python")
    assert posting.description == "Plan & run"


# -- every kind: the same escaped text in every field it reads ---------------------------------

T = "R&amp;amp;D &lt;b&gt;Lead&lt;/b&gt;"  # twice escaped, with markup
C = "Smith &amp;#038; Sons"
L = "K&amp;ouml;ln"
G = "Dev&amp;amp;Ops"
D = "&lt;p&gt;Plan &amp;amp; run&lt;/p&gt;"
S = "&euro;90k &ndash; 100k"
PLAIN = {
    "title": "R&D Lead",
    "company": "Smith & Sons",
    "location": "Köln",
    "tags": "Dev&Ops",
    "description": "Plan & run",
    "salary": "€90k – 100k",
}


def _escaped_html(text: str) -> str:
    """`text` as it would sit in an HTML page (one more escape, undone by the HTML parser)."""
    return text.replace("&", "&amp;")


def _j(value: object) -> str:
    return json.dumps(value)


def _lever_api() -> list[Posting]:
    item = {
        "hostedUrl": "https://jobs.lever.co/x/1",
        "text": T,
        "categories": {"location": L, "department": G},
        "salaryDescriptionPlain": S,
        "descriptionPlain": D,
    }
    return lever.parse_api(_j([item]), company=C)


def _lever_html() -> list[Posting]:
    page = (
        f"<html><head><title>{_escaped_html(C)}</title></head><body>"
        '<div class="postings-wrapper"><div class="postings-group">'
        f'<div class="large-category-header">{_escaped_html(G)}</div>'
        '<div class="posting" data-qa-posting-id="1">'
        '<a class="posting-title" href="https://jobs.lever.co/x/1">'
        f'<h5 data-qa="posting-name">{_escaped_html(T)}</h5>'
        f'<span class="sort-by-location">{_escaped_html(L)}</span></a></div></div></div>'
        "</body></html>"
    )
    return lever.parse_board(page, base_url="https://jobs.lever.co/x")


def _greenhouse_api() -> list[Posting]:
    item = {
        "absolute_url": "https://g.test/1",
        "title": T,
        "company_name": C,
        "location": {"name": L},
        "departments": [{"name": G}],
        "content": _escaped_html(D),  # the API escapes its HTML content once more
    }
    return greenhouse.parse_api(_j({"jobs": [item]}))


def _greenhouse_html() -> list[Posting]:
    page = (
        f'<html><head><meta property="og:title" content="{_escaped_html(C)}"></head><body>'
        '<div class="job-posts"><div class="job-posts--table--department">'
        f"<h3>{_escaped_html(G)}</h3><table><tr class='job-post'><td>"
        f'<a href="/x/jobs/1"><p class="body--medium">{_escaped_html(T)}</p>'
        f'<p class="body__secondary">{_escaped_html(L)}</p></a></td></tr></table></div></div>'
        "</body></html>"
    )
    return greenhouse.parse_board(page, base_url="https://job-boards.greenhouse.io/x")[0]


def _ashby() -> list[Posting]:
    item = {
        "jobUrl": "https://jobs.ashbyhq.com/x/1",
        "title": T,
        "location": L,
        "department": G,
        "compensation": {"scrapeableCompensationSalarySummary": S},
        "descriptionPlain": D,
    }
    return ashby.parse_api(_j({"jobs": [item]}), company=C)


def _jsonld() -> list[Posting]:
    node = {
        "@type": "JobPosting",
        "title": T,
        "hiringOrganization": {"name": C},
        "jobLocation": {"address": {"addressLocality": L}},
        "occupationalCategory": G,
        "salaryCurrency": S,  # iCIMS puts the whole salary text there
        "description": D,
    }
    page = f'<script type="application/ld+json">{_j(node)}</script>'
    return jsonld.parse_job_page(page, url="https://ex.test/job/1")


def _rss() -> list[Posting]:
    def xml(text: str) -> str:
        return text.replace("&", "&amp;").replace("<", "&lt;")

    feed = (
        '<rss version="2.0"><channel><item>'
        f"<title>{xml(T)}</title><link>https://ex.test/1</link>"
        f"<region>{xml(L)}</region><category>{xml(G)}</category>"
        f"<description>{xml(D)}</description></item></channel></rss>"
    )
    return rss.parse_feed(feed, company=C)


def _remoteok() -> list[Posting]:
    item = {"url": "https://remoteok.com/1", "position": T, "company": C, "location": L}
    return remoteok.parse_api(_j([{"legal": "x"}, {**item, "tags": [G], "description": D}]))


def _workable() -> list[Posting]:
    item = {"shortcode": "AB1", "title": T, "location": {"display": L}, "department": [G]}
    return workable.parse_page(_j({"results": [item]}), account="x", company=C)[0]


def _smartrecruiters() -> list[Posting]:
    item = {
        "id": "1",
        "name": T,
        "company": {"identifier": "x", "name": C},
        "location": {"fullLocation": L},
        "department": {"label": G},
    }
    return smartrecruiters.parse_page(_j({"content": [item], "totalFound": 1}))[0]


def _recruitee() -> list[Posting]:
    item = {
        "careers_url": "https://x.recruitee.com/o/1",
        "title": T,
        "company_name": C,
        "location": L,
        "department": G,
        "description": _escaped_html(D),
    }
    return recruitee.parse_offers(_j({"offers": [item]}))


def _html() -> list[Posting]:
    page = (
        f'<ul><li class="job"><a href="/j/1">{_escaped_html(T)}</a>'
        f'<span class="co">{_escaped_html(C)}</span><span class="where">{_escaped_html(L)}</span>'
        f'<div class="about">{_escaped_html(D)}</div></li></ul>'
    )
    selectors = {
        "item": "li.job",
        "title": "a",
        "company": ".co",
        "location": ".where",
        "description": ".about",
    }
    return html.parse_page(page, selectors, base_url="https://ex.test/")[0]


def _markdown() -> list[Posting]:
    text = f"# [{T}](https://ex.test/1)\n### {C}\n#### `💰 {S}` `🌎 {L}`\n\n{D}\n"
    return [markdown.parse_markdown(text, origin="x.md", tags=(G,))]


def _xml(text: str) -> str:
    """`text` as character data in an XML document (undone by the XML parser)."""
    return text.replace("&", "&amp;").replace("<", "&lt;")


def _workday() -> list[Posting]:
    now = datetime(2025, 1, 1, tzinfo=UTC)
    row = {"title": T, "externalPath": "/job/Koeln/Lead_R1", "locationsText": L}
    board = workday.board_of("https://x.wd5.myworkdayjobs.com/External")
    (listed,), _ = workday.parse_page(_j({"jobPostings": [row]}), board=board, company=C, now=now)
    info = {"title": T, "location": L, "timeType": G, "jobDescription": D}
    return [workday.parse_detail(_j({"jobPostingInfo": info}), listed, now=now)]


def _personio() -> list[Posting]:
    feed = (
        f"<workzag-jobs><position><id>1</id><name>{_xml(T)}</name>"
        f"<subcompany>{_xml(C)}</subcompany><office>{_xml(L)}</office>"
        f"<department>{_xml(G)}</department><jobDescriptions><jobDescription>"
        f"<value><![CDATA[{D}]]></value></jobDescription></jobDescriptions>"
        "</position></workzag-jobs>"
    )
    return personio.parse_feed(feed, board_url="https://x.jobs.personio.de/xml")


def _teamtailor() -> list[Posting]:
    node = {
        "@type": "JobPosting",
        "title": T,
        "hiringOrganization": {"name": C},
        "jobLocation": [{"address": {"addressLocality": L}}],
    }
    item = {
        "url": "https://x.teamtailor.com/jobs/1-lead",
        "title": T,
        "content_html": D,
        "_jobposting": node,
    }
    return teamtailor.parse_feed(_j({"title": C, "items": [item]}))


def _bamboohr() -> list[Posting]:
    row = {"id": "1", "jobOpeningName": T, "departmentLabel": G, "location": {"city": L}}
    (listed,) = bamboohr.parse_list(
        _j({"result": [row]}), board_url="https://x.bamboohr.com/careers/list", company=C
    )
    opening = {"location": {"city": L}, "compensation": S, "description": D}
    return [bamboohr.parse_detail(_j({"result": {"jobOpening": opening}}), listed)]


def _breezy() -> list[Posting]:
    item = {
        "url": "https://x.breezy.hr/p/1",
        "name": T,
        "company": {"name": C},
        "location": {"name": L},
        "department": G,
        "salary": S,
        "description": D,
    }
    return breezy.parse_feed(_j([item]))


KINDS: dict[str, tuple[Callable[[], list[Posting]], tuple[str, ...]]] = {
    "lever": (_lever_api, ("title", "company", "location", "tags", "salary", "description")),
    "lever_html": (_lever_html, ("title", "company", "location", "tags")),
    "greenhouse": (_greenhouse_api, ("title", "company", "location", "tags", "description")),
    "greenhouse_html": (_greenhouse_html, ("title", "company", "location", "tags")),
    "ashby": (_ashby, ("title", "company", "location", "tags", "salary", "description")),
    "jsonld": (_jsonld, ("title", "company", "location", "tags", "salary", "description")),
    "rss": (_rss, ("title", "company", "location", "tags", "description")),
    "remoteok": (_remoteok, ("title", "company", "location", "tags", "description")),
    "workable": (_workable, ("title", "company", "location", "tags")),
    "smartrecruiters": (_smartrecruiters, ("title", "company", "location", "tags")),
    "recruitee": (_recruitee, ("title", "company", "location", "tags", "description")),
    "html": (_html, ("title", "company", "location", "description")),
    "markdown": (_markdown, ("title", "company", "location", "tags", "salary", "description")),
    "workday": (_workday, ("title", "company", "location", "tags", "description")),
    "personio": (_personio, ("title", "company", "location", "tags", "description")),
    "teamtailor": (_teamtailor, ("title", "company", "location", "description")),
    "bamboohr": (_bamboohr, ("title", "company", "location", "tags", "salary", "description")),
    "breezy": (_breezy, ("title", "company", "location", "tags", "salary", "description")),
}


def test_the_table_covers_every_registered_kind() -> None:
    from bot.sources.registry import KINDS as REGISTRY

    assert set(KINDS) == set(REGISTRY)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kinds_text_fields_are_plain(kind: str) -> None:
    parse, fields = KINDS[kind]
    (posting,) = parse()
    for name in fields:
        value = getattr(posting, name)
        if name == "tags":
            assert PLAIN["tags"] in value, (kind, value)
        else:
            assert value == PLAIN[name], (kind, name, value)
