"""`latest` as typed: exclusions unquoted, and a date column that says which date it is."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.cli import _query_after_options, main
from tests.test_daemon import config  # noqa: F401  (the seeds config fixture)


@pytest.fixture
def stored(config: Path, capsys: pytest.CaptureFixture[str]) -> Path:  # noqa: F811
    assert main(["once", "--config", str(config)]) == 0
    capsys.readouterr()
    return config


def _latest(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str], str]:
    status = main(["latest", *args])
    captured = capsys.readouterr()
    return status, captured.out.strip().splitlines(), captured.err


def test_an_unquoted_exclusion_is_part_of_the_query(
    stored: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bug: `latest python -django` failed with argparse's "unrecognized arguments: -django"."""
    status, lines, err = _latest(capsys, "--config", str(stored), "engineer", "-rust")
    assert status == 0, err
    assert len(lines) == 2
    assert all("Engineer" in line and "Rust" not in line for line in lines)


def test_n_before_the_query_still_counts(stored: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, lines, err = _latest(capsys, "--config", str(stored), "-n", "1", "engineer", "-rust")
    assert (status, len(lines)) == (0, 1), err
    status, lines, err = _latest(capsys, "--config", str(stored), "-n1", "engineer", "-java")
    assert (status, len(lines)) == (0, 1), err


def test_a_query_that_only_excludes_gets_the_query_error(
    stored: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bug: `latest "-php"` gave argparse's usage error instead of the query's own message."""
    status, lines, err = _latest(capsys, "--config", str(stored), "-php")
    assert status == 2
    assert not lines
    assert "bad query" in err
    assert "python -django" in err


def test_the_query_starts_after_the_options() -> None:
    assert _query_after_options(["-v", "latest", "-n", "3", "--config=x", "a", "-b"]) == [
        *("-v", "latest", "-n", "3", "--config=x", "--", "a", "-b")
    ]
    assert _query_after_options(["latest", "--", "-b"]) == ["latest", "--", "-b"]
    assert _query_after_options(["once", "-x"]) == ["once", "-x"]
    assert _query_after_options(["latest", "--config", "x"]) == ["latest", "--config", "x"]


def test_the_date_column_is_labelled_posted_or_seen(
    stored: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bug: `latest` showed the first-seen date unlabelled; users read it as the posting's date."""
    status, lines, err = _latest(capsys, "--config", str(stored))
    assert status == 0, err
    (infra,) = [line for line in lines if "Blockchain Infra Developer" in line]
    assert infra.startswith("posted 2021-08-17  ")  # the seed's own date, not today
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    undated = [line for line in lines if line is not infra]
    assert undated
    assert all(line.startswith(f"seen {today}  ") for line in undated)


def test_latest_hides_closed_jobs_and_all_shows_them_marked(
    stored: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 12: `latest` lists open jobs once; `--all` adds closed ones, marked "closed"."""
    from bot.config import load_settings
    from bot.sources.registry import KINDS
    from bot.store import Store

    settings = load_settings(kinds=KINDS, path=stored, env={})
    store = Store.open(settings.storage.path)
    rust = next(p for p in store.latest(10) if p.title == "Senior Rust Engineer")
    store.db.execute(
        "UPDATE postings SET closed_at = '2026-01-02T00:00:00+00:00' WHERE id = ?", [rust.id]
    )
    store.db.execute(
        "UPDATE groups SET closed_at = '2026-01-02T00:00:00+00:00' WHERE id = ?", [rust.id]
    )
    store.db.conn.commit()
    store.close()
    status, lines, err = _latest(capsys, "--config", str(stored))
    assert status == 0, err
    assert len(lines) == 4
    assert not any("Rust" in line for line in lines)
    status, lines, err = _latest(capsys, "--config", str(stored), "--all", "rust")
    assert status == 0, err
    (line,) = lines
    assert "Senior Rust Engineer" in line
    assert line.endswith(" · closed")


def test_latest_lists_postings_of_one_scrape_newest_posted_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bug: plain `latest` listed the postings of one scrape oldest posted first (its scan had
    no tie-break after first_seen), unlike `--json` and `/latest`."""
    from bot.models import Posting
    from bot.store import Store

    db = tmp_path / "jobs.db"
    store = Store.open(db)
    store.ingest(
        "board",
        [
            Posting(
                url=f"https://jobs.example/{day}",
                title=f"Job {day}",
                company=f"Company {day}",
                posted_at=datetime(2024, 6, day, tzinfo=UTC),
            )
            for day in (5, 7, 6)
        ],
    )
    store.close()
    toml = tmp_path / "jobhound.toml"
    toml.write_text(f'[storage]\npath = "{db.as_posix()}"\n', encoding="utf-8")
    for query in ([], ["job"]):
        status, lines, _ = _latest(capsys, "--config", str(toml), *query)
        assert status == 0
        assert [line.split()[1] for line in lines] == ["2024-06-07", "2024-06-06", "2024-06-05"]
