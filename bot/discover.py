"""From a link a user has at hand to a `[[sources]]` entry: which board kind, which URL.

`recognise` places a URL by its host and path alone (a board page, a posting on it, or the API
URL of a known ATS; an RSS/Atom feed or a sitemap by its path). `from_page` places a fetched
page that is none of those: an embedded known ATS (a link, iframe or script), schema.org
JobPosting JSON-LD, a feed `<link rel="alternate">`, or a body that is itself a feed or a
sitemap. `discover` fetches once through the normal Fetcher and previews what the kind reads;
`append_source` adds the entry to the config file with tomlkit, keeping its comments and layout.
"""

from __future__ import annotations

import html as htmllib
import os
import re
import tempfile
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

import tomlkit
from selectolax.lexbor import LexborHTMLParser

from bot.config import parse_settings
from bot.errors import FetchError, ParseError
from bot.models import Identity, Posting, canonical_url
from bot.schedule import parse_schedule
from bot.settings import Settings, SourceSettings
from bot.sources import ashby, greenhouse, jsonld, lever, workday
from bot.sources.base import SourceContext
from bot.sources.registry import KINDS
from bot.text import counted

if TYPE_CHECKING:
    from bot.fetch import Fetcher

# What each kind is called in a preview line ("Workday board of nvidia").
BOARD_NAMES = {
    "lever": "Lever",
    "greenhouse": "Greenhouse",
    "ashby": "Ashby",
    "workable": "Workable",
    "smartrecruiters": "SmartRecruiters",
    "recruitee": "Recruitee",
    "workday": "Workday",
    "personio": "Personio",
    "teamtailor": "Teamtailor",
    "bamboohr": "BambooHR",
    "breezy": "Breezy",
    "remoteok": "RemoteOK",
    "rss": "RSS/Atom",
    "jsonld": "JSON-LD",
}
# Kinds that name one company's board: an embedded one on a careers page is that company's.
ATS_KINDS = frozenset(BOARD_NAMES) - {"remoteok", "rss", "jsonld"}
_FEED_PATH = re.compile(
    r"(\.rss|\.atom|/feed/?|/rss/?|/atom/?|[/.-]feed\.xml|[/.-]rss\.xml)$", re.I
)
_SITEMAP_PATH = re.compile(r"sitemap[^/]*\.xml(\.gz)?$", re.I)
_URL_IN_PAGE = re.compile(r"""(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}[^\s"'<>\\)]*""", re.I)
_NAME_CHARS = re.compile(r"[^a-z0-9_-]+")
_SUBDOMAIN_BOARDS = {
    # host suffix → kind, for `<company>.<suffix>` boards; the first label is the company.
    ".recruitee.com": "recruitee",
    ".teamtailor.com": "teamtailor",
    ".bamboohr.com": "bamboohr",
    ".breezy.hr": "breezy",
}
_NOT_COMPANIES = frozenset({"www", "app", "api", "help", "support", "blog", "jobs", "careers"})
HTML_TEMPLATE = """[[sources]]
name = "{name}"
kind = "html"
url = "{url}"
item = "li.job"          # CSS selector of one posting on the page
title = "h3"             # inside an item: the title
link = "a"               # inside an item: the link to the posting
location = ".location"   # optional: location, company, date, description
"""


@dataclass(frozen=True)
class Guess:
    """A board placed: the `kind`, the `url` to configure, kind `options`, a suggested
    source `name`, and who the board belongs to (`owner`, for the preview line)."""

    kind: str
    url: str
    name: str
    owner: str
    options: Mapping[str, Any] = field(default_factory=dict)
    sitemap: bool = False  # a `jsonld` source read through a sitemap (not a listing page)

    @property
    def label(self) -> str:
        """ "Workday board of nvidia", "RSS/Atom feed weworkremotely.com"."""
        what = BOARD_NAMES.get(self.kind, self.kind)
        if self.kind == "rss":
            return f"{what} feed {self.owner}"
        if self.kind == "jsonld":
            return f"{what} job pages on {self.owner}"
        return f"{what} board of {self.owner}"


