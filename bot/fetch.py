"""The polite HTTP fetcher every web source kind shares.

One `httpx.AsyncClient` (built by `make_client`, owned by the caller) is wrapped with what a
careful crawler does: per-host concurrency and spacing, a global cap, robots.txt, retries with
backoff on what can succeed on retry, conditional GET, a streamed size cap counted on decoded
bytes, and charset decoding as browsers do it. Every failure is a `FetchError` naming the
source and the URL.

Boards are untrusted: they choose the URLs fetched next (redirects, sitemap entries, "next"
links). An `OriginPolicy` refuses any target that is an internal address (loopback, private,
link-local, multicast, reserved, cloud metadata) or another port of a configured host, unless
its exact origin is one a configured source names; the client's network backend checks the
address it actually connects to, so a name that re-resolves elsewhere (DNS rebinding) cannot
slip through.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import email.utils
import ipaddress
import json
import logging
import random
import re
import socket
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urljoin, urlsplit

import brotli
import charset_normalizer
import httpcore
import httpx
import webencodings
import webencodings.labels
from protego import Protego

from bot.errors import BodyTooLarge, FetchError, ParseError, RefusedFetch, RobotsDisallowed
from bot.settings import FetchSettings

if TYPE_CHECKING:
    from bot.metrics import Metrics

log = logging.getLogger(__name__)

ROBOTS_TOKEN = "jobhound"  # the product token robots.txt groups are matched against
ROBOTS_TTL = 24 * 3600.0  # RFC 9309: a cached robots.txt should not be used for more than a day
ROBOTS_MAX_BYTES = 512 * 1024  # RFC 9309: parse at least 500 KiB, ignore the rest
MAX_CRAWL_DELAY = 60.0  # a robots.txt Crawl-delay above this is capped, not obeyed
# An HTTP error answer's first bytes, kept on its FetchError for `bot.breakage.classify`.
ERROR_BODY_BYTES = 64 * 1024
MAX_RETRY_AFTER = 300.0  # waiting longer than this for a board is giving up on it this run
REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CHARSET_ATTRIBUTE = re.compile(rb"""charset\s*=\s*["']?\s*([a-zA-Z0-9_:.\-]+)""", re.I)
MAX_META_TAG = 1024  # bytes from `<meta` to its charset: how far back a charset= looks
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]+encoding\s*=\s*["']([a-zA-Z0-9_.\-]+)["']""")
_HEAD_END = re.compile(rb"</head[\s>]|<body[\s>]", re.I)
_NON_ASCII_RUN = re.compile(rb"[\x80-\xff]+")
META_SCAN_LIMIT = 128 * 1024  # a <meta> charset is looked for in the head, within this many bytes
EXCERPT_CONTEXT = 64  # ASCII bytes kept either side of non-ASCII ones for charset detection
EXCERPT_LIMIT = 64 * 1024  # charset detection reads at most this much of those excerpts
WINDOWS_1252_ERRORS = "jobhound-windows-1252-c1"  # codecs error handler: the WHATWG C1 mapping
_SUPERSETS = {"gbk": "gb18030"}  # the WHATWG GBK decoder is gb18030's
# The Windows ("ANSI") code page of languages written in Latin script beyond windows-1252's.
LEGACY_CODE_PAGES = {
    **dict.fromkeys(
        ("Croatian", "Czech", "Hungarian", "Polish", "Romanian", "Slovak", "Slovene"), "cp1250"
    ),
    "Turkish": "cp1254",
    **dict.fromkeys(("Estonian", "Lithuanian"), "cp1257"),
    "Vietnamese": "cp1258",
}
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]
# Resolves a host name and port to IP address strings (getaddrinfo); injectable for tests.
Resolver = Callable[[str, int], Awaitable[list[str]]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_CONTENT_ENCODINGS = 2  # a transport layer over a compressed file is real; more is a bomb
DECODE_STEP = 64 * 1024  # a compressed body is inflated at most this many bytes at a time
WEB_PORTS = frozenset({80, 443})  # a configured host's http/https ports are not "another port"
# Instance metadata services: AWS/GCP/Azure (and AWS over IPv6), Alibaba Cloud.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class AddressRefused(Exception):
    """Raised inside the HTTP client by `GuardedBackend`; the Fetcher turns it into RefusedFetch."""


def internal_kind(address: str) -> str | None:
    """Why an IP address is not one a board may send us to: "loopback", "private",
    "link-local", "multicast", "unspecified", "reserved", "cloud metadata" or "non-public"
    (IANA special-purpose registries, as Python's `ipaddress` has them); None for a public one.

    IPv6 forms that carry an IPv4 address (mapped `::ffff:a.b.c.d`, 6to4, Teredo, NAT64
    `64:ff9b::/96`) are judged by that address. ValueError when `address` is not an IP.
    """
    return _internal_kind(ipaddress.ip_address(address.strip("[]").split("%", 1)[0]))


def _internal_kind(ip: IPAddress) -> str | None:
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFF_FFFF)
        if embedded is not None and (kind := _internal_kind(embedded)):
            return kind
    if ip in METADATA_ADDRESSES:
        return "cloud metadata"
    for kind, flag in (
        ("loopback", ip.is_loopback),
        ("unspecified", ip.is_unspecified),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved),
    ):
        if flag:
            return kind
    return None if ip.is_global else "non-public"


