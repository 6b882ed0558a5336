"""Text clean-up shared by every parser: mojibake repair, HTML to plain text, excerpts."""

from __future__ import annotations

import re

import ftfy
from selectolax.lexbor import LexborHTMLParser as HTMLParser

EXCERPT_CHARS = 1000
# Keep typographic quotes: `world’s` is what the board meant, `world's` is a rewrite.
_FTFY = ftfy.TextFixerConfig(uncurl_quotes=False, normalization="NFC")
_SPACES = re.compile(r"[ \t\u00a0\u200b]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")
_BLOCK_TAGS = ("p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr")


def repair(text: str | None) -> str:
    """Fix mojibake (`worldâ€™s` → `world’s`) and stray control characters; strip the ends."""
    if not text:
        return ""
    if text.isascii():  # nothing to repair, and most board text is ASCII: skip ftfy's work
        return text.strip()
    return ftfy.fix_text(text, _FTFY).strip()


def clean_line(text: str | None) -> str:
    """Repair and fold all white space to single spaces: for titles, names, locations."""
    return _SPACES.sub(" ", repair(text).replace("\n", " ")).strip()


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
