"""The polite HTTP fetcher every web source kind shares.

One `httpx.AsyncClient` (built by `make_client`, owned by the caller) is wrapped with what a
careful crawler does: per-host concurrency and spacing, a global cap, robots.txt, retries with
backoff on what can succeed on retry, conditional GET, a streamed size cap, and charset
decoding as browsers do it. Every failure is a `FetchError` naming the source and the URL.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import email.utils
import json
import logging
import random
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urljoin, urlsplit

import charset_normalizer
import httpx
from protego import Protego

from bot.config import FetchSettings
from bot.errors import FetchError, ParseError

log = logging.getLogger(__name__)

ROBOTS_TOKEN = "jobhound"  # the product token robots.txt groups are matched against
ROBOTS_TTL = 24 * 3600.0  # RFC 9309: a cached robots.txt should not be used for more than a day
ROBOTS_MAX_BYTES = 512 * 1024  # RFC 9309: parse at least 500 KiB, ignore the rest
MAX_CRAWL_DELAY = 60.0  # a robots.txt Crawl-delay above this is capped, not obeyed
MAX_RETRY_AFTER = 300.0  # waiting longer than this for a board is giving up on it this run
REDIRECTS = frozenset({301, 302, 303, 307, 308})
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_:.\-]+)""", re.I)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]+encoding\s*=\s*["']([a-zA-Z0-9_.\-]+)["']""")
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]


class ValidatorStore(Protocol):
    """Where the ETag/Last-Modified of each URL are kept between runs (the SQLite store)."""

    def get_validators(self, url: str) -> tuple[str | None, str | None] | None: ...

    def put_validators(self, url: str, etag: str | None, last_modified: str | None) -> None: ...


@dataclass(frozen=True, slots=True)
class FetchResult:
    """One answer: the final URL, status, headers, raw bytes and the text decoded from them."""

    url: str
    status: int
    headers: httpx.Headers
    content: bytes = b""
    text: str = ""
    encoding: str = ""
    # A 304 to a conditional GET: nothing changed since the validators were stored.
    not_modified: bool = False
    # The URL that was asked for (validators are stored under it, not the redirect target).
    requested_url: str = ""
    etag: str | None = None
    last_modified: str | None = None

    def json(self, *, source: str = "") -> Any:
        """The body as JSON; ParseError (naming the source and URL) when it is not."""
        try:
            return json.loads(self.text)
        except ValueError as exc:
            raise ParseError(
                f"invalid JSON ({exc.__class__.__name__}: {exc})", source=source, url=self.url
            ) from None


def user_agent(settings: FetchSettings) -> str:
    """`jobhound/0.1 (+https://contact)`: boards can see who we are and how to reach us."""
    return f"{settings.user_agent} (+{settings.contact_url})"


def make_client(settings: FetchSettings) -> httpx.AsyncClient:
    """The one AsyncClient of the process: timeouts, pool limits, headers; redirects by hand."""
    timeout = httpx.Timeout(
        connect=settings.connect_timeout,
        read=settings.read_timeout,
        write=settings.read_timeout,
        pool=settings.total_timeout,
    )
    limits = httpx.Limits(
        max_connections=settings.global_concurrency,
        max_keepalive_connections=settings.global_concurrency,
        keepalive_expiry=30.0,
    )
    headers = {
        "User-Agent": user_agent(settings),
        "Accept": "application/json, text/html, application/xhtml+xml, application/xml;q=0.9, "
        "*/*;q=0.8",
        "Accept-Encoding": "gzip, deflate, br",
    }
    # The Fetcher follows redirects itself (at most settings.max_redirects) so that each hop
    # is checked against robots.txt and the politeness of its own host.
    return httpx.AsyncClient(
        timeout=timeout,
        limits=limits,
        headers=headers,
        follow_redirects=False,
        max_redirects=settings.max_redirects,
        trust_env=False,
    )


@dataclass
class _Host:
    slots: asyncio.Semaphore
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    next_start: float = 0.0
    delay: float = 0.0


@dataclass
class _Robots:
    parser: Protego | None  # None: everything is allowed (no robots.txt, or a 4xx)
    fetched_at: float


@dataclass
class FetchStats:
    """Counters for logs and benchmarks."""

    requests: int = 0
    not_modified: int = 0
    bytes_received: int = 0
    retries: int = 0