def source_name(text: str) -> str:
    """A valid source name (`[a-z0-9_-]`, at most 40) made from a company or host."""
    name = _NAME_CHARS.sub("-", text.lower()).strip("-_")[:40].strip("-_")
    return name or "board"


def _guess(kind: str, url: str, owner: str, **options: Any) -> Guess:
    return Guess(kind, url, source_name(owner), owner, options)


def recognise(url: str) -> Guess | None:
    """The board a URL names by its host and path alone; None when they say nothing.

    Known ATS hosts: Lever (`jobs[.eu].lever.co`, `api.lever.co`), Greenhouse
    (`boards.greenhouse.io`, `job-boards[.eu].greenhouse.io`, `boards-api.greenhouse.io`,
    embeds), Ashby, Workable, SmartRecruiters, Recruitee, Workday (`*.myworkdayjobs.com`,
    `*.myworkdaysite.com`), Personio, Teamtailor, BambooHR, Breezy, RemoteOK, We Work Remotely;
    then any path that looks like a feed (`.rss`, `/feed`) or a sitemap (`sitemap*.xml`).
    """
    url = url.strip()
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host:
        return None
    try:
        return _by_host(url, host, parts.path)
    except ParseError:  # a known host whose path names no board (`jobs.lever.co/`)
        return None


def _by_host(url: str, host: str, path: str) -> Guess | None:
    segments = [part for part in path.split("/") if part]
    if host.endswith("lever.co"):
        site = lever.site_of(url)
        board_host = "jobs.eu.lever.co" if ".eu." in host else "jobs.lever.co"
        return _guess("lever", f"https://{board_host}/{site}", site)
    if host.endswith("greenhouse.io"):
        token = greenhouse.token_of(url)
        return _guess(
            "greenhouse", f"https://boards-api.greenhouse.io/v1/boards/{token}/jobs", token
        )
    if host.endswith("ashbyhq.com"):
        name = ashby.board_of(url)
        return _guess("ashby", f"https://jobs.ashbyhq.com/{name}", name)
    if host == "apply.workable.com" or host.endswith(".workable.com"):
        return _workable(host, segments)
    if host.endswith("smartrecruiters.com"):
        return _smartrecruiters(host, segments)
    if host.endswith((".myworkdayjobs.com", ".myworkdaysite.com")):
        wd = workday.board_of(url)
        return _guess("workday", wd.origin + wd.public_prefix, wd.tenant)
    if re.fullmatch(r"[a-z0-9-]+\.jobs\.personio\.(de|com)", host):
        company = host.split(".")[0]
        return _guess("personio", f"https://{host}/xml", company)
    return _subdomain_board(host) or _remote_board(url, host, segments) or _by_path(url, host, path)


def _remote_board(url: str, host: str, segments: list[str]) -> Guess | None:
    """RemoteOK's API, or a We Work Remotely feed."""
    if host in ("remoteok.com", "www.remoteok.com", "remoteok.io"):
        return _guess("remoteok", "https://remoteok.com/api", "remoteok")
    if host.endswith("weworkremotely.com"):
        return _wwr(url, segments)
    return None


def _workable(host: str, segments: list[str]) -> Guess | None:
    """Workable: the account from `<account>.workable.com` or `apply.workable.com/<account>`."""
    if host != "apply.workable.com" and host.split(".")[0] not in _NOT_COMPANIES:
        account = host.split(".")[0]
    elif "accounts" in segments and segments.index("accounts") + 1 < len(segments):
        account = segments[segments.index("accounts") + 1]
    elif segments and segments[0] not in ("j", "api"):
        account = segments[0]
    else:
        return None
    return _guess("workable", f"https://apply.workable.com/{account}/", account)


