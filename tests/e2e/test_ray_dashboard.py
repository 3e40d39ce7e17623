"""The Ray dashboard of the session's runtime in a real browser (Debian's Chromium), as an
operator meets it after `hub up`: the sign-in asks for the Ray token, the token `hub status`
points to opens it, and the Actors page tells the runtime's actors apart by their reprs. The
signed-in Actors page is the screenshot in docs/ (docs/metrics.md links it)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import hub
from hub.runtime import read_runtime

pytestmark = pytest.mark.ray

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "ray-dashboard-actors.png"


@pytest.fixture()
def dashboard(runtime: hub.Client, hub_home: Path) -> str:
    info = read_runtime(hub_home)
    assert info is not None and info.dashboard_url
    return info.dashboard_url


@pytest.fixture()
def page(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context(viewport={"width": 1600, "height": 1000})
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.mark.timeout(240)
def test_sign_in_with_the_ray_token_and_see_the_runtimes_actors(page: Any, dashboard: str) -> None:
    from playwright.sync_api import expect

    page.goto(f"{dashboard}/#/actors")
    dialog = page.get_by_role("dialog", name="Authentication Token Required")
    expect(dialog).to_be_visible(timeout=60_000)
    expect(dialog).to_contain_text("ray get-auth-token")

    # What `hub up` and `hub status` point to: the file `ray get-auth-token` prints.
    token = (Path.home() / ".ray" / "auth_token").read_text().strip()
    dialog.get_by_role("textbox", name="Authentication Token").fill(token)
    page.keyboard.press("Enter")
    expect(dialog).to_be_hidden(timeout=30_000)

    page.goto(f"{dashboard}/#/actors")
    table = page.get_by_role("table").first
    expect(table).to_contain_text("ALIVE", timeout=60_000)
    # The runtime's actors, found by their reprs, on one page.
    page.get_by_role("textbox", name="repr").fill("Actor(")
    page.get_by_role("textbox", name="Page Size").fill("50")
    expect(table).to_contain_text(re.compile(r"ExecutionActor\((shared, )?idle\)"))
    expect(table).to_contain_text("NodeActor(code [code family], 0/")
    expect(table).not_to_contain_text("ServeController")
    page.screenshot(path=str(SCREENSHOT), full_page=False)
