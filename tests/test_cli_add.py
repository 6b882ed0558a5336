"""`python main.py add URL`: place the board, preview it once, append it to the config file."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from pathlib import Path

import pytest

from bot import discover
from bot.cli import main
from bot.config import load_settings
from bot.errors import ConfigError
from bot.sources.registry import KINDS
from tests.boardserver import Reply, Request, serve
from tests.fetchkit import fetcher, fixture, within

REPO_CONFIG = Path(__file__).resolve().parent.parent / "config" / "jobhound.toml"


def config(tmp_path: Path) -> Path:
    """The repository's own config (comments and all), with a test database and fast fetching."""
    path = tmp_path / "jobhound.toml"
    text = REPO_CONFIG.read_text(encoding="utf-8")
    text = text.replace('path = "data/jobhound.db"', f'path = "{tmp_path / "db.sqlite"}"')
    text = text.replace("[fetch]\n", "[fetch]\nhost_delay = 0\nretries = 0\n", 1)
    path.write_text(text, encoding="utf-8")
    return path


async def test_add_a_careers_page_with_a_feed_link(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = config(tmp_path)
    before = path.read_text(encoding="utf-8")
    async with serve() as server:
        server.add(
            "/careers",
            body=b'<html><head><link rel="alternate" type="application/rss+xml" '
            b'href="/careers/jobs.rss"></head><body>Work with us</body></html>',
        )
        server.add("/careers/jobs.rss", body=fixture("weworkremotely_remote_jobs_rss.xml"))
        argv = ["add", server.url("/careers"), "--schedule", "2h", "--config", str(path)]
        status = await within(asyncio.to_thread(main, argv))
        feed = server.url("/careers/jobs.rss")
    out = capsys.readouterr().out
    assert status == 0, out
    assert out.startswith("RSS/Atom feed 127.0.0.1: ")
    assert ", newest: " in out
    after = path.read_text(encoding="utf-8")
    assert after.startswith(before)  # comments and layout kept; the entry is appended
    assert after.endswith(
        f'\n\n[[sources]]\nname = "127-0-0-1"\nkind = "rss"\nurl = "{feed}"\nschedule = "2h"\n'
    )
    added = load_settings(kinds=KINDS, path=path, env={}).sources[-1]
    assert (added.name, added.kind, added.url, added.schedule.text) == (
        "127-0-0-1",
        "rss",
        feed,
        "2h",
    )


async def test_a_page_it_cannot_place_gets_the_html_template(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = config(tmp_path)
    before = path.read_text(encoding="utf-8")
    async with serve() as server:
        server.add("/jobs", body=b"<html><body><ul><li>Engineer</li></ul></body></html>")
        argv = ["add", server.url("/jobs"), "--config", str(path)]
        status = await within(asyncio.to_thread(main, argv))
    out = capsys.readouterr().out
    assert status == 1
    assert out.startswith(f"Could not tell which job board {server.url('/jobs')} is. Tried:")
    assert "no embedded known board, no schema.org JobPosting JSON-LD" in out
    assert 'kind = "html"' in out
    assert 'item = "li.job"' in out
    assert path.read_text(encoding="utf-8") == before


async def test_workday_preview_line() -> None:
    def jobs(request: Request) -> Reply:
        if json.loads(request.body)["offset"] == 0:
            return Reply(200, fixture("workday_cxs_jobs_nvidia.json"))
        return Reply(200, b'{"total": 0, "jobPostings": []}')

    async with serve() as server, fetcher() as fetch:
        server.add("/wday/cxs/nvidia/NVIDIAExternalCareerSite/jobs", handler=jobs)
        url = server.url("/wday/cxs/nvidia/NVIDIAExternalCareerSite/jobs")
        guess = discover.Guess("workday", url, "nvidia", "nvidia")
        shown = await within(discover.preview(fetch, guess))
    asked = [r.method for r in server.requests if r.path != "/robots.txt"]
    assert asked == ["POST", "POST"]  # the list only, no posting details
    line = shown.line()
    assert line.startswith("Workday board of nvidia: 20 postings, newest: ")
    # "Posted 3 Days Ago" is the newest of the page.
    assert re.fullmatch(r".*newest: Software Golang Kubernetes Engineer \(\d{4}-\d\d-\d\d\)", line)


def test_a_duplicate_name_is_refused_and_the_file_left_alone(tmp_path: Path) -> None:
    path = config(tmp_path)
    before = path.read_text(encoding="utf-8")
    guess = discover.Guess("breezy", "https://acme.breezy.hr", "acme", "acme")
    settings = load_settings(kinds=KINDS, path=path, env={})
    with pytest.raises(ConfigError, match="duplicate source name 'seeds'"):
        discover.append_source(path, discover.entry_for(guess, settings, name="seeds"))
    assert path.read_text(encoding="utf-8") == before
    # Without --name a taken name gets a suffix.
    taken = discover.Guess("breezy", "https://seeds.breezy.hr", "seeds", "seeds")
    assert discover.entry_for(taken, settings)["name"] == "seeds-2"


def test_append_to_a_config_without_sources(tmp_path: Path) -> None:
    path = tmp_path / "jobhound.toml"
    shutil.copy(REPO_CONFIG, path)
    text = path.read_text(encoding="utf-8").split("[[sources]]")[0]
    path.write_text(text, encoding="utf-8")
    guess = discover.Guess(
        "teamtailor", "https://tiptapp.teamtailor.com/jobs", "tiptapp", "tiptapp"
    )
    settings = discover.append_source(
        path, discover.entry_for(guess, load_settings(kinds=KINDS, path=path, env={}))
    )
    assert [s.name for s in settings.sources] == ["tiptapp"]
    assert "# jobhound configuration." in path.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("https://www.remotewlb.com/sitemap.xml", "remotewlb"),  # the same URL
        ("https://remotewlb.com/sitemap.xml/?utm_source=x", None),  # another host: not the same
        ("https://jobs.lever.co/binance/9de54dd6-61c5-4285-b111-9558666d8be5", "binance"),
        ("https://api.lever.co/v0/postings/binance?mode=json", "binance"),  # same kind + board
    ],
)
def test_a_board_already_configured_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], url: str, name: str | None
) -> None:
    """Bug: `add` appended a second source for a board a configured source already reads."""
    path = config(tmp_path)
    before = path.read_text(encoding="utf-8")
    settings = load_settings(kinds=KINDS, path=path, env={})
    guess = discover.recognise(url)
    same = discover.configured_as(settings, url, guess)
    assert (same.name if same else None) == name
    if name is None:
        return
    assert main(["add", url, "--config", str(path)]) == 1  # decided before any fetch
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1
    assert out[0].startswith(f"{url} is already configured as source {name!r} (kind ")
    assert out[0].endswith("the config is unchanged.")
    assert path.read_text(encoding="utf-8") == before


