"""Issue 9 item 2: decompression bombs. The size cap counts decoded bytes while streaming, and
more than two stacked content encodings are refused. Also: legitimate encodings still read."""

from __future__ import annotations

import gzip
import tracemalloc
import zlib
from pathlib import Path

import brotli
import pytest

from bot.errors import BodyTooLarge, FetchError
from tests.boardserver import serve
from tests.fetchkit import fetcher, fixture, settings, within
from tests.fieldkit import (
    case_dir,
    field_site,
    gzipped,
    once,
    serve_file,
    stored,
    substitute,
    write_config,
)

CAP = 1024 * 1024  # the bombs are 1 GiB of zeros: tests/fixtures/bomb_1gib_zeros.source.txt


async def _fetch_peak(body: bytes, encoding: str) -> tuple[BaseException, int]:
    """Serve `body` with `encoding`, fetch it with a 1 MB cap; the error and the peak memory."""
    async with serve() as server, fetcher(settings(max_bytes=CAP, retries=0)) as fetch:
        server.add("/bomb", body=body, headers={"Content-Encoding": encoding})
        tracemalloc.start()
        try:
            with pytest.raises(FetchError) as caught:
                await within(fetch.get(server.url("/bomb"), source="bomb", robots=False))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    return caught.value, peak


@pytest.mark.parametrize(
    ("name", "encoding"),
    [("bomb_1gib_zeros.br", "br"), ("bomb_1gib_zeros.gz.gz", "gzip, gzip")],
)
async def test_bomb_is_abandoned_at_the_cap_with_little_memory(name: str, encoding: str) -> None:
    """Bug: 1.6 KB expanding to 1 GB drove the process to 2.1 GB RSS (cap checked after
    decoding a whole chunk)."""
    body = fixture(name)
    assert len(body) < 2048
    error, peak = await _fetch_peak(body, encoding)
    assert isinstance(error, BodyTooLarge)
    assert "once decoded" in error.detail
    assert error.source == "bomb"
    assert not error.retryable
    assert peak < 3 * CAP, f"peak {peak} bytes while reading a {len(body)}-byte bomb"


async def test_three_stacked_encodings_are_refused_before_decoding() -> None:
    error, peak = await _fetch_peak(fixture("bomb_1gib_zeros.gz.gz.gz"), "gzip, gzip, gzip")
    assert "3 stacked content encodings" in str(error)
    assert not isinstance(error, BodyTooLarge)
    assert peak < CAP


async def test_a_gzipped_brotli_body_reads() -> None:
    text = '{"jobs": [' + ", ".join(f'"Engineer {i}"' for i in range(20_000)) + "]}"
    layered = gzip.compress(brotli.compress(text.encode()))
    async with serve() as server, fetcher(settings(max_bytes=CAP)) as fetch:
        server.add("/api", body=layered, headers={"Content-Encoding": "br, gzip"})
        result = await within(fetch.get(server.url("/api"), robots=False))
    assert result.text == text
    assert len(text) > 4 * 64 * 1024


@pytest.mark.parametrize("wbits", [zlib.MAX_WBITS, -zlib.MAX_WBITS], ids=["zlib", "raw"])
async def test_deflate_with_and_without_its_zlib_header(wbits: int) -> None:
    packer = zlib.compressobj(6, zlib.DEFLATED, wbits)
    body = packer.compress(b"caf\xc3\xa9 " * 100_000) + packer.flush()
    async with serve() as server, fetcher() as fetch:
        server.add("/d", body=body, headers={"Content-Encoding": "deflate"})
        result = await within(fetch.get(server.url("/d"), robots=False))
    assert result.text == "café " * 100_000


async def test_body_just_under_the_cap_reads_and_just_over_does_not() -> None:
    async with serve() as server, fetcher(settings(max_bytes=CAP, retries=0)) as fetch:
        server.add("/fits", body=gzip.compress(b"a" * CAP), headers={"Content-Encoding": "gzip"})
        server.add(
            "/over", body=gzip.compress(b"a" * (CAP + 1)), headers={"Content-Encoding": "gzip"}
        )
        assert len((await within(fetch.get(server.url("/fits"), robots=False))).content) == CAP
        with pytest.raises(BodyTooLarge):
            await within(fetch.get(server.url("/over"), robots=False))


async def test_corrupt_gzip_is_a_fetch_error() -> None:
    async with serve() as server, fetcher(settings(retries=0)) as fetch:
        server.add("/bad", body=b"\x1f\x8bnot gzip at all", headers={"Content-Encoding": "gzip"})
        with pytest.raises(FetchError, match="could not decode the gzip body"):
            await within(fetch.get(server.url("/bad"), source="b", robots=False))


async def test_field_13_gzip_shard_also_sent_with_content_encoding_gzip(tmp_path: Path) -> None:
    """Field case 13: a `.xml.gz` shard sent with Content-Encoding: gzip is two layers, one the
    transport's and one the file's, and still reads."""
    case = case_dir("13-sitemap-index-gzip-shards")
    async with field_site(case.name) as (server, base):
        for page in (case / "site" / "job").glob("*/index.html"):  # linked without the slash
            target = f"/job/{page.parent.name}"
            serve_file(server, target, substitute(page.read_bytes(), base))
        for n in (1, 2):
            shard = gzipped(substitute((case / "shards" / f"{n}.xml").read_bytes(), base))
            headers = {"Content-Encoding": "gzip"} if n == 2 else {}
            serve_file(
                server,
                f"/sitemap/salesChannel-7f3a-91c2/7f3a91c2-sitemap-shop-example-{n}.xml.gz",
                gzipped(shard) if n == 2 else shard,
                headers=headers,
            )
        settings_ = write_config(
            tmp_path,
            [{"name": "shop", "kind": "jsonld", "url": f"{base}/sitemap.xml", "pattern": "/job/"}],
        )
        (outcome,) = await within(once(settings_))
    assert outcome.ok, outcome.error
    postings = stored(settings_)
    assert sorted(p.title for p in postings) == [
        "Backend Engineer",
        "Store Manager",
        "Warehouse Associate",
    ]
    assert {(p.company, p.location) for p in postings} == {("Example Shop GmbH", "Hamburg, DE")}
    assert not any("/about" in r.target for r in server.requests)