def _smartrecruiters(host: str, segments: list[str]) -> Guess | None:
    """SmartRecruiters: the company after `/companies/` (API) or first in the path (board)."""
    if "companies" in segments and segments.index("companies") + 1 < len(segments):
        company = segments[segments.index("companies") + 1]
    elif segments and host != "api.smartrecruiters.com":
        company = segments[0]
    else:
        return None
    return _guess("smartrecruiters", f"https://jobs.smartrecruiters.com/{company}", company)


def _subdomain_board(host: str) -> Guess | None:
    """A board whose company is the host's first label (Teamtailor, BambooHR, Breezy, ...)."""
    for suffix, kind in _SUBDOMAIN_BOARDS.items():
        company = host.split(".")[0]
        if host.endswith(suffix) and company not in _NOT_COMPANIES:
            root = f"https://{host}"
            where = {"teamtailor": "/jobs", "bamboohr": "/careers", "recruitee": "/"}.get(kind, "")
            return _guess(kind, root + where, company)
    return None


def _by_path(url: str, host: str, path: str) -> Guess | None:
    """Any host: a path that looks like a feed (`.rss`, `/feed`) or a sitemap."""
    if _FEED_PATH.search(path) or "feed=" in urlsplit(url).query:
        return _guess("rss", url, host.removeprefix("www."))
    if _SITEMAP_PATH.search(path):
        return replace(_guess("jsonld", url, host.removeprefix("www.")), sitemap=True)
    return None


def _wwr(url: str, segments: list[str]) -> Guess:
    """We Work Remotely: its feeds as they are, a category page → that category's feed."""
    if url.split("?")[0].endswith(".rss"):
        feed = url
    elif len(segments) >= 2 and segments[0] == "categories":
        feed = f"https://weworkremotely.com/categories/{segments[1]}.rss"
    else:
        feed = "https://weworkremotely.com/remote-jobs.rss"
    stem = feed.rsplit("/", 1)[1].removesuffix(".rss")
    return Guess("rss", feed, source_name(f"wwr-{stem}"), "weworkremotely.com")


def from_page(url: str, text: str) -> Guess | None:
    """The board a fetched page leads to: a feed or sitemap body, its own JobPosting JSON-LD,
    an embedded known ATS, or a feed `<link rel="alternate">`; None when it shows none."""
    head = text.lstrip("\ufeff \t\r\n")[:512].lower()
    host = (urlsplit(url).hostname or "").lower().removeprefix("www.")
    if head.startswith("<?xml") or head.startswith(("<rss", "<feed", "<urlset", "<sitemapindex")):
        if "<urlset" in head or "<sitemapindex" in head:
            return replace(_guess("jsonld", url, host), sitemap=True)
        if "<rss" in head or "<feed" in head:
            return _guess("rss", url, host)
    # A page's own JobPosting JSON-LD first: an aggregator's job page also links to the
    # employer's ATS, but the user pasted the aggregator.
    if jsonld.parse_job_page(text, url=url):
        return _guess("jsonld", url, host)
    embedded = embedded_board(text, base_url=url)
    if embedded is not None:
        return embedded
    tree = LexborHTMLParser(text)
    for node in tree.css('link[rel~="alternate"][href]'):
        kind = (node.attributes.get("type") or "").lower()
        if "rss" in kind or "atom" in kind:
            feed = urljoin(url, node.attributes.get("href") or "")
            return _guess("rss", feed, host)
    return None


def embedded_board(text: str, *, base_url: str) -> Guess | None:
    """The first known ATS board a page links to, frames or loads a script from."""
    for candidate in _urls_in(htmllib.unescape(text), base_url):
        guess = recognise(candidate)
        if guess is not None and guess.kind in ATS_KINDS:
            return guess
    return None


def _urls_in(text: str, base_url: str) -> Iterable[str]:
    scheme = urlsplit(base_url).scheme or "https"
    for found in _URL_IN_PAGE.finditer(text):
        link = found.group(0)
        yield f"{scheme}:{link}" if link.startswith("//") else link