class Fetcher:
    """GET and POST with per-host politeness, robots.txt, retries and conditional GET."""

    def __init__(
        self,
        settings: FetchSettings,
        client: httpx.AsyncClient,
        validators: ValidatorStore | None = None,
        *,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = time.monotonic,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.settings = settings
        self.client = client
        self.validators = validators
        self.sleep = sleep
        self.clock = clock
        self.rng = rng
        self.stats = FetchStats()
        self._hosts: dict[str, _Host] = {}
        self._robots: dict[str, _Robots] = {}
        self._robots_locks: dict[str, asyncio.Lock] = {}
        self._global = asyncio.Semaphore(settings.global_concurrency)

    async def get(
        self,
        url: str,
        *,
        source: str = "",
        robots: bool = True,
        conditional: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> FetchResult:
        """GET `url`; with `conditional`, a stored ETag/Last-Modified may earn a 304."""
        return await self.fetch(
            "GET", url, source=source, robots=robots, conditional=conditional, headers=headers
        )

    async def post_json(
        self,
        url: str,
        payload: Any,
        *,
        source: str = "",
        robots: bool = True,
        headers: Mapping[str, str] | None = None,
    ) -> FetchResult:
        """POST a JSON body (Workable's list endpoint wants one)."""
        return await self.fetch(
            "POST", url, source=source, robots=robots, json_body=payload, headers=headers
        )

    def remember(self, result: FetchResult) -> None:
        """Store the validators of an answer once it was parsed, for the next conditional GET.

        Called by the source after parsing, so that a body we failed to read is fetched in
        full again next time rather than answered with a 304.
        """
        if self.validators is None or result.not_modified:
            return
        self.validators.put_validators(
            result.requested_url or result.url, result.etag, result.last_modified
        )

    async def fetch(
        self,
        method: str,
        url: str,
        *,
        source: str = "",
        robots: bool = True,
        conditional: bool = False,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> FetchResult:
        """One request, redirects followed by hand; FetchError on every failure."""
        extra: dict[str, str] = dict(headers or {})
        if conditional and self.validators is not None and method == "GET":
            stored = self.validators.get_validators(url)
            if stored:
                etag, modified = stored
                if etag:
                    extra["If-None-Match"] = etag
                if modified:
                    extra["If-Modified-Since"] = modified
        current = url
        body = json_body
        for _hop in range(self.settings.max_redirects + 1):
            _check_url(current, source)
            if robots:
                await self._check_robots(current, source)
            response, content = await self._attempts(method, current, source, extra, body)
            if response.status_code in REDIRECTS:
                location = response.headers.get("location")
                if not location:
                    raise FetchError(
                        f"HTTP {response.status_code} redirect without a Location header",
                        source=source,
                        url=current,
                        status=response.status_code,
                    )
                current = urljoin(current, location)
                if response.status_code in (301, 302, 303) and method == "POST":
                    method, body = "GET", None  # what browsers do
                # Validators belong to the first URL; never send them on to another one.
                extra.pop("If-None-Match", None)
                extra.pop("If-Modified-Since", None)
                continue
            return self._result(url, current, response, content, source)
        raise FetchError(
            f"more than {self.settings.max_redirects} redirects (a redirect loop?)",
            source=source,
            url=url,
        )

    def _result(
        self, requested: str, final: str, response: httpx.Response, content: bytes, source: str
    ) -> FetchResult:
        status = response.status_code
        if status == 304:
            self.stats.not_modified += 1
            return FetchResult(
                url=final,
                status=status,
                headers=response.headers,
                not_modified=True,
                requested_url=requested,
            )
        if status >= 400:
            what = "board not found" if status in (404, 410) else "refused"
            raise FetchError(
                f"HTTP {status} ({what})",
                source=source,
                url=final,
                status=status,
                retryable=status == 429 or status >= 500,
            )
        if not 200 <= status < 300:
            raise FetchError(f"unexpected HTTP {status}", source=source, url=final, status=status)
        text, encoding = decode_body(content, response.headers.get("content-type", ""))
        return FetchResult(
            url=final,
            status=status,
            headers=response.headers,
            content=content,
            text=text,
            encoding=encoding,
            requested_url=requested,
            etag=response.headers.get("etag"),
            last_modified=response.headers.get("last-modified"),
        )

    async def _attempts(
        self,
        method: str,
        url: str,
        source: str,
        headers: Mapping[str, str],
        body: Any,
    ) -> tuple[httpx.Response, bytes]:
        """The request with retries: transport errors, timeouts, 429 and 5xx; not other 4xx."""
        attempts = self.settings.retries + 1
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                response, content = await self._polite_request(method, url, source, headers, body)
            except FetchError as exc:
                if not exc.retryable or last:
                    raise
                wait = self._backoff(attempt)
                log.info("%s: %s; retry %d in %.1fs", source, exc.detail, attempt + 1, wait)
            else:
                status = response.status_code
                if not (status == 429 or status >= 500) or last:
                    return response, content
                wait = self._backoff(attempt)
                retry_after = parse_retry_after(response.headers.get("retry-after"))
                if retry_after is not None:
                    if retry_after > MAX_RETRY_AFTER:
                        raise FetchError(
                            f"HTTP {status}; Retry-After {retry_after:.0f}s is too long to wait",
                            source=source,
                            url=url,
                            status=status,
                            retryable=True,
                        )
                    wait = max(wait, retry_after)
                log.info("%s: HTTP %d from %s; retry in %.1fs", source, status, url, wait)
            self.stats.retries += 1
            await self.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with "equal jitter": half fixed, half random."""
        base = self.settings.backoff * (2**attempt)
        return float(base / 2 + self.rng() * base / 2)

    async def _polite_request(
        self,
        method: str,
        url: str,
        source: str,
        headers: Mapping[str, str],
        body: Any,
    ) -> tuple[httpx.Response, bytes]:
        async with self._turn(url):
            return await self._request(method, url, source, headers, body)

    @contextlib.asynccontextmanager
    async def _turn(self, url: str) -> AsyncIterator[None]:
        """Wait for a slot of the URL's host, its spacing since the last start, then a global
        slot (taken last, so a host that makes us wait does not hold one meanwhile)."""
        host = self._host(url)
        async with host.slots:
            async with host.lock:  # reserve the next start time of this host
                wait = host.next_start - self.clock()
                if wait > 0:
                    await self.sleep(wait)
                host.next_start = self.clock() + max(self.settings.host_delay, host.delay)
            async with self._global:
                yield

    async def _request(
        self,
        method: str,
        url: str,
        source: str,
        headers: Mapping[str, str],
        body: Any,
        max_bytes: int | None = None,
    ) -> tuple[httpx.Response, bytes]:
        cap = self.settings.max_bytes if max_bytes is None else max_bytes
        self.stats.requests += 1
        try:
            async with asyncio.timeout(self.settings.total_timeout):
                request = self.client.build_request(
                    method, url, headers=headers, json=body if method == "POST" else None
                )
                response = await self.client.send(request, stream=True)
                try:
                    content = await _read_capped(response, cap, source, url)
                finally:
                    await response.aclose()
        except TimeoutError:
            raise FetchError(
                f"no complete answer within {self.settings.total_timeout:g}s",
                source=source,
                url=url,
                retryable=True,
            ) from None
        except httpx.TimeoutException as exc:
            raise FetchError(
                f"timed out ({exc.__class__.__name__})", source=source, url=url, retryable=True
            ) from None
        except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            raise FetchError(
                f"network error ({exc.__class__.__name__}: {exc})",
                source=source,
                url=url,
                retryable=True,
            ) from None
        except httpx.HTTPError as exc:
            raise FetchError(
                f"HTTP error ({exc.__class__.__name__}: {exc})", source=source, url=url
            ) from None
        self.stats.bytes_received += len(content)
        log.debug("%s %s → %d (%d bytes)", method, url, response.status_code, len(content))
        return response, content

    def _host(self, url: str) -> _Host:
        key = _origin(url)
        host = self._hosts.get(key)
        if host is None:
            host = self._hosts[key] = _Host(asyncio.Semaphore(self.settings.per_host_concurrency))
        return host

    async def _check_robots(self, url: str, source: str) -> None:
        key = _origin(url)
        lock = self._robots_locks.setdefault(key, asyncio.Lock())
        async with lock:  # one robots.txt fetch per host, however many sources wait on it
            cached = self._robots.get(key)
            if cached is None or self.clock() - cached.fetched_at > ROBOTS_TTL:
                cached = self._robots[key] = await self._load_robots(key, source)
        if cached.parser is not None and not cached.parser.can_fetch(url, ROBOTS_TOKEN):
            raise FetchError(
                "disallowed by robots.txt (set robots = false for a board whose API is meant "
                "to be read)",
                source=source,
                url=url,
            )

    async def _load_robots(self, origin: str, source: str) -> _Robots:
        robots_url = f"{origin}/robots.txt"
        response: httpx.Response | None = None
        content = b""
        for _hop in range(self.settings.max_redirects + 1):
            async with self._turn(robots_url):
                try:
                    response, content = await self._request(
                        "GET", robots_url, source, {}, None, max_bytes=ROBOTS_MAX_BYTES
                    )
                except FetchError as exc:
                    if "larger than" in exc.detail:
                        break  # an oversized robots.txt: treat as none
                    raise FetchError(
                        f"robots.txt unreachable ({exc.detail}); not crawling this host",
                        source=source,
                        url=robots_url,
                        retryable=True,
                    ) from None
            if response.status_code in REDIRECTS and response.headers.get("location"):
                robots_url = urljoin(robots_url, response.headers["location"])
                continue
            break
        now = self.clock()
        if response is None or 400 <= response.status_code < 500:
            return _Robots(None, now)  # RFC 9309: an unavailable robots.txt allows everything
        if response.status_code >= 500 or response.status_code in REDIRECTS:
            raise FetchError(
                f"robots.txt answered HTTP {response.status_code}; not crawling this host",
                source=source,
                url=robots_url,
                status=response.status_code,
                retryable=True,
            )
        text, _ = decode_body(content, response.headers.get("content-type", ""))
        try:
            parser = Protego.parse(text)
        except Exception:  # a garbled robots.txt: protego is lenient, but never let it stop us
            log.warning("%s: could not parse %s; treating it as absent", source, robots_url)
            return _Robots(None, now)
        delay = parser.crawl_delay(ROBOTS_TOKEN)
        if delay:
            self._host(origin).delay = min(float(delay), MAX_CRAWL_DELAY)
        return _Robots(parser, now)


async def _read_capped(response: httpx.Response, cap: int, source: str, url: str) -> bytes:
    """The (decompressed) body, abandoned as soon as it passes `cap` bytes."""
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > cap:
        raise FetchError(
            f"answer is larger than {cap} bytes (Content-Length {declared})",
            source=source,
            url=url,
            status=response.status_code,
        )
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > cap:
            raise FetchError(
                f"answer is larger than {cap} bytes; abandoned",
                source=source,
                url=url,
                status=response.status_code,
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _check_url(url: str, source: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchError("not an http(s) URL", source=source, url=url)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    with contextlib.suppress(TypeError, ValueError, IndexError):
        when = email.utils.parsedate_to_datetime(value)
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
    return None


def _codec(name: str | None) -> str | None:
    if not name:
        return None
    try:
        return codecs.lookup(name.strip().strip("\"'")).name
    except LookupError:
        return None


def declared_charset(content_type: str) -> str | None:
    """The codec named by a Content-Type header's charset parameter, if Python knows it."""
    for param in content_type.split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            return _codec(value)
    return None


def decode_body(content: bytes, content_type: str = "") -> tuple[str, str]:
    """Decode as browsers do: BOM, then the header charset, then `<meta>`/XML declaration,
    then detection. A declared charset the bytes contradict is not trusted."""
    if not content:
        return "", "utf-8"
    for bom, name in _BOMS:
        if content.startswith(bom):
            return content.decode(name, errors="replace"), name
    head = content[:4096]
    candidates = [declared_charset(content_type)]
    if match := _XML_ENCODING.match(head):
        candidates.append(_codec(match.group(1).decode("ascii")))
    if match := _META_CHARSET.search(head):
        candidates.append(_codec(match.group(1).decode("ascii")))
    for label in candidates:
        if label is None:
            continue
        if label in ("ascii", "iso8859-1"):
            label = "cp1252"  # browsers read both labels as windows-1252
        try:
            return content.decode(label), label
        except UnicodeDecodeError:
            continue  # a wrong label: fall through to detection, as the bytes say otherwise
    try:
        return content.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    best = charset_normalizer.from_bytes(content[:65536]).best()
    detected = (_codec(best.encoding) if best is not None else None) or "cp1252"
    return content.decode(detected, errors="replace"), detected
