"""Benchmark: the outbox sender against a local Bot API server that enforces Telegram's limits.

Run: `python benchmarks/bench_delivery.py [--chats N] [--one-chat N]`.

(a) N alerts (default 600) to N different private chats: python-telegram-bot with the
    `FloodLimiter`, driven by `Sender`, against `tests.fake_telegram.FakeTelegram` answering 429
    past 30 messages/s overall, 3 per 3 s per private chat, 20/min per group. Throughput is
    printed as a fraction of 30 messages/s: (N - 1) messages over the time between the first and
    the last message the server accepted. (The limiter paces sends evenly, 34 ms apart, rather
    than 30 at the start of each second; a bursting sender would finish 600 about a second
    sooner, with 30 requests in flight at once.)
(b) N alerts (default 100) to one private chat: batched into as few messages as the 4096-character
    limit allows, sent at one message per second.

Postings come from ../shared/corpus (falling back to generated ones). Figures are printed, never
asserted: benchmarks do not gate CI.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from telegram.ext import ExtBot  # noqa: E402
from telegram.request import HTTPXRequest  # noqa: E402

from bot.deliver import FloodLimiter, Limits, Sender  # noqa: E402
from bot.deliver.format import MAX_BUTTONS  # noqa: E402
from bot.models import Posting  # noqa: E402
from bot.sources.markdown import read_folder  # noqa: E402
from bot.store import PendingDelivery, Store  # noqa: E402
from tests.fake_telegram import FakeTelegram, RateLimits  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "remotewlb"
LIMIT = 30.0


def postings(count: int) -> list[Posting]:
    """`count` real postings from the corpus (generated ones if it is missing)."""
    found: list[Posting] = []
    if CORPUS.is_dir():
        for folder in sorted(CORPUS.iterdir()):
            if folder.is_dir():
                found.extend(read_folder(folder).postings)
            if len(found) >= count:
                break
    found.extend(
        Posting(
            url=f"https://jobs.example.com/{i}",
            title=f"Senior Python Engineer #{i}",
            company="Example Ltd",
            location="Remote, Europe",
            remote=True,
            salary="€70k–€90k",
        )
        for i in range(len(found), count)
    )
    return found[:count]


def prepare(store: Store, items: list[Posting], chats: list[int]) -> None:
    """Store the postings (a baseline) and queue one delivery per (chat, posting) pair."""
    store.ingest("bench", items)
    for chat_id in set(chats):
        store.touch_chat(chat_id, type="private", title=f"user {chat_id}")
    if len(set(chats)) == 1:
        pairs = [(chats[0], p) for p in items]
    else:
        pairs = list(zip(chats, items, strict=True))
    store.enqueue(PendingDelivery(chat_id, p.id, 1) for chat_id, p in pairs)
    store.db.conn.commit()


def make_bot(tg: FakeTelegram, limiter: FloodLimiter) -> ExtBot[None]:
    request = HTTPXRequest(connection_pool_size=64, httpx_kwargs={"verify": False})
    return ExtBot(
        tg.token,
        base_url=tg.base_url,
        base_file_url=tg.base_file_url,
        request=request,
        get_updates_request=HTTPXRequest(httpx_kwargs={"verify": False}),
        rate_limiter=limiter,
    )


async def deliver(tg: FakeTelegram, store: Store, timeout: float) -> tuple[float, FloodLimiter]:
    """Run the sender until the outbox is empty; returns the wall time and the limiter."""
    limiter = FloodLimiter(Limits())
    async with make_bot(tg, limiter) as bot:
        sender = Sender(store, bot)
        started = time.monotonic()
        await sender.drain(timeout=timeout)
        return time.monotonic() - started, limiter


async def many_chats(count: int) -> None:
    items = postings(count)
    chats = [100_000 + i for i in range(count)]
    store = Store.open(":memory:")
    prepare(store, items, chats)
    with FakeTelegram(rate_limits=RateLimits()) as tg:
        wall, limiter = await deliver(tg, store, timeout=count / LIMIT * 3 + 30)
        sent = [m for m in tg.sent_messages() if m.chat_id in set(chats)]
        calls = tg.calls("sendMessage")
        count_429 = tg.count_429
    reached = {m.chat_id for m in sent}
    span = sent[-1].at - sent[0].at if len(sent) > 1 else float("nan")
    rate = (len(sent) - 1) / span
    print(f"(a) {count} alerts to {count} private chats")
    print(f"    delivered:     {len(reached)}/{count} chats", end=" ")
    print(f"({len(sent)} messages, {len(calls)} sendMessage calls)")
    print(f"    429s received: {count_429} (limiter saw {limiter.retry_after_count})")
    print(f"    first→last accepted: {span:.2f} s, wall {wall:.2f} s (includes start and drain)")
    print(f"    throughput:    {rate:.2f} msg/s = {rate / LIMIT:.1%} of 30 msg/s")
    print(f"    still pending: {store.pending_count()}")
    store.close()


async def one_chat(count: int) -> None:
    items = postings(count)
    chat = 777
    store = Store.open(":memory:")
    prepare(store, items, [chat])
    with FakeTelegram(rate_limits=RateLimits()) as tg:
        wall, _ = await deliver(tg, store, timeout=120)
        sent = tg.sent_messages(chat)
        count_429 = tg.count_429
    gaps = [b.at - a.at for a, b in itertools.pairwise(sent)]
    lengths = [len(m.text) for m in sent]
    listed = sum(len(m.buttons) for m in sent)
    floor = -(-sum(lengths) // 4096)
    print(f"(b) {count} alerts to one private chat")
    print(f"    messages:      {len(sent)} (listing {listed} postings; text lengths {lengths})")
    by_buttons = -(-count // MAX_BUTTONS)
    print(f"    at least {floor} messages by length, {by_buttons} by the {MAX_BUTTONS}-button cap")
    print(f"    seconds:       {sent[-1].at - sent[0].at:.2f} first→last, wall {wall:.2f}")
    if gaps:
        print(f"    spacing:       min {min(gaps):.2f} s, mean {sum(gaps) / len(gaps):.2f} s")
    print(f"    429s received: {count_429}")
    print(f"    still pending: {store.pending_count()}")
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chats", type=int, default=600)
    parser.add_argument("--one-chat", type=int, default=100)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    asyncio.run(many_chats(args.chats))
    asyncio.run(one_chat(args.one_chat))


if __name__ == "__main__":
    main()
