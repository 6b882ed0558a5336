"""Helpers the web source kinds share: fetching through the context, dates, salaries, URLs."""

from __future__ import annotations

import email.utils
import html as htmllib
import html.entities
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urljoin, urlsplit, urlunsplit

from lxml import etree

from bot.errors import FetchError, ParseError
from bot.facets.salary import Salary
from bot.models import Posting, ScrapeResult
from bot.sources.base import SourceContext
from bot.text import clean_line

if TYPE_CHECKING:
    from bot.fetch import Fetcher, FetchResult
    from bot.settings import SourceSettings

# Text with nothing but ASCII, no-break spaces and general punctuation (dashes, quotes,
# bullets) cannot hold mojibake: it skips ftfy, whose cost dominates parsing big board pages.
_NEEDS_REPAIR = re.compile(r"[^\x00-\x7f\u00a0\u2010-\u2027]")
_SPACES = re.compile(r"[\s\u00a0\u200b]+")
_ODD_SPACE = re.compile(r"[^\S ]|  ")
REMOTE = re.compile(r"\b(remote|anywhere|worldwide|telecommute|work from home)\b", re.IGNORECASE)
DEFAULT_MAX_PAGES = 50


def fetcher_of(ctx: SourceContext, source: SourceSettings) -> Fetcher:
    """The context's fetcher, or a FetchError when none is wired (a console-only run)."""
    if ctx.fetcher is None:
        raise FetchError("no HTTP fetcher is configured", source=source.name, url=source.url)
    return ctx.fetcher


async def get(
    ctx: SourceContext, source: SourceSettings, url: str, *, conditional: bool = False
) -> FetchResult:
    """GET through the shared fetcher with the source's robots.txt choice."""
    return await fetcher_of(ctx, source).get(
        url, source=source.name, robots=source.robots, conditional=conditional
    )


def reraise(exc: ParseError, source: SourceSettings, url: str) -> ParseError:
    """The same parse error, now naming the source and the URL it came from."""
    return ParseError(exc.detail, source=source.name, url=exc.url or url)


def page_failed(
    exc: FetchError | ParseError, source: SourceSettings, url: str, *, first: bool, where: str
) -> str:
    """A paged crawl's failure: on the first page it fails the run (raised, naming the source
    and URL); on a later page it ends the crawl with a warning, keeping what came before."""
    if first:
        if isinstance(exc, ParseError):
            raise reraise(exc, source, url) from None
        raise exc
    return f"{where}: {exc.detail}"


async def fetch_one(
    ctx: SourceContext,
    source: SourceSettings,
    url: str,
    parse: Callable[[FetchResult], list[Posting] | ScrapeResult],
) -> ScrapeResult:
    """One conditional GET and one parse: a 304 is "unchanged" and costs no parsing.

    `parse` returns the postings, or a whole ScrapeResult when it has warnings to give. The
    validators are stored only after the parse succeeded, so a body we could not read is
    fetched in full again next run.
    """
    fetcher = fetcher_of(ctx, source)
    result = await fetcher.get(url, source=source.name, robots=source.robots, conditional=True)
    if result.not_modified:
        return ScrapeResult(unchanged=True)
    try:
        postings = parse(result)
    except ParseError as exc:
        raise reraise(exc, source, result.url) from None
    fetcher.remember(result)
    if isinstance(postings, ScrapeResult):
        return postings
    return ScrapeResult(postings=tuple(postings))


# Deeper than any real board answer or JSON-LD block (they stay under 20 levels), and far below
# the interpreter's recursion limit, which json.loads and any walk over the data would hit.
MAX_JSON_DEPTH = 64
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_JSON_BRACKETS = re.compile(r"[\[\]{}]")
_EMPTY_PAIR = re.compile(r"\[\]|\{\}")
_NOT_BRACKETS = {c: None for c in range(128) if chr(c) not in "[]{}"}


