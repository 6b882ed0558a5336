"""Bounded nesting (issue 9 item 3): a too-deep JSON document is a parse error of that page or
that answer, never a RecursionError, and every other page of the run is stored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.errors import ParseError
from bot.sources import common, greenhouse, jsonld, remoteok
from tests.boardserver import serve
from tests.fetchkit import context, fetcher, fixture, source, within
from tests.fieldkit import once, stored, write_config

NODESK = "nodesk_job_detail_jsonld.html"


def _deep(depth: int, leaf: str = "1") -> str:
    """`{"a":[{"a":[…leaf…]}]}`, `depth` arrays and objects deep."""
    opening = '{"a":[' * (depth // 2)
    return opening + leaf + "]}" * (depth // 2)


def _deep_job_page(depth: int = 1000) -> bytes:
    block = '{"@context":"https://schema.org","@type":"JobPosting","title":"Deep",' + (
        f'"x":{_deep(depth)}}}'
    )
    return f'<html><head><script type="application/ld+json">{block}</script></head></html>'.encode()


def _urlset(urls: list[str]) -> bytes:
    body = "".join(f"<url><loc>{u}</loc></url>" for u in urls)
    return f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{body}</urlset>'.encode()


def test_load_json_refuses_deep_documents_with_a_parse_error() -> None:
    for depth in (common.MAX_JSON_DEPTH + 2, 1000, 100_000):
        with pytest.raises(ParseError, match="nested deeper than"):
            common.load_json(_deep(depth))
    assert common.load_json(_deep(common.MAX_JSON_DEPTH)) is not None
    # brackets inside strings are text, not nesting
    text = json.dumps({"title": "[" * 500 + "{" * 500})
    assert common.load_json(text) == {"title": "[" * 500 + "{" * 500}


async def test_sitemap_with_one_deeply_nested_page_stores_the_other_three(tmp_path: Path) -> None:
    """Regression: a 1,000-deep JSON-LD block raised RecursionError and cost the whole run."""
    async with serve() as server:
        base = server.url("").rstrip("/")
        pages = [f"{base}/job/good-{n}" for n in (1, 2, 3)] + [f"{base}/job/deep-4"]
        server.add("/sitemap.xml", body=_urlset(pages))
        for n in (1, 2, 3):
            server.add(f"/job/good-{n}", body=fixture(NODESK))
        server.add("/job/deep-4", body=_deep_job_page())
        async with fetcher() as fetch:
            result = await within(
                jsonld.collect(context(fetch), source("jsonld", f"{base}/sitemap.xml"))
            )
        settings = write_config(
            tmp_path, [{"name": "deep", "kind": "jsonld", "url": f"{base}/sitemap.xml"}]
        )
        (outcome,) = await within(once(settings))
    assert sorted(p.url for p in result.postings) == pages[:3]
    assert result.warnings == (
        f"<{base}/job/deep-4>: JSON-LD block 1: invalid JSON: nested deeper than "
        f"{common.MAX_JSON_DEPTH} levels",
    )
    assert outcome.ok
    assert outcome.seen == 3
    assert len(stored(settings)) == 3


@pytest.mark.parametrize(
    ("parse", "answer"),
    [
        (remoteok.parse_api, '[{"legal":"x"},{"id":1,"position":"Dev","url":"https://r/1",'),
        (greenhouse.parse_api, '{"jobs":[{"title":"Dev","absolute_url":"https://g/1",'),
    ],
)
def test_deep_api_answers_are_parse_errors(parse: object, answer: str) -> None:
    closing = "}]" if answer.startswith("[") else "}]}"
    body = answer + f'"tags":{_deep(5000)}' + closing
    with pytest.raises(ParseError, match="nested deeper than"):
        parse(body)  # type: ignore[operator]
