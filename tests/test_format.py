"""Alert messages: escaped HTML, highlighted terms, packed under Telegram's 4096 limit."""

import html
import re
from datetime import UTC, datetime

from bot.deliver.format import (
    LATEST_HEADING,
    MESSAGE_LIMIT,
    AlertItem,
    highlight,
    matched_terms,
    pack_alerts,
    utf16_len,
)
from bot.models import StoredPosting
from bot.query import parse_query

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def stored(n: int, **fields: object) -> StoredPosting:
    values: dict[str, object] = {
        "id": f"id{n}",
        "url": f"https://jobs.example.com/{n}",
        "source": "board",
        "title": f"Backend Engineer {n}",
        "company": "Acme",
        "location": "Berlin",
        "remote": False,
        "tags": (),
        "posted_at": None,
        "salary": "",
        "description": "",
        "apply_url": f"https://jobs.example.com/{n}/apply",
        "first_seen": T0,
        "last_seen": T0,
    }
    values.update(fields)
    return StoredPosting(**values)  # type: ignore[arg-type]


def visible(markup: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", markup))


def test_scraped_text_is_escaped_and_arrives_intact() -> None:
    posting = stored(1, title='R&D <Lead> & "Ops"', company="A<b>C", location="Köln & remote")
    (message,) = pack_alerts([AlertItem(1, posting)])
    assert 'R&amp;D &lt;Lead&gt; &amp; "Ops"' in message.html
    assert 'R&D <Lead> & "Ops"' in visible(message.html)
    assert "A<b>C" in visible(message.html)
    assert "<b>C" not in message.html.replace("<b>New", "")
    assert 'R&D <Lead> & "Ops"' in message.plain
    assert message.buttons[0].url == "https://jobs.example.com/1/apply"


def test_link_with_quotes_is_attribute_escaped() -> None:
    posting = stored(1, url='https://x.test/a?b="c"&d=<e>')
    (message,) = pack_alerts([AlertItem(1, posting)])
    assert 'href="https://x.test/a?b=&quot;c&quot;&amp;d=&lt;e&gt;"' in message.html


def test_fields_shown() -> None:
    posting = stored(1, remote=True, location="Berlin", salary="€90k")
    (message,) = pack_alerts([AlertItem(1, posting, ("backend",))])
    text = visible(message.html)
    assert "Acme" in text
    assert "Berlin" in text
    assert "Remote" in text
    assert "€90k" in text
    assert "<u>Backend</u>" in message.html
    assert "🔎" in text


def test_highlight_whole_words_only() -> None:
    assert highlight("Java & JavaScript dev", ["java"]) == "<u>Java</u> &amp; JavaScript dev"
    assert highlight("C++ and C# folks", ["c++", "c#"]) == "<u>C++</u> and <u>C#</u> folks"
    assert highlight("Engineering lead", ["engineer*"]) == "<u>Engineering</u> lead"
    assert highlight("München & Köln", ["munchen"]) == "<u>München</u> &amp; Köln"
    assert (
        highlight("Site Reliability Eng", ['"site reliability"']) == "<u>Site Reliability</u> Eng"
    )
    assert highlight("a <b>", []) == "a &lt;b&gt;"


def test_many_alerts_are_packed_under_the_limit() -> None:
    items = [
        AlertItem(n, stored(n, title="Senior Platform Engineer " + "x" * 150, company="C" * 90))
        for n in range(100)
    ]
    messages = pack_alerts(items)
    assert 1 < len(messages) <= 10
    for message in messages:
        assert utf16_len(visible(message.html)) <= MESSAGE_LIMIT
        assert len(message.buttons) == len(message.delivery_ids)
    delivered = [d for m in messages for d in m.delivery_ids]
    assert delivered == list(range(100))


def test_emoji_count_double_in_utf16() -> None:
    assert utf16_len("🌎") == 2
    assert utf16_len("é") == 1


def test_overflow_is_announced() -> None:
    (message,) = pack_alerts([AlertItem(1, stored(1), overflow=7)])
    assert "…and 7 more, see /latest" in visible(message.html)
    assert "…and 7 more, see /latest" in message.plain


def test_latest_heading_is_chosen_not_patched_into_rendered_html() -> None:
    # Regression: /latest rewrote the alerts' rendered HTML with str.replace (issue 10, item 3).
    (one,) = pack_alerts([AlertItem(1, stored(1))], heading=LATEST_HEADING)
    assert one.html.startswith("<b>Latest posting</b>\n")
    assert "New posting" not in one.html
    (two,) = pack_alerts([AlertItem(1, stored(1)), AlertItem(2, stored(2))], heading=LATEST_HEADING)
    assert two.html.startswith("🔔 <b>2 latest postings</b>\n\n1. ")
    (alert,) = pack_alerts([AlertItem(1, stored(1))])
    assert alert.html.startswith("🔔 <b>New posting</b>\n")


def test_matched_terms_are_those_of_the_matching_queries_in_order_once() -> None:
    posting = stored(1, title="Rust Backend Engineer", tags=("rust",))
    queries = [parse_query("backend rust"), parse_query("golang"), parse_query("rust")]
    assert matched_terms(queries, posting) == ("backend", "rust")