def json_too_deep(text: str, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when `text`'s arrays and objects nest deeper than `limit` (brackets inside strings
    do not count). Cheap: the brackets alone, innermost pairs removed `limit` times; only a
    doubtful skeleton (unbalanced, brackets in strings) is scanned exactly."""
    if text.count("[") + text.count("{") <= limit:
        return False
    skeleton = text.encode("ascii", "ignore").decode("ascii").translate(_NOT_BRACKETS)
    for _ in range(limit):
        shorter = _EMPTY_PAIR.sub("", skeleton)  # one pass: exactly one level less
        if len(shorter) == len(skeleton):
            break
        skeleton = shorter
    if "[" not in skeleton and "{" not in skeleton:
        return False
    depth = 0
    for bracket in _JSON_BRACKETS.findall(_JSON_STRING.sub('""', text)):
        depth += 1 if bracket in "[{" else -1
        if depth > limit:
            return True
    return False


def load_json(text: str, *, strict: bool = True) -> Any:
    """JSON from text, the one decoder every parser uses; ParseError that says where it broke
    (truncated bodies end early) or that it nests deeper than MAX_JSON_DEPTH (never a
    RecursionError). `strict=False` accepts raw control characters inside strings.
    """
    if json_too_deep(text):
        raise ParseError(f"invalid JSON: nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        return json.loads(text, strict=strict)
    except json.JSONDecodeError as exc:
        raise ParseError(
            f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:  # unreachable below MAX_JSON_DEPTH; kept as a parse error anyway
        raise ParseError(f"invalid JSON: nested deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError as exc:  # e.g. a body of nothing but a BOM
        raise ParseError(f"invalid JSON: {exc}") from None


# XML 1.0 forbids these C0 controls anywhere; UTF-8 never uses their bytes inside a character.
_XML_CONTROLS = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_XML_REFS = re.compile(
    rb"(?P<cdata><!\[CDATA\[.*?\]\]>)"
    rb"|&(?:(?P<number>#[0-9]+;|#[xX][0-9a-fA-F]+;)|(?P<name>[A-Za-z][A-Za-z0-9]*);)?",
    re.S,
)
_XML_NAMES = frozenset({b"amp", b"lt", b"gt", b"quot", b"apos"})


def _xml_ref(match: re.Match[bytes]) -> bytes:
    if match.group("cdata") is not None or match.group("number") is not None:
        return match.group(0)
    name = match.group("name")
    if name is None:
        return b"&amp;"  # a bare `&`: `R&D`, `?a=1&b=2`
    if name in _XML_NAMES:
        return match.group(0)
    codepoints = htmllib.entities.html5.get(name.decode("ascii") + ";")
    if codepoints is None:
        return b"&amp;" + name + b";"  # not an entity at all: keep it as the text it is
    return b"".join(b"&#%d;" % ord(char) for char in codepoints)


def xml_bytes(body: bytes | str) -> bytes:
    """A served XML document mended the way feed readers mend it, before any XML parser reads it.

    A byte-order mark or white space before `<?xml` is dropped; C0 controls XML forbids are
    dropped; HTML's named entities that XML does not define (`&ndash;`, `&nbsp;`, `&eacute;`)
    become numeric references (WHATWG's entity table, `html.entities.html5`); a bare `&` and an
    unknown `&name;` become text (`&amp;`). CDATA sections are left as they are. Text (`str`)
    loses its declaration, its encoding being UTF-8 from here on.
    """
    if isinstance(body, str):
        text = body.lstrip("\ufeff \t\r\n")
        if text.startswith("<?xml"):
            text = text[text.find("?>") + 2 :]
        raw = text.encode("utf-8")
    else:
        raw = body.removeprefix(b"\xef\xbb\xbf").lstrip(b" \t\r\n")
        if raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
    return _XML_REFS.sub(_xml_ref, _XML_CONTROLS.sub(b"", raw))


_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._:-]+)["']""")
_BOMS = (
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)


