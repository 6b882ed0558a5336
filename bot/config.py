"""Read the TOML config and the environment once, into frozen typed settings.

Every mistake stops start-up with one `ConfigError` naming the file, the key path
(`sources[2].schedule`) and what is wrong; after this module nothing reads the file again.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn

from bot.errors import ConfigError
from bot.httpapi import parse_listen
from bot.models import URL_IDENTITY, Identity, http_url_problem
from bot.schedule import Schedule, parse_schedule
from bot.settings import (
    DeliverySettings,
    FetchSettings,
    HttpSettings,
    LoggingSettings,
    Settings,
    SourceSettings,
    StorageSettings,
    TelegramSettings,
)
from bot.sources.base import SourceKind

DEFAULT_CONFIG = Path("config/jobhound.toml")
TOKEN_ENV = "TELEGRAM_BOT_TOKEN"
CONFIG_ENV = "JOBHOUND_CONFIG"
HTTP_LISTEN_ENV = "JOBHOUND_HTTP_LISTEN"  # overrides http.listen (the Docker image sets it)
LOG_FORMATS = ("text", "json")
DB_ENV = "JOBHOUND_DB"  # overrides storage.path (the Docker image points it at the /data volume)
_SOURCE_NAME = re.compile(r"^[a-z0-9_-]{1,40}$")


def config_path(cli_value: str | None) -> Path:
    """The config file to read: the command line, else $JOBHOUND_CONFIG, else the default."""
    if cli_value:
        return Path(cli_value)
    return Path(os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG)


def load_settings(
    path: Path, *, kinds: Mapping[str, SourceKind], env: Mapping[str, str] | None = None
) -> Settings:
    """Read and validate the config file against the kind registry `kinds`; raise ConfigError on
    the first mistake."""
    env = os.environ if env is None else env
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError("file not found", path=str(path)) from None
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", path=str(path)) from None
    except UnicodeDecodeError:
        raise ConfigError("not UTF-8 text", path=str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML: {exc}", path=str(path)) from None
    return parse_settings(raw, path=path, kinds=kinds, env=env)


def parse_settings(
    raw: Mapping[str, Any],
    *,
    path: Path,
    kinds: Mapping[str, SourceKind],
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Validate an already-parsed TOML document; `kinds` is the registry (`bot.sources.registry
    .KINDS`) that says which `kind` names exist and which options each takes.

    Raises ConfigError naming the file, the key path and what is wrong."""
    env = {} if env is None else env
    reader = _Reader(str(path))
    reader.no_unknown(
        raw,
        "",
        {"telegram", "storage", "defaults", "fetch", "delivery", "sources", "http", "logging"},
    )
    telegram = _telegram_settings(reader, reader.table(raw, "telegram"), env)

    st = reader.table(raw, "storage")
    reader.no_unknown(st, "storage", {"path"})
    db_path = env.get(DB_ENV) or reader.string(st, "storage", "path", "data/jobhound.db")
    storage = StorageSettings(path=Path(db_path))

    dl = reader.table(raw, "delivery")
    reader.no_unknown(dl, "delivery", {"max_alerts_per_chat_per_cycle"})
    cap = reader.number(dl, "delivery", "max_alerts_per_chat_per_cycle", 20, int, 1, 1000)

    df = reader.table(raw, "defaults")
    reader.no_unknown(df, "defaults", {"schedule"})
    default_schedule = reader.schedule(
        reader.string(df, "defaults", "schedule", "*/30 * * * *"), "defaults.schedule"
    )
    return Settings(
        path=path,
        telegram=telegram,
        storage=storage,
        fetch=_fetch_settings(reader, reader.table(raw, "fetch")),
        delivery=DeliverySettings(max_alerts_per_chat_per_cycle=int(cap)),
        default_schedule=default_schedule,
        sources=_sources(reader, raw.get("sources", []), kinds, default_schedule),
        http=_http_settings(reader, reader.table(raw, "http"), env),
        logging=_logging_settings(reader, reader.table(raw, "logging")),
    )


def _http_settings(reader: _Reader, ht: Mapping[str, Any], env: Mapping[str, str]) -> HttpSettings:
    """`[http] listen` ("HOST:PORT"), overridden by JOBHOUND_HTTP_LISTEN; unset: no server."""
    reader.no_unknown(ht, "http", {"listen"})
    text = env.get(HTTP_LISTEN_ENV) or reader.string(ht, "http", "listen", "")
    if not text.strip():
        return HttpSettings()
    key = HTTP_LISTEN_ENV if env.get(HTTP_LISTEN_ENV) else "http.listen"
    try:
        return HttpSettings(listen=parse_listen(text))
    except ValueError as exc:
        reader.fail(key, str(exc))