def _sitemap(server_url: str, paths: list[str]) -> bytes:
    urls = "".join(f"<url><loc>{server_url}{p}</loc></url>" for p in paths)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'
    ).encode()


JOBS = ["/job/rust-dev-1", "/job/go-dev-2", "/job/sre-3", "/about", "/blog/hello"]


async def test_a_json_ld_job_page_is_added_as_its_sites_sitemap(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bug: a JSON-LD job page was added as a `jsonld` source on that one page (stores nothing)."""
    path = config(tmp_path)
    async with serve() as server:
        root = server.url("/").rstrip("/")
        server.add("/job/rust-dev-1", body=fixture("nodesk_job_detail_jsonld.html"))
        server.add("/robots.txt", body=f"User-agent: *\nSitemap: {root}/maps/jobs.xml\n".encode())
        server.add("/maps/jobs.xml", body=_sitemap(root, JOBS))
        argv = ["add", server.url("/job/rust-dev-1"), "--config", str(path)]
        status = await within(asyncio.to_thread(main, argv))
        for page in JOBS[1:]:
            assert server.hits(page) == 0  # the preview counts job pages, it does not read them
    out = capsys.readouterr().out
    assert status == 0, out
    assert out.startswith(
        "JSON-LD job pages on 127.0.0.1: sitemap lists 3 job pages; "
        "their postings are read on the first run\n"
    )
    added = load_settings(kinds=KINDS, path=path, env={}).sources[-1]
    assert (added.kind, added.url, added.options) == (
        "jsonld",
        f"{root}/maps/jobs.xml",
        {"pattern": "/job/"},
    )


async def test_a_json_ld_job_page_without_a_sitemap_is_not_added(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = config(tmp_path)
    before = path.read_text(encoding="utf-8")
    async with serve() as server:
        server.add("/job/rust-dev-1", body=fixture("nodesk_job_detail_jsonld.html"))
        argv = ["add", server.url("/job/rust-dev-1"), "--config", str(path)]
        status = await within(asyncio.to_thread(main, argv))
    out = capsys.readouterr().out
    assert status == 1
    assert "one job posting in JSON-LD" in out
    assert "/sitemap_index.xml" in out
    assert 'kind = "html"' in out
    assert path.read_text(encoding="utf-8") == before


async def test_a_sitemap_preview_counts_its_job_pages(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bug: the preview of a `jsonld` sitemap said "0 postings" (it reads lists only)."""
    path = config(tmp_path)
    async with serve() as server:
        root = server.url("/").rstrip("/")
        server.add("/sitemap.xml", body=_sitemap(root, JOBS))
        argv = ["add", server.url("/sitemap.xml"), "--config", str(path)]
        status = await within(asyncio.to_thread(main, argv))
    out = capsys.readouterr().out
    assert status == 0, out
    # no pattern: the kind's default (/job/, /careers/, ...) picks the job pages
    assert out.startswith(
        "JSON-LD job pages on 127.0.0.1: sitemap lists 3 job pages; "
        "their postings are read on the first run\n"
    )


def test_a_job_page_pattern_is_its_path_without_the_last_segment() -> None:
    assert discover.job_page_pattern("https://a.example/job/rust-1") == "/job/"
    assert discover.job_page_pattern("https://a.example/careers/jobs/42/") == "/careers/jobs/"
    assert discover.job_page_pattern("https://a.example/rust-1") is None


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("not a url", "is not an http(s) URL with a host"),
        ("/etc/passwd", "is not an http(s) URL with a host"),
        ("ftp://jobs.example/", "is not an http(s) URL with a host"),
        ("https://", "is not an http(s) URL with a host"),
        ("http://[::1", "is not a valid URL (Invalid IPv6 URL)"),
        ("http://127.0.0.1:99999/x", "is not a valid URL (Port out of range 0-65535)"),
    ],
)
def test_add_refuses_what_is_not_an_http_url_in_one_line(
    tmp_path: Path, url: str, why: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Regression (tester): these got the html template with `url = "not a url"` in it, or a
    traceback (a malformed IPv6 literal, a port out of range)."""
    path = config(tmp_path)
    before = path.read_text(encoding="utf-8")
    assert main(["add", url, "--config", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"jobhound: add: {url!r} {why}\n"
    assert path.read_text(encoding="utf-8") == before
