"""A posting needs only a title and a link (issue 8 part 4): every kind stores it whatever else is
missing, and alerts and `latest` show what is known without empty separators."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.cli import main
from bot.deliver.console import posting_line
from bot.deliver.format import AlertItem, render_item
from bot.models import Posting, StoredPosting
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
from tests.fetchkit import within
from tests.fieldkit import case_dir, once, stored, write_config

URL = "https://ex.test/jobs/1"


async def test_field_15_markdown_without_company_or_badges(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    """Regression: an empty `###` company line dropped the posting with a warning."""
    folder = case_dir("15-markdown-empty-company") / "postings"
    settings = write_config(tmp_path, [{"name": "field", "kind": "markdown", "url": str(folder)}])
    (outcome,) = await within(once(settings))
    assert outcome.ok
    assert outcome.seen == 2
    found = {(p.title, p.company, p.location, p.url) for p in stored(settings)}
    assert found == {
        (
            "Platform Engineer (Kubernetes)",
            "",
            "remote,Europe",
            "https://www.remotewlb.com/apply/platform-engineer-77",
        ),
        ("QA Lead", "", "", "https://www.remotewlb.com/apply/qa-lead-78"),
    }
    assert not [r for r in caplog.records if r.levelname == "WARNING"]
    capsys.readouterr()
    assert main(["latest", "--config", str(settings.path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert any(
        line.endswith("QA Lead — https://www.remotewlb.com/apply/qa-lead-78") for line in lines
    )
    assert not [line for line in lines if "—  —" in line or "— —" in line]


def _stored(**fields: object) -> StoredPosting:
    now = datetime(2025, 1, 1, tzinfo=UTC)
    base: dict[str, object] = {
        "id": "x",
        "url": URL,
        "source": "s",
        "title": "QA Lead",
        "company": "",
        "location": "",
        "remote": False,
        "tags": (),
        "posted_at": None,
        "salary": "",
        "description": "",
        "apply_url": "",
        "first_seen": now,
        "last_seen": now,
    }
    base.update(fields)
    return StoredPosting(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fields", "console", "details"),
    [
        ({}, f"QA Lead — {URL}", None),
        ({"location": "Berlin"}, f"QA Lead — Berlin — {URL}", "📍 Berlin"),
        ({"company": "Acme"}, f"QA Lead — Acme — {URL}", "🏢 Acme"),
        ({"remote": True}, f"QA Lead — Remote — {URL}", "🌍 Remote"),
        ({"salary": "€90k"}, f"QA Lead — {URL}", "💰 €90k"),
    ],
)
def test_alerts_and_latest_show_only_known_fields(
    fields: dict[str, object], console: str, details: str | None
) -> None:
    posting = _stored(**fields)
    assert posting_line(posting) == console
    html_block, plain_block = render_item(AlertItem(1, posting))
    plain_lines = plain_block.splitlines()
    assert plain_lines[0] == "QA Lead"
    assert plain_lines[-1] == URL
    assert plain_lines[1:-1] == ([details] if details else [])
    for block in (html_block, plain_block):
        assert " ·  · " not in block
        assert "·  " not in block
        assert "\n\n" not in block


# -- every kind: a title and a link, nothing else ----------------------------------------------


def _j(value: object) -> str:
    return json.dumps(value)


KINDS: dict[str, Callable[[], list[Posting]]] = {
    "lever": lambda: lever.parse_api(_j([{"hostedUrl": URL, "text": "Solo"}])),
    "lever_html": lambda: lever.parse_board(
        '<body><div class="postings-wrapper"><div class="posting">'
        f'<a class="posting-title" href="{URL}"><h5 data-qa="posting-name">Solo</h5></a>'
        "</div></div></body>"
    ),
    "greenhouse": lambda: greenhouse.parse_api(
        _j({"jobs": [{"absolute_url": URL, "title": "Solo"}]})
    ),
    "greenhouse_html": lambda: greenhouse.parse_board(
        f'<div class="job-posts"><table><tr class="job-post"><td><a href="{URL}">Solo</a>'
        "</td></tr></table></div>"
    )[0],
    "ashby": lambda: ashby.parse_api(_j({"jobs": [{"jobUrl": URL, "title": "Solo"}]})),
    "jsonld": lambda: jsonld.parse_job_page(
        '<script type="application/ld+json">{"@type":"JobPosting","title":"Solo"}</script>',
        url=URL,
    ),
    "rss": lambda: rss.parse_feed(
        f'<rss version="2.0"><channel><item><title>Solo</title><link>{URL}</link></item>'
        "</channel></rss>"
    ),
    "remoteok": lambda: remoteok.parse_api(_j([{"legal": "x"}, {"url": URL, "position": "Solo"}])),
    "workable": lambda: workable.parse_page(
        _j({"results": [{"shortcode": "AB1", "title": "Solo"}]}), account="acme"
    )[0],
    "smartrecruiters": lambda: smartrecruiters.parse_page(
        _j({"content": [{"id": "1", "name": "Solo"}], "totalFound": 1}), account="acme"
    )[0],
    "recruitee": lambda: recruitee.parse_offers(
        _j({"offers": [{"careers_url": URL, "title": "Solo"}]})
    ),
    "html": lambda: html.parse_page(
        f'<li class="job"><a href="{URL}">Solo</a></li>', {"item": "li.job", "title": "a"}
    )[0],
    "markdown": lambda: [markdown.parse_markdown(f"# [Solo]({URL})\n", origin="solo.md")],
    "workday": lambda: workday.parse_page(
        _j({"jobPostings": [{"title": "Solo", "externalPath": "/job/Solo_R1"}]}),
        board=workday.board_of("https://acme.wd5.myworkdayjobs.com/External"),
        now=datetime(2025, 1, 1, tzinfo=UTC),
    )[0],
    "personio": lambda: personio.parse_feed(
        "<workzag-jobs><position><id>1</id><name>Solo</name></position></workzag-jobs>",
        board_url="https://acme.jobs.personio.de/xml",
    ),
    "teamtailor": lambda: teamtailor.parse_feed(_j({"items": [{"url": URL, "title": "Solo"}]})),
    "bamboohr": lambda: bamboohr.parse_list(
        _j({"result": [{"id": "1", "jobOpeningName": "Solo"}]}),
        board_url="https://acme.bamboohr.com/careers/list",
    ),
    "breezy": lambda: breezy.parse_feed(_j([{"url": URL, "name": "Solo"}])),
}

# Their answers name no company: it is the account (or tenant) of the configured URL.
ACCOUNT_NAMED = ("workable", "smartrecruiters", "workday", "personio", "bamboohr")


def test_the_table_covers_every_registered_kind() -> None:
    from bot.sources.registry import KINDS as REGISTRY

    assert set(KINDS) == set(REGISTRY)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_title_and_a_link_are_enough_for_every_kind(kind: str) -> None:
    (posting,) = KINDS[kind]()
    assert posting.title == "Solo"
    assert posting.url.startswith("https://")
    assert posting.company == ("acme" if kind in ACCOUNT_NAMED else "")
    assert posting.salary == ""
    assert posting.description == ""
    assert posting.posted_at is None
    if kind != "remoteok":  # a remote-only board: every posting is remote
        assert posting.location == ""
        assert not posting.remote


def test_smartrecruiters_item_without_company_uses_the_configured_account() -> None:
    (posting,), _ = smartrecruiters.parse_page(
        _j({"content": [{"id": "744", "name": "Solo"}], "totalFound": 1}), account="acme"
    )
    assert posting.url == "https://jobs.smartrecruiters.com/acme/744"