def _logging_settings(reader: _Reader, lg: Mapping[str, Any]) -> LoggingSettings:
    reader.no_unknown(lg, "logging", {"format"})
    fmt = reader.string(lg, "logging", "format", "text")
    if fmt not in LOG_FORMATS:
        reader.fail("logging.format", f"{fmt!r} is not one of {', '.join(LOG_FORMATS)}")
    return LoggingSettings(format=fmt)


def _telegram_settings(
    reader: _Reader, tg: Mapping[str, Any], env: Mapping[str, str]
) -> TelegramSettings:
    reader.no_unknown(tg, "telegram", {"api_url", "admins"})
    api_url = reader.string(tg, "telegram", "api_url", TelegramSettings.api_url)
    reader.http_url(api_url, "telegram.api_url")
    admins = reader.get(tg, "telegram", "admins", list, [])
    for i, admin in enumerate(admins):
        if not isinstance(admin, int) or isinstance(admin, bool):
            reader.fail(
                f"telegram.admins[{i}]", f"expected a Telegram user id (integer), got {admin!r}"
            )
    token = (env.get(TOKEN_ENV) or "").strip() or None
    return TelegramSettings(api_url=api_url.rstrip("/"), admins=frozenset(admins), token=token)


def _sources(
    reader: _Reader, raw_sources: Any, kinds: Mapping[str, SourceKind], default_schedule: Schedule
) -> tuple[SourceSettings, ...]:
    if not isinstance(raw_sources, list):
        reader.fail("sources", "expected [[sources]] tables")
    sources = tuple(
        _source(reader, entry, f"sources[{i}]", kinds, default_schedule)
        for i, entry in enumerate(raw_sources)
    )
    seen: dict[str, str] = {}
    for i, source in enumerate(sources):
        if source.name in seen:
            reader.fail(
                f"sources[{i}].name",
                f"duplicate source name {source.name!r} ({seen[source.name]} has it too)",
            )
        seen[source.name] = f"sources[{i}]"
    return sources


def _fetch_settings(reader: _Reader, ft: Mapping[str, Any]) -> FetchSettings:
    d = FetchSettings()
    reader.no_unknown(ft, "fetch", set(FetchSettings.__dataclass_fields__))
    contact = reader.string(ft, "fetch", "contact_url", d.contact_url)
    reader.http_url(contact, "fetch.contact_url")
    return FetchSettings(
        user_agent=reader.string(ft, "fetch", "user_agent", d.user_agent),
        contact_url=contact,
        connect_timeout=reader.number(
            ft, "fetch", "connect_timeout", d.connect_timeout, float, 0.1, 300
        ),
        read_timeout=reader.number(ft, "fetch", "read_timeout", d.read_timeout, float, 0.1, 600),
        total_timeout=reader.number(
            ft, "fetch", "total_timeout", d.total_timeout, float, 0.1, 3600
        ),
        per_host_concurrency=int(
            reader.number(ft, "fetch", "per_host_concurrency", d.per_host_concurrency, int, 1, 64)
        ),
        host_delay=reader.number(ft, "fetch", "host_delay", d.host_delay, float, 0, 600),
        global_concurrency=int(
            reader.number(ft, "fetch", "global_concurrency", d.global_concurrency, int, 1, 1024)
        ),
        max_bytes=int(reader.number(ft, "fetch", "max_bytes", d.max_bytes, int, 1024, 1 << 31)),
        retries=int(reader.number(ft, "fetch", "retries", d.retries, int, 0, 10)),
        backoff=reader.number(ft, "fetch", "backoff", d.backoff, float, 0, 600),
        max_redirects=int(reader.number(ft, "fetch", "max_redirects", d.max_redirects, int, 0, 20)),
    )


def _source(
    reader: _Reader,
    entry: Any,
    key: str,
    kinds: Mapping[str, SourceKind],
    default_schedule: Schedule,
) -> SourceSettings:
    if not isinstance(entry, dict):
        reader.fail(key, "expected a table")
    common = {"name", "kind", "url", "schedule", "enabled", "robots", "url_ignore", "id_pattern"}
    # First, keys no kind knows: a typo in `kind` or `name` is reported as itself (with the
    # nearest key), not only as the required key it leaves missing.
    reader.no_unknown(entry, key, common.union(*(kind.options for kind in kinds.values())))
    name = reader.required_string(entry, key, "name")
    if not _SOURCE_NAME.match(name):
        reader.fail(f"{key}.name", f"{name!r} must be 1-40 characters of a-z, 0-9, '_' or '-'")
    kind_name = reader.required_string(entry, key, "kind")
    kind = kinds.get(kind_name)
    if kind is None:
        reader.fail(
            f"{key}.kind", f"unknown kind {kind_name!r}; known kinds: {', '.join(sorted(kinds))}"
        )
    reader.no_unknown(entry, key, common | kind.options)
    url = reader.required_string(entry, key, "url")
    if not kind.local:
        reader.http_url(url, f"{key}.url")
    schedule = default_schedule
    if "schedule" in entry:
        schedule = reader.schedule(reader.string(entry, key, "schedule", ""), f"{key}.schedule")
    options = {k: v for k, v in entry.items() if k in kind.options}
    if kind.validate is not None:
        try:
            kind.validate(options)
        except ValueError as exc:
            reader.fail(key, str(exc))
    return SourceSettings(
        name=name,
        kind=kind_name,
        url=url,
        schedule=schedule,
        enabled=reader.get(entry, key, "enabled", bool, True),
        robots=reader.get(entry, key, "robots", bool, True),
        options=options,
        identity=_identity(reader, entry, key, name),
    )


