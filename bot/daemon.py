"""Wiring: build the resources once, hand them to the pipeline and scheduler, close them on stop."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.base import STATE_RUNNING
from telegram.error import InvalidToken, TelegramError

from bot.config import load_settings
from bot.deliver import Sender
from bot.deliver.console import ConsoleAlerts
from bot.errors import ConfigError, DeliveryDeferred
from bot.fetch import Fetcher, OriginPolicy, make_client
from bot.httpapi import HttpApi
from bot.lock import DatabaseLock
from bot.operations import Operations
from bot.pipeline import Pipeline, SourceOutcome
from bot.redact import redact
from bot.schedule import build_scheduler
from bot.settings import Settings, SourceSettings
from bot.sources.base import SourceContext, SourceKind
from bot.sources.registry import KINDS
from bot.store import Store, checkpoint
from bot.subscriptions import Subscriptions
from bot.telegram.admin import AdminMessages
from bot.telegram.app import build_application, telegram_front
from bot.text import counted

if TYPE_CHECKING:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

log = logging.getLogger(__name__)

# SIGINT/SIGTERM must stop the daemon within 10 s: in-flight runs get this long to finish
# (then they are cancelled; Telegram's side stops meanwhile).
STOP_GRACE_SECONDS = 3.0
# A signal's promise, kept even if some library hangs on the way out: the process ends this long
# after SIGINT/SIGTERM however far shutdown got (writes are transactional, like after SIGKILL).
HARD_EXIT_SECONDS = 9.5
# How often the WAL is copied into the database file (`checkpoint_wal`), in seconds.
CHECKPOINT_SECONDS = 300.0


class OutboxBell:
    """Rung by the pipeline when a scrape queued alerts; wakes whoever listens (the sender).

    The pipeline is built before the Telegram front (which needs the network to start), so it
    rings this bell instead of holding the sender itself.
    """

    def __init__(self) -> None:
        self._listeners: list[Callable[[], None]] = []

    def listen(self, wake: Callable[[], None]) -> None:
        """Call `wake` on every ring from now on."""
        self._listeners.append(wake)

    async def ring(self, _result: object) -> None:
        """The pipeline's `publish`: wake every listener."""
        for wake in self._listeners:
            wake()


@dataclass
class Resources:
    """What start-up creates and shutdown closes."""

    settings: Settings
    store: Store
    pipeline: Pipeline
    policy: OriginPolicy  # shared by the client and the Fetcher; a config reload updates it
    # Telegram mode only (a token is set): the subscription index and the sender's bell.
    subs: Subscriptions | None
    bell: OutboxBell
    # Issue 14: metrics, breakage alerts, paused sources, /healthz.
    ops: Operations | None = None


@contextlib.asynccontextmanager
async def open_resources(
    settings: Settings,
    *,
    kinds: Mapping[str, SourceKind] = KINDS,
    base_dir: Path | None = None,
) -> AsyncIterator[Resources]:
    """Take the database's lock, open the store and the HTTP client and build the pipeline once,
    complete (console alerts without a token, the subscription matcher and the outbox with one);
    release all of it however the block ends. Raises `StoreInUseError` when another jobhound
    holds the lock, another `StoreError` when the database cannot be used."""
    lock, store = _lock_and_open(settings)
    try:
        # Only the configured sources' origins may be internal addresses (issue 9, SSRF).
        policy = OriginPolicy.of(source.url for source in settings.sources)
        ops = Operations(settings, store)
        async with make_client(settings.fetch, policy) as client:
            fetcher = Fetcher(settings.fetch, client, store, policy=policy, metrics=ops.metrics)
            ops.last_answers = fetcher.last_answers
            context = SourceContext(
                fetcher=fetcher, known_urls=store.known_urls, base_dir=base_dir or Path.cwd()
            )
            cap = settings.delivery.max_alerts_per_chat_per_cycle
            bell = OutboxBell()
            if settings.telegram.token is None:
                subs = None
                pipeline = Pipeline(
                    postings=store,
                    health=store,
                    context=context,
                    kinds=kinds,
                    publish=ConsoleAlerts(cap=cap).publish,
                    ops=ops,
                )
            else:
                live = subs = Subscriptions(store, cap_per_cycle=cap)
                pipeline = Pipeline(
                    postings=store,
                    health=store,
                    context=context,
                    kinds=kinds,
                    publish=bell.ring,
                    matcher=lambda: live.matcher,
                    ops=ops,
                )
            yield Resources(settings, store, pipeline, policy, subs, bell, ops)
    finally:
        store.close()
        lock.release()


