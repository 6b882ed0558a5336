"""Boards that break, told to the admins before users notice: a pure state machine per source,
and `classify`, which names what a failed answer means (blocked, gone, layout changed, …).

`step(state, run, now)` takes a source's state and one run's result and returns the new state
and at most one admin message:

- failure: after `failures` runs in a row fail (default 3), one message;
- sudden drop: a good run whose count is 0, or more than 80 % below the source's usual count
  (the median of its last 5 good runs, once it has 3), one message;
- recovery: the first good run after a problem the admins were told about, one message, always.

Failure and drop messages share a cap: at most one per source per hour; a problem whose message
the cap held back is not announced, and neither is its recovery. A drop that lasts `window` runs
is the board's new size: it becomes the usual count and a recovery message says so.
"""

from __future__ import annotations

import html
import statistics
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from bot.text import counted

Kind = Literal["ok", "blocked", "not_found", "failing", "layout_changed", "robots_disallowed"]

# What each failing kind means for the operator, and what the bot does about it.
KIND_TEXT: dict[str, str] = {
    "blocked": "blocked (403/429 or a bot-protection challenge page)",
    "not_found": "not found (404/410: the board moved or was removed)",
    "failing": "failing (network errors or server errors)",
    "layout_changed": "layout changed (the answer no longer parses)",
    "robots_disallowed": "disallowed by the site's robots.txt",
}
NEXT_STEP: dict[str, str] = {
    "blocked": "keeps its schedule; a challenge rarely passes without a change to the source",
    "not_found": "keeps its schedule; check the board URL in the config",
    "failing": "retries on its schedule",
    "layout_changed": "keeps its schedule; the parser for this board needs an update",
    "robots_disallowed": "skips the board until robots.txt allows it; the source needs a review",
}


@dataclass(frozen=True)
class Policy:
    """When to speak: `failures` failed runs in a row; a drop below `1 - drop_ratio` of the
    usual count; the usual count as the median of the last `window` good runs, judged once
    `min_history` exist; at most one problem message per `min_gap`."""

    failures: int = 3
    drop_ratio: float = 0.8
    window: int = 5
    min_history: int = 3
    min_gap: timedelta = timedelta(hours=1)


@dataclass(frozen=True)
class Run:
    """One source run: `kind` from `classify` ("ok" for a good run), the postings `count` of a
    good run, the `error` line of a failed one, and `next_run_at`, the next scheduled run."""

    kind: Kind
    count: int | None = None
    error: str | None = None
    next_run_at: datetime | None = None


@dataclass(frozen=True)
class SourceState:
    """What the machine remembers about one source; `problem` is None, "failure" or "drop"."""

    name: str
    problem: Literal["failure", "drop"] | None = None
    kind: Kind = "ok"
    since: datetime | None = None
    failures: int = 0
    last_error: str | None = None
    good_counts: tuple[int, ...] = ()
    drop_counts: tuple[int, ...] = ()
    announced: bool = False
    last_alert_at: datetime | None = None

    def usual(self, policy: Policy) -> float | None:
        """The usual postings count: median of the last good runs, None with too few."""
        if len(self.good_counts) < policy.min_history:
            return None
        return statistics.median(self.good_counts)

    def line(self) -> str:
        """The state for `/sources` in one line: "ok", "blocked since 2026-11-30 03:00 UTC (…)"."""
        if self.problem is None:
            return "ok"
        since = _when(self.since)
        if self.problem == "drop":
            return f"sudden drop since {since}"
        label = {
            "blocked": "blocked",
            "not_found": "not found",
            "failing": "failing",
            "layout_changed": "layout changed",
            "robots_disallowed": "robots-disallowed",
        }.get(self.kind, "failing")
        return f"{label} since {since} ({counted(self.failures, 'failed run')})"


