"""Text clean-up: the normalisation every Posting passes through, mojibake repair, HTML to plain
text, excerpts."""

from __future__ import annotations

import html as htmllib
import re
import unicodedata

import ftfy
from lxml.html import defs as html_defs
from selectolax.lexbor import LexborHTMLParser as HTMLParser

EXCERPT_CHARS = 1000
# Keep typographic quotes: `world’s` is what the board meant, `world's` is a rewrite.
_FTFY = ftfy.TextFixerConfig(uncurl_quotes=False, normalization="NFC")
_SPACES = re.compile(r"[ \t\u00a0\u200b]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")
_BLOCK_TAGS = ("p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr")


# UTF-8 read as Latin-1 or windows-1252 (by far the commonest mojibake) always shows a lead byte
# U+00C2–U+00F4 followed by a continuation byte (U+0080–U+00BF or its windows-1252 glyph):
# `Ã¼`, `â€™`, `Ð¡`. Text without such a pair skips ftfy, whose cost dominates big pages;
# `Türkçe` and `München` have none.
_MOJIBAKE = re.compile(
    "[\u00c2-\u00f4][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192"
    "\u02c6\u02dc\u2013\u2014\u2018-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a"
    "\u20ac\u2122]"
)


def repair(text: str | None) -> str:
    """Fix mojibake (`worldâ€™s` → `world’s`) and stray control characters; strip the ends."""
    if not text:
        return ""
    if text.isascii() or _MOJIBAKE.search(text) is None:
        return unicodedata.normalize("NFC", _INVISIBLE.sub("", text)).strip()
    return ftfy.fix_text(text, _FTFY).strip()


def clean_line(text: str | None) -> str:
    """A title, name or location as one plain line (the same step as `plain_line`)."""
    return plain_line(text)


def html_to_text(html: str | None, limit: int | None = None) -> str:
    """Plain text of an HTML fragment, paragraphs kept as blank-line breaks; `limit` excerpts."""
    if not html:
        return ""
    tree = HTMLParser(html)
    for tag in ("script", "style", "noscript"):
        for node in tree.css(tag):
            node.decompose()
    for tag in _BLOCK_TAGS:
        for node in tree.css(tag):
            node.insert_before("\n")
    root = tree.body or tree.root
    text = root.text(separator="", deep=True) if root is not None else ""
    text = normalise_paragraphs(text)
    # Repair after cutting: ftfy's cost grows with the text, and the excerpt is all we keep.
    return repair(excerpt(text, limit) if limit is not None else text)


def normalise_paragraphs(text: str) -> str:
    """Fold runs of spaces and blank lines so an excerpt reads as prose."""
    lines = [_SPACES.sub(" ", line).strip() for line in text.splitlines()]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """The first `limit` characters of a description, cut at a word boundary."""
    text = text.strip()
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0].rstrip(" ,.;:-")
    return f"{cut}…"


# -- the one normalisation step every Posting passes through ---------------------------------

# HTML's element names (lxml's list, HTML 4 and 5): only these are markup. `R&D <Lead>` keeps
# its `<Lead>`, and so does a Title-case `<Data>`: producers write tags in one case.
_HTML_TAGS = frozenset(html_defs.tags)
_BLOCK = frozenset(html_defs.block_tags) | {"br", "article", "section", "header", "footer"}
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9]*)\b(?:[^<>\"']|\"[^\"]*\"|'[^']*')*?(/?)>")
_DROPPED = re.compile(
    r"<!--.*?(?:-->|$)|<(script|style|noscript)\b[^>]*>.*?(?:</\1\s*>|$)", re.I | re.S
)
# Controls no reader sees (C0 but tab and line breaks, DEL, C1) and invisible format marks:
# zero-width space, soft hyphen (`&shy;`), a stray byte-order mark.
_INVISIBLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u00ad\u200b\ufeff]")
_MAX_UNESCAPE_ROUNDS = 4
# What may start a character reference (`&amp;`, `&#8211;`, even `&copy` without `;`).
_REFERENCE = re.compile(r"&[#A-Za-z]")


def is_plain(text: str) -> bool:
    """True when `text` is already the one line a reader sees: the cheap, common case.

    Printable (no controls, no odd spaces, no soft hyphen), no reference or `<`, no doubled or
    edge spaces, and ASCII or free of mojibake and in NFC.
    """
    return (
        text.isprintable()
        and ("&" not in text or _REFERENCE.search(text) is None)  # `Planning & Analysis`
        and "<" not in text
        and "  " not in text
        and text[0] != " "
        and text[-1] != " "
        and (
            text.isascii()
            or (_MOJIBAKE.search(text) is None and unicodedata.is_normalized("NFC", text))
        )
    )


def _unescape(text: str) -> str:
    """Character references decoded until none is left (`R&amp;#038;D` → `R&D`), bounded."""
    for _ in range(_MAX_UNESCAPE_ROUNDS):
        if "&" not in text:
            break
        decoded = htmllib.unescape(text)
        if decoded == text:
            break
        text = decoded
    return text


def _strip_markup(text: str, block: str) -> str:
    """Remove HTML tags (`block` where a block element broke the text), keep any other `<…>`."""
    if "<" not in text:
        return text
    text = _DROPPED.sub(" ", text)

    def tag(match: re.Match[str]) -> str:
        name = match.group(2)
        if name.lower() not in _HTML_TAGS or not (name.islower() or name.isupper()):
            return match.group(0)
        return block if name.lower() in _BLOCK else ""

    return _TAG.sub(tag, text)


def _decoded(text: str, block: str) -> str:
    return repair(_strip_markup(_unescape(text), block))


def plain_line(text: str | None) -> str:
    """A title, name, location, tag or salary as the one line a reader sees.

    Character references decoded (repeatedly escaped ones too), HTML tags removed (only real
    HTML element names: a literal `<Lead>` stays), mojibake repaired, invisible controls and
    soft hyphens dropped, white space folded to single spaces. Idempotent; ASCII text with
    nothing to do returns at once.
    """
    if not text:
        return ""
    if is_plain(text):
        return text
    return " ".join(_decoded(text, " ").split())


def plain_paragraphs(text: str | None) -> str:
    """A description as a reader sees it: as `plain_line`, but paragraphs (blank lines) and
    line breaks kept, block elements becoming line breaks."""
    if not text:
        return ""
    if is_plain(text):
        return text
    return normalise_paragraphs(_decoded(text, "\n"))


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """`count` with `noun` in the right number: "1 posting", "3 postings", "0 postings"
    (`plural` for nouns that do not take an "s", e.g. counted(n, "match", "matches"))."""
    return f"{count} {noun if count == 1 else plural or noun + 's'}"
