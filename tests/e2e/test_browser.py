"""The console in a real Chromium (Debian's chromium and chromium-driver, driven by selenium):
a person's whole session, and what a script in the page can reach of its tokens: nothing.

Screenshots of the main pages go to tests/e2e/output/<backend>/ (not kept in git; the
README shows two copied to docs/console/).
"""

from __future__ import annotations

import hashlib
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service as ChromeService
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver, WebElement
from selenium.webdriver.support import expected_conditions as until
from selenium.webdriver.support.ui import WebDriverWait

from tests.e2e.stacks import BROWSER_REFRESH_MARGIN_SECONDS, Stack

OUTPUT = Path(__file__).resolve().parent / "output"
PASSWORD = "a long enough password"


def chromium() -> WebDriver:
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900"):
        options.add_argument(argument)
    # The page's console messages, where Chromium reports every CSP violation.
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = ChromeService(executable_path=shutil.which("chromedriver") or "/usr/bin/chromedriver")
    return webdriver.Chrome(options=options, service=service)


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    driver = chromium()
    yield driver
    driver.quit()


@pytest.fixture
def second_browser() -> Iterator[WebDriver]:
    driver = chromium()
    yield driver
    driver.quit()


def screenshot(driver: WebDriver, stack: Stack, name: str) -> None:
    folder = OUTPUT / stack.backend
    folder.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(folder / f"{name}.png"))


def click_and_wait(driver: WebDriver, element: WebElement) -> None:
    """Click what submits a form, and return once the next page has loaded.

    The old document is marked; a new one is not. (``staleness_of`` is not used: while
    Chromium navigates, its driver can answer with a generic error instead of "stale".)
    """
    driver.execute_script("window.__previous_page = true")
    element.click()
    WebDriverWait(driver, 10, ignored_exceptions=(WebDriverException,)).until(
        lambda d: d.execute_script("return document.readyState === 'complete' && !window.__previous_page")
    )


def fill(driver: WebDriver, fields: dict[str, str], button: str) -> None:
    for name, value in fields.items():
        element = driver.find_element(By.NAME, name)
        element.clear()
        element.send_keys(value)
    click_and_wait(driver, driver.find_element(By.ID, button))


def stored_tokens(stack: Stack, driver: WebDriver) -> dict[str, str]:
    """What the console holds for this browser, read as the Redis operator."""
    sid = driver.get_cookie("console")
    assert sid is not None
    key = "web:session:" + hashlib.sha256(sid["value"].encode()).hexdigest()
    values = stack.redis_command("default", "HGETALL", key).split("\n")
    return dict(zip(values[::2], values[1::2], strict=True))


def console_errors(driver: WebDriver) -> list[str]:
    """What the page reported as errors since the last call: CSP violations, failed loads."""
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def token_id(driver: WebDriver, stack: Stack) -> str:
    driver.get(f"{stack.web}/token")
    match = re.search(r"<code>jti</code></td><td><code>&#34;([^&]+)&#34;", driver.page_source) or re.search(
        r'<code>jti</code></td><td><code>"([^"]+)"', driver.page_source
    )
    assert match, "the token inspector shows the jti"
    return match.group(1)


