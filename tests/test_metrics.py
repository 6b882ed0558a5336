"""/metrics: every metric of issue 14, rendered by prometheus-client and read back with the
library's own parser."""

from __future__ import annotations

import math

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from bot.metrics import ALERT_REASONS, Metrics, status_class


def samples(metrics: Metrics) -> dict[str, list[Sample]]:
    text = generate_latest(metrics.registry).decode()
    by_name: dict[str, list[Sample]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            by_name.setdefault(sample.name, []).append(sample)
    return by_name


def value(by_name: dict[str, list[Sample]], name: str, **labels: str) -> float:
    matches = [s.value for s in by_name[name] if s.labels == labels]
    assert len(matches) == 1, (name, labels, by_name.get(name))
    return matches[0]


def test_every_metric_and_label_after_one_of_each_event() -> None:
    depth = [7]
    metrics = Metrics(
        ["lever-acme", "feed"],
        outbox_depth=lambda: depth[0],
        outbox_oldest_pending_age=lambda: 42.5,
        subscriptions=lambda: 12,
        active_chats=lambda: 4,
    )
    metrics.fetched("lever-acme", 200)
    metrics.fetched("lever-acme", 200)
    metrics.fetched("lever-acme", 503)
    metrics.fetched("feed", None)
    metrics.not_modified("feed")
    metrics.parse_failed("lever-acme")
    metrics.postings("lever-acme", seen=30, stored=5, closed=2)
    metrics.alert_queued(3)
    metrics.alert_sent()
    metrics.alert_sent()
    metrics.alert_failed("rate_limited")
    metrics.alert_dropped("blocked")
    metrics.telegram_429()
    metrics.observe_matching(0.002)
    metrics.observe_scrape("lever-acme", 1.7)
    depth[0] = 9  # read at scrape time, not at construction

    got = samples(metrics)
    assert value(got, "jobhound_fetches_total", source="lever-acme", status_class="2xx") == 2
    assert value(got, "jobhound_fetches_total", source="lever-acme", status_class="5xx") == 1
    assert value(got, "jobhound_fetches_total", source="feed", status_class="error") == 1
    assert value(got, "jobhound_not_modified_total", source="feed") == 1
    assert value(got, "jobhound_not_modified_total", source="lever-acme") == 0
    assert value(got, "jobhound_parse_failures_total", source="lever-acme") == 1
    assert value(got, "jobhound_postings_seen_total", source="lever-acme") == 30
    assert value(got, "jobhound_postings_stored_total", source="lever-acme") == 5
    assert value(got, "jobhound_postings_closed_total", source="lever-acme") == 2
    assert value(got, "jobhound_postings_stored_total", source="feed") == 0
    assert value(got, "jobhound_alerts_queued_total") == 3
    assert value(got, "jobhound_alerts_sent_total") == 2
    assert value(got, "jobhound_alerts_failed_total", reason="rate_limited") == 1
    assert value(got, "jobhound_alerts_dropped_total", reason="blocked") == 1
    assert value(got, "jobhound_alerts_dropped_total", reason="network") == 0
    assert value(got, "jobhound_telegram_429_total") == 1
    assert value(got, "jobhound_matching_duration_seconds_count") == 1
    assert value(got, "jobhound_matching_duration_seconds_sum") == 0.002
    assert value(got, "jobhound_matching_duration_seconds_bucket", le="0.005") == 1
    assert value(got, "jobhound_matching_duration_seconds_bucket", le="0.001") == 0
    assert value(got, "jobhound_scrape_duration_seconds_count", source="lever-acme") == 1
    assert value(got, "jobhound_scrape_duration_seconds_bucket", source="lever-acme", le="2.5") == 1
    assert value(got, "jobhound_scrape_duration_seconds_count", source="feed") == 0
    assert value(got, "jobhound_outbox_depth") == 9
    assert value(got, "jobhound_outbox_oldest_pending_age_seconds") == 42.5
    assert value(got, "jobhound_subscriptions") == 12
    assert value(got, "jobhound_active_chats") == 4
    assert {s.labels["reason"] for s in got["jobhound_alerts_failed_total"]} == ALERT_REASONS


def test_label_values_stay_bounded() -> None:
    metrics = Metrics(["feed"])
    metrics.fetched("https://evil.example/?chat=123", 200)  # not a configured source
    metrics.alert_dropped("chat 123456789 said no")  # not a known reason
    metrics.fetched("feed", 999)
    got = samples(metrics)
    sources = {s.labels.get("source") for name in got for s in got[name] if "source" in s.labels}
    assert sources == {"feed", "other"}
    assert value(got, "jobhound_alerts_dropped_total", reason="other") == 1
    assert value(got, "jobhound_fetches_total", source="feed", status_class="error") == 1


def test_names_follow_prometheus_conventions() -> None:
    text = generate_latest(Metrics(["feed"]).registry).decode()
    for family in text_string_to_metric_families(text):
        assert family.name.startswith("jobhound_")
        if family.type == "counter":
            assert all(s.name.endswith(("_total", "_created")) for s in family.samples)
        if family.type == "histogram":
            assert family.name.endswith("_seconds")


def test_each_metrics_has_its_own_registry() -> None:
    first, second = Metrics(["feed"]), Metrics(["feed"])
    first.telegram_429()
    assert value(samples(first), "jobhound_telegram_429_total") == 1
    assert value(samples(second), "jobhound_telegram_429_total") == 0


def test_a_gauge_reader_that_fails_gives_nan_not_a_broken_scrape(caplog) -> None:
    def broken() -> float:
        raise OSError("database is locked")

    metrics = Metrics(["feed"], outbox_depth=broken, subscriptions=lambda: 3)
    got = samples(metrics)
    assert math.isnan(value(got, "jobhound_outbox_depth"))
    assert value(got, "jobhound_subscriptions") == 3
    assert "jobhound_outbox_depth" in caplog.text


def test_openmetrics_on_request() -> None:
    body, content_type = Metrics(["feed"]).exposition("application/openmetrics-text")
    assert content_type.startswith("application/openmetrics-text")
    assert body.rstrip().endswith(b"# EOF")
    body, content_type = Metrics(["feed"]).exposition(None)
    assert content_type.startswith("text/plain")


def test_status_class() -> None:
    assert [status_class(s) for s in (200, 304, 404, 429, 503, None, 42)] == [
        "2xx",
        "3xx",
        "4xx",
        "4xx",
        "5xx",
        "error",
        "error",
    ]