def origin_of(url: str) -> tuple[str, str, int] | None:
    """A URL's origin as (scheme, host, port): host lower-cased and IDNA-encoded as it goes on
    the wire, the default port filled in. None for a URL that is not http(s) with a host."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        return None
    if parsed.scheme not in ("http", "https") or not parsed.raw_host:
        return None
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    return parsed.scheme, parsed.raw_host.decode("ascii").lower(), port


@dataclass
class OriginPolicy:
    """Which internal or unusual origins the operator configured, and so may be fetched.

    Everything else a board leads us to (redirects, sitemap entries, links) must be a public
    address, and not another port of a configured host: a board at `https://jobs.example`
    cannot send us to `https://jobs.example:8443/admin` or to `http://10.0.0.5/`. Ports 80 and
    443 of a configured host are its web ports, not "another port" (an http→https redirect).
    """

    origins: frozenset[tuple[str, str, int]] = frozenset()

    @classmethod
    def of(cls, urls: Iterable[str]) -> OriginPolicy:
        """The policy allowing the origins of these URLs (the configured sources' `url`s;
        local paths of file-reading kinds are skipped)."""
        return cls(frozenset(o for o in map(origin_of, urls) if o is not None))

    def configure(self, urls: Iterable[str]) -> None:
        """Allow exactly the origins of `urls` from now on (a reloaded config's sources); the
        client's connection guard and the Fetcher share this object, so both see the change."""
        self.origins = OriginPolicy.of(urls).origins

    def allows_endpoint(self, host: str, port: int) -> bool:
        """Whether (host, port) is that of a configured origin: connect without address checks."""
        return any(h == host.lower() and p == port for _, h, p in self.origins)

    def refusal(self, url: str) -> str | None:
        """Why `url` is refused before any connection, or None when it may be tried (a host
        name is then checked again at connect time, on the addresses it resolves to)."""
        origin = origin_of(url)
        if origin is None:
            return "not an http(s) URL with a host"
        if origin in self.origins:
            return None
        scheme, host, port = origin
        if self.allows_endpoint(host, port):
            return f"{host}:{port} is configured for another scheme than {scheme}"
        if port not in WEB_PORTS and any(h == host for _, h, _ in self.origins):
            return f"port {port} is another port of the configured host {host}"
        try:
            kind = internal_kind(host)
        except ValueError:
            return None  # a name: judged by the address it resolves to, when connecting
        return f"{host} is a {kind} address" if kind else None


async def resolve_host(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to (getaddrinfo on the event loop's executor), in order,
    without repeats. OSError (socket.gaierror) when it does not resolve."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """An httpcore network backend that connects only to addresses the policy allows.

    A host name is resolved once, every address is checked, and the connection is opened to
    the checked address itself (TLS still verifies the name: httpcore passes it as SNI), so a
    name that resolves elsewhere the second time (DNS rebinding) cannot reach an internal
    service. The peer address of the opened socket is checked again. A name that resolves to
    any internal address is refused: public boards never do. Configured endpoints (host and
    port of a configured source) connect as usual.
    """

    def __init__(
        self,
        policy: OriginPolicy,
        resolver: Resolver = resolve_host,
        inner: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self.policy = policy
        self.resolver = resolver
        self.inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Connect to a checked address of `host`; AddressRefused for an internal one."""
        if self.policy.allows_endpoint(host, port):
            return await self.inner.connect_tcp(host, port, timeout, local_address, socket_options)
        addresses = await self._resolve(host, port, timeout)
        refused = [f"{a} ({kind})" for a in addresses if (kind := internal_kind(a))]
        if refused:
            raise AddressRefused(f"{host} resolves to {', '.join(refused)}")
        error: Exception | None = None
        for address in addresses:
            try:
                stream = await self.inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
                continue
            peer = stream.get_extra_info("server_addr")
            if isinstance(peer, tuple) and peer and (kind := internal_kind(str(peer[0]))):
                await stream.aclose()
                raise AddressRefused(f"{host} connected to {peer[0]} ({kind})")
            return stream
        raise error or httpcore.ConnectError(f"{host} resolves to no address")

    async def _resolve(self, host: str, port: int, timeout: float | None) -> list[str]:
        with contextlib.suppress(ValueError):
            return [str(ipaddress.ip_address(host))]
        try:
            async with asyncio.timeout(timeout):
                addresses = await self.resolver(host, port)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {host} took too long") from None
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host} ({exc})") from None
        if not addresses:
            raise httpcore.ConnectError(f"{host} resolves to no address")
        return addresses

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Never: a board cannot lead us to a local socket."""
        raise AddressRefused("unix sockets are never fetched")

    async def sleep(self, seconds: float) -> None:
        """The inner backend's sleep (httpcore's retry waits)."""
        await self.inner.sleep(seconds)


class _GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport whose connection pool runs on a GuardedBackend. httpx 0.28 takes
    no network backend argument yet (encode/httpx#3749), so the pool is built here, with the
    same settings the transport gives its own."""

    def __init__(self, limits: httpx.Limits, backend: GuardedBackend) -> None:
        ssl_context = httpx.create_ssl_context(trust_env=False)
        super().__init__(verify=ssl_context, limits=limits, trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=backend,
        )


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


def make_client(
    settings: FetchSettings,
    policy: OriginPolicy | None = None,
    *,
    resolver: Resolver = resolve_host,
) -> httpx.AsyncClient:
    """The one AsyncClient of the process: timeouts, pool limits, headers; redirects by hand;
    connections only to addresses `policy` allows (none internal when it is not given)."""
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
    backend = GuardedBackend(policy or OriginPolicy(), resolver)
    return httpx.AsyncClient(
        timeout=timeout,
        transport=_GuardedTransport(limits, backend),
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
    """Counters for benchmarks."""

    retries: int = 0


class Fetcher:
    """GET and POST with per-host politeness, robots.txt, retries and conditional GET.

    `policy` names the configured origins; every target (each redirect hop, robots.txt
    included) it refuses is a RefusedFetch before anything is sent. Give `make_client` the same
    policy so that host names are checked on the addresses actually connected to.
    """

    def __init__(
        self,
        settings: FetchSettings,
        client: httpx.AsyncClient,
        validators: ValidatorStore | None = None,
        *,
        policy: OriginPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = time.monotonic,
        rng: Callable[[], float] = random.random,
        metrics: Metrics | None = None,
    ) -> None:
        self.settings = settings
        # Each answer (or its absence) and each 304, by source (issue 14's /metrics).
        self.metrics = metrics
        self.client = client
        self.validators = validators
        self.policy = policy or OriginPolicy()
        self.sleep = sleep
        self.clock = clock
        self.rng = rng
        self.stats = FetchStats()
        # Per source, its last 2xx answer: status, headers and first bytes (bounded by the
        # number of sources), for `bot.breakage.classify` when that answer does not parse.
        self.last_answers: dict[str, tuple[int, dict[str, str], bytes]] = {}
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
            extra.update(_validator_headers(self.validators, url))
        current = url
        body = json_body
        for hop in range(self.settings.max_redirects + 1):
            _check_url(current, source)
            self._guard(current, source, redirected_from=url if hop else None)
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

    def _guard(self, url: str, source: str, *, redirected_from: str | None = None) -> None:
        """RefusedFetch, naming the source and the URL, when the policy refuses `url`."""
        reason = self.policy.refusal(url)
        if reason is not None:
            raise _refused(url, source, reason, redirected_from)

    def _result(
        self, requested: str, final: str, response: httpx.Response, content: bytes, source: str
    ) -> FetchResult:
        status = response.status_code
        if status == 304:
            if self.metrics is not None:
                self.metrics.not_modified(source)
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
                headers=dict(response.headers),
                body=content[:ERROR_BODY_BYTES],
            )
        if not 200 <= status < 300:
            raise FetchError(f"unexpected HTTP {status}", source=source, url=final, status=status)
        text, encoding = decode_body(content, response.headers.get("content-type", ""))
        if source:
            # What a ParseError of this source will be judged on (a 2xx challenge page).
            self.last_answers[source] = (status, dict(response.headers), content[:ERROR_BODY_BYTES])
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
                if self.metrics is not None and not isinstance(exc, RefusedFetch):
                    self.metrics.fetched(source, exc.status)
                if not exc.retryable or last:
                    raise
                wait = self._backoff(attempt)
                log.info("%s: %s; retry %d in %.1fs", source, exc.detail, attempt + 1, wait)
            else:
                status = response.status_code
                if self.metrics is not None:
                    self.metrics.fetched(source, status)
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
        except AddressRefused as exc:
            raise _refused(url, source, str(exc), None) from None
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
            raise RobotsDisallowed(
                "disallowed by robots.txt (set robots = false for a board whose API is meant "
                "to be read)",
                source=source,
                url=url,
            )

    async def _load_robots(self, origin: str, source: str) -> _Robots:
        robots_url, response, content = await self._robots_response(f"{origin}/robots.txt", source)
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

    async def _robots_response(
        self, robots_url: str, source: str
    ) -> tuple[str, httpx.Response | None, bytes]:
        """The robots.txt answer after redirects: (final URL, response or None when it is
        refused or oversized, body). FetchError (retryable) when the host is unreachable."""
        response: httpx.Response | None = None
        content = b""
        for _hop in range(self.settings.max_redirects + 1):
            if (reason := self.policy.refusal(robots_url)) is not None:
                # A robots.txt redirected to an internal origin is not read: treated as none.
                log.warning("%s: robots.txt redirect to %s refused: %s", source, robots_url, reason)
                return robots_url, None, b""
            async with self._turn(robots_url):
                try:
                    response, content = await self._request(
                        "GET", robots_url, source, {}, None, max_bytes=ROBOTS_MAX_BYTES
                    )
                except BodyTooLarge:
                    break  # an oversized robots.txt: treat as none
                except RefusedFetch:
                    raise  # the host itself is refused: nothing of it is fetched
                except FetchError as exc:
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
        return robots_url, response, content


async def _read_capped(response: httpx.Response, cap: int, source: str, url: str) -> bytes:
    """The body with its Content-Encoding undone, abandoned (BodyTooLarge) as soon as more than
    `cap` bytes come out of the decoders, or in from the wire.

    Compressed input is inflated `DECODE_STEP` bytes at a time, so 2 KB of brotli that would
    expand to 1 GB costs a few megabytes of memory before it is abandoned, not 1 GB; more than
    `MAX_CONTENT_ENCODINGS` stacked encodings are refused outright (RFC 9110 §8.4 allows any
    number; nobody needs more than a gzip transport layer over a `.gz` file). An encoding we do
    not know is passed through as httpx does.
    """
    status = response.status_code
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > cap:
        raise BodyTooLarge(
            f"answer is larger than {cap} bytes (Content-Length {declared})",
            source=source,
            url=url,
            status=status,
        )
    if response.is_stream_consumed:  # an answer built in memory (httpx.MockTransport)
        if len(response.content) > cap:
            raise BodyTooLarge(
                f"answer is larger than {cap} bytes", source=source, url=url, status=status
            )
        return response.content
    names = _content_encodings(response, source, url)
    decoders = [_DECODERS[name]() for name in reversed(names)]  # the last applied comes off first
    try:
        return await _inflate_capped(response, decoders, cap, source, url)
    except (zlib.error, brotli.error) as exc:
        raise FetchError(
            f"could not decode the {', '.join(names)} body ({exc})",
            source=source,
            url=url,
            status=status,
        ) from None


def _content_encodings(response: httpx.Response, source: str, url: str) -> list[str]:
    """The known Content-Encoding names in the order applied; FetchError for more than
    `MAX_CONTENT_ENCODINGS` of them."""
    names = [
        name
        for name in (v.strip().lower() for v in response.headers.get_list("content-encoding", True))
        if name in _DECODERS
    ]
    if len(names) > MAX_CONTENT_ENCODINGS:
        raise FetchError(
            f"{len(names)} stacked content encodings ({', '.join(names)}); at most "
            f"{MAX_CONTENT_ENCODINGS} are read",
            source=source,
            url=url,
            status=response.status_code,
        )
    return names


async def _inflate_capped(
    response: httpx.Response, decoders: list[_Decoder], cap: int, source: str, url: str
) -> bytes:
    """The streamed body through `decoders`; BodyTooLarge once more than `cap` bytes come in
    from the wire or out of the decoders. zlib.error / brotli.error pass through."""
    chunks: list[bytes] = []
    size = received = 0

    def too_large(what: str) -> BodyTooLarge:
        return BodyTooLarge(
            f"answer is larger than {cap} bytes{what}; abandoned",
            source=source,
            url=url,
            status=response.status_code,
        )

    async for raw in response.aiter_raw():
        received += len(raw)
        if received > cap:
            raise too_large("")
        for piece in _decode_chain(decoders, raw):
            size += len(piece)
            if size > cap:
                raise too_large(" once decoded")
            chunks.append(piece)
    for piece in _flushed(decoders):
        size += len(piece)
        if size > cap:
            raise too_large(" once decoded")
        chunks.append(piece)
    return b"".join(chunks)


def _flushed(decoders: list[_Decoder]) -> Iterator[bytes]:
    """What each decoder still holds at the end, through the decoders after it."""
    for index, decoder in enumerate(decoders):
        for tail in decoder.flush():
            yield from _decode_chain(decoders[index + 1 :], tail)


def _decode_chain(decoders: list[_Decoder], data: bytes) -> Iterator[bytes]:
    """`data` through every decoder in turn, lazily: no stage holds more than one step."""
    pieces: Iterable[bytes] = (data,)
    for decoder in decoders:
        pieces = _through(decoder, pieces)
    return iter(pieces)


def _through(decoder: _Decoder, pieces: Iterable[bytes]) -> Iterator[bytes]:
    for piece in pieces:
        yield from decoder.feed(piece)


class _Decoder(Protocol):
    def feed(self, data: bytes) -> Iterator[bytes]: ...

    def flush(self) -> Iterator[bytes]: ...


class _Inflate:
    """gzip or deflate, inflated at most DECODE_STEP bytes per piece (zlib's `max_length`).

    "deflate" without its zlib header (raw deflate, as some servers send it) is read too, as
    httpx does.
    """

    def __init__(self, wbits: int) -> None:
        self._wbits = wbits
        self._zlib = zlib.decompressobj(wbits)
        self._started = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        while True:
            try:
                out = self._zlib.decompress(data, DECODE_STEP)
            except zlib.error:
                if self._started or self._wbits != zlib.MAX_WBITS:
                    raise
                self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate
                self._started = True
                continue
            self._started = True
            if out:
                yield out
            data = self._zlib.unconsumed_tail
            if not data and len(out) < DECODE_STEP:
                return  # all input consumed and no output held back

    def flush(self) -> Iterator[bytes]:
        if out := self._zlib.flush():
            yield out


class _Brotli:
    """brotli, decompressed at most DECODE_STEP bytes per piece (`output_buffer_limit`)."""

    def __init__(self) -> None:
        self._brotli = brotli.Decompressor()

    def feed(self, data: bytes) -> Iterator[bytes]:
        out = self._brotli.process(data, output_buffer_limit=DECODE_STEP)
        while out:  # drained with empty input until the decoder has nothing more to give
            yield out
            out = self._brotli.process(b"", output_buffer_limit=DECODE_STEP)

    def flush(self) -> Iterator[bytes]:
        return iter(())


_DECODERS: dict[str, Callable[[], _Decoder]] = {
    "gzip": lambda: _Inflate(zlib.MAX_WBITS | 16),
    "x-gzip": lambda: _Inflate(zlib.MAX_WBITS | 16),
    "deflate": lambda: _Inflate(zlib.MAX_WBITS),
    "br": _Brotli,
}


def _validator_headers(validators: ValidatorStore, url: str) -> dict[str, str]:
    """If-None-Match / If-Modified-Since from the validators stored for `url` (RFC 9110 §13.1)."""
    stored = validators.get_validators(url)
    if not stored:
        return {}
    etag, modified = stored
    extra: dict[str, str] = {}
    if etag:
        extra["If-None-Match"] = etag
    if modified:
        extra["If-Modified-Since"] = modified
    return extra


def _refused(url: str, source: str, reason: str, redirected_from: str | None) -> RefusedFetch:
    where = f" (redirected from {redirected_from})" if redirected_from else ""
    return RefusedFetch(
        f"refused to fetch {url}{where}: {reason}, not a configured source's origin",
        source=source,
        url=url,
    )


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


def whatwg_codec(label: str | None) -> str | None:
    """The Python codec that decodes an encoding label as browsers do, or None when browsers
    would ignore the label.

    Labels resolve through the WHATWG Encoding Standard's table (webencodings): `latin1`,
    `iso-8859-1` and `ascii` mean windows-1252, `shift_jis` means windows-31j, `iso-8859-9`
    means windows-1254, and so on. A Python codec name (`euc_jp`, `latin-1`, as detectors
    report them) is accepted when it names one of those encodings. `gbk` decodes as gb18030,
    the superset the standard's GBK decoder implements. The `replacement` encoding and labels
    the standard does not know (`utf-7`, `klingon`) give None.
    """
    if not label:
        return None
    label = label.strip().strip("\"'").strip()
    names = [label, label.replace("_", "-")]
    with contextlib.suppress(LookupError, ValueError):
        python_name = codecs.lookup(label).name
        names += [python_name, python_name.replace("_", "-")]
    for name in names:
        encoding = webencodings.lookup(name)
        if encoding is None:
            continue
        if encoding.name in ("replacement", "x-user-defined"):
            return None
        codec = str(encoding.codec_info.name)
        return _SUPERSETS.get(codec, codec)
    for name in names[2:]:  # a Python codec name the table lacks (`cp932` is Shift_JIS)
        if name in _WHATWG_BY_CODEC:
            return _WHATWG_BY_CODEC[name]
    return None


def _whatwg_by_codec() -> dict[str, str]:
    """Python codec name → the codec `whatwg_codec` uses for that WHATWG encoding."""
    table: dict[str, str] = {}
    for label in webencodings.labels.LABELS:
        encoding = webencodings.lookup(label)
        if encoding is None or encoding.name in ("replacement", "x-user-defined"):
            continue
        codec = str(encoding.codec_info.name)
        table.setdefault(codec, _SUPERSETS.get(codec, codec))
    return table


def declared_charset(content_type: str) -> str | None:
    """The codec named by a Content-Type header's charset parameter, if browsers know it."""
    for param in content_type.split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            return whatwg_codec(value)
    return None


def _in_document_charsets(content: bytes) -> list[str]:
    """The XML declaration's encoding and the first `<meta>` charset of the document's head.

    The head is searched up to `</head>` or `<body>` (a `<meta charset>` after a long inline
    `<style>` still counts); without either, the first 4 KB. A UTF-16 label found inside the
    bytes means UTF-8 (HTML §13.2.3.2: the bytes were readable as ASCII, so they are not UTF-16).
    """
    found: list[str] = []
    if match := _XML_ENCODING.match(content, 0, 4096):
        found.append(match.group(1).decode("ascii"))
    end = _HEAD_END.search(content, 0, META_SCAN_LIMIT)
    if label := _meta_charset(content, end.start() if end else 4096):
        found.append(label)
    codecs_found: list[str] = []
    for label in found:
        codec = whatwg_codec(label)
        if codec is not None and codec.startswith("utf-16"):
            codec = "utf-8"
        if codec is not None:
            codecs_found.append(codec)
    return codecs_found


def _meta_charset(content: bytes, end: int) -> str | None:
    """The first `charset=` inside a `<meta …>` tag before `end`. Each candidate looks back at
    most MAX_META_TAG bytes for its tag's `<`, so a hostile head costs linear time."""
    for match in _CHARSET_ATTRIBUTE.finditer(content, 0, end):
        opening = content.rfind(b"<", max(0, match.start() - MAX_META_TAG), match.start())
        tag = content[opening : match.start()]
        if opening >= 0 and tag[:5].lower() == b"<meta" and b">" not in tag:
            return match.group(1).decode("ascii")
    return None


def non_ascii_excerpt(content: bytes) -> bytes:
    """Every run of non-ASCII bytes with `EXCERPT_CONTEXT` bytes either side (overlapping
    windows merged, so no multi-byte character is cut), joined by newlines, about
    `EXCERPT_LIMIT` bytes at most: what a charset detector should weigh, wherever it sits."""
    windows: list[list[int]] = []
    total = 0
    for run in _NON_ASCII_RUN.finditer(content):
        low = max(0, run.start() - EXCERPT_CONTEXT)
        high = min(len(content), run.end() + EXCERPT_CONTEXT)
        if windows and low <= windows[-1][1]:
            total += max(0, high - windows[-1][1])
            windows[-1][1] = max(windows[-1][1], high)
        else:
            windows.append([low, high])
            total += high - low
        if total >= EXCERPT_LIMIT:
            last = windows[-1]
            cut = max(last[0] + 1, last[1] - (total - EXCERPT_LIMIT))
            # End on an ASCII byte so the last character is whole.
            while cut > last[0] + 1 and content[cut - 1] >= 0x80:
                cut -= 1
            last[1] = cut
            break
    return b"\n".join(content[low:high] for low, high in windows)


def _detected(content: bytes) -> list[str]:
    """Codecs charset-normalizer finds for the non-ASCII parts of `content`, best first,
    limited to the encodings browsers know.

    Least mess first. Among the least messy, windows-1252 (what browsers fall back to) comes
    first unless another code page reads more coherently *and* is the legacy code page of the
    language it reads as (Turkish in windows-1254). On short text the detector's coherence
    alone is too weak to overrule windows-1252: it ranks windows-1257 first for `Ingénieur
    données à Montréal` (reading `à` as `ą`, "Polish"), and windows-1250 for Spanish.
    """
    scored: dict[str, tuple[float, float, str]] = {}
    for match in charset_normalizer.from_bytes(non_ascii_excerpt(content)):
        codec = whatwg_codec(match.encoding)
        if codec is not None and not codec.startswith("utf"):  # UTF-8 failed; UTF-16 needs a BOM
            scored.setdefault(codec, (match.chaos, match.coherence, match.language))
    western = scored.get("cp1252", (1.0, -1.0, ""))[1]

    def rank(codec: str) -> tuple[float, int, float]:
        chaos, coherence, language = scored[codec]
        native = LEGACY_CODE_PAGES.get(language) == codec and coherence > western
        return chaos, 0 if native else 1 if codec == "cp1252" else 2, -coherence

    return sorted(scored, key=rank)


def _windows_1252_c1(exc: UnicodeError) -> tuple[str, int]:
    """The five bytes Python's cp1252 leaves unassigned (0x81, 0x8D, 0x8F, 0x90, 0x9D) decode to
    the C1 controls of the same value, as the WHATWG windows-1252 index has them."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return "".join(map(chr, exc.object[exc.start : exc.end])), exc.end


codecs.register_error(WINDOWS_1252_ERRORS, _windows_1252_c1)
_WHATWG_BY_CODEC = _whatwg_by_codec()


def decode_body(content: bytes, content_type: str = "") -> tuple[str, str]:
    """The text of a body and the Python codec that decoded it, as browsers decode.

    WHATWG Encoding Standard and HTML §13.2.3 (encoding sniffing): a byte-order mark, then the
    Content-Type charset, then the XML declaration or `<meta>` charset of the head; a declared
    charset that the bytes contradict (they do not decode with it) is not trusted. Undeclared:
    UTF-8 when the whole body is valid UTF-8; else the encoding charset-normalizer detects in
    the non-ASCII parts of the body, wherever they sit (not the first 64 KB: pages often open
    with a long ASCII `<style>`); else windows-1252, which maps every byte. The decode is never
    lossy (no U+FFFD the board did not send) and never raises.
    """
    if not content:
        return "", "utf-8"
    for bom, name in _BOMS:
        if content.startswith(bom):
            with contextlib.suppress(UnicodeDecodeError):
                return content.decode(name), name
            break  # a BOM the bytes contradict: read them as if it were not there
    candidates = [declared_charset(content_type), *_in_document_charsets(content)]
    for codec in dict.fromkeys(c for c in candidates if c is not None):
        with contextlib.suppress(UnicodeDecodeError, LookupError):
            return content.decode(codec), codec
    with contextlib.suppress(UnicodeDecodeError):
        return content.decode("utf-8"), "utf-8"
    for codec in _detected(content):
        errors = WINDOWS_1252_ERRORS if codec == "cp1252" else "strict"
        with contextlib.suppress(UnicodeDecodeError, LookupError):
            return content.decode(codec, errors), codec
    return content.decode("cp1252", errors=WINDOWS_1252_ERRORS), "cp1252"
