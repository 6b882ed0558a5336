"""The settings jobhound runs with: frozen, typed, built once by `bot.config` from the TOML file.

Imports nothing of ours but two value types (`Schedule`, `Identity`) from leaf modules, so any
stage (fetch, the kinds, the pipeline, the chat front) can take its settings without importing
the config reader or the kind registry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.models import URL_IDENTITY, Identity
from bot.schedule import Schedule


@dataclass(frozen=True)
class TelegramSettings:
    api_url: str = "https://api.telegram.org"
    admins: frozenset[int] = frozenset()
    # Read from TELEGRAM_BOT_TOKEN only; repr=False keeps it out of every log and traceback.
    token: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class StorageSettings:
    path: Path = Path("data/jobhound.db")


@dataclass(frozen=True)
class FetchSettings:
    user_agent: str = "jobhound/0.1"
    contact_url: str = "https://github.com/jobhound/jobhound"
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    total_timeout: float = 60.0
    per_host_concurrency: int = 2
    host_delay: float = 1.0
    global_concurrency: int = 16
    max_bytes: int = 10 * 1024 * 1024
    retries: int = 3
    backoff: float = 1.0
    max_redirects: int = 5


@dataclass(frozen=True)
class DeliverySettings:
    max_alerts_per_chat_per_cycle: int = 20


@dataclass(frozen=True)
class HttpSettings:
    """`[http]`: where /healthz and /metrics are served; None (the default) serves nothing."""

    listen: tuple[str, int] | None = None


@dataclass(frozen=True)
class LoggingSettings:
    """`[logging]`: "text" lines for people, or "json" (one object a line) for log shippers."""

    format: str = "text"


@dataclass(frozen=True)
class SourceSettings:
    name: str
    kind: str
    url: str
    schedule: Schedule
    enabled: bool = True
    robots: bool = True
    options: Mapping[str, Any] = field(default_factory=dict)
    # How this source's postings are told apart (`url_ignore`, `id_pattern`).
    identity: Identity = URL_IDENTITY


@dataclass(frozen=True)
class Settings:
    path: Path
    telegram: TelegramSettings
    storage: StorageSettings
    fetch: FetchSettings
    delivery: DeliverySettings
    default_schedule: Schedule
    sources: tuple[SourceSettings, ...]
    http: HttpSettings = HttpSettings()
    logging: LoggingSettings = LoggingSettings()

    @property
    def enabled_sources(self) -> tuple[SourceSettings, ...]:
        return tuple(s for s in self.sources if s.enabled)
