"""Shared helpers for the fetch and source tests: settings, a fetcher on a test server, a store."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Iterable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from bot.fetch import Fetcher, OriginPolicy, Resolver, make_client, origin_of, resolve_host
from bot.schedule import parse_schedule
from bot.settings import FetchSettings, SourceSettings
from bot.sources.base import SourceContext
from tests.boardserver import BoardServer

FIXTURES = Path(__file__).resolve().parent / "fixtures"
T = TypeVar("T")
# Fast settings: no politeness delay, short timeouts, retries that never really sleep.
FAST = FetchSettings(
    connect_timeout=2.0,
    read_timeout=2.0,
    total_timeout=5.0,
    host_delay=0.0,
    retries=2,
    backoff=0.01,
)


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def fixture_text(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


async def within(awaitable: Awaitable[T], seconds: float = 20.0) -> T:
    """Fail loudly instead of hanging."""
    return await asyncio.wait_for(awaitable, seconds)


class DictValidators:
    """An in-memory ValidatorStore."""

    def __init__(self) -> None:
        self.data: dict[str, tuple[str | None, str | None]] = {}

    def get_validators(self, url: str) -> tuple[str | None, str | None] | None:
        return self.data.get(url)

    def put_validators(self, url: str, etag: str | None, last_modified: str | None) -> None:
        self.data[url] = (etag, last_modified)


class Sleeps:
    """An injectable sleep that records the waits and returns at once."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        await asyncio.sleep(0)


class _StartedServers:
    """The origins of every BoardServer started so far, read again at each check (a test may
    start a server after its fetcher)."""

    def _origins(self) -> set[tuple[str, str, int]]:
        return {o for o in map(origin_of, BoardServer.started) if o is not None}

    def __iter__(self) -> Iterator[tuple[str, str, int]]:
        return iter(self._origins())

    def __contains__(self, origin: object) -> bool:
        return origin in self._origins()


def test_servers() -> OriginPolicy:
    """Every test server as a configured origin, as if the tests' config named them (the
    daemon builds its policy from the configured sources' URLs)."""
    return OriginPolicy(_StartedServers())  # type: ignore[arg-type]


@asynccontextmanager
async def fetcher(
    settings: FetchSettings = FAST,
    validators: Any = None,
    *,
    policy: OriginPolicy | None = None,
    resolver: Resolver = resolve_host,
    **kwargs: Any,
) -> AsyncIterator[Fetcher]:
    """A Fetcher on its own client; `policy` defaults to allowing every test server started."""
    policy = test_servers() if policy is None else policy
    async with make_client(settings, policy, resolver=resolver) as client:
        yield Fetcher(settings, client, validators, policy=policy, **kwargs)


def settings(**changes: Any) -> FetchSettings:
    return dataclasses.replace(FAST, **changes)


def source(kind: str, url: str, *, robots: bool = False, **options: Any) -> SourceSettings:
    return SourceSettings(
        name=f"test-{kind}",
        kind=kind,
        url=url,
        schedule=parse_schedule("1h"),
        robots=robots,
        options=options,
    )


def context(fetch: Fetcher | None, known: Iterable[str] = ()) -> SourceContext:
    stored = set(known)
    return SourceContext(
        fetcher=fetch, known_urls=lambda urls, identity: {u for u in urls if u in stored}
    )