# -- fetch and preview ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Preview:
    """What a placed board holds now: its postings (as the kind read them) and any warnings;
    for a `jsonld` source, `job_pages` is how many job pages its sitemap or listing names (their
    postings are read on the first run, not by the preview)."""

    guess: Guess
    postings: tuple[Posting, ...]
    warnings: tuple[str, ...] = ()
    job_pages: int = 0

    def line(self) -> str:
        """ "Workday board of nvidia: 312 postings, newest: Senior Engineer (2026-07-07)";
        "JSON-LD job pages on example.com: sitemap lists 3 job pages; their postings are read
        on the first run"."""
        if self.guess.kind == "jsonld" and not self.postings:
            where = "sitemap lists" if self.guess.sitemap else "page links to"
            pages = counted(self.job_pages, "job page")
            return f"{self.guess.label}: {where} {pages}; their postings are read on the first run"
        text = f"{self.guess.label}: {counted(len(self.postings), 'posting')}"
        dated = [(p.posted_at, p.title) for p in self.postings if p.posted_at is not None]
        if dated:
            when, title = max(dated, key=lambda pair: pair[0])
            return f"{text}, newest: {title} ({when:%Y-%m-%d})"
        if self.postings:
            return f"{text}, first: {self.postings[0].title}"
        return text


@dataclass(frozen=True)
class AlreadyConfigured:
    """The URL names a board a configured source already reads; the config is left alone."""

    url: str
    source: SourceSettings

    def message(self) -> str:
        return (
            f"{self.url} is already configured as source {self.source.name!r} "
            f"(kind {self.source.kind}, {self.source.url}); the config is unchanged."
        )


def configured_as(settings: Settings, url: str, guess: Guess | None) -> SourceSettings | None:
    """The configured source that reads the board `url` (placed as `guess`) names: the same
    canonical URL, or the same kind and board as its own URL places to; None when none does."""
    wanted = {canonical_url(url)} | ({canonical_url(guess.url)} if guess else set())
    for source in settings.sources:
        if canonical_url(source.url) in wanted:
            return source
        if guess is None:
            continue
        placed = recognise(source.url)
        if (
            placed is not None
            and placed.kind == guess.kind
            and canonical_url(placed.url) == canonical_url(guess.url)
        ):
            return source
    return None


@dataclass(frozen=True)
class NotPlaced:
    """A URL no rule placed: what was tried, and an `html` source template to start from."""

    url: str
    tried: tuple[str, ...]

    def message(self) -> str:
        kinds = ", ".join(sorted({BOARD_NAMES[k] for k in ATS_KINDS}))
        lines = [f"Could not tell which job board {self.url} is. Tried:"]
        lines.append(f"  - its address against the known boards ({kinds}, RemoteOK, feeds)")
        lines.extend(f"  - {step}" for step in self.tried)
        host = (urlsplit(self.url).hostname or "board").removeprefix("www.")
        lines.append("Describe the page with CSS selectors instead (an `html` source), e.g.:\n")
        lines.append(HTML_TEMPLATE.format(name=source_name(host.split(".")[0]), url=self.url))
        return "\n".join(lines)


async def discover(fetcher: Fetcher, url: str) -> Preview | NotPlaced:
    """Place `url` (by address, else by fetching the page once) and preview the board.

    A single job page with its own JSON-LD (and no known ATS) is placed on its site's sitemap
    (`site_sitemap`): a `jsonld` source on that one page would never store anything.
    Raises FetchError or ParseError when the placed board cannot be read.
    """
    guess = recognise(url)
    tried: list[str] = []
    if guess is None:
        try:
            page = await fetcher.get(url, source="add")
        except FetchError as exc:
            return NotPlaced(url, (f"fetching the page: {exc.detail}",))
        guess = from_page(page.url, page.text)
        if guess is None:
            tried.append(
                "the page: no embedded known board, no schema.org JobPosting JSON-LD, "
                "no RSS/Atom link, and it is not a feed or a sitemap"
            )
            return NotPlaced(url, tuple(tried))
        if guess.kind == "jsonld" and not guess.sitemap and _one_job_page(page.url, page.text):
            found = await site_sitemap(fetcher, guess, page.url)
            if found is None:
                host = urlsplit(page.url).hostname or page.url
                return NotPlaced(
                    url,
                    (
                        "the page: one job posting in JSON-LD, which a source cannot follow alone; "
                        f"no sitemap of {host} (robots.txt `Sitemap:`, /sitemap.xml, "
                        f"/sitemap_index.xml) lists job pages like it",
                    ),
                )
            return found
    return await preview(fetcher, guess)