def _lock_and_open(settings: Settings) -> tuple[DatabaseLock, Store]:
    """One daemon per database: the lock first, then the store (the lock is dropped if the
    store cannot be opened)."""
    lock = DatabaseLock(settings.storage.path)
    if str(settings.storage.path) != ":memory:":
        lock.acquire()
    token = settings.telegram.token
    try:
        store = Store.open(
            settings.storage.path, secrets=(token,) if token else (), check_writable=True
        )
        return lock, store
    except BaseException:
        lock.release()
        raise


@dataclass(frozen=True)
class OnceReport:
    """What one `once` cycle did: every source's outcome, and why alerts were not sent if not.

    `delivery_fault` is a `ConfigError` when Telegram rejected the token (exit 2, like `run`), a
    `DeliveryDeferred` when the Bot API could not be reached (the alerts stay in the outbox).
    """

    outcomes: list[SourceOutcome]
    delivery_fault: ConfigError | DeliveryDeferred | None = None


async def run_once(settings: Settings) -> list[SourceOutcome]:
    """One cycle over every enabled source (fetch, store, match, deliver), then return.

    Raises the report's `delivery_fault` (see `once_report`) after the sources ran.
    """
    report = await once_report(settings)
    if report.delivery_fault is not None:
        raise report.delivery_fault
    return report.outcomes


async def once_report(settings: Settings) -> OnceReport:
    """One cycle over every enabled source, then one attempt to send the queued alerts.

    A token Telegram rejects or an unreachable `telegram.api_url` does not lose the sources'
    outcomes: it comes back as the report's `delivery_fault` (one redacted line's worth), and the
    alerts stay queued in the outbox for the next run.
    """
    async with open_resources(settings) as res:
        outcomes = await res.pipeline.run_all(settings.enabled_sources)
        if settings.telegram.token is None:
            return OnceReport(outcomes)
        subs = res.subs
        assert subs is not None  # a token: the pipeline matched through them
        app = build_application(settings, ops=res.ops)
        metrics = res.ops.metrics if res.ops else None
        try:
            async with app:
                await Sender(
                    res.store,
                    app.bot,
                    matched_terms=subs.matched_terms,
                    metrics=metrics,
                    unstated=subs.unstated_facts,
                ).drain()
        except InvalidToken:
            fault: ConfigError | DeliveryDeferred = ConfigError(
                "Telegram rejected TELEGRAM_BOT_TOKEN (401 Unauthorized); "
                "the alerts stay queued for the next run",
                key="TELEGRAM_BOT_TOKEN",
            )
            return OnceReport(outcomes, fault)
        except TelegramError as exc:  # unreachable, timed out, or a proxy's page instead
            fault = DeliveryDeferred(
                redact(
                    f"cannot reach the Telegram Bot API at telegram.api_url "
                    f"({exc.__class__.__name__}: {exc}); the alerts stay queued for the next run",
                    (settings.telegram.token,),
                )
            )
            return OnceReport(outcomes, fault)
        return OnceReport(outcomes)


async def run_daemon(
    settings: Settings, stop: asyncio.Event | None = None, *, watch_interval: float = 5.0
) -> None:
    """Run every source at start-up and then on its schedule until SIGINT/SIGTERM or `stop`;
    sources added, changed or removed in the config file are picked up every `watch_interval`
    seconds.

    After a signal the process ends within `HARD_EXIT_SECONDS` in any state (starting, connecting
    to Telegram, scraping, sending): an orderly stop first, then `os._exit` if anything hangs.
    """
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    deadline = threading.Timer(HARD_EXIT_SECONDS, _hard_exit)
    deadline.daemon = True

    def on_signal() -> None:
        if not deadline.is_alive():
            deadline.start()
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, on_signal)
    try:
        await _serve(settings, stop, watch_interval)
    finally:
        # An armed deadline stays armed: what follows (asyncio.run waiting for executor threads,
        # e.g. a DNS lookup that hangs) is part of the shutdown the signal asked for.
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(signum)
    log.info("stopped")


def _hard_exit() -> None:
    log.error("shutdown did not finish within %.1fs of the signal; exiting now", HARD_EXIT_SECONDS)
    os._exit(1)


