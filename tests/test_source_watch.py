"""Issue 14 end to end on the real path (board on 127.0.0.1 -> fetcher -> pipeline -> store):
the admin alert after 3 failures, at most once an hour even across a restart, the recovery
message; blocked vs 404 on recorded answers; a paused source stays paused after a restart."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.daemon import open_resources
from bot.operations import Operations, sources_with_state
from bot.settings import Settings
from bot.store import Store
from tests.boardserver import Route, serve
from tests.fieldkit import write_config
from tests.test_breakage import FIXTURES, answer

FEED = (
    Path(__file__).parent / "fixtures" / "weworkremotely_category_back_end_rss.xml"
).read_bytes()
T0 = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


async def run(
    settings: Settings, clock: Clock, times: int = 1, step: float = 600
) -> tuple[Operations, list[str]]:
    """`times` runs of the one source, `step` seconds apart, in one daemon lifetime; the
    operations and what /sources says at the end."""
    async with open_resources(settings) as res:
        assert res.ops is not None
        res.ops.clock = clock
        for _ in range(times):
            await res.pipeline.run(settings.sources[0])
            clock.now += timedelta(seconds=step)
        return res.ops, sources_with_state(res.ops, settings.sources)


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "bot.operations" and r.levelno == logging.WARNING
    ]


async def test_three_failures_one_alert_an_hour_across_a_restart_then_recovery(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    clock = Clock()
    async with serve() as server:
        route = server.add("/feed.rss", Route(status=503, body=b"down for maintenance"))
        settings = write_config(
            tmp_path, [{"name": "wwr", "kind": "rss", "url": server.url("/feed.rss")}]
        )
        route.status, route.body = 200, FEED
        await run(settings, clock)  # a good first run: the baseline
        route.status, route.body = 503, b"down for maintenance"
        await run(settings, clock, times=2)
        assert warnings(caplog) == []  # two failures in a row: not yet
        await run(settings, clock)
        (alert,) = warnings(caplog)
        assert alert.startswith("⚠️ wwr is failing (network errors or server errors): 3 failed")
        assert "since 2026-11-30 03:10 UTC" in alert
        assert "HTTP 503" in alert
        assert "Next: the bot retries on its schedule (next run" in alert
        # A restart within the hour: the failure streak and the last alert come from the store.
        clock.now = T0 + timedelta(minutes=45)
        await run(settings, clock, times=2, step=60)
        assert len(warnings(caplog)) == 1
        route.status, route.body = 200, FEED
        ops, _ = await run(settings, clock)
    *_, recovered = warnings(caplog)
    assert recovered.startswith("✅ wwr recovered: ")
    assert "after 5 failed runs (failing) since 2026-11-30 03:10 UTC" in recovered
    assert ops.state("wwr").problem is None


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.http")), ids=lambda p: p.stem)
async def test_blocked_or_not_found_from_recorded_answers_through_the_fetcher(
    tmp_path: Path, path: Path
) -> None:
    status, headers, body = answer(path)
    expected = "not_found" if path.stem.startswith("not_found") else path.stem.split("_")[0]
    label = {"not_found": "not found"}.get(expected, expected)
    # The server sets its own framing (a recorded Content-Length/-Encoding would lie); a
    # Retry-After would make the fetcher wait that long before its one retry.
    dropped = ("content-length", "content-encoding", "transfer-encoding", "connection")
    kept = {k: v for k, v in headers.items() if k.lower() not in (*dropped, "retry-after")}
    clock = Clock()
    async with serve() as server:
        server.add("/board.rss", Route(status=status, headers=kept, body=body))
        settings = write_config(
            tmp_path, [{"name": "acme", "kind": "rss", "url": server.url("/board.rss")}]
        )
        ops, (line,) = await run(settings, clock)
    assert ops.state("acme").kind == expected
    # Singular since issue 10 (CL): it said "(1 failed runs)".
    assert line.startswith(f"❌ acme (rss): {label} since 2026-11-30 03:00 UTC (1 failed run)")


async def test_a_paused_source_is_not_fetched_and_stays_paused_after_a_restart(
    tmp_path: Path,
) -> None:
    clock = Clock()
    async with serve() as server:
        server.add("/feed.rss", Route(body=FEED))
        settings = write_config(
            tmp_path, [{"name": "wwr", "kind": "rss", "url": server.url("/feed.rss")}]
        )
        async with open_resources(settings) as res:
            assert res.ops is not None
            res.ops.set_paused("wwr", True)
        ops, lines = await run(settings, clock)  # a new daemon on the same database
        assert server.hits("/feed.rss") == 0
        assert ops.paused("wwr")
        assert lines == ["⏸ wwr (rss): paused by an admin (/resumesource wwr)"]
        async with open_resources(settings) as res:
            assert res.ops is not None
            res.ops.set_paused("wwr", False)
        _, lines = await run(settings, clock)
        assert server.hits("/feed.rss") == 1
        assert lines[0].startswith("✅ wwr (rss): ok, ")
    store = Store.open(settings.storage.path)
    try:
        assert store.paused_sources() == set()
    finally:
        store.close()


async def test_runsource_brings_the_scheduled_run_forward() -> None:
    import asyncio

    from bot.daemon import _run_now
    from bot.schedule import build_scheduler, parse_schedule
    from tests.fetchkit import within

    ran = asyncio.Event()

    async def job() -> None:
        ran.set()

    scheduler = build_scheduler([("wwr", parse_schedule("6h"), job)], run_now=False)
    scheduler.start()
    try:
        assert not _run_now(scheduler, "nosuch")
        assert _run_now(scheduler, "wwr")
        await within(ran.wait(), 10)
    finally:
        scheduler.shutdown(wait=False)
