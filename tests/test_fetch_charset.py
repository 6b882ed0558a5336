"""Charset handling as browsers do it: header, then <meta>, then detection; mojibake repaired."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.fetch import decode_body
from bot.sources import lever
from tests.boardserver import serve
from tests.fetchkit import context, fetcher, fixture, source, within

FRENCH = "Chef de projet, Montréal — équipe données ; café à volonté"


def test_header_charset_wins() -> None:
    text, encoding = decode_body(FRENCH.encode("cp1252"), "text/html; charset=windows-1252")
    assert text == FRENCH and encoding == "cp1252"


def test_meta_charset_when_header_has_none() -> None:
    body = b'<html><head><meta charset="windows-1252"></head><body>' + FRENCH.encode("cp1252")
    text, _ = decode_body(body, "text/html")
    assert FRENCH in text


def test_wrong_utf8_label_falls_back_to_detection() -> None:
    """Bytes in cp1252 labelled UTF-8 must not turn into U+FFFD soup."""
    body = ("<p>" + FRENCH + "</p>") * 20
    text, encoding = decode_body(body.encode("cp1252"), "text/html; charset=utf-8")
    assert "é" in text and "\ufffd" not in text and encoding != "utf-8"


def test_missing_charset_detects_utf8() -> None:
    """iCIMS declares no <meta charset> and leads with blank lines: still UTF-8."""
    body = fixture("icims_job_detail_jsonld_no_meta_charset.html")
    text, encoding = decode_body(body, "text/html")
    assert encoding == "utf-8" and "BusPatrol, we’re on a mission" in text


def test_bom_wins_over_a_wrong_header() -> None:
    text, _ = decode_body("\ufeffcafé".encode("utf-8"), "text/plain; charset=iso-8859-1")
    assert text == "café"


def test_unknown_charset_label_is_ignored() -> None:
    assert decode_body("café".encode(), "text/html; charset=klingon")[0] == "café"


@given(
    st.binary(max_size=2048),
    st.sampled_from(
        [
            "",
            "text/html",
            "text/html; charset=utf-8",
            "application/json; charset=latin-1",
            "text/xml; charset=bogus",
        ]
    ),
)
def test_decode_never_raises(body: bytes, content_type: str) -> None:
    text, encoding = decode_body(body, content_type)
    assert isinstance(text, str) and encoding


async def test_latin1_label_on_utf8_bytes_is_repaired_in_postings() -> None:
    """A board that sends UTF-8 but says ISO-8859-1: the mojibake is repaired in every field."""
    page = (
        '<html><head><title>Équipe</title></head><body><div class="postings-wrapper">'
        '<div class="posting"><a class="posting-title" href="/acme/1">'
        '<h5 data-qa="posting-name">Ingénieur données</h5>'
        '<span class="sort-by-location">Montréal</span></a></div></div></body></html>'
    ).encode()
    async with serve() as server, fetcher() as fetch:
        server.add("/acme", body=page, headers={"Content-Type": "text/html; charset=iso-8859-1"})
        result = await within(
            lever.collect_board(context(fetch), source("lever_html", server.url("/acme")))
        )
    (posting,) = result.postings
    assert posting.title == "Ingénieur données" and posting.location == "Montréal"
    assert posting.company == "Équipe"


async def test_cp1252_bytes_without_charset_are_read() -> None:
    page = (
        '<html><body><div class="postings-wrapper"><div class="posting">'
        '<a class="posting-title" href="/acme/1"><h5 data-qa="posting-name">'
        + FRENCH
        + "</h5></a></div></div></body></html>"
    ).encode("cp1252")
    async with serve() as server, fetcher() as fetch:
        server.add("/acme", body=page, headers={"Content-Type": "text/html"})
        result = await within(
            lever.collect_board(context(fetch), source("lever_html", server.url("/acme")))
        )
    assert result.postings[0].title == FRENCH
