"""/healthz and /metrics on 127.0.0.1: 200 while every source cycles, 503 when one stalls."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.health import health, schedule_interval
from bot.httpapi import HttpApi, parse_listen
from bot.metrics import Metrics
from bot.schedule import parse_schedule
from tests.fetchkit import within

START = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)


def test_healthy_while_every_source_is_younger_than_three_intervals() -> None:
    now = START + timedelta(minutes=20)
    ok, reason = health(now, True, [("a", 600, START), ("b", 60, now - timedelta(seconds=179))])
    assert ok
    assert reason == {"status": "ok", "scheduler": "running", "stale": []}


def test_a_stalled_source_or_a_stopped_scheduler_is_unhealthy() -> None:
    now = START + timedelta(minutes=31)
    ok, reason = health(now, True, [("a", 600, START), ("b", 600, now)])
    assert not ok
    assert reason["stale"] == [
        {
            "source": "a",
            "last_cycle_at": START.isoformat(),
            "age_seconds": 1860.0,
            "limit_seconds": 1800.0,
        }
    ]
    ok, reason = health(START, False, [])
    assert not ok
    assert reason["scheduler"] == "stopped"


def test_a_source_that_never_ran_counts_from_the_daemon_start() -> None:
    assert health(START + timedelta(minutes=5), True, [("a", 600, None)], started_at=START)[0]
    ok, reason = health(START + timedelta(minutes=31), True, [("a", 600, None)], started_at=START)
    assert not ok
    assert reason["stale"][0]["last_cycle_at"] is None
    assert not health(START, True, [("a", 600, None)])[0]


def test_crontab_interval_is_the_gap_between_its_next_two_fire_times() -> None:
    assert schedule_interval(parse_schedule("15m"), START) == 900
    assert schedule_interval(parse_schedule("*/30 * * * *"), START) == 1800
    assert schedule_interval(parse_schedule("0 */6 * * *"), START) == 6 * 3600
    # Monthly on the 1st: from 30 Nov, the next two runs are 1 Dec and 1 Jan.
    assert schedule_interval(parse_schedule("0 9 1 * *"), START) == 31 * 86400


def test_parse_listen() -> None:
    assert parse_listen("127.0.0.1:9464") == ("127.0.0.1", 9464)
    assert parse_listen("[::1]:0") == ("::1", 0)
    for bad in ("9464", "localhost:", "host:99999", ":80"):
        with pytest.raises(ValueError, match="HOST:PORT"):
            parse_listen(bad)


async def test_healthz_turns_503_when_a_source_stalls_and_metrics_parse() -> None:
    clock = [START + timedelta(minutes=10)]
    metrics = Metrics(["lever-acme"], outbox_depth=lambda: 2)
    metrics.fetched("lever-acme", 200)

    def check() -> tuple[bool, dict[str, object]]:
        return health(clock[0], True, [("lever-acme", 600, START)])

    async with HttpApi("127.0.0.1", 0, metrics=metrics, health=check) as api:
        base = f"http://127.0.0.1:{api.port}"
        async with httpx.AsyncClient(base_url=base) as client:
            response = await within(client.get("/healthz"))
            assert response.status_code == 200
            assert response.json()["status"] == "ok"

            clock[0] = START + timedelta(minutes=30, seconds=1)  # 3 intervals of 10 min
            response = await within(client.get("/healthz"))
            assert response.status_code == 503
            assert response.headers["content-type"] == "application/json"
            assert json.loads(response.text)["stale"][0]["source"] == "lever-acme"

            response = await within(client.get("/metrics"))
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/plain")
            families = {f.name: f for f in text_string_to_metric_families(response.text)}
            fetches = families["jobhound_fetches"].samples
            assert any(s.labels == {"source": "lever-acme", "status_class": "2xx"} for s in fetches)
            assert families["jobhound_outbox_depth"].samples[0].value == 2

            assert (await within(client.head("/metrics"))).content == b""
            assert (await within(client.get("/nope"))).status_code == 404
            assert (await within(client.post("/healthz"))).status_code == 405
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient() as client:
            await within(client.get(f"{base}/healthz"))


async def test_a_garbage_request_is_dropped_and_the_server_keeps_serving() -> None:
    import asyncio

    metrics = Metrics([])
    async with HttpApi("127.0.0.1", 0, metrics=metrics, health=lambda: (True, {})) as api:
        reader, writer = await within(asyncio.open_connection("127.0.0.1", api.port))
        writer.write(b"\x00\x01 not http\r\n\r\n")
        await writer.drain()
        assert await within(reader.read()) == b""
        writer.close()
        async with httpx.AsyncClient() as client:
            response = await within(client.get(f"http://127.0.0.1:{api.port}/healthz"))
        assert response.status_code == 200
