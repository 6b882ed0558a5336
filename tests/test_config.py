"""Config mistakes stop start-up with one message naming the file, the key path and the fault."""

from pathlib import Path

import pytest

from bot.cli import main
from bot.config import load_settings, parse_settings
from bot.errors import ConfigError
from bot.sources.registry import KINDS

GOOD = """
[telegram]
admins = [42]

[storage]
path = "data/x.db"

[defaults]
schedule = "15m"

[[sources]]
name = "seeds"
kind = "markdown"
url = "seeds/"
schedule = "*/10 * * * *"

[[sources]]
name = "other"
kind = "markdown"
url = "elsewhere/"
enabled = false
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "jobhound.toml"
    path.write_text(text)
    return path


def test_good_config_is_typed_and_frozen(tmp_path: Path) -> None:
    settings = load_settings(
        kinds=KINDS, path=write(tmp_path, GOOD), env={"TELEGRAM_BOT_TOKEN": " 123:abc "}
    )
    assert settings.telegram.admins == frozenset({42})
    assert settings.telegram.token == "123:abc"
    assert "123:abc" not in repr(settings)
    assert settings.default_schedule.interval == 900
    first, second = settings.sources
    assert first.schedule.cron == "*/10 * * * *"
    assert second.schedule.interval == 900
    assert not second.enabled
    assert [s.name for s in settings.enabled_sources] == ["seeds"]
    with pytest.raises(AttributeError):
        first.name = "x"  # type: ignore[misc]


def test_defaults_when_sections_are_missing(tmp_path: Path) -> None:
    settings = load_settings(kinds=KINDS, path=write(tmp_path, ""), env={})
    assert settings.telegram.api_url == "https://api.telegram.org"
    assert settings.telegram.token is None
    assert settings.storage.path == Path("data/jobhound.db")
    assert settings.sources == ()


def test_db_path_from_environment(tmp_path: Path) -> None:
    settings = load_settings(
        kinds=KINDS, path=write(tmp_path, GOOD), env={"JOBHOUND_DB": "/data/j.db"}
    )
    assert settings.storage.path == Path("/data/j.db")


@pytest.mark.parametrize(
    ("change", "key", "words"),
    [
        (("[storage]", "[storage]\ncolour = 1"), "storage.colour", "unknown key"),
        (("[telegram]", "[telegram]\ntoken = 'x'"), "telegram.token", "unknown key"),
        (
            ('name = "other"', 'name = "other"\nfrobnicate = true'),
            "sources[1].frobnicate",
            "unknown key",
        ),
        (('name = "other"\n', ""), "sources[1].name", "missing required key"),
        (('name = "other"', 'name = "seeds"'), "sources[1].name", "duplicate source name 'seeds'"),
        (('name = "other"', 'name = "Other Board"'), "sources[1].name", "a-z"),
        (
            ('kind = "markdown"\nurl = "elsewhere/"', 'kind = "monster"\nurl = "x"'),
            "sources[1].kind",
            "unknown kind 'monster'",
        ),
        (
            ('schedule = "*/10 * * * *"', 'schedule = "every tuesday"'),
            "sources[0].schedule",
            "crontab",
        ),
        (
            ('schedule = "*/10 * * * *"', 'schedule = "*/99 * * * *"'),
            "sources[0].schedule",
            "invalid crontab",
        ),
        (('schedule = "*/10 * * * *"', 'schedule = "2s"'), "sources[0].schedule", "shorter than"),
        (('schedule = "15m"', "schedule = 15"), "defaults.schedule", "expected str"),
        (("admins = [42]", "admins = ['me']"), "telegram.admins[0]", "integer"),
        (("[telegram]", "[telegram]\napi_url = 'ftp://x'"), "telegram.api_url", "http(s) URL"),
        # Regression (tester): these raised ValueError out of `check` (a traceback), and a
        # source with port 99999 passed and then crashed every run.
        (
            ("[telegram]", "[telegram]\napi_url = 'http://[::1/x'"),
            "telegram.api_url",
            "not a valid URL",
        ),
        (
            ("[telegram]", "[telegram]\napi_url = 'http://127.0.0.1:99999/x'"),
            "telegram.api_url",
            "Port out of range",
        ),
        (
            ("[telegram]", "[telegram]\napi_url = 'http://127.0.0.1:http/x'"),
            "telegram.api_url",
            "not a valid URL",
        ),
        (
            ('schedule = "*/10 * * * *"', 'schedule = "0 0 31 2 *"'),
            "sources[0].schedule",
            "never run",
        ),
        (("enabled = false", "enabled = 'no'"), "sources[1].enabled", "expected bool"),
    ],
)
def test_config_mistakes_name_the_key(
    tmp_path: Path, change: tuple[str, str], key: str, words: str
) -> None:
    assert change[0] in GOOD
    path = write(tmp_path, GOOD.replace(change[0], change[1], 1))
    with pytest.raises(ConfigError) as caught:
        load_settings(kinds=KINDS, path=path, env={})
    assert caught.value.key == key
    assert words in str(caught.value)
    assert str(caught.value).startswith(f"{path}: {key}: ")


def test_invalid_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_settings(kinds=KINDS, path=write(tmp_path, "[storage\npath = 1"), env={})
    with pytest.raises(ConfigError, match="file not found"):
        load_settings(kinds=KINDS, path=tmp_path / "nope.toml", env={})


def test_check_prints_the_precise_error_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, GOOD.replace('schedule = "*/10 * * * *"', 'schedule = "soon"'))
    assert main(["check", "--config", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.err.strip().splitlines() == [
        f"jobhound: config error: {path}: sources[0].schedule: 'soon' is neither a crontab line "
        'of 5 fields ("*/30 * * * *") nor an interval such as "45s", "15m", "2h"'
    ]
    assert "Traceback" not in captured.err + captured.out


def test_check_lists_sources_with_next_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", "--config", str(write(tmp_path, GOOD))]) == 0
    out = capsys.readouterr().out
    assert "seeds" in out
    assert "markdown" in out
    assert "next run 20" in out
    assert "other" in out
    assert "disabled" in out


def test_config_path_from_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("JOBHOUND_CONFIG", str(write(tmp_path, GOOD)))
    assert main(["check"]) == 0
    assert str(tmp_path) in capsys.readouterr().out


@pytest.mark.parametrize(
    ("typo", "meant"),
    [("knd", "kind"), ("nmae", "name"), ("ulr", "url"), ("schedul", "schedule")],
)
def test_a_typo_in_a_source_key_is_named_with_the_nearest_key(typo: str, meant: str) -> None:
    """Bug: `knd = "rss"` was reported only as "sources[0].kind: missing required key"."""
    entry = {"name": "board", "kind": "rss", "url": "https://example.com/feed", "schedule": "1h"}
    entry[typo] = entry.pop(meant)
    with pytest.raises(ConfigError) as caught:
        parse_settings(kinds=KINDS, raw={"sources": [entry]}, path=Path("j.toml"))
    assert str(caught.value) == (
        f"j.toml: sources[0].{typo}: unknown key {typo!r} (did you mean {meant!r}?)"
    )


def test_an_unknown_key_with_no_near_one_lists_the_keys() -> None:
    with pytest.raises(
        ConfigError, match=r"storage\.colour: unknown key 'colour'; expected one of"
    ):
        parse_settings(kinds=KINDS, raw={"storage": {"colour": 1}}, path=Path("j.toml"))