def decode_xml(body: bytes | str) -> str:
    """An XML document's text, whatever its declaration claims: a byte-order mark decides;
    else bytes that are valid UTF-8 are UTF-8 (a declaration saying Latin-1 or UTF-16 over
    UTF-8 bytes is the common mistake); else the declared encoding if the bytes decode in it
    without loss; else windows-1252, as browsers read undeclared legacy text."""
    if isinstance(body, str):
        return body
    for bom, encoding in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(encoding, errors="replace")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    declared = _XML_ENCODING.match(body[:1024])
    if declared is not None:
        try:
            return body.decode(declared.group(1).decode("ascii"))
        except (LookupError, UnicodeDecodeError):
            pass
    return body.decode("cp1252", errors="replace")


def load_xml(body: bytes | str, what: str, roots: Sequence[str]) -> Any:
    """The root element (lxml) of a served XML document whose root is one of `roots` (local
    names), read as leniently as the document allows.

    `decode_xml` and `xml_bytes` mend it first, then lxml's recovering parser (`recover=True`;
    no network, no entity expansion) reads what it can: a broken entry costs that entry.
    Raises ParseError naming `what` for a document that declares entities, has none of `roots`
    as its root, or ends before its root closes (a truncated answer: storing part of it would
    be wrong)."""
    raw = xml_bytes(decode_xml(body))
    if b"<!ENTITY" in raw[:4096]:
        raise ParseError(f"the {what} declares XML entities; refusing to expand them")
    parser = etree.XMLParser(
        recover=True,
        resolve_entities=False,
        no_network=True,
        remove_comments=True,
        remove_pis=True,
        huge_tree=False,
    )
    try:
        root = etree.fromstring(raw, parser)
    except etree.XMLSyntaxError as exc:
        raise ParseError(f"invalid {what} (invalid XML: {exc})") from None
    if root is None:
        first = next(iter(parser.error_log), None)
        raise ParseError(f"invalid {what} (invalid XML: {first.message if first else 'empty'})")
    tag = etree.QName(root).localname
    if tag not in roots:
        raise ParseError(f"not a {what} (root element <{tag}>)")
    if (
        parser.error_log
        and f"</{tag}>".encode() not in raw[-1024:]
        and b":" + tag.encode() + b">" not in raw[-1024:]
    ):
        first = next(iter(parser.error_log))
        raise ParseError(
            f"invalid {what} (invalid XML: {first.message}; the document ends before <{tag}> "
            "closes)"
        )
    return root


def expect_list(data: Any, what: str, key: str | None = None) -> list[Any]:
    """`data` (or `data[key]`) as a list of objects, else ParseError naming what was found."""
    if key is not None:
        if not isinstance(data, dict) or key not in data:
            found = f"keys {sorted(data)[:6]}" if isinstance(data, dict) else type(data).__name__
            raise ParseError(f"expected {what} with a {key!r} list, got {found}")
        data = data[key]
        if data is None:
            return []
    if not isinstance(data, list):
        raise ParseError(f"expected a list of {what}, got {type(data).__name__}")
    return [item for item in data if isinstance(item, dict)]


def line(text: str | None) -> str:
    """`clean_line` with a fast path for text that needs no mojibake repair."""
    if not text:
        return ""
    if _NEEDS_REPAIR.search(text) is None:
        text = text.strip()
        return _SPACES.sub(" ", text) if _ODD_SPACE.search(text) else text
    return clean_line(text)


def absolute(base_url: str, href: str) -> str:
    """`href` resolved against the page (most board links are absolute already)."""
    href = href.strip()
    if href.startswith(("https://", "http://")):
        return href
    return urljoin(base_url, href)


def text_of(value: Any) -> str:
    """A JSON scalar as a clean one-line string ('' for null, lists and objects)."""
    if value is None or isinstance(value, dict | list | bool):
        return ""
    return line(str(value))


def join(parts: Iterable[Any], sep: str = ", ") -> str:
    """Non-empty distinct parts, in order."""
    seen: dict[str, None] = {}
    for part in parts:
        text = text_of(part)
        if text:
            seen.setdefault(text, None)
    return sep.join(seen)