def test_a_person_uses_the_console_and_no_script_can_reach_a_token(
    stack: Stack, browser: WebDriver, second_browser: WebDriver
) -> None:
    username = f"web-{uuid.uuid4().hex[:10]}"
    browser.get(f"{stack.web}/signup")
    screenshot(browser, stack, "signup")
    fill(browser, {"username": username, "password": PASSWORD}, "signup")
    assert browser.current_url.endswith("/profile"), browser.page_source[-1500:]
    assert username in browser.page_source
    screenshot(browser, stack, "profile")

    browser.get(f"{stack.web}/orders")
    fill(browser, {"item": "green tea", "quantity": "2"}, "place-order")
    assert "green tea" in browser.find_element(By.ID, "orders").text
    screenshot(browser, stack, "orders")

    # A second tab shares the session; the console refreshes the access token once it is
    # within REFRESH_MARGIN_SECONDS of exp: here 100 s left, inside this stack's margin
    # (120 s) but not the default's (60 s), so the refresh also shows the setting arrived.
    first = token_id(browser, stack)
    sid = browser.get_cookie("console")  # WebDriver sees HttpOnly cookies; page scripts do not
    assert sid is not None
    key = "web:session:" + hashlib.sha256(sid["value"].encode()).hexdigest()
    browser.switch_to.new_window("tab")
    seconds_left = BROWSER_REFRESH_MARGIN_SECONDS - 20  # 100: more than the default margin
    stack.redis_command("default", "HSET", key, "access_exp", str(int(time.time()) + seconds_left))
    refreshed = token_id(browser, stack)
    assert refreshed != first
    screenshot(browser, stack, "token")
    browser.switch_to.window(browser.window_handles[0])
    assert token_id(browser, stack) == refreshed  # the first tab sees the same session

    # Nothing a script in the page can read holds a token.
    tokens = stored_tokens(stack, browser)
    for path in ("/profile", "/orders", "/sessions", "/token"):
        browser.get(f"{stack.web}{path}")
        readable = browser.execute_script(
            "return [document.cookie, JSON.stringify(localStorage), JSON.stringify(sessionStorage),"
            " document.documentElement.outerHTML].join(' ')"
        )
        for token in (tokens["access_token"], tokens["refresh_token"]):
            assert token not in readable and token.split(".")[2] not in readable
    assert browser.execute_script("return document.cookie") == ""  # the one cookie is HttpOnly
    assert console_errors(browser) == []  # the CSP blocked nothing the pages need

    # Another login of the same person, in another browser, ended from the sessions page.
    second_browser.get(f"{stack.web}/login")
    fill(second_browser, {"username": username, "password": PASSWORD}, "login")
    assert second_browser.current_url.endswith("/profile")
    browser.get(f"{stack.web}/sessions")
    screenshot(browser, stack, "sessions")
    click_and_wait(browser, browser.find_element(By.CLASS_NAME, "end-session"))  # the list again
    assert browser.find_elements(By.CLASS_NAME, "end-session") == []
    second_browser.get(f"{stack.web}/profile")
    assert second_browser.current_url.endswith("/login")

    # A form posted from another site: 403, and no order.
    browser.get(
        "data:text/html,<form method=post action='"
        + f"{stack.web}/orders"
        + "'><input name=item value=forged><input name=quantity value=1></form>"
        + "<script>document.forms[0].submit()</script>"
    )
    time.sleep(1)
    assert "403" in browser.title or "did not come from" in browser.page_source or "own pages" in browser.page_source
    browser.get(f"{stack.web}/orders")
    assert "forged" not in browser.page_source

    click_and_wait(browser, browser.find_element(By.ID, "logout"))
    assert browser.current_url.endswith("/login")
    browser.get(f"{stack.web}/profile")
    assert browser.current_url.endswith("/login")


def test_a_developer_tries_an_endpoint_from_the_docs_the_console_links_to(stack: Stack, browser: WebDriver) -> None:
    username = f"docs-{uuid.uuid4().hex[:10]}"
    created = requests.post(f"{stack.users}/users", json={"username": username, "password": PASSWORD}, timeout=10)
    assert created.status_code == 201
    login = requests.post(f"{stack.auth}/auth/login", json={"username": username, "password": PASSWORD}, timeout=10)
    access_token = login.json()["access_token"]
    wait = WebDriverWait(browser, 20)

    browser.get(f"{stack.web}/login")
    click_and_wait(browser, browser.find_element(By.LINK_TEXT, "users_service API docs"))
    assert browser.current_url.endswith("/docs")
    wait.until(until.presence_of_element_located((By.CSS_SELECTOR, ".opblock-summary-path[data-path='/users/me']")))
    screenshot(browser, stack, "api-docs")

    # Authorize with the token, then call GET /users/me from the page.
    browser.find_element(By.CSS_SELECTOR, "button.authorize").click()
    wait.until(until.visibility_of_element_located((By.CSS_SELECTOR, ".auth-container input"))).send_keys(access_token)
    browser.find_element(By.CSS_SELECTOR, ".auth-btn-wrapper button.authorize").click()
    browser.find_element(By.CSS_SELECTOR, ".auth-btn-wrapper button.btn-done").click()
    path = browser.find_element(By.CSS_SELECTOR, ".opblock-summary-path[data-path='/users/me']")
    operation = path.find_element(By.XPATH, "ancestor::div[contains(concat(' ', @class, ' '), ' opblock ')][1]")
    path.click()
    wait.until(lambda _: operation.find_element(By.CSS_SELECTOR, ".try-out__btn")).click()
    wait.until(lambda _: operation.find_element(By.CSS_SELECTOR, "button.execute")).click()
    status = wait.until(
        lambda _: operation.find_element(By.CSS_SELECTOR, ".live-responses-table tbody .response-col_status")
    )
    assert status.text.strip().startswith("200")
    assert username in operation.find_element(By.CSS_SELECTOR, ".live-responses-table .microlight").text
    screenshot(browser, stack, "api-docs-tried")

    # The page's strict CSP blocked nothing it needs, and it kept the token out of storage.
    assert console_errors(browser) == []
    stored = browser.execute_script("return JSON.stringify(localStorage) + JSON.stringify(sessionStorage)")
    assert access_token not in stored
