"""The command line: `run`, `once`, `latest`, `check`, `add`, `backup`, `export`, `import`
(also installed as `jobhound`); the data commands live in `bot.datacli`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TextIO

from bot.config import TOKEN_ENV, config_path, load_settings
from bot.errors import ConfigError, StoreError
from bot.logs import redact, setup_logging
from bot.settings import Settings
from bot.sources.registry import KINDS

log = logging.getLogger("jobhound")

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2
LATEST_MAX = 100


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jobhound",
        description="Watch job boards and alert Telegram chats about new matching postings.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    config_help = "config file (default: $JOBHOUND_CONFIG or config/jobhound.toml)"

    run = commands.add_parser("run", help="run the daemon: scheduler + Telegram bot (or console)")
    run.add_argument("--config", help=config_help)
    once = commands.add_parser("once", help="one cycle over every enabled source, then exit")
    once.add_argument("--config", help=config_help)
    latest = commands.add_parser("latest", help="newest stored postings, newest first")
    latest.add_argument("--config", help=config_help)
    latest.add_argument("-n", type=int, default=10, help="how many (default 10; any number)")
    latest.add_argument("--source", help="only this source's postings")
    latest.add_argument(
        "--json", action="store_true", help="one JSON object per line with every stored field"
    )
    latest.add_argument(
        "query", nargs="*", help='filter, e.g. (rust OR go) -intern "site reliability"'
    )
    check = commands.add_parser("check", help="validate the config and list the sources")
    check.add_argument("--config", help=config_help)
    check.add_argument("--db", action="store_true", help="run SQLite's integrity check instead")
    backup = commands.add_parser("backup", help="an online, consistent copy of the database")
    backup.add_argument("path", help="the new file to write")
    backup.add_argument("--config", help=config_help)
    export = commands.add_parser("export", help="chats and subscriptions as JSON")
    export.add_argument("path", nargs="?", help="a new file (default: standard output)")
    export.add_argument("--config", help=config_help)
    imp = commands.add_parser("import", help="an export into an empty database")
    imp.add_argument("path", help="a file written by export")
    imp.add_argument("--config", help=config_help)
    add = commands.add_parser("add", help="work out a board's source entry from a URL, add it")
    add.add_argument("url", help="a board page, a posting on it, its API URL or a careers page")
    add.add_argument("--name", help="source name (default: from the company)")
    add.add_argument("--schedule", help='crontab or interval, e.g. "2h" (default: defaults)')
    add.add_argument("--config", help=config_help)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python main.py` and the `jobhound` script; returns the exit status."""
    args = _parser().parse_args(argv)
    path = config_path(args.config)
    # Known before the config is read: a config error may quote a token pasted into a key.
    env_token = (os.environ.get(TOKEN_ENV) or "").strip()
    try:
        settings = load_settings(path, kinds=KINDS)
    except ConfigError as exc:
        say(f"jobhound: config error: {exc}", (env_token,), file=sys.stderr)
        return EXIT_CONFIG
    secrets = (settings.telegram.token,) if settings.telegram.token else ()
    level = logging.DEBUG if args.verbose else logging.INFO
    setup_logging(level, secrets, settings.logging.format)
    try:
        if args.command in DATA_COMMANDS or (args.command == "check" and args.db):
            return _data_command(settings, args)
        if args.command == "check":
            return _check(settings)
        if args.command == "once":
            return _once(settings)
        if args.command == "add":
            return _add(settings, args.url, args.name, args.schedule)
        return _run(settings)
    except ConfigError as exc:  # found only once running, e.g. Telegram rejecting the token
        log.error("%s", exc)
        return EXIT_CONFIG
    except StoreError as exc:  # another jobhound holds the database, or it cannot be used
        log.error("%s; %s. Exiting with status %d", exc, exc.remedy, EXIT_CONFIG)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return 130


def say(text: str, secrets: Sequence[str] = (), *, file: TextIO | None = None) -> None:
    """Print one line of ours, with any bot token redacted (`bot.logs.redact`)."""
    print(redact(text, secrets), file=file or sys.stdout)


def _secrets(settings: Settings) -> tuple[str, ...]:
    return (settings.telegram.token,) if settings.telegram.token else ()


def _check(settings: Settings) -> int:
    now = datetime.now(UTC)
    secrets = _secrets(settings)
    say(f"{settings.path}: OK, {len(settings.sources)} sources", secrets)
    mode = "telegram" if settings.telegram.token else "console (no TELEGRAM_BOT_TOKEN)"
    say(f"alerts: {mode}; database: {settings.storage.path}", secrets)
    for source in settings.sources:
        upcoming = source.schedule.next_run(now)
        when = upcoming.strftime("%Y-%m-%d %H:%M UTC") if upcoming else "never"
        state = f"next run {when}" if source.enabled else "disabled"
        line = f"  {source.name:<16} {source.kind:<16} {source.url}"
        say(f"{line}  [{source.schedule.text}; {state}]", secrets)
    return EXIT_OK


DATA_COMMANDS = frozenset({"latest", "backup", "export", "import"})


def _data_command(settings: Settings, args: argparse.Namespace) -> int:
    from bot import datacli

    def out(text: str) -> None:
        say(text, _secrets(settings))

    if args.command == "check":
        return datacli.run_integrity_check(settings, out)
    if args.command == "backup":
        return datacli.run_backup(settings, args.path, out)
    if args.command == "export":
        return datacli.run_export(settings, args.path, out)
    if args.command == "import":
        return datacli.run_import(settings, args.path, out)
    query = " ".join(args.query)
    return datacli.run_latest(
        settings, args.n, query, source=args.source, as_json=args.json, say=out
    )


def _once(settings: Settings) -> int:
    from bot.daemon import run_once

    outcomes = asyncio.run(run_once(settings))
    for outcome in outcomes:
        if outcome.ok:
            state = (
                "unchanged" if outcome.unchanged else f"{outcome.seen} postings, {outcome.new} new"
            )
            state = "paused by an admin" if outcome.paused else state
            say(f"{outcome.source}: {state}", _secrets(settings))
        else:
            say(f"{outcome.source}: FAILED: {outcome.error}", _secrets(settings))
    return EXIT_FAILED if outcomes and not any(o.ok for o in outcomes) else EXIT_OK


def _add(settings: Settings, url: str, name: str | None, schedule: str | None) -> int:
    from bot.discover import NotPlaced, add_source
    from bot.errors import SourceError

    try:
        outcome = asyncio.run(add_source(settings, url, name=name, schedule=schedule))
    except SourceError as exc:
        print(f"jobhound: could not read that board: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if isinstance(outcome, NotPlaced):
        print(outcome.message())
        return EXIT_FAILED
    print(outcome.message())
    return EXIT_OK


def _run(settings: Settings) -> int:
    from bot.daemon import run_daemon

    asyncio.run(run_daemon(settings))
    return EXIT_OK