def tags(*values: Any) -> tuple[str, ...]:
    """Distinct non-empty tags from scalars and lists."""
    found: dict[str, None] = {}
    for value in values:
        for item in value if isinstance(value, list | tuple) else (value,):
            text = text_of(item)
            if text:
                found.setdefault(text, None)
    return tuple(found)


def is_remote(*texts: str) -> bool:
    return any(REMOTE.search(text) for text in texts if text)


def parse_date(value: Any) -> datetime | None:
    """Epoch seconds/ms, ISO 8601 (with Z or ' UTC'), date-only or RFC 2822; None otherwise."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        seconds = value / 1000 if value > 10**11 else value
        try:
            return datetime.fromtimestamp(seconds, tz=UTC) if seconds > 0 else None
        except (OverflowError, OSError, ValueError):
            return None
    text = str(value).strip()
    if not text:
        return None
    if text.isdigit():
        return parse_date(int(text))
    iso = text.replace(" UTC", "+00:00").replace("Z", "+00:00")
    if len(iso) >= 19 and iso[10] == " ":
        iso = f"{iso[:10]}T{iso[11:]}"
    try:
        when = datetime.fromisoformat(iso)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def money(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return ""
    try:
        number = float(value)
    except ValueError:
        return text_of(value)
    if number <= 0:
        return ""
    return f"{number:,.0f}"


def salary(low: Any, high: Any, currency: Any = "", period: Any = "") -> str:
    """`USD 150,000–250,000 per year` from whichever parts are given."""
    lo, hi = money(low), money(high)
    amount = f"{lo}–{hi}" if lo and hi and lo != hi else lo or hi
    if not amount:
        return ""
    unit = text_of(period).lower().replace("_", " ").replace("-", " ")
    words = [text_of(currency), amount]
    if unit:
        words.append(unit if unit.startswith("per ") else f"per {unit}")
    return " ".join(word for word in words if word)


def segments(url: str) -> list[str]:
    return [part for part in urlsplit(url).path.split("/") if part]


def with_query(url: str, params: Mapping[str, Any]) -> str:
    """`url` with `params` set in its query (existing keys replaced, order kept)."""
    from urllib.parse import parse_qsl

    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    query.update({k: str(v) for k, v in params.items()})
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def option_str(options: Mapping[str, Any], key: str, default: str = "") -> str:
    value = options.get(key, default)
    return value if isinstance(value, str) else default


def option_int(options: Mapping[str, Any], key: str, default: int) -> int:
    value = options.get(key, default)
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def check_options(
    options: Mapping[str, Any],
    *,
    strings: Sequence[str] = (),
    ints: Mapping[str, tuple[int, int]] | None = None,
    bools: Sequence[str] = (),
) -> None:
    """Type- and range-check kind options; ValueError names the key and what it expected."""
    for key in strings:
        if key in options and not isinstance(options[key], str):
            raise ValueError(f"{key} must be a string, got {options[key]!r}")
    for key, (low, high) in (ints or {}).items():
        if key in options:
            value = options[key]
            if not isinstance(value, int) or isinstance(value, bool):
                raise ValueError(f"{key} must be an integer, got {value!r}")
            if not low <= value <= high:
                raise ValueError(f"{key} = {value} is out of range ({low} to {high})")
    for key in bools:
        if key in options and not isinstance(options[key], bool):
            raise ValueError(f"{key} must be true or false, got {options[key]!r}")


def facts_extra(salary: Salary | None = None, **facts: Any) -> dict[str, str]:
    """`Posting.extra` entries for the facts a board states in its data (read by
    `bot.facets.filters.facts_of`): the salary's `as_extra()` keys and each non-empty text of
    `facts` (`workplace_type`, `employment_type`, `job_location_type`, `applicant_locations`,
    `valid_through`); a list becomes comma-joined text."""
    found = salary.as_extra() if salary is not None else {}
    for key, value in facts.items():
        text = join(value, ",") if isinstance(value, list | tuple) else text_of(value)
        if text:
            found[key] = text
    return found
