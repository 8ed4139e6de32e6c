"""The playground page (GET /) in a real headless browser: Debian's chromium and chromedriver, driven by Selenium.

Skipped with one line where the browser, its driver or Selenium is missing (`.ci/install-chromium` installs
the browser where it can). Selenium Manager never runs: the driver and browser paths are given.
"""

from __future__ import annotations

import json
import shutil
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.labels import LABELS
from tests.support.browser import headless_chromium

try:
    from selenium import webdriver
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.remote.webelement import WebElement
    from selenium.webdriver.support.ui import Select, WebDriverWait
except ImportError:  # the dev extra not installed: every test here is skipped
    webdriver = None

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
WAIT = 60.0  # seconds: the first request for a model loads it


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    with headless_chromium(tmp_path, WAIT) as driver:
        yield driver


@pytest.fixture
def two_models(tmp_path: Path, tiny_model_dir: Path) -> Path:
    """tiny-v1 (current) and tiny-v2: the same weights, but tiny-v2 flags only `identity_hate`, at almost any
    score, so the label shown on top tells which model scored a message."""
    from bot.scoring.registry import set_current

    root = tmp_path / "models"
    shutil.copytree(tiny_model_dir, root / "tiny-v1")
    shutil.copytree(tiny_model_dir, root / "tiny-v2")
    meta = json.loads((root / "tiny-v2" / "metadata.json").read_text())
    thresholds = {**dict.fromkeys(LABELS, 1.0), "identity_hate": 1e-4}
    (root / "tiny-v2" / "metadata.json").write_text(json.dumps({**meta, "version": "tiny-v2",
                                                                "thresholds": thresholds}))
    set_current(root, "tiny-v1")
    return root


def score(base: str, texts: list[str], model: str, key: str | None = None) -> list[dict[str, Any]]:
    """What POST /v1/score answers, called from the test."""
    headers = {"Content-Type": "application/json", **({"X-Goog-Api-Key": key} if key else {})}
    request = urllib.request.Request(f"{base}/v1/score", data=json.dumps({"texts": texts, "model": model}).encode(),
                                     headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=WAIT) as response:
        return list(json.load(response)["results"])


def rows(driver: Any) -> list[WebElement]:
    return list(driver.find_elements(By.CSS_SELECTOR, "#results > tr"))


def wait_for(driver: Any, condition: Callable[[Any], Any], what: str) -> Any:
    return WebDriverWait(driver, WAIT).until(condition, f"timed out waiting for {what}")


def message_of(row: WebElement) -> str:
    return str(row.find_element(By.CSS_SELECTOR, "th .text").get_property("textContent"))


def alert_text(driver: Any) -> str:
    return str(driver.find_element(By.CSS_SELECTOR, "[role=alert]").get_property("textContent")).strip()