def step(
    state: SourceState, run: Run, now: datetime, policy: Policy | None = None
) -> tuple[SourceState, str | None]:
    """The new state of `state.name` after `run` at `now` (timezone-aware), and the admin
    message to send (plain text, may contain scraped error text: escape it for HTML), or None."""
    policy = policy or Policy()
    if run.kind != "ok":
        return _failed(state, run, now, policy)
    count = run.count or 0
    usual = state.usual(policy)
    if usual is not None and usual > 0 and count < usual * (1 - policy.drop_ratio):
        return _dropped(state, run, count, usual, now, policy)
    if state.problem is None:
        return _good(state, count, policy), None
    message = None
    if state.announced:
        message = (
            f"✅ {state.name} recovered: {counted(count, 'posting')}, after {_problem_text(state)} "
            f"since {_when(state.since)}."
        )
    fresh = SourceState(
        state.name, good_counts=state.good_counts, last_alert_at=state.last_alert_at
    )
    return _good(fresh, count, policy), message


def _failed(
    state: SourceState, run: Run, now: datetime, policy: Policy
) -> tuple[SourceState, str | None]:
    kept_since = state.since if state.problem == "failure" else None
    new = replace(
        state,
        problem="failure",
        kind=run.kind,
        since=kept_since or now,
        failures=state.failures + 1 if state.problem == "failure" else 1,
        last_error=run.error,
        drop_counts=(),
        announced=state.announced and state.problem == "failure",
    )
    if new.failures < policy.failures or new.announced or not _may_alert(new, now, policy):
        return new, None
    message = (
        f"⚠️ {new.name} is {KIND_TEXT.get(run.kind, run.kind)}: "
        f"{counted(new.failures, 'failed run')} "
        f"since {_when(new.since)}.\nLast error: {run.error or 'none recorded'}\n"
        f"Next: the bot {NEXT_STEP.get(run.kind, 'retries on its schedule')}"
        f"{_next_run(run)}."
    )
    return replace(new, announced=True, last_alert_at=now), message


def _dropped(
    state: SourceState, run: Run, count: int, usual: float, now: datetime, policy: Policy
) -> tuple[SourceState, str | None]:
    drops = (*state.drop_counts, count) if state.problem == "drop" else (count,)
    if len(drops) >= policy.window:
        # The board has been this size for `window` runs: that is its size now.
        message = None
        if state.announced:
            message = (
                f"✅ {state.name}: {counted(count, 'posting')} for "
                f"{counted(len(drops), 'run')} since "
                f"{_when(state.since)}; that is now its usual count."
            )
        fresh = SourceState(state.name, last_alert_at=state.last_alert_at)
        return replace(fresh, good_counts=drops[-policy.window :]), message
    new = replace(
        state,
        problem="drop",
        kind="ok",
        since=state.since if state.problem == "drop" else now,
        failures=0,
        last_error=None,
        drop_counts=drops,
        announced=state.announced and state.problem == "drop",
    )
    if new.announced or not _may_alert(new, now, policy):
        return new, None
    message = (
        f"⚠️ {new.name} returned {counted(count, 'posting')}, usually {usual:g} "
        f"(median of its last {counted(len(state.good_counts), 'good run')}), "
        f"since {_when(new.since)}.\n"
        "Last error: none, the board answered and parsed; it may have changed its layout "
        "or be hiding postings.\n"
        f"Next: the bot stores what it gets and checks again on its schedule{_next_run(run)}."
    )
    return replace(new, announced=True, last_alert_at=now), message


def _good(state: SourceState, count: int, policy: Policy) -> SourceState:
    return replace(state, good_counts=(*state.good_counts, count)[-policy.window :])


def _may_alert(state: SourceState, now: datetime, policy: Policy) -> bool:
    return state.last_alert_at is None or now - state.last_alert_at >= policy.min_gap


def _problem_text(state: SourceState) -> str:
    if state.problem == "drop":
        return "a sudden drop in postings"
    return f"{counted(state.failures, 'failed run')} ({state.kind.replace('_', ' ')})"


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M %Z").strip() if moment else "unknown"


def _next_run(run: Run) -> str:
    return f" (next run {_when(run.next_run_at)})" if run.next_run_at else ""


# What a failed answer means.