def _one_job_page(url: str, text: str) -> bool:
    """The page's JSON-LD describes the page itself only (what `jsonld` collect drops)."""
    return all(posting.url == url for posting in jsonld.parse_job_page(text, url=url))


def job_page_pattern(url: str) -> str | None:
    """A `pattern` for a site's job pages from one of them: its path without the last segment
    ("/job/" for "/job/rust-dev-123", "/careers/jobs/" for "/careers/jobs/42/"); None when the
    page sits at the site's root (the `jsonld` kind's default pattern is used then)."""
    segments = [part for part in urlsplit(url).path.split("/") if part]
    if len(segments) < 2:
        return None
    return re.escape("/" + "/".join(segments[:-1]) + "/")


async def site_sitemap(fetcher: Fetcher, page: Guess, page_url: str) -> Preview | None:
    """The first sitemap of the job page's site that lists job pages like it, previewed as a
    `jsonld` source with a `pattern` from the page's path; None when none does.

    Sitemaps are looked for as crawlers do: robots.txt `Sitemap:` lines
    (https://www.sitemaps.org/protocol.html#submit_robots), then `/sitemap.xml` and
    `/sitemap_index.xml` at the site's root.
    """
    root = f"{urlsplit(page_url).scheme}://{urlsplit(page_url).netloc}"
    candidates: list[str] = []
    try:
        robots = await fetcher.get(f"{root}/robots.txt", source="add", robots=False)
        candidates += _robots_sitemaps(robots.text, root)
    except FetchError:
        pass  # no robots.txt: the usual places only
    candidates += [f"{root}/sitemap.xml", f"{root}/sitemap_index.xml"]
    pattern = job_page_pattern(page_url)
    options = {"pattern": pattern} if pattern else {}
    for candidate in dict.fromkeys(candidates):
        guess = replace(page, url=candidate, options=options, sitemap=True)
        try:
            found = await preview(fetcher, guess)
        except (FetchError, ParseError):
            continue
        if found.job_pages:
            return found
    return None


def _robots_sitemaps(text: str, root: str) -> list[str]:
    """The `Sitemap:` URLs of a robots.txt (the field name is case-insensitive)."""
    found = []
    for line in text.splitlines():
        name, colon, value = line.partition(":")
        if colon and name.strip().lower() == "sitemap" and value.strip():
            found.append(urljoin(root + "/", value.strip()))
    return found


async def preview(fetcher: Fetcher, guess: Guess) -> Preview:
    """Run the guessed kind once against the board (list only); errors propagate."""
    source = SourceSettings(
        name=guess.name,
        kind=guess.kind,
        url=guess.url,
        schedule=parse_schedule("1h"),
        options=dict(guess.options),
    )
    listed: dict[str, None] = {}

    def all_stored(urls: Iterable[str], identity: Identity) -> set[str]:
        # The preview reads each board's list only: no posting detail, no job page is fetched;
        # the job pages a `jsonld` source would read are counted instead.
        for url in urls:
            listed.setdefault(url, None)
        return set(listed)

    context = SourceContext(fetcher=fetcher, known_urls=all_stored)
    try:
        result = await KINDS[guess.kind].collect(context, source)
    except FetchError as exc:
        detail = f"{guess.label} ({guess.kind} at {guess.url}): {exc.detail}"
        raise FetchError(
            detail, source=exc.source, url=exc.url, status=exc.status, retryable=exc.retryable
        ) from None
    except ParseError as exc:
        detail = f"{guess.label} ({guess.kind} at {guess.url}): {exc.detail}"
        raise ParseError(detail, source=exc.source, url=exc.url) from None
    return Preview(guess, result.postings, result.warnings, job_pages=len(listed))


