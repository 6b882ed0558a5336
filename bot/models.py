"""The data every stage passes along: a normalised posting and its identity."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

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
DEFAULT_PORTS = {"http": 80, "https": 443}
_LINE_FIELDS = ("title", "company", "location", "salary")


def _is_tracking(name: str) -> bool:
    lowered = name.lower()
    return lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES)


def canonical_url(url: str) -> str:
    """Return the URL a posting is known by: tracking, fragment, default port and case removed."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = host if port is None or DEFAULT_PORTS.get(scheme) == port else f"{host}:{port}"
    if parts.username:
        netloc = f"{parts.username}@{netloc}"
    path = parts.path or "/"
    if len(path) > 1:
        path = path.rstrip("/") or "/"
    query = sorted(
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k)
    )
    return urlunsplit((scheme, netloc, path, urlencode(query), ""))


def posting_id(url: str) -> str:
    """SHA-256 (hex) of the canonical URL: the key a posting is stored under."""
    return hashlib.sha256(canonical_url(url).encode("utf-8")).hexdigest()


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
        """The dedupe key: the hash of the canonical URL."""
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
