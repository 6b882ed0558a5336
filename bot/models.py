"""The data every stage passes along: a normalised posting and its identity."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import unquote_plus, urlsplit, urlunsplit

from w3lib.url import canonicalize_url

from bot.facets.filters import Facts
from bot.text import is_plain, plain_line, plain_paragraphs

# Query parameters that only say where a visitor came from; they never change the posting.
TRACKING_PARAMS = frozenset(
    {
        "gh_src",
        "lever-source",
        "lever-origin",
        "lever-via",
        "ref",
        "referrer",
        "source",
        "src",
        "fbclid",
        "gclid",
        "dclid",
        "msclkid",
        "mc_cid",
        "mc_eid",
        "igshid",
        "_hsenc",
        "_hsmi",
        "trk",
        "trackingid",
    }
)
TRACKING_PREFIXES = ("utm_", "__hs", "_ga")
# Session identifiers of the common server stacks (Java, PHP, ASP, ColdFusion and generic ones):
# a visitor's session, never the posting. Removed as query parameters and as `;name=` path
# parameters alike (Java servlets put `;jsessionid=` in the path).
SESSION_PARAMS = frozenset(
    {"jsessionid", "phpsessid", "sid", "sessionid", "session_id", "cfid", "cftoken"}
)
SESSION_PREFIXES = ("aspsessionid",)
DEFAULT_PORTS = {"http": 80, "https": 443}
_SESSION_PATH_PARAM = re.compile(
    r";(?:jsessionid|phpsessid|sid|sessionid|session_id|cfid|cftoken|aspsessionid[^=;/]*)"
    r"=[^;/]*",
    re.IGNORECASE,
)
_LINE_FIELDS = ("title", "company", "location", "salary")


def _is_volatile(name: str) -> bool:
    lowered = unquote_plus(name).lower()
    return (
        lowered in TRACKING_PARAMS
        or lowered in SESSION_PARAMS
        or lowered.startswith(TRACKING_PREFIXES)
        or lowered.startswith(SESSION_PREFIXES)
    )


def http_url_problem(url: str) -> str | None:
    """Why `url` cannot name a board (None when it can): not http(s), no host, an unreadable
    IPv6 literal or a port outside 0-65535 (RFC 3986 section 3.2, read by `urlsplit`)."""
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - read to validate: raises ValueError when out of range
    except ValueError as exc:
        return f"{url!r} is not a valid URL ({exc})"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"{url!r} is not an http(s) URL with a host"
    return None


def canonical_url(url: str) -> str:
    """Return the URL a posting is known by (RFC 3986 section 6 normalisation, then noise removed).

    w3lib's `canonicalize_url` does the syntax-based part (RFC 3986 6.2.2 and RFC 3987 3.1):
    percent-escapes in upper case, unreserved characters decoded, an IRI's non-ASCII path and
    query percent-encoded as UTF-8, IDN hosts in punycode, dot segments removed, the query sorted,
    empty query and fragment dropped. On top: scheme and host lower case, the default port
    dropped (6.2.3), a trailing slash dropped, and tracking (`utm_*`, `gh_src`, ...) and session
    parameters (`;jsessionid=` path parameters, `PHPSESSID`, `sid`, `sessionid`, `aspsessionid*`,
    `cfid`/`cftoken` query parameters) removed. Parameters that identify a job (`gh_jid`,
    `jobId`, `id`) stay. Idempotent: `canonical_url(canonical_url(u)) == canonical_url(u)`.
    """
    parts = urlsplit(canonicalize_url(url.strip(), keep_blank_values=True))
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = host if port is None or DEFAULT_PORTS.get(scheme) == port else f"{host}:{port}"
    if parts.username:
        netloc = f"{parts.username}@{netloc}"
    path = _SESSION_PATH_PARAM.sub("", parts.path) or "/"
    if len(path) > 1:
        path = path.rstrip("/") or "/"
    # canonicalize_url has sorted and re-encoded the pairs: filter them as they are.
    query = "&".join(
        pair for pair in parts.query.split("&") if pair and not _is_volatile(pair.split("=")[0])
    )
    return urlunsplit((scheme, netloc, path, query, ""))


def posting_id(url: str) -> str:
    """SHA-256 (hex) of the canonical URL: the key a posting is stored under."""
    return hashlib.sha256(canonical_url(url).encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Identity:
    """How one source's postings are told apart, from its `url_ignore`/`id_pattern` options.

    `url_ignore` patterns are removed from the canonical URL before hashing (a per-render token
    such as `/xf-3348347fc789`); `id_pattern`'s one group, searched in the canonical URL, is
    the posting's identity within the source named `scope` (a URL it does not match falls back
    to the URL). Patterns apply to the canonical form: percent-escapes upper case, query sorted.
    With neither option, the id is `posting_id(url)`.
    """

    scope: str = ""
    url_ignore: tuple[re.Pattern[str], ...] = ()
    id_pattern: re.Pattern[str] | None = None

    def key(self, url: str) -> str:
        """The string hashed into the id: the canonical URL less `url_ignore`, or the id."""
        key = canonical_url(url)
        for pattern in self.url_ignore:
            key = pattern.sub("", key)
        if self.id_pattern is not None and (found := self.id_pattern.search(key)):
            # No URL contains a space, so this never equals some URL's key.
            return f"id {self.scope} {found.group(1)}"
        return key

    def posting_id(self, url: str) -> str:
        """SHA-256 (hex) of `key(url)`: the id a posting at `url` is stored under."""
        if not self.url_ignore and self.id_pattern is None:
            return posting_id(url)
        return hashlib.sha256(self.key(url).encode("utf-8")).hexdigest()

    @property
    def fingerprint(self) -> str:
        """Empty for plain URL identity, else the rules (a change re-keys the source)."""
        if not self.url_ignore and self.id_pattern is None:
            return ""
        rules = [p.pattern for p in self.url_ignore]
        pattern = self.id_pattern.pattern if self.id_pattern is not None else ""
        return f"{self.scope}\n{pattern}\n" + "\n".join(rules)


URL_IDENTITY = Identity()


@dataclass(frozen=True, slots=True)
class Posting:
    """One job posting as every parser yields it.

    Construction is the one normalisation step (`__post_init__`): whatever a kind passes in,
    title, company, location, tags and salary come out as the single line a reader sees and the
    description as plain paragraphs (`bot.text.plain_line` / `plain_paragraphs`: references
    decoded, HTML tags removed, mojibake repaired, white space folded). Doing it here rather than
    in each kind or in the pipeline means no Posting, from any kind, test or future code path,
    can exist un-normalised. Only `title` and `url` are required; every other field may be empty.
    """

    url: str
    title: str
    company: str = ""
    location: str = ""
    remote: bool = False
    tags: tuple[str, ...] = ()
    posted_at: datetime | None = None
    salary: str = ""
    description: str = ""
    apply_url: str = ""
    extra: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        line_fields = (self.title, self.company, self.location, self.salary, *self.tags)
        # One cheap check over every one-line field at once (most postings need nothing):
        # `|` joins them so that a space at any field's edge still shows as `| ` or ` |`.
        joined = "|".join(line_fields)
        if not (is_plain(joined) and "| " not in joined and " |" not in joined):
            # Frozen: normalised values go through object.__setattr__.
            for name in _LINE_FIELDS:
                object.__setattr__(self, name, plain_line(getattr(self, name)))
            tags = dict.fromkeys(plain_line(tag) for tag in self.tags)
            object.__setattr__(self, "tags", tuple(tag for tag in tags if tag))
        elif "" in self.tags:
            object.__setattr__(self, "tags", tuple(tag for tag in self.tags if tag))
        if self.description and not is_plain(self.description):
            object.__setattr__(self, "description", plain_paragraphs(self.description))

    @property
    def id(self) -> str:
        """The dedupe key under plain URL identity (a source may set its own: `Identity`)."""
        return posting_id(self.url)

    @property
    def canonical_url(self) -> str:
        """The URL with tracking parameters, fragment and case noise removed."""
        return canonical_url(self.url)


@dataclass(frozen=True, slots=True)
class StoredPosting:
    """A posting as read back from the store, with its bookkeeping."""

    id: str
    url: str
    source: str
    title: str
    company: str
    location: str
    remote: bool
    tags: tuple[str, ...]
    posted_at: datetime | None
    salary: str
    description: str
    apply_url: str
    first_seen: datetime
    last_seen: datetime
    # Salary, remote scope, seniority, ... computed when the posting was stored (bot.facets).
    facts: Facts = field(default_factory=Facts, compare=False)
    # Issue 12, filled where a posting is shown (`Postings.with_groups`): when it (its whole
    # group) closed; the other members' URLs; the group's places; the repost label.
    closed_at: datetime | None = None
    also_on: tuple[str, ...] = ()
    locations: tuple[str, ...] = ()
    repost: str = ""


@dataclass(frozen=True, slots=True)
class ScrapeResult:
    """What one run of a source produced: its postings, or word that nothing changed."""

    postings: tuple[Posting, ...] = ()
    unchanged: bool = False
    # Pages that answered but could not be read; the run still counts when some postings came.
    warnings: tuple[str, ...] = ()
    # False when the board holds more than this run fetched (a crawl still catching up): the
    # source's no-alert baseline stays open until a complete run, so a backlog never floods.
    complete: bool = True
    # False when the run stopped before the listing's end (a page cap): the postings it did
    # not reach are not absent, so nothing closes by absence (issue 12).
    listed_all: bool = True
    # URLs of stored postings the listing still links and the run did not read again (a kind
    # that fetches only new pages): seen by this run all the same.
    listed: tuple[str, ...] = ()
