"""The markdown source kind on the five seeds and on every posting of the corpus."""

from pathlib import Path

import pytest

from bot.errors import ParseError
from bot.sources.markdown import parse_markdown, read_folder, tags_from_path

MOJIBAKE = ("â€", "ðŸ", "Ã©", "Ã¨")


def test_seeds_parse_with_mojibake_repaired(seeds_dir: Path) -> None:
    result = read_folder(seeds_dir)
    assert result.warnings == ()
    by_title = {p.title: p for p in result.postings}
    assert sorted(by_title) == [
        "Backend Engineer - Blockchain Security",
        "Backend Lead (Golang) - Content",
        "Blockchain Infra Developer",
        "Senior Backend Engineer - Java (Cloud)",
        "Senior Rust Engineer",
    ]
    java = by_title["Senior Backend Engineer - Java (Cloud)"]
    assert java.company == "Binance"
    assert java.location == "Taiwan"
    assert java.url == "https://www.remotewlb.com/apply/senior-backend-engineer-java-cloud-69925"
    assert "world’s largest digital-asset exchange" in java.description
    rust = by_title["Senior Rust Engineer"]
    assert rust.location == "remote,Asia"
    assert rust.remote
    for posting in result.postings:
        for bad in MOJIBAKE:
            assert bad not in posting.description + posting.title + posting.location


def test_front_matter_seed(seeds_dir: Path) -> None:
    posting = next(
        p for p in read_folder(seeds_dir).postings if p.title == "Blockchain Infra Developer"
    )
    assert posting.company == "Binance"
    assert posting.url == "https://jobs.lever.co/binance/9de54dd6-61c5-4285-b111-9558666d8be5"
    assert posting.apply_url.endswith("/apply")
    assert posting.location == "Remote"
    assert posting.remote
    assert posting.posted_at is not None
    assert posting.posted_at.year == 2021
    assert posting.tags[:3] == ("reactjs", "crypto", "backend")
    assert "world’s largest digital asset exchange" in posting.description


def test_badges_salary_and_location() -> None:
    text = (
        "# [Data Engineer](https://www.remotewlb.com/apply/data-engineer-1)  \n"
        "### Acme  \n"
        "#### `ðŸ’° $120k - $150k` `ðŸŒŽ Remote, Berlin` `â¤ï¸ 401k`  \n\n"
        "We build **pipelines**.\n\n"
        "## CLICK TO [APPLY](https://www.remotewlb.com/apply/data-engineer-1?x=1)\n"
    )
    posting = parse_markdown(text)
    assert posting.salary == "$120k - $150k"
    assert posting.location == "Remote, Berlin"
    assert posting.remote
    assert posting.description == "We build pipelines."
    assert posting.apply_url == "https://www.remotewlb.com/apply/data-engineer-1?x=1"


def test_missing_badge_line_leaves_location_empty() -> None:
    posting = parse_markdown("# [T](https://x.test/a)\n### Co\n\nBody text\n")
    assert (posting.title, posting.company, posting.location, posting.description) == (
        "T",
        "Co",
        "",
        "Body text",
    )


@pytest.mark.parametrize(
    "text",
    ["", "just prose", "# Title without link\n### Co\n"],
)
def test_not_a_posting_is_a_parse_error(text: str) -> None:
    with pytest.raises(ParseError):
        parse_markdown(text, origin="bad.md")


def test_a_title_and_a_link_are_a_posting_without_company() -> None:
    """Issue 8 part 4 reverses the old rule (no '### Company' line was a parse error)."""
    posting = parse_markdown("# [T](https://x.test/a)\n\nno company", origin="ok.md")
    assert (posting.title, posting.url, posting.company) == ("T", "https://x.test/a", "")
    assert posting.description == "no company"


def test_tags_from_corpus_layout() -> None:
    assert tags_from_path(Path("Java/2024-05/x.md")) == ("Java",)
    assert tags_from_path(Path("remotewlb/Java/2024-05/x.md")) == ("Java",)
    assert tags_from_path(Path("2024-05/x.md")) == ()
    assert tags_from_path(Path("x.md")) == ()


def test_every_corpus_file_parses(corpus_dir: Path) -> None:
    files = sorted((corpus_dir / "remotewlb").rglob("*.md"))
    assert len(files) == 1525
    with_badge = 0
    for path in files:
        text = path.read_text(encoding="utf-8")
        posting = parse_markdown(text, origin=str(path))
        assert posting.title, path
        assert posting.company, path
        assert posting.apply_url.startswith("https://"), path
        badge_lines = [line for line in text.splitlines()[:6] if line.startswith("####")]
        if any("`🌎" in line for line in badge_lines):
            with_badge += 1
            assert posting.location, path
    assert with_badge > 1000


def test_folder_with_unreadable_file_reports_it(tmp_path: Path, seeds_dir: Path) -> None:
    for seed in seeds_dir.iterdir():
        (tmp_path / seed.name).write_bytes(seed.read_bytes())
    (tmp_path / "broken.md").write_text("not a posting")
    result = read_folder(tmp_path)
    assert len(result.postings) == 5
    assert len(result.warnings) == 1
    assert "broken.md" in result.warnings[0]