def freeze_startup_objects() -> None:
    """Move every object alive now (the parsed subscriptions and their match index: about a
    million objects at 100,000 subscriptions, the kinds' tables, the settings) out of the
    cyclic garbage collector's sight, after one collection so that no garbage is kept.

    They live until exit, and a full collection walks every tracked object with the GIL held:
    0.27 s at 100,000 subscriptions, a stall of the event loop and of every worker. Objects
    made later are collected as usual; frozen ones are still freed by reference counting.
    (`gc.freeze`, Python docs: "ignore them in all the future collections".)"""
    gc.collect()
    gc.freeze()


async def _serve(settings: Settings, stop: asyncio.Event, watch_interval: float) -> None:
    async with open_resources(settings) as res, contextlib.AsyncExitStack() as stack:
        if settings.telegram.token is None:
            log.info(
                "console mode: no TELEGRAM_BOT_TOKEN set, new postings are printed here. "
                "To alert Telegram chats, create a bot with @BotFather and start with "
                "TELEGRAM_BOT_TOKEN=<token> make run"
            )
        elif not await _unless_stopped(_connect_telegram(res, stack, stop), stop):
            log.info("stopped while connecting to Telegram")
            return
        inflight: set[asyncio.Task[Any]] = set()
        job_for = _jobs(res.pipeline, inflight)
        sources = settings.enabled_sources
        scheduler = build_scheduler((s.name, s.schedule, job_for(s)) for s in sources)
        ops = res.ops
        assert ops is not None  # open_resources builds it
        ops.scheduler_running = lambda: scheduler.state == STATE_RUNNING
        ops.run_now = lambda name: _run_now(scheduler, name)
        # Before any source runs: an address that cannot be bound ends start-up in one line.
        await _open_http(settings, ops, stack)
        stack.callback(gc.unfreeze)
        freeze_startup_objects()
        scheduler.start()
        log.info("watching %s; Ctrl-C stops", counted(len(sources), "source"))

        def apply(old: Settings, new: Settings) -> list[str]:
            ops.reconfigure(new)
            return reschedule(scheduler, old, new, job_for, res.policy)

        watcher = asyncio.create_task(watch_config(settings, stop, apply, interval=watch_interval))
        wal = str(settings.storage.path)
        checkpoints = asyncio.create_task(checkpoint_wal(wal, stop, interval=CHECKPOINT_SECONDS))
        try:
            await stop.wait()
        finally:
            watcher.cancel()
            checkpoints.cancel()
            log.info(
                "stopping: waiting up to %.0fs for %s",
                STOP_GRACE_SECONDS,
                counted(len(inflight), "running source"),
            )
            # Paused, not shut down: APScheduler's shutdown cancels running jobs at once.
            scheduler.pause()
            await _drain(inflight)
            scheduler.shutdown(wait=False)


async def _open_http(settings: Settings, ops: Operations, stack: contextlib.AsyncExitStack) -> None:
    """Serve /healthz and /metrics on `[http] listen` (nothing when unset) until `stack` closes
    (port 0 picks a free one, which `HttpApi` logs); an address that cannot be bound is a
    ConfigError (exit 2)."""
    if settings.http.listen is None:
        return
    host, port = settings.http.listen
    api = HttpApi(host, port, metrics=ops.metrics, health=ops.health)
    try:
        await stack.enter_async_context(api)
    except OSError as exc:
        raise ConfigError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}", key="http.listen"
        ) from None


def _run_now(scheduler: AsyncIOScheduler, name: str) -> bool:
    """Bring `name`'s next run forward to now (`/runsource`); False when it has no job."""
    job = scheduler.get_job(name)
    if job is None:
        return False
    job.modify(next_run_time=datetime.now(UTC))
    return True


def _jobs(
    pipeline: Pipeline, inflight: set[asyncio.Task[Any]]
) -> Callable[[SourceSettings], Callable[[], Awaitable[None]]]:
    """The scheduler's job for a source: one pipeline run, tracked in `inflight` so a stop can
    wait for it (and cancel it after the grace period)."""

    def job_for(source: SourceSettings) -> Callable[[], Awaitable[None]]:
        async def job() -> None:
            task = asyncio.current_task()
            assert task is not None
            inflight.add(task)
            try:
                await pipeline.run(source)
            except asyncio.CancelledError:
                # Ours (_drain): one line here rather than APScheduler's traceback.
                log.info(
                    "%s: run cancelled by shutdown; it runs again after the restart", source.name
                )
            finally:
                inflight.discard(task)

        return job

    return job_for


