"""Browser fixtures for the web console (tests/e2e/test_console*.py): Debian's Chromium driven
by Playwright, signed in to the session's real runtime, with axe-core checks and screenshots."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.prerequisites import missing, require_tools

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "console"
BLOCKING_IMPACTS = frozenset({"serious", "critical"})


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """One headless Chromium per test module (Debian's package; Playwright cannot download).
    Not per session: Playwright's sync API keeps an event loop running in this thread while it
    is started, and every later test that calls asyncio.run would fail."""
    require_tools("chromium", install="apt-get install chromium (the test command does)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("playwright is not installed (pip install -e '.[dev]')")
    driver = sync_playwright().start()
    browser = driver.chromium.launch(
        executable_path=shutil.which("chromium"), args=["--no-sandbox", "--disable-gpu"]
    )
    try:
        yield browser
    finally:
        browser.close()
        driver.stop()


@pytest.fixture(scope="session")
def console_url(api_url: str) -> str:
    return api_url.removesuffix("/api/v1") + "/ui"


@pytest.fixture
def anonymous(chromium: Any) -> Iterator[Any]:
    """A page in a fresh browser context: no session cookie."""
    context = chromium.new_context(viewport={"width": 1366, "height": 900})
    context.set_default_timeout(30_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.page_errors = errors
    try:
        yield page
    finally:
        context.close()
    assert not errors, f"the console threw in the browser: {errors}"


@pytest.fixture
def console(anonymous: Any, console_url: str, api_token: str) -> Any:
    """A page signed in to the console (through its sign-in form), at the workflows list."""
    sign_in(anonymous, console_url, api_token)
    return anonymous


def sign_in(page: Any, console_url: str, token: str) -> None:
    page.goto(console_url + "/")
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("navigation", name="Main").wait_for()


def check_accessibility(page: Any, name: str) -> None:
    """axe-core on the page as it is: no serious or critical violation. Also saves the page's
    screenshot as docs/console/<name>.png (the README links them)."""
    from axe_playwright_python.sync_playwright import Axe  # type: ignore[import-untyped]

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    results = Axe().run(page)
    blocking = [v for v in results.response["violations"] if v.get("impact") in BLOCKING_IMPACTS]
    report = "\n".join(
        f"- {v['id']} ({v['impact']}): {v['help']} at "
        + ", ".join(str(n.get("target")) for n in v.get("nodes", [])[:3])
        for v in blocking
    )
    assert not blocking, f"axe-core found serious/critical violations on {name}:\n{report}"
