"""The web console's shell in a real Chromium against the session's runtime: sign-in with the
API token (a session cookie), CSRF protection of changes made with that cookie, the served
files and their headers."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.e2e.conftest import check_accessibility, sign_in

pytestmark = pytest.mark.ray


def test_sign_in_refuses_a_wrong_token_then_accepts_the_right_one(
    anonymous: Any, console_url: str, api_token: str
) -> None:
    page = anonymous
    page.goto(console_url + "/executions")
    page.get_by_label("API token").wait_for()
    check_accessibility(page, "sign-in")
    page.get_by_label("API token").fill("hub_not-the-token")
    page.get_by_role("button", name="Sign in").click()
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert "not this runtime's API token" in alert.inner_text()

    sign_in(page, console_url, api_token)
    cookies = {c["name"]: c for c in page.context.cookies()}
    session = cookies["hub_session"]
    assert session["httpOnly"] and session["sameSite"] == "Strict"
    assert api_token not in session["value"]
    # The app calls the API with the cookie alone: the nav works and a reload stays signed in.
    page.reload()
    page.get_by_role("navigation", name="Main").wait_for()
    assert page.evaluate("document.cookie") == ""  # HttpOnly: scripts cannot read it

    page.get_by_role("button", name="Sign out").click()
    page.get_by_label("API token").wait_for()
    assert "hub_session" not in {c["name"] for c in page.context.cookies()}


def test_a_session_cookie_reads_but_changes_only_with_its_csrf_token(
    api_url: str, api_token: str
) -> None:
    base = api_url.removesuffix("/api/v1")
    with httpx.Client(base_url=base, timeout=30) as browser:
        assert browser.get("/ui/session").json() == {"signed_in": False}
        assert browser.post("/ui/session", json={"token": "wrong"}).status_code == 401
        signed = browser.post("/ui/session", json={"token": api_token})
        assert signed.status_code == 200
        csrf = signed.json()["csrf_token"]
        assert browser.get("/ui/session").json()["csrf_token"] == csrf

        assert browser.get("/api/v1/workflows").status_code == 200  # the cookie reads
        change = {"id": "csrf-probe", "nodes": [{"id": "a", "type": "set"}]}
        refused = browser.post("/api/v1/workflows/validate", json=change)
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "csrf_failed"
        wrong = browser.post(
            "/api/v1/workflows/validate", json=change, headers={"X-CSRF-Token": "x" * 32}
        )
        assert wrong.status_code == 403
        allowed = browser.post(
            "/api/v1/workflows/validate", json=change, headers={"X-CSRF-Token": csrf}
        )
        assert allowed.status_code == 200, allowed.text

        # A forged or tampered cookie is no session.
        value = browser.cookies["hub_session"]
        browser.cookies.set("hub_session", value[:-2] + ("00" if value[-2:] != "00" else "11"))
        assert browser.get("/api/v1/workflows").status_code == 401
        assert browser.get("/ui/session").json() == {"signed_in": False}


def test_the_console_is_served_with_strict_headers_and_never_outside_its_files(
    api_url: str,
) -> None:
    base = api_url.removesuffix("/api/v1")
    with httpx.Client(base_url=base, timeout=30) as client:
        for path in ("/ui", "/ui/", "/ui/executions/abc", "/ui/workflows/x/run"):
            page = client.get(path)
            assert page.status_code == 200, path
            assert page.headers["content-type"].startswith("text/html")
            assert "default-src 'self'" in page.headers["content-security-policy"]
            assert page.headers["x-content-type-options"] == "nosniff"
        asset = next(
            line.split('src="', 1)[1].split('"', 1)[0]
            for line in client.get("/ui/").text.splitlines()
            if "<script" in line and 'src="' in line
        )
        assert asset.startswith("/ui/assets/")
        served = client.get(asset)
        assert served.status_code == 200 and "immutable" in served.headers["cache-control"]
        # Encoded dots reach the route as "..": it serves nothing outside the built files.
        escape = client.get("/ui/assets/%2e%2e/%2e%2e/_session.py")
        assert escape.status_code == 404 and "COOKIE" not in escape.text
        assert client.get("/ui/assets/nope.js").status_code == 404