async def _unless_stopped(work: Awaitable[None], stop: asyncio.Event) -> bool:
    """Await `work` unless `stop` is set first (then cancel it): True when `work` finished.

    Start-up steps that wait on the network (getMe can hang for its read timeout) must not hold
    a stop request.
    """
    task = asyncio.ensure_future(work)
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
    if task.done():
        task.result()
        return True
    task.cancel()
    await asyncio.wait({task}, timeout=2)
    return False


async def _connect_telegram(
    res: Resources, stack: contextlib.AsyncExitStack, stop: asyncio.Event
) -> None:
    """Matching feeds the outbox, and the sender is woken whenever a scrape queued alerts."""
    assert res.subs is not None  # Telegram mode: open_resources built the index
    front = await stack.enter_async_context(
        telegram_front(res.settings, res.store, res.subs, stop, ops=res.ops)
    )
    res.bell.listen(front.sender.wake)
    if res.ops is not None:
        res.ops.notify = AdminMessages(front.app.bot, res.settings.telegram.admins).send


async def _drain(tasks: set[asyncio.Task[Any]]) -> None:
    """Let running sources finish for a moment, then cancel them (writes are transactional)."""
    if not tasks:
        return
    _, pending = await asyncio.wait(set(tasks), timeout=STOP_GRACE_SECONDS)
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending, timeout=2)
        log.info(
            "abandoned %s; they will run again next time",
            counted(len(pending), "unfinished source run"),
        )


def reschedule(
    scheduler: AsyncIOScheduler,
    old: Settings,
    new: Settings,
    job_for: Callable[[SourceSettings], Callable[[], Awaitable[None]]],
    policy: OriginPolicy | None = None,
) -> list[str]:
    """Bring the running scheduler from `old`'s enabled sources to `new`'s: removed or changed
    ones lose their job, added or changed ones get one that runs now; `policy` (the fetcher's)
    then allows exactly the new sources' origins. Returns "+name"/"-name"."""
    if policy is not None:
        policy.configure(source.url for source in new.sources)
    before = {source.name: source for source in old.enabled_sources}
    after = {source.name: source for source in new.enabled_sources}
    changes: list[str] = []
    for name, source in before.items():
        if after.get(name) != source:
            with contextlib.suppress(JobLookupError):
                scheduler.remove_job(name)
            changes.append(f"-{name}")
    now = datetime.now(UTC)
    for name, source in after.items():
        if before.get(name) != source:
            scheduler.add_job(
                job_for(source),
                trigger=source.schedule.trigger(),
                id=name,
                name=name,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=None,
                next_run_time=now,
            )
            changes.append(f"+{name}")
    return changes


async def checkpoint_wal(path: str, stop: asyncio.Event, *, interval: float) -> None:
    """Every `interval` seconds until `stop`, copy the WAL into the database file in a worker
    (`bot.store.checkpoint`, PASSIVE: it waits for nobody). The daemon's connection does not
    checkpoint by itself (`open_database`) and an ingest does only after thousands of rows,
    so without this the sender's marks, health and validator writes would grow the WAL for
    as long as the daemon runs (each read then searches a longer WAL index)."""
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)
        if not stop.is_set():
            await asyncio.to_thread(checkpoint, path)


async def watch_config(
    settings: Settings,
    stop: asyncio.Event,
    apply: Callable[[Settings, Settings], list[str]],
    *,
    interval: float,
    kinds: Mapping[str, SourceKind] = KINDS,
) -> None:
    """Every `interval` seconds, re-read the config file; when its text changed and it is
    valid, `apply(old, new)` (an invalid edit is one warning, and the running sources stay)."""
    path, current = settings.path, settings
    # Not the file's text now: it may have changed since `settings` were read from it.
    last: str | None = None
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)
        text = _read_text(path)
        if stop.is_set() or text == last:
            continue
        last = text
        try:
            fresh = load_settings(path, kinds=kinds)
        except ConfigError as exc:
            log.warning("config changed but is invalid (%s); keeping the running sources", exc)
            continue
        except Exception:  # a bug reading it must not end the watching (its traceback logged)
            log.exception("config changed but could not be read (a bug); keeping the sources")
            continue
        changes = apply(current, fresh)
        current = fresh
        if changes:
            log.info("config changed: sources %s", " ".join(changes))


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return None
