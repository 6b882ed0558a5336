"""Every board kind is registered, and its options are checked at start-up through config."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import parse_settings
from bot.errors import ConfigError
from bot.sources.registry import KINDS

BOARD_KINDS = {
    "lever",
    "lever_html",
    "greenhouse",
    "greenhouse_html",
    "ashby",
    "jsonld",
    "rss",
    "remoteok",
    "workable",
    "smartrecruiters",
    "recruitee",
    "html",
    "workday",
    "personio",
    "teamtailor",
    "bamboohr",
    "breezy",
}


def test_all_kinds_registered() -> None:
    assert set(KINDS) >= BOARD_KINDS
    assert all(not KINDS[name].local for name in BOARD_KINDS)


def _config(**entry: object) -> dict[str, object]:
    return {"sources": [{"name": "b", "url": "https://jobs.lever.co/binance", **entry}]}


def test_config_accepts_kind_options() -> None:
    settings = parse_settings(
        kinds=KINDS, raw=_config(kind="lever", company="Binance"), path=Path("x.toml")
    )
    assert settings.sources[0].options == {"company": "Binance"}


def test_config_rejects_bad_html_selectors() -> None:
    with pytest.raises(ConfigError, match="not a valid CSS selector"):
        parse_settings(
            kinds=KINDS, raw=_config(kind="html", item="li", title="h3[["), path=Path("x.toml")
        )
    with pytest.raises(ConfigError, match="needs a 'item'"):
        parse_settings(kinds=KINDS, raw=_config(kind="html", title="h3"), path=Path("x.toml"))


def test_config_rejects_bad_jsonld_pattern_and_unknown_keys() -> None:
    with pytest.raises(ConfigError, match="regular expression"):
        parse_settings(kinds=KINDS, raw=_config(kind="jsonld", pattern="(("), path=Path("x.toml"))
    with pytest.raises(ConfigError, match="unknown key"):
        parse_settings(kinds=KINDS, raw=_config(kind="ashby", selectors="x"), path=Path("x.toml"))
