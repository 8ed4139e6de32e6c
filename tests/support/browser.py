"""Debian's headless chromium driven by Selenium, for pages tests open in a real browser (the report page);
skipped with one line where the browser, its driver or Selenium is missing, as the playground's tests are
(tests/bot/api/test_playground.py). Selenium Manager never runs: the driver and browser paths are given."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


@contextmanager
def headless_chromium(tmp_path: Path, timeout_s: float = 60.0) -> Iterator[Any]:
    """A headless chromium with a throwaway profile under `tmp_path`, quit on the way out."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.skip("browser tests skipped: selenium is not installed (pip install selenium)")
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]
    if missing:
        pytest.skip(f"browser tests skipped: {', '.join(missing)} missing (run .ci/install-chromium)")
    profile = tempfile.mkdtemp(prefix="chromium-", dir=tmp_path)
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={profile}", "--window-size=1280,1100"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # console errors, for tests to check
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(timeout_s)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