# -- the config file ------------------------------------------------------------------------------


def entry_for(
    guess: Guess, settings: Settings, *, name: str | None = None, schedule: str | None = None
) -> dict[str, Any]:
    """The `[[sources]]` table for a guess: its name made unique unless one is given."""
    taken = {source.name for source in settings.sources}
    chosen = name or guess.name
    if name is None:
        base, n = chosen, 2
        while chosen in taken:
            chosen = f"{base[:37]}-{n}"
            n += 1
    entry: dict[str, Any] = {"name": chosen, "kind": guess.kind, "url": guess.url}
    if schedule:
        entry["schedule"] = schedule
    entry.update(guess.options)
    return entry


def append_source(path: Path, entry: Mapping[str, Any]) -> Settings:
    """Append `entry` as a `[[sources]]` table to the config at `path`, keeping its comments
    and layout, after validating the whole result as start-up does.

    Returns the new settings; raises ConfigError (naming the key) and leaves the file alone
    when the entry makes the config invalid (a duplicate name, a bad schedule, …).
    """
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if text.strip():
        text = text.rstrip() + "\n\n"  # a blank line between the last table and the new one
    document = tomlkit.parse(text)
    table = tomlkit.table()
    for key, value in entry.items():
        table[key] = value
    sources = document.get("sources")
    if sources is None:
        array = tomlkit.aot()
        array.append(table)
        document.append("sources", array)
    else:
        sources.append(table)
    updated = tomlkit.dumps(document)
    if not updated.endswith("\n"):
        updated += "\n"
    settings = parse_settings(tomllib.loads(updated), path=path, kinds=KINDS, env=os.environ)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(updated)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return settings


# -- the whole `add` -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Added:
    """A board placed, previewed and appended to the config file as `entry`."""

    preview: Preview
    entry: Mapping[str, Any]
    settings: Settings

    def message(self) -> str:
        return (
            f"{self.preview.line()}\n"
            f"Added [[sources]] {self.entry['name']!r} (kind {self.entry['kind']}, "
            f"{self.entry['url']}) to {self.settings.path}."
        )


async def add_source(
    settings: Settings,
    url: str,
    *,
    name: str | None = None,
    schedule: str | None = None,
    fetcher: Fetcher | None = None,
) -> Added | NotPlaced | AlreadyConfigured:
    """Place `url`, preview the board through the normal Fetcher (one built from
    `settings.fetch` unless given), and append its entry to `settings.path`.

    A board a configured source already reads is `AlreadyConfigured` (nothing is fetched when
    its address alone says so). Raises FetchError or ParseError when the placed board cannot be
    read, ConfigError when the entry would make the config invalid (the file is then left as
    it was).
    """
    same = configured_as(settings, url, recognise(url))
    if same is not None:
        return AlreadyConfigured(url, same)
    if fetcher is None:
        from bot.fetch import Fetcher, OriginPolicy, make_client

        # The URL an operator (or an admin, by `/addsource`) gives is configured by them, like
        # the sources' own: its origin may be fetched; what the page links to is checked as usual.
        policy = OriginPolicy.of([*(source.url for source in settings.sources), url])
        async with make_client(settings.fetch, policy) as client:
            fetcher = Fetcher(settings.fetch, client, policy=policy)
            return await add_source(settings, url, name=name, schedule=schedule, fetcher=fetcher)
    found = await discover(fetcher, url)
    if isinstance(found, NotPlaced):
        return found
    same = configured_as(settings, url, found.guess)
    if same is not None:
        return AlreadyConfigured(url, same)
    entry = entry_for(found.guess, settings, name=name, schedule=schedule)
    return Added(found, entry, append_source(settings.path, entry))
