"""Charset handling as browsers do it: header, then <meta>, then detection; mojibake repaired."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.fetch import WINDOWS_1252_ERRORS, decode_body
from bot.sources import lever
from tests.boardserver import serve
from tests.fetchkit import context, fetcher, fixture, source, within
from tests.fieldkit import case_dir, field_site, once, serve_file, stored, substitute, write_config

FRENCH = "Chef de projet, Montréal — équipe données ; café à volonté"


def test_header_charset_wins() -> None:
    text, encoding = decode_body(FRENCH.encode("cp1252"), "text/html; charset=windows-1252")
    assert text == FRENCH
    assert encoding == "cp1252"


def test_meta_charset_when_header_has_none() -> None:
    body = b'<html><head><meta charset="windows-1252"></head><body>' + FRENCH.encode("cp1252")
    text, _ = decode_body(body, "text/html")
    assert FRENCH in text


def test_wrong_utf8_label_falls_back_to_detection() -> None:
    """Bytes in cp1252 labelled UTF-8 must not turn into U+FFFD soup."""
    body = ("<p>" + FRENCH + "</p>") * 20
    text, encoding = decode_body(body.encode("cp1252"), "text/html; charset=utf-8")
    assert "é" in text
    assert "\ufffd" not in text
    assert encoding != "utf-8"


def test_missing_charset_detects_utf8() -> None:
    """iCIMS declares no <meta charset> and leads with blank lines: still UTF-8."""
    body = fixture("icims_job_detail_jsonld_no_meta_charset.html")
    text, encoding = decode_body(body, "text/html")
    assert encoding == "utf-8"
    assert "BusPatrol, we’re on a mission" in text


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
    assert isinstance(text, str)
    assert encoding


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
    assert posting.title == "Ingénieur données"
    assert posting.location == "Montréal"
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


# -- undeclared bytes, as browsers read them (issue 8 part 7) ------------------------------------

STYLE_HEAD = b"<html><head><style>" + b".job{color:#123456;margin:0 auto}\n" * 3000 + b"</style>"


def test_cp1252_after_a_long_ascii_head_is_not_read_as_ascii() -> None:
    """Bug: a page whose first 64 KB are ASCII was decoded as ASCII, U+FFFD in every accent."""
    body = STYLE_HEAD + b"</head><body><p>" + FRENCH.encode("cp1252") + b"</p></body></html>"
    assert len(STYLE_HEAD) > 100_000
    text, encoding = decode_body(body, "text/html")
    assert FRENCH in text
    assert "\ufffd" not in text
    assert encoding == "cp1252"


def test_valid_utf8_after_a_long_ascii_head_is_utf8() -> None:
    body = STYLE_HEAD + b"</head><body><p>" + FRENCH.encode() + "高級JAVA工程師".encode() + b"</p>"
    text, encoding = decode_body(body, "text/html")
    assert encoding == "utf-8"
    assert FRENCH + "高級JAVA工程師" in text


def test_latin1_xml_without_a_declaration() -> None:
    title = "Ingénieur à Zürich – Señor"
    body = (
        "<?xml version='1.0'?><rss><channel><item><title>"
        + title
        + "</title></item></channel></rss>"
    ).encode("cp1252")
    text, encoding = decode_body(body, "application/xml")
    assert title in text
    assert "\ufffd" not in text
    assert encoding == "cp1252"


def test_meta_charset_after_the_first_kilobytes_of_the_head() -> None:
    russian = "Программист Python, Москва, полная занятость"
    body = (
        STYLE_HEAD[:6000]
        + b'</style><meta http-equiv="Content-Type" content="text/html; charset=windows-1251">'
        + b"</head><body><p>"
        + russian.encode("cp1251")
        + b"</p></body></html>"
    )
    text, encoding = decode_body(body, "text/html")
    assert russian in text
    assert encoding == "cp1251"


def test_meta_charset_in_the_body_is_not_the_documents() -> None:
    body = b"<html><head></head><body>" + b"x" * 5000 + b'<meta charset="koi8-r">caf\xc3\xa9'
    assert decode_body(body, "text/html") == (body.decode(), "utf-8")


def test_utf8_bom_without_any_header() -> None:
    text, encoding = decode_body(codecs.BOM_UTF8 + FRENCH.encode(), "")
    assert text == FRENCH
    assert encoding == "utf-8-sig"


def test_utf16_bom() -> None:
    text, _ = decode_body(codecs.BOM_UTF16_LE + FRENCH.encode("utf-16-le"), "text/html")
    assert text == FRENCH


def test_a_bom_the_bytes_contradict_is_not_decoded_lossily() -> None:
    body = codecs.BOM_UTF8 + FRENCH.encode("cp1252")
    text, _ = decode_body(body, "text/html")
    assert FRENCH in text
    assert "\ufffd" not in text


def test_windows_1252_unassigned_bytes_map_to_c1_controls_not_u_fffd() -> None:
    """WHATWG's windows-1252 maps 0x81, 0x8D, 0x8F, 0x90 and 0x9D to U+0081 … U+009D, so the
    windows-1252 fallback reads every byte (Python's cp1252 leaves those five unassigned)."""
    raw = b"Caf\xe9 \x81\x8d\x8f\x90\x9d \x93q\x94"
    assert raw.decode("cp1252", WINDOWS_1252_ERRORS) == "Café \x81\x8d\x8f\x90\x9d “q”"
    text, _ = decode_body(STYLE_HEAD + b"<p>" + FRENCH.encode("cp1252") + b" \x9d</p>")
    assert FRENCH[:30] in text
    assert "\ufffd" not in text


def test_labels_resolve_as_browsers_resolve_them() -> None:
    assert decode_body(b"\x93hi\x94", "text/html; charset=iso-8859-1")[0] == "“hi”"
    assert decode_body(b"\x93hi\x94", "text/html; charset=us-ascii")[0] == "“hi”"
    sjis = "東京のエンジニア".encode("cp932")
    assert decode_body(sjis, "text/html; charset=x-sjis") == ("東京のエンジニア", "cp932")
    # UTF-7 is a label browsers refuse (an XSS vector): the bytes decide instead.
    assert decode_body(b"+AGEAYgBj-", "text/html; charset=utf-7") == ("+AGEAYgBj-", "utf-8")


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        ("Příliš žluťoučký kůň úpěl ďábelské ódy; vývojář v Praze", "cp1250"),
        ("Zażółć gęślą jaźń; programista w Łodzi, umowa o pracę", "cp1250"),
        ("Программист Python, Москва, полная занятость", "cp1251"),
        ("Προγραμματιστής Python, Αθήνα, πλήρης απασχόληση", "cp1253"),
        ("Señor Data Analyst in Málaga, niño, año", "cp1252"),
        ("Ingénieur données à Montréal, équipe café", "cp1252"),
        ("日本語のエンジニア募集、東京都渋谷区", "cp932"),
    ],
)
def test_undeclared_legacy_pages_are_detected_from_their_non_ascii_bytes(
    text: str, encoding: str
) -> None:
    body = STYLE_HEAD + b"</head><body><p>" + text.encode(encoding) + b"</p></body></html>"
    decoded, used = decode_body(body, "text/html")
    assert text in decoded
    assert used == encoding