def test_playground_scores_samples_and_messages_with_the_picked_model(
        browser: Any, start_server: Callable[..., str], two_models: Path) -> None:
    base = start_server(models_dir=two_models)
    browser.get(f"{base}/")

    # the examples, scored at load in one call, marked as examples, agree with the API
    samples = wait_for(browser, lambda d: rows(d) if len(rows(d)) >= 5 else None, "the example rows")
    texts = [message_of(row) for row in samples]
    expected = score(base, texts, "tiny-v1")
    assert {want["flagged"] for want in expected} == {True, False}  # both kinds of row are shown
    for row, want in zip(samples, expected, strict=True):
        assert row.get_attribute("data-example") == "true"
        assert row.find_element(By.CSS_SELECTOR, "th .example").is_displayed()  # shown, not only marked
        assert row.get_attribute("data-model") == "tiny-v1"
        assert row.get_attribute("data-top-label") == want["top"][0][0]
        assert row.get_attribute("data-flagged") == str(want["flagged"]).lower()
        cells = row.find_elements(By.CSS_SELECTOR, "td")
        if want["flagged"]:  # the two labels moderators see
            assert cells[0].text.split()[0] == want["top"][0][0]
            assert cells[1].text.split()[0] == want["top"][1][0]
        else:  # no ranking of labels nothing came near: the highest score
            highest = max(want["scores"], key=want["scores"].get)
            assert cells[0].text == f"nothing flagged; highest: {highest} {want['scores'][highest]:.3f}"
        assert cells[-3].text == ("Yes" if want["flagged"] else "No")
        assert cells[-2].text == "tiny-v1"

    # the picker: current model first, marked
    picker = Select(browser.find_element(By.ID, "model"))
    options = [(o.get_attribute("value"), o.text) for o in picker.options]
    assert options[0] == ("tiny-v1", "tiny-v1 (current)")
    assert ("tiny-v2", "tiny-v2") in options

    # type, pick the second model, click Analyze: the new row goes on top
    text = "you are a worthless idiot and I will hurt you"
    browser.find_element(By.ID, "message").send_keys(text)
    picker.select_by_value("tiny-v2")
    browser.find_element(By.ID, "analyze").click()
    wait_for(browser, lambda d: len(rows(d)) == 6, "the analysed message's row")
    top_row = rows(browser)[0]
    assert top_row.get_attribute("data-example") is None and not top_row.find_elements(By.CSS_SELECTOR, ".example")
    want = score(base, [text], "tiny-v2")[0]
    assert message_of(top_row) == text
    assert top_row.get_attribute("data-model") == "tiny-v2"
    assert top_row.get_attribute("data-top-label") == want["top"][0][0]
    assert top_row.get_attribute("data-flagged") == str(want["flagged"]).lower()
    assert want["top"][0][0] != score(base, [text], "tiny-v1")[0]["top"][0][0]  # the picked model scored it
    assert browser.find_element(By.ID, "message").get_property("value") == ""

    # Shift+Enter is a newline; Enter analyzes, and Analyze is disabled while the request is in flight.
    # Markup in a message is shown as text, never run as HTML.
    browser.execute_script("""
        const original = window.fetch;
        window.fetch = (...args) => new Promise(resolve => { window.releaseFetch = () => resolve(original(...args)); });
    """)
    box = browser.find_element(By.ID, "message")
    box.send_keys("<b>gg</b> <img src=x onerror=window.pwned=1>")
    ActionChains(browser).key_down(Keys.SHIFT).send_keys(Keys.ENTER).key_up(Keys.SHIFT).send_keys("see you").perform()
    typed = "<b>gg</b> <img src=x onerror=window.pwned=1>\nsee you"
    assert box.get_property("value") == typed
    assert len(rows(browser)) == 6
    box.send_keys(Keys.ENTER)
    wait_for(browser, lambda d: d.execute_script("return typeof window.releaseFetch === 'function'"), "the request")
    assert browser.find_element(By.ID, "analyze").get_property("disabled") is True
    box.send_keys(Keys.ENTER)  # a second Enter while busy sends nothing
    browser.execute_script("window.releaseFetch(); window.releaseFetch = null;")
    wait_for(browser, lambda d: len(rows(d)) == 7, "the row from the Enter key")
    wait_for(browser, lambda d: d.find_element(By.ID, "analyze").is_enabled(), "Analyze to be enabled again")
    assert browser.execute_script("return window.releaseFetch") is None  # one request, not two
    top_row = rows(browser)[0]
    want = score(base, [typed], "tiny-v2")[0]
    assert message_of(top_row) == typed
    assert top_row.get_attribute("data-model") == "tiny-v2"
    assert top_row.get_attribute("data-top-label") == want["top"][0][0]
    assert not browser.find_elements(By.CSS_SELECTOR, "#results b, #results img")
    assert browser.execute_script("return window.pwned") is None

    # the six scores on demand
    disclosure = top_row.find_element(By.CSS_SELECTOR, "details")
    assert disclosure.get_property("open") is False
    disclosure.find_element(By.CSS_SELECTOR, "summary").click()
    assert disclosure.get_property("open") is True
    shown = {dd.get_attribute("data-label"): float(dd.text) for dd in disclosure.find_elements(By.CSS_SELECTOR, "dd")}
    assert list(shown) == list(LABELS)
    for label, value in shown.items():
        assert value == pytest.approx(want["scores"][label], abs=5e-4)
    assert alert_text(browser) == ""
    errors = [entry["message"] for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert not errors  # nothing blocked by the Content-Security-Policy, no script error, no 404 for an icon
    icon = browser.find_element(By.CSS_SELECTOR, "link[rel=icon]").get_attribute("href")
    assert icon.startswith("data:image/svg+xml,")

    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "playground.png"
    assert browser.save_screenshot(str(screenshot))
    assert screenshot.read_bytes().startswith(PNG_SIGNATURE)


def test_playground_asks_for_the_key_and_keeps_it_for_the_tab(
        browser: Any, start_server: Callable[..., str]) -> None:
    base = start_server(api_keys="s3cret")
    browser.get(f"{base}/")

    key_field = wait_for(browser, lambda d: d.find_element(By.ID, "api-key") if d.find_element(
        By.ID, "api-key").is_displayed() else None, "the key field after the 403")
    assert key_field.get_attribute("type") == "password"
    assert alert_text(browser)  # the server's message, on one line
    assert "\n" not in alert_text(browser)
    assert not rows(browser)
    assert browser.find_element(By.ID, "analyze").get_property("disabled") is True

    key_field.send_keys("wrong", Keys.ENTER)
    wait_for(browser, lambda d: "API key not valid" in alert_text(d), "the wrong key's error")
    assert not rows(browser)

    browser.find_element(By.ID, "api-key").send_keys("s3cret", Keys.ENTER)
    wait_for(browser, lambda d: len(rows(d)) == 5, "the samples after the key")
    assert alert_text(browser) == ""
    assert browser.execute_script("return sessionStorage.getItem('toxmod.playground.apiKey')") == "s3cret"
    assert browser.execute_script("return localStorage.length") == 0
    expected = score(base, [message_of(row) for row in rows(browser)], "tiny-v1", key="s3cret")
    assert [row.get_attribute("data-top-label") for row in rows(browser)] == [r["top"][0][0] for r in expected]

    browser.refresh()  # the same tab: the key is still there, nothing asked
    wait_for(browser, lambda d: len(rows(d)) == 5, "the samples after a reload")
    assert alert_text(browser) == ""


def test_playground_shows_the_rate_limit_as_one_line(browser: Any, start_server: Callable[..., str]) -> None:
    base = start_server(api_rate_limit=0.001, api_rate_burst=2)  # the models and the samples, then no more
    browser.get(f"{base}/")
    wait_for(browser, lambda d: len(rows(d)) == 5, "the sample rows")
    browser.find_element(By.ID, "message").send_keys("one more", Keys.ENTER)
    wait_for(browser, lambda d: alert_text(d), "the rate limit's error")
    assert "\n" not in alert_text(browser)
    assert len(rows(browser)) == 5
    assert browser.find_element(By.ID, "analyze").is_enabled()
    assert browser.find_element(By.ID, "message").get_property("value") == "one more"  # kept, to try again