# Markers of the bot-protection services' challenge and block pages, as the services document
# them or as their pages show them (cited per line). Only markers that appear on a challenge or
# block page and not on every page the service protects: a protected board's plain 404 page
# must stay "not_found". Header names are lower-case; body markers are matched
# case-insensitively in the first 64 KiB.
CHALLENGE_HEADERS: dict[str, tuple[str, str | None]] = {
    # Cloudflare sets "cf-mitigated: challenge" on every challenge answer and nothing else
    # (developers.cloudflare.com/cloudflare-challenges/challenge-types/challenge-pages/
    #  detect-response/).
    "cf-mitigated": ("Cloudflare", "challenge"),
    # AWS WAF answers a Challenge action with "x-amzn-waf-action: challenge" and status 202, a
    # CAPTCHA with "captcha" and 405 (AWS WAFV2 API reference, ChallengeAction/CaptchaAction).
    "x-amzn-waf-action": ("AWS WAF", None),
}
CHALLENGE_BODY: tuple[tuple[str, str], ...] = (
    # Cloudflare's managed challenge page: "<title>Just a moment...</title>" and its
    # window._cf_chl_opt options object; the 1020 block page: "Attention Required! | Cloudflare".
    ("Cloudflare", "<title>just a moment...</title>"),
    ("Cloudflare", "window._cf_chl_opt"),
    ("Cloudflare", "attention required! | cloudflare"),
    # Akamai: the edge's "Access Denied" page links its reference host errors.edgesuite.net;
    # Bot Manager's interstitial carries a "bm-verify" token it posts to /_sec/verify.
    ("Akamai", "errors.edgesuite.net"),
    ("Akamai", "bm-verify"),
    # DataDome: the block page loads its captcha from geo.captcha-delivery.com.
    ("DataDome", "captcha-delivery.com"),
    # PerimeterX/HUMAN: the block page's "Press & Hold" challenge lives in #px-captcha
    # (its sensor script, client.px-cdn.net, is on every protected page, so not a marker).
    ("PerimeterX", "px-captcha"),
    # Imperva/Incapsula: the block page says "Request unsuccessful. Incapsula incident ID: …".
    ("Imperva", "incapsula incident id"),
    # AWS WAF: the challenge page runs the AwsWafIntegration script from *.token.awswaf.com.
    ("AWS WAF", "awswafintegration"),
)
_SNIFF_BYTES = 64 * 1024


def challenge_service(headers: Mapping[str, str], body: bytes | str) -> str | None:
    """The bot-protection service whose challenge or block page this answer is, or None.
    `headers` keys in any case; only the first 64 KiB of `body` is read."""
    return _challenge_header(headers) or _challenge_body(body)


def _challenge_header(headers: Mapping[str, str]) -> str | None:
    lower = {name.lower(): value for name, value in headers.items()}
    for name, (service, value) in CHALLENGE_HEADERS.items():
        if name in lower and (value is None or lower[name].strip().lower() == value):
            return service
    return None


def _challenge_body(body: bytes | str) -> str | None:
    text = body[:_SNIFF_BYTES]
    # Akamai writes its page with character references ("errors&#46;edgesuite&#46;net").
    sniff = html.unescape(text.decode("latin-1") if isinstance(text, bytes) else text).lower()
    for service, marker in CHALLENGE_BODY:
        if marker in sniff:
            return service
    return None


def classify(
    status: int | None,
    headers: Mapping[str, str],
    body: bytes | str,
    *,
    parse_failed: bool = False,
    robots_disallowed: bool = False,
) -> Kind:
    """What one board answer means.

    "robots_disallowed": the fetcher did not ask (robots.txt); "failing": no HTTP answer
    (`status` None: transport error, timeout), a 5xx or another unexpected code; "blocked":
    403 or 429, or a challenge/block page of Cloudflare, Akamai, DataDome, PerimeterX/HUMAN,
    Imperva/Incapsula or AWS WAF whatever its status; "not_found": 404/410 that is no
    challenge; "layout_changed": a 2xx (or 304) whose body did not parse (`parse_failed`);
    "ok": a 2xx or 304 that parsed. The challenge headers count on any status (AWS WAF
    challenges with a 202); body markers on a 2xx only when it did not parse.
    """
    if robots_disallowed:
        return "robots_disallowed"
    if status is None:
        return "failing"
    if _challenge_header(headers):
        return "blocked"
    if 200 <= status < 300 or status == 304:
        if not parse_failed:
            return "ok"
        return "blocked" if _challenge_body(body) else "layout_changed"
    if status in (403, 429) or _challenge_body(body):
        return "blocked"
    if status in (404, 410):
        return "not_found"
    return "failing"
