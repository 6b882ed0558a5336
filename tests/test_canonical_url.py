"""Postings are deduped by the hash of their canonical URL."""

import pytest

from bot.models import Posting, canonical_url, posting_id


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTPS://Jobs.Lever.co/binance/abc", "https://jobs.lever.co/binance/abc"),
        ("https://jobs.lever.co/binance/abc/", "https://jobs.lever.co/binance/abc"),
        ("https://jobs.lever.co/binance/abc#apply", "https://jobs.lever.co/binance/abc"),
        ("https://jobs.lever.co:443/binance/abc", "https://jobs.lever.co/binance/abc"),
        ("http://example.com:80/job", "http://example.com/job"),
        ("https://example.com:8443/job", "https://example.com:8443/job"),
        ("https://example.com/job?utm_source=x&utm_medium=y&id=7", "https://example.com/job?id=7"),
        ("https://example.com/job?b=2&a=1", "https://example.com/job?a=1&b=2"),
        (
            "https://boards.greenhouse.io/x/jobs/1?gh_src=abc",
            "https://boards.greenhouse.io/x/jobs/1",
        ),
        ("https://jobs.lever.co/x/1?lever-source=LinkedIn", "https://jobs.lever.co/x/1"),
        ("https://example.com/job?ref=hn&source=twitter", "https://example.com/job"),
        ("https://example.com", "https://example.com/"),
        ("https://example.com/", "https://example.com/"),
    ],
)
def test_canonical_url(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


def test_same_posting_through_tracking_links_has_one_id() -> None:
    variants = [
        "https://jobs.lever.co/binance/9de54dd6",
        "https://JOBS.lever.co/binance/9de54dd6/?utm_source=telegram&utm_campaign=x",
        "https://jobs.lever.co/binance/9de54dd6#top",
        "https://jobs.lever.co:443/binance/9de54dd6?lever-source=LinkedIn",
    ]
    assert len({posting_id(url) for url in variants}) == 1
    assert len(posting_id(variants[0])) == 64


def test_path_case_and_real_parameters_keep_postings_apart() -> None:
    assert posting_id("https://example.com/Job/1") != posting_id("https://example.com/job/1")
    assert posting_id("https://example.com/job?id=1") != posting_id("https://example.com/job?id=2")


def test_posting_id_uses_the_canonical_url() -> None:
    posting = Posting(url="https://Example.com/a/?utm_term=1", title="x")
    assert posting.id == posting_id("https://example.com/a")
    assert posting.canonical_url == "https://example.com/a"
