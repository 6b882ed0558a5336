"""`[http] listen` in the running daemon: /healthz 200 while the source cycles and 503 once it
stalls; /metrics, parsed with prometheus-client's own parser, carries every metric of issue 14
with the run's real counts."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.daemon import run_daemon
from bot.store import Store
from tests.boardserver import Route, serve
from tests.fetchkit import within
from tests.fieldkit import write_config

FEED = (
    Path(__file__).parent / "fixtures" / "weworkremotely_category_back_end_rss.xml"
).read_bytes()
METRICS = (
    "jobhound_fetches_total",
    "jobhound_not_modified_total",
    "jobhound_parse_failures_total",
    "jobhound_postings_seen_total",
    "jobhound_postings_stored_total",
    "jobhound_postings_closed_total",
    "jobhound_alerts_queued_total",
    "jobhound_alerts_sent_total",
    "jobhound_alerts_failed_total",
    "jobhound_alerts_dropped_total",
    "jobhound_telegram_429_total",
    "jobhound_outbox_depth",
    "jobhound_outbox_oldest_pending_age_seconds",
    "jobhound_matching_duration_seconds_bucket",
    "jobhound_scrape_duration_seconds_count",
    "jobhound_subscriptions",
    "jobhound_active_chats",
)


async def served_port(caplog: pytest.LogCaptureFixture) -> int:
    """The port the daemon logged it serves on (it was given port 0: no free-port race)."""
    while True:
        for record in caplog.records:
            if found := re.search(r"/metrics on 127\.0\.0\.1:(\d+)$", record.getMessage()):
                return int(found.group(1))
        await asyncio.sleep(0.01)


def parse(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_healthz_turns_503_when_a_source_stalls_and_metrics_has_every_metric(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.httpapi")
    async with serve() as server:
        server.add("/feed.rss", Route(body=FEED))
        settings = write_config(
            tmp_path,
            [{"name": "wwr", "kind": "rss", "url": server.url("/feed.rss"), "schedule": "5m"}],
            extra='[http]\nlisten = "127.0.0.1:0"\n',
        )
        stop = asyncio.Event()
        daemon = asyncio.create_task(run_daemon(settings, stop, watch_interval=60))
        try:
            base = f"http://127.0.0.1:{await within(served_port(caplog))}"
            async with httpx.AsyncClient(base_url=base, timeout=5) as client:

                async def scraped() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
                    while True:
                        try:
                            got = parse((await client.get("/metrics")).text)
                        except httpx.TransportError:
                            got = {}
                        if got.get(
                            ("jobhound_scrape_duration_seconds_count", (("source", "wwr"),))
                        ):
                            return got
                        await asyncio.sleep(0.05)

                metrics = await within(scraped())
                healthy = await client.get("/healthz")
                # The source's last cycle, an hour ago: three 5-minute intervals are long gone.
                store = Store.open(settings.storage.path)
                try:
                    stale = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
                    store.db.execute("UPDATE sources SET last_run_at = ?", [stale])
                finally:
                    store.close()
                stalled = await client.get("/healthz")
        finally:
            stop.set()
            await within(daemon)
    assert healthy.status_code == 200, healthy.text
    assert healthy.json() == {"scheduler": "running", "stale": [], "status": "ok"}
    assert stalled.status_code == 503
    reason = json.loads(stalled.text)
    assert reason["status"] == "unhealthy"
    assert [s["source"] for s in reason["stale"]] == ["wwr"]
    assert reason["stale"][0]["limit_seconds"] == 900.0
    names = {name for name, _ in metrics}
    assert set(METRICS) <= names
    seen = metrics[("jobhound_postings_seen_total", (("source", "wwr"),))]
    assert seen == metrics[("jobhound_postings_stored_total", (("source", "wwr"),))] > 0
    assert metrics[("jobhound_fetches_total", (("source", "wwr"), ("status_class", "2xx")))] == 1
    assert metrics[("jobhound_outbox_depth", ())] == 0
    # No URL, chat id or free text as a label value: sources and fixed words only.
    for name, labels in metrics:
        for key, value in labels:
            assert key in ("source", "status_class", "reason", "le"), (name, key)
            assert ("/" not in value and not value.lstrip("-").isdigit()) or key == "le"


async def test_listen_address_taken_is_one_config_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The address is bound before the scheduler starts: the error comes before any source
    runs (a tester saw "run cancelled by shutdown" first when the timing let a run begin)."""
    from bot.errors import ConfigError

    seeds = Path(__file__).resolve().parents[1] / "seeds"
    source = {"name": "seeds", "kind": "markdown", "url": str(seeds)}
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        extra = f'[http]\nlisten = "127.0.0.1:{port}"\n'
        settings = write_config(tmp_path, [source], extra=extra)
        with pytest.raises(ConfigError, match=r"http.listen: cannot listen on 127.0.0.1:\d+"):
            await within(run_daemon(settings, asyncio.Event()))
    assert "cancelled" not in caplog.text
    store = Store.open(settings.storage.path)
    assert store.count_postings() == 0  # no source ran
    store.close()
