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
from bot.errors import ConfigError, DeliveryDeferred, StoreError
from bot.logs import redact, setup_logging
from bot.models import http_url_problem
from bot.settings import Settings
from bot.sources.registry import KINDS
from bot.text import counted

log = logging.getLogger("jobhound")

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2


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
    latest.add_argument("--all", action="store_true", help="include closed jobs (marked closed)")
    # Everything after the options is the query, "-django" included (see `_query_after_options`).
    latest.add_argument(
        "query", nargs="*", help='filter, e.g. python -django, (rust OR go) "site reliability"'
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
    args = _parser().parse_args(_query_after_options(sys.argv[1:] if argv is None else argv))
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
        say(f"jobhound: {exc}", secrets, file=sys.stderr)
        return EXIT_CONFIG
    except StoreError as exc:  # another jobhound holds the database, or it cannot be used
        log.error("%s; %s. Exiting with status %d", exc, exc.remedy, EXIT_CONFIG)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return 130
    except Exception:  # a bug: its traceback goes through the log's redaction, not sys.excepthook
        log.exception("jobhound %s failed unexpectedly (a bug); exiting", args.command)
        return EXIT_FAILED


# `latest`'s options and whether each takes a value; the first other word starts the query.
_LATEST_OPTIONS = {
    "--config": True,
    "-n": True,
    "--source": True,
    "--json": False,
    "--all": False,
    "-h": False,
    "--help": False,
}


def _query_after_options(argv: Sequence[str]) -> list[str]:
    """`argv` with "--" put before `latest`'s query, so a query word starting with "-" (an
    exclusion: `latest python -django`, `latest -php`) is the query's, not an unknown option.

    Options go before the query (`latest -n 5 rust -intern`); after it, all is query text.
    """
    words = list(argv)
    i = 0
    while i < len(words) and words[i].startswith("-"):  # the top-level -v / --verbose
        i += 1
    if i >= len(words) or words[i] != "latest":
        return words
    i += 1
    while i < len(words):
        word = words[i]
        if word == "--":
            return words
        option, has_value, _ = word.partition("=")
        takes_value = _LATEST_OPTIONS.get(option)
        if takes_value is None and not (word.startswith("-n") and word[2:].isdigit()):
            break
        i += 2 if takes_value and not has_value else 1
    return [*words[:i], "--", *words[i:]] if i < len(words) else words


def say(text: str, secrets: Sequence[str] = (), *, file: TextIO | None = None) -> None:
    """Print one line of ours, with any bot token redacted (`bot.logs.redact`)."""
    print(redact(text, secrets), file=file or sys.stdout)


def _secrets(settings: Settings) -> tuple[str, ...]:
    return (settings.telegram.token,) if settings.telegram.token else ()


def _check(settings: Settings) -> int:
    now = datetime.now(UTC)
    secrets = _secrets(settings)
    say(f"{settings.path}: OK, {counted(len(settings.sources), 'source')}", secrets)
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
        settings,
        args.n,
        query,
        source=args.source,
        as_json=args.json,
        closed=args.all,
        say=out,
    )


def _once(settings: Settings) -> int:
    """Every source's outcome, then one line if the alerts could not be sent: exit 2 when
    Telegram rejected the token (as `run` does), 1 when the Bot API was unreachable or every
    source failed."""
    from bot.daemon import once_report

    secrets = _secrets(settings)
    report = asyncio.run(once_report(settings))
    for outcome in report.outcomes:
        if not outcome.ok:
            say(f"{outcome.source}: FAILED: {outcome.error}", secrets)
        elif outcome.paused:
            say(f"{outcome.source}: paused by an admin", secrets)
        elif outcome.unchanged:
            say(f"{outcome.source}: unchanged", secrets)
        else:
            say(f"{outcome.source}: {counted(outcome.seen, 'posting')}, {outcome.new} new", secrets)
    fault = report.delivery_fault
    if isinstance(fault, ConfigError):
        say(f"jobhound: {fault}", secrets, file=sys.stderr)
        return EXIT_CONFIG
    if isinstance(fault, DeliveryDeferred):
        say(f"jobhound: {fault}", secrets, file=sys.stderr)
        return EXIT_FAILED
    outcomes = report.outcomes
    return EXIT_FAILED if outcomes and not any(o.ok for o in outcomes) else EXIT_OK


def _add(settings: Settings, url: str, name: str | None, schedule: str | None) -> int:
    from bot.discover import AlreadyConfigured, NotPlaced, add_source
    from bot.errors import SourceError

    if (problem := http_url_problem(url)) is not None:
        say(f"jobhound: add: {problem}", file=sys.stderr)
        return EXIT_CONFIG
    try:
        outcome = asyncio.run(add_source(settings, url, name=name, schedule=schedule))
    except SourceError as exc:
        say(f"jobhound: could not read that board: {exc}", _secrets(settings), file=sys.stderr)
        return EXIT_FAILED
    if isinstance(outcome, NotPlaced | AlreadyConfigured):
        say(outcome.message(), _secrets(settings))
        return EXIT_FAILED
    say(outcome.message(), _secrets(settings))
    return EXIT_OK


def _run(settings: Settings) -> int:
    from bot.daemon import run_daemon

    asyncio.run(run_daemon(settings))
    return EXIT_OK
