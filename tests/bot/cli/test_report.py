"""`toxmod report`: one self-contained HTML page with a guild's chart and figures, and its bad input."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.cli import main
from bot.storage.database import Database
from bot.storage.tables import FlagKind, FlagStatus, utcnow
from tests.support.browser import headless_chromium
from tests.support.flag_rows import add_flags

GUILD, OTHER = 111, 222


@pytest.fixture
def flagged(db_url: str) -> None:
    """Guild GUILD's three flags today and one flood yesterday; guild OTHER's one flag, never in GUILD's page."""
    today = utcnow().date()
    yesterday = today.fromordinal(today.toordinal() - 1)
    db = Database(db_url).upgrade().start()
    try:
        add_flags(db, GUILD, [(today, ["toxic", "insult"], FlagKind.MESSAGE, FlagStatus.CONFIRMED),
                              (today, ["toxic"], FlagKind.MESSAGE, FlagStatus.PENDING),
                              (today, ["threat"], FlagKind.MESSAGE, FlagStatus.DISMISSED),
                              (yesterday, [], FlagKind.FLOOD, FlagStatus.PENDING)])
        add_flags(db, OTHER, [(today, ["obscene"], FlagKind.MESSAGE, FlagStatus.PENDING)])
    finally:
        db.close()


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def test_report_writes_one_self_contained_page_with_the_chart_and_the_table(
        flagged: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report.html"
    assert main(["report", "--guild", str(GUILD), "--days", "7", "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {out}: 4 flags over 7 days"
    page = out.read_text(encoding="utf-8")
    # self-contained: every src and href is inline data, nothing to fetch, no script
    sources = re.findall(r'(?:src|href)\s*=\s*"([^"]*)"', page)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources)
    assert not re.search(r"https?://", page) and "<script" not in page and "<link" not in page
    assert "<style>" in page
    [table] = re.findall(r"<table>.*?</table>", page, re.DOTALL)
    assert table.count('<tr><th scope="row">') == 7 + 1  # a row a day and the totals
    totals = re.search(r'<tfoot><tr><th scope="row">total</th>(.*?)</tr>', table)[1]
    # toxic, severe_toxic, obscene, threat, insult, identity_hate, flood, raid, confirmed, dismissed, pending
    assert re.findall(r"<td>(\d+)</td>", totals) == ["2", "0", "0", "1", "1", "0", "1", "0", "1", "1", "2"]
    assert "4 flags from" in page and "1 confirmed, 1 dismissed, 2 pending" in page


def test_a_guild_without_flags_gets_a_page_that_says_so(flagged: None, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report.html"
    assert main(["report", "--guild", "999", "--days", "30", "--out", str(out)]) == 0
    assert "(no data)" in capsys.readouterr().out
    page = out.read_text(encoding="utf-8")
    assert "No data:" in page and "<img" not in page and "<table" not in page


@pytest.mark.parametrize(("days", "message"), [("-3", "--days must be 1 to 3660, not -3"),
                                               ("0", "--days must be 1 to 3660, not 0")])
def test_bad_days_are_one_clear_line(flagged: None, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                     days: str, message: str) -> None:
    out = tmp_path / "report.html"
    assert main(["report", "--guild", str(GUILD), "--days", days, "--out", str(out)]) == 2
    assert one_error_line(capsys) == f"toxmod: {message}"
    assert not out.exists()


def test_an_unwritable_path_is_one_clear_line(flagged: None, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "no-such-dir" / "report.html"
    assert main(["report", "--guild", str(GUILD), "--out", str(missing)]) == 2
    assert one_error_line(capsys) == (f"toxmod: cannot write the report to {missing}: the directory "
                                      f"{missing.parent} does not exist")
    assert main(["report", "--guild", str(GUILD), "--out", str(tmp_path)]) == 2
    assert "it is a directory" in one_error_line(capsys)


def test_the_report_renders_in_a_real_browser(flagged: None, tmp_path: Path, db_url: str) -> None:
    if not db_url.startswith("sqlite"):
        pytest.skip("the page is the same on both databases: opened once, from SQLite")
    out = tmp_path / "report.html"
    assert main(["report", "--guild", str(GUILD), "--days", "14", "--out", str(out)]) == 0
    with headless_chromium(tmp_path) as browser:
        browser.get(out.as_uri())
        assert browser.title == f"toxmod report: guild {GUILD}, last 14 days"
        widths = browser.execute_script(
            "return Array.from(document.images, i => i.complete ? i.naturalWidth : 0)")
        assert widths == [1000]
        rows = browser.execute_script("return document.querySelectorAll('tbody tr').length")
        assert rows == 14
        errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        assert errors == []