@given(st.binary(max_size=4096), st.sampled_from(["", "text/html", "application/xml"]))
def test_undeclared_bytes_never_gain_a_replacement_character(body: bytes, ctype: str) -> None:
    text, _ = decode_body(body, ctype)
    assert "\ufffd" not in text or "\ufffd".encode() in body


async def test_field_14_legacy_charset_after_ascii_head(tmp_path: Path) -> None:
    """Field case 14: 88 KB of ASCII CSS, then windows-1252 job text, no charset anywhere."""
    case = case_dir("14-legacy-charset-after-ascii-head")
    async with field_site(case.name) as (server, base):
        serve_file(server, "/careers.html", substitute((case / "careers.html").read_bytes(), base))
        settings = write_config(
            tmp_path,
            [
                {
                    "name": "field",
                    "kind": "html",
                    "url": f"{base}/careers.html",
                    "item": "li.job",
                    "title": "a",
                    "link": "a",
                    "location": ".where",
                }
            ],
        )
        (outcome,) = await within(once(settings))
    assert outcome.ok, outcome.error
    postings = {p.title: (p.location, p.url) for p in stored(settings)}
    assert postings == {
        "Café Ops Engineer – Zürich": ("Zürich", f"{base}/jobs/101"),
        "Señor Data Analyst “Growth”": ("Málaga", f"{base}/jobs/102"),
    }
    for posting in stored(settings):
        assert "\ufffd" not in repr(posting)


def test_a_code_page_that_reads_its_own_language_better_beats_windows_1252() -> None:
    """Equally clean in windows-1252 (`Yazýlým`) and windows-1254 (`Yazılım`): the detector
    reads Turkish, whose legacy code page is windows-1254, so that one wins."""
    text = "Yazılım geliştirici, İstanbul, şirket"
    body = b"<html><head><style>" + b"a{color:red}" * 3000 + b"</style></head><body><p>"
    decoded, used = decode_body(body + text.encode("cp1254") + b"</p></body></html>", "text/html")
    assert text in decoded
    assert used == "cp1254"