def _identity(reader: _Reader, entry: Mapping[str, Any], key: str, name: str) -> Identity:
    """`url_ignore` (regexes removed from the URL) and `id_pattern` (one group: the job id)."""
    ignore = reader.get(entry, key, "url_ignore", list, [])
    url_ignore = tuple(
        reader.regex(pattern, f"{key}.url_ignore[{i}]") for i, pattern in enumerate(ignore)
    )
    id_pattern = None
    if "id_pattern" in entry:
        id_pattern = reader.regex(reader.string(entry, key, "id_pattern", ""), f"{key}.id_pattern")
        if id_pattern.groups != 1:
            reader.fail(
                f"{key}.id_pattern",
                f"{id_pattern.pattern!r} has {id_pattern.groups} groups; it needs exactly one "
                r"(the job id), e.g. '/opp/(\d+)'",
            )
    if not url_ignore and id_pattern is None:
        return URL_IDENTITY
    return Identity(scope=name, url_ignore=url_ignore, id_pattern=id_pattern)


class _Reader:
    """Typed access to the raw TOML with errors that name the file and key path."""

    def __init__(self, path: str) -> None:
        self.path = path

    def fail(self, key: str, message: str) -> NoReturn:
        raise ConfigError(message, path=self.path, key=key)

    def table(self, raw: Mapping[str, Any], key: str) -> Mapping[str, Any]:
        value = raw.get(key, {})
        if not isinstance(value, dict):
            self.fail(key, f"expected a [{key}] table")
        return value

    def no_unknown(
        self, table: Mapping[str, Any], prefix: str, allowed: set[str] | frozenset[str]
    ) -> None:
        """Fail on the first key of `table` not in `allowed`, naming the nearest allowed key."""
        for name in table:
            if name not in allowed:
                where = f"{prefix}.{name}" if prefix else name
                nearest = difflib.get_close_matches(name, allowed, n=1)
                if nearest:
                    hint = f" (did you mean {nearest[0]!r}?)"
                elif allowed:
                    hint = f"; expected one of: {', '.join(sorted(allowed))}"
                else:
                    hint = ""
                self.fail(where, f"unknown key {name!r}{hint}")

    def get(self, table: Mapping[str, Any], prefix: str, name: str, typ: type, default: Any) -> Any:
        value = table.get(name, default)
        if not isinstance(value, typ) or (typ is not bool and isinstance(value, bool)):
            self.fail(
                f"{prefix}.{name}", f"expected {typ.__name__}, got {type(value).__name__} {value!r}"
            )
        return value

    def string(self, table: Mapping[str, Any], prefix: str, name: str, default: str) -> str:
        return str(self.get(table, prefix, name, str, default))

    def required_string(self, table: Mapping[str, Any], prefix: str, name: str) -> str:
        if name not in table:
            self.fail(f"{prefix}.{name}", "missing required key")
        value = self.string(table, prefix, name, "")
        if not value.strip():
            self.fail(f"{prefix}.{name}", "must not be empty")
        return value.strip()

    def number(
        self,
        table: Mapping[str, Any],
        prefix: str,
        name: str,
        default: float,
        typ: type,
        low: float,
        high: float,
    ) -> float:
        value = table.get(name, default)
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if typ is int:
            ok = ok and isinstance(value, int)
        if not ok:
            self.fail(
                f"{prefix}.{name}",
                f"expected a{'n integer' if typ is int else ' number'}, got {value!r}",
            )
        if not low <= value <= high:
            self.fail(f"{prefix}.{name}", f"{value!r} is out of range ({low:g} to {high:g})")
        return float(value) if typ is float else value

    def http_url(self, value: str, key: str) -> None:
        if (problem := http_url_problem(value)) is not None:
            self.fail(key, problem)

    def regex(self, value: Any, key: str) -> re.Pattern[str]:
        if not isinstance(value, str) or not value:
            self.fail(key, f"expected a regular expression (non-empty string), got {value!r}")
        try:
            return re.compile(value)
        except re.error as exc:
            self.fail(key, f"{value!r} is not a valid regular expression: {exc}")

    def schedule(self, value: str, key: str) -> Schedule:
        try:
            return parse_schedule(value)
        except ValueError as exc:
            self.fail(key, str(exc))
