"""Benchmark: how long a second chat waits for `/help` while another chat keeps the bot busy.

Run: `python benchmarks/bench_chat_latency.py [--postings N] [--runs N]`.

The real Telegram front (python-telegram-bot, our poller, per-chat processing, FloodLimiter)
serves a store of N postings (default 100,000: the corpus in ../shared/corpus repeated under
distinct URLs) against `tests.fake_telegram.FakeTelegram` enforcing Telegram's limits.

(a) chat A sends `/latest zzzqqq` (a query matching nothing: a scan of the 20,000 newest
    postings); once it runs, chat B sends `/help`. Printed: B's reply time (from B's message
    to the bot's sendMessage reaching the server), and how long A's scan took, which is how
    long every chat froze when scans ran on the event loop.
(b) chat A floods 100 `/help` at once; then chat B sends `/help`. Printed: B's reply time.

Each run uses fresh chats (the per-chat rate limit would otherwise answer). Target: B's median
under 1 s in both. Figures are printed, never asserted: benchmarks do not gate CI.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.config import parse_settings  # noqa: E402
from bot.deliver import Limits  # noqa: E402
from bot.models import Posting  # noqa: E402
from bot.query import parse_query  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.sources.markdown import read_folder  # noqa: E402
from bot.sources.registry import KINDS  # noqa: E402
from bot.store import Store  # noqa: E402
from bot.subscriptions import Subscriptions, count_matching  # noqa: E402
from bot.telegram.app import telegram_front  # noqa: E402
from tests.fake_telegram import FakeTelegram, RateLimits  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "remotewlb"


def corpus() -> list[Posting]:
    found: list[Posting] = []
    if CORPUS.is_dir():
        for folder in sorted(CORPUS.iterdir()):
            if folder.is_dir():
                found.extend(read_folder(folder).postings)
    if not found:
        found = [
            Posting(
                url=f"https://jobs.example.com/{i}",
                title=f"Senior Python Engineer #{i}",
                company="Example Ltd",
                location="Remote, Europe",
                remote=True,
                description="Build and run the backend services of our platform. " * 20,
            )
            for i in range(500)
        ]
    return found


def repeated(base: list[Posting], count: int) -> Iterator[Posting]:
    for i in range(count):
        posting = base[i % len(base)]
        yield dataclasses.replace(posting, url=f"{posting.url.rstrip('/')}/copy-{i}")


def fill(store: Store, count: int) -> float:
    started = time.perf_counter()
    base = corpus()
    batch: list[Posting] = []
    for posting in repeated(base, count):
        batch.append(posting)
        if len(batch) == 5000:
            store.ingest("corpus", batch)
            batch = []
    if batch:
        store.ingest("corpus", batch)
    return time.perf_counter() - started


def reply_time(tg: FakeTelegram, chat: int, text: str, timeout: float = 60) -> float:
    """Seconds from `chat` writing `text` to the bot's first sendMessage to it reaching the
    server (the bot runs in another thread: this clock is not the bot's event loop)."""
    tg.add_private_chat(chat, f"User{chat}")
    started = time.monotonic()
    tg.send_user_message(chat, chat, text)
    tg.wait_for(lambda: tg.calls("sendMessage", chat_id=chat), timeout=timeout)
    return tg.calls("sendMessage", chat_id=chat)[0].at - started


class BotThread:
    """The Telegram front in a thread and event loop of its own, like the daemon's."""

    def __init__(self, tg: FakeTelegram, store: Store, settings: Settings) -> None:
        self.tg, self.store, self.settings = tg, store, settings
        self.ready = threading.Event()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stop: asyncio.Event | None = None
        self.thread = threading.Thread(target=asyncio.run, args=(self._serve(),), daemon=True)

    async def _serve(self) -> None:
        self.loop, self.stop = asyncio.get_running_loop(), asyncio.Event()
        subs = Subscriptions(self.store)
        async with telegram_front(self.settings, self.store, subs, self.stop, limits=Limits()):
            self.ready.set()
            await self.stop.wait()

    def __enter__(self) -> BotThread:
        self.thread.start()
        if not self.ready.wait(60):
            raise RuntimeError("the bot did not start")
        return self

    def __exit__(self, *exc_info: object) -> None:
        assert self.loop is not None and self.stop is not None
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(30)


def bench(postings: int, runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp, FakeTelegram(rate_limits=RateLimits()) as tg:
        path = Path(tmp) / "db.sqlite"
        store = Store.open(path)
        seconds = fill(store, postings)
        print(f"store: {store.count_postings():,} postings stored in {seconds:.1f} s")
        inline = time.perf_counter()
        count_matching(store, parse_query("zzzqqq"))
        inline = time.perf_counter() - inline
        print(f"one scan for `zzzqqq` (20,000 newest postings) on its own: {inline:.2f} s")
        settings = parse_settings(
            kinds=KINDS,
            raw={"telegram": {"api_url": tg.url}, "storage": {"path": str(path)}},
            path=Path(tmp) / "jobhound.toml",
            env={"TELEGRAM_BOT_TOKEN": tg.token},
        )
        chats = iter(range(1_000_000, 2_000_000))
        scan_waits, scans, flood_waits = [], [], []
        with BotThread(tg, store, settings):
            for _ in range(runs):
                a, b = next(chats), next(chats)
                tg.add_private_chat(a, "Scanner")
                started = time.monotonic()
                tg.send_user_message(a, a, "/latest zzzqqq")
                time.sleep(0.3)  # the scan is under way
                scan_waits.append(reply_time(tg, b, "/help"))
                tg.wait_for(lambda a=a: tg.calls("sendMessage", chat_id=a), timeout=120)
                scans.append(tg.calls("sendMessage", chat_id=a)[0].at - started)
            for _ in range(runs):
                a, b = next(chats), next(chats)
                tg.add_private_chat(a, "Flooder")
                for _ in range(100):
                    tg.send_user_message(a, a, "/help")
                flood_waits.append(reply_time(tg, b, "/help"))
        store.close()
    print(
        "(a) /help while another chat's /latest scans: median "
        f"{statistics.median(scan_waits):.3f} s (max {max(scan_waits):.3f} s, {runs} runs; "
        f"the /latest answer itself took median {statistics.median(scans):.2f} s)"
    )
    print(
        f"(b) /help while another chat floods 100 commands: median "
        f"{statistics.median(flood_waits):.3f} s (max {max(flood_waits):.3f} s, {runs} runs)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postings", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    bench(args.postings, args.runs)


if __name__ == "__main__":
    main()
