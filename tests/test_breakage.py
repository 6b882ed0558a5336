"""Admin alerts for boards that break (3 failures, once an hour, recovery always) and the
blocked / not-found / failing classification on recorded-shaped answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.breakage import Run, SourceState, challenge_service, classify, step

FIXTURES = Path(__file__).parent / "fixtures" / "blocked"
SHARED = Path(__file__).parent.parent.parent / "shared" / "fixtures"
T0 = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)
FAIL = Run("failing", error="ConnectTimeout: lever.co did not answer in 30 s")


def answer(path: Path) -> tuple[int, dict[str, str], bytes]:
    head, _, body = path.read_bytes().partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers: dict[str, str] = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip()] = value.strip()
    return int(status_line.split()[1]), headers, body


def run_all(state: SourceState, runs: list[tuple[datetime, Run]]) -> tuple[SourceState, list[str]]:
    messages = []
    for now, run in runs:
        state, message = step(state, run, now)
        if message:
            messages.append(message)
    return state, messages


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.http")), ids=lambda p: p.stem)
def test_classify_recorded_answers(path: Path) -> None:
    status, headers, body = answer(path)
    expected = "not_found" if path.stem.startswith("not_found") else path.stem.split("_")[0]
    # A 2xx challenge or block page is what a board answer that does not parse looks like.
    assert classify(status, headers, body, parse_failed=200 <= status < 300) == expected


@pytest.mark.parametrize(
    "name", ["cloudflare_challenge", "akamai_access_denied", "datadome_captcha", "imperva_incident"]
)
def test_a_challenge_page_is_blocked_whatever_its_status(name: str) -> None:
    _, headers, body = answer(FIXTURES / f"blocked_{name}.http")
    assert classify(503, headers, body) == "blocked"
    assert challenge_service(headers, body) is not None


def test_real_board_pages_carry_no_challenge_marker() -> None:
    """Board pages with captcha widgets (Lever's hCaptcha, Greenhouse's reCAPTCHA key) are no
    block: a 404 of such a board stays not_found."""
    pages = sorted(SHARED.glob("*.html")) + sorted(SHARED.glob("*.json"))
    assert len(pages) > 20
    for page in pages:
        body = page.read_bytes()
        assert challenge_service({}, body) is None, page.name
        assert classify(404, {"server": "cloudflare"}, body) == "not_found"


def test_classify_without_an_answer_and_robots() -> None:
    assert classify(None, {}, b"") == "failing"
    assert classify(200, {}, b"[]", robots_disallowed=True) == "robots_disallowed"
    assert classify(200, {}, b"{}", parse_failed=True) == "layout_changed"
    assert classify(304, {}, b"") == "ok"
    assert classify(500, {}, b"oops") == "failing"


def test_one_message_after_three_failures_then_one_recovery() -> None:
    state = SourceState("lever-acme", good_counts=(40, 41, 40))
    runs = [(T0 + timedelta(minutes=10 * i), FAIL) for i in range(6)]
    state, messages = run_all(state, runs)
    assert len(messages) == 1
    message = messages[0]
    assert "lever-acme" in message
    assert "3 failed runs since 2026-11-30 03:00 UTC" in message
    assert "ConnectTimeout: lever.co did not answer in 30 s" in message
    assert "retries on its schedule" in message
    assert state.line() == "failing since 2026-11-30 03:00 UTC (6 failed runs)"

    state, recovered = step(state, Run("ok", count=39), T0 + timedelta(minutes=70))
    assert recovered is not None
    message = recovered
    assert message.startswith("✅ lever-acme recovered: 39 postings")
    assert state.line() == "ok"
    assert state.good_counts == (40, 41, 40, 39)


def test_no_message_before_the_third_failure_in_a_row() -> None:
    state, messages = run_all(
        SourceState("feed"),
        [(T0, FAIL), (T0, FAIL), (T0, Run("ok", count=5)), (T0, FAIL), (T0, FAIL)],
    )
    assert messages == []
    assert state.failures == 2


def test_never_more_than_one_failure_message_per_source_per_hour() -> None:
    state = SourceState("feed")
    flapping = [FAIL, FAIL, FAIL, Run("ok", count=5)] * 3
    runs = [(T0 + timedelta(minutes=5 * i), run) for i, run in enumerate(flapping)]
    state, messages = run_all(state, runs)  # 3 episodes within 55 minutes
    failures = [m for m in messages if m.startswith("⚠️")]
    recoveries = [m for m in messages if m.startswith("✅")]
    assert len(failures) == 1
    assert len(recoveries) == 1  # only the announced episode gets one

    later = [(T0 + timedelta(minutes=70 + i), FAIL) for i in range(3)]
    state, messages = run_all(state, later)
    assert len(messages) == 1  # an hour after the last one, a new episode is told again


def test_recovery_always_goes_even_within_the_hour() -> None:
    state, messages = run_all(SourceState("feed"), [(T0, FAIL)] * 3)
    state, message = step(state, Run("ok", count=3), T0 + timedelta(minutes=1))
    assert len(messages) == 1
    assert message is not None
    assert "recovered" in message


def test_blocked_source_says_so_and_what_happens_next() -> None:
    run = Run(
        "blocked", error="HTTP 403 (Cloudflare challenge)", next_run_at=T0 + timedelta(hours=1)
    )
    state, messages = run_all(SourceState("wwr"), [(T0, run)] * 3)
    assert "blocked (403/429 or a bot-protection challenge page)" in messages[0]
    assert "(next run 2026-11-30 04:00 UTC)" in messages[0]
    assert state.line() == "blocked since 2026-11-30 03:00 UTC (3 failed runs)"


def test_sudden_drop_to_zero_or_by_more_than_80_percent() -> None:
    state = SourceState("greenhouse-xai", good_counts=(100, 98, 101, 99, 100))
    state, message = step(state, Run("ok", count=19), T0)
    assert message is not None
    assert "returned 19 postings, usually 100" in message
    assert state.line() == "sudden drop since 2026-11-30 03:00 UTC"
    state, message = step(state, Run("ok", count=0), T0 + timedelta(minutes=30))
    assert message is None  # the same episode
    state, message = step(state, Run("ok", count=97), T0 + timedelta(minutes=90))
    assert message is not None
    assert "recovered: 97 postings" in message
    assert state.good_counts == (98, 101, 99, 100, 97)  # the drop is not part of "usual"

    fine, message = step(SourceState("x", good_counts=(100, 100, 100)), Run("ok", count=21), T0)
    assert message is None
    assert fine.problem is None


def test_no_drop_judged_without_enough_history() -> None:
    state, message = step(SourceState("new", good_counts=(50, 50)), Run("ok", count=0), T0)
    assert message is None
    assert state.problem is None


def test_a_lasting_drop_becomes_the_usual_count() -> None:
    state = SourceState("shrunk", good_counts=(100,) * 5)
    runs = [(T0 + timedelta(hours=i), Run("ok", count=10)) for i in range(5)]
    state, messages = run_all(state, runs)
    assert len(messages) == 2
    assert "that is now its usual count" in messages[1]
    assert state.problem is None
    assert state.good_counts == (10,) * 5
    state, message = step(state, Run("ok", count=10), T0 + timedelta(hours=6))
    assert message is None


def test_one_is_singular_in_admin_lines() -> None:
    """Regression: "1 failed runs", "1 postings" in breakage messages."""
    state, message = step(SourceState("feed"), FAIL, T0)
    assert message is None
    assert state.line() == "failing since 2026-11-30 03:00 UTC (1 failed run)"
    state, message = step(
        SourceState("greenhouse-xai", good_counts=(100, 98, 101)), Run("ok", count=1), T0
    )
    assert message is not None
    assert "returned 1 posting, usually 100 (median of its last 3 good runs)" in message
    state, _ = run_all(SourceState("feed"), [(T0, FAIL)] * 3)
    state, recovered = step(state, Run("ok", count=1), T0 + timedelta(minutes=1))
    assert recovered is not None
    assert recovered.startswith("✅ feed recovered: 1 posting, after 3 failed runs (failing)")
