"""Console session cookies (serve.console._session) and the file lookup of serve.console.routes."""

from __future__ import annotations

import pytest

from serve.console import routes
from serve.console._session import csrf_ok, issue, verify

DIGEST = "ab" * 32
OTHER = "cd" * 32


def test_an_issued_session_verifies_until_it_expires() -> None:
    cookie, session = issue(DIGEST, now=1000, ttl_s=60)
    assert verify(DIGEST, cookie, now=1059) == session
    assert verify(DIGEST, cookie, now=1060) is None
    assert session.expires == 1060 and len(session.csrf) >= 24


def test_a_session_is_bound_to_the_token_that_issued_it() -> None:
    cookie, _ = issue(DIGEST)
    assert verify(OTHER, cookie) is None  # a rotated token ends every session


@pytest.mark.parametrize(
    "tamper",
    [
        lambda c: c.replace("v1.", "v2.", 1),
        lambda c: ".".join([c.split(".")[0], str(int(c.split(".")[1]) + 99999), *c.split(".")[2:]]),
        lambda c: ".".join([*c.split(".")[:2], "attacker-csrf", c.split(".")[3]]),
        lambda c: c[:-1] + ("0" if c[-1] != "0" else "1"),
        lambda c: c + ".extra",
        lambda c: "",
        lambda c: "x" * 10_000,
    ],
)
def test_a_tampered_cookie_is_no_session(tamper: object) -> None:
    cookie, _ = issue(DIGEST)
    assert verify(DIGEST, tamper(cookie)) is None  # type: ignore[operator]


def test_csrf_must_match_exactly() -> None:
    _, session = issue(DIGEST)
    assert csrf_ok(session, session.csrf)
    assert not csrf_ok(session, None)
    assert not csrf_ok(session, session.csrf + "x")
    assert not csrf_ok(session, "")


def test_console_files_are_never_looked_up_outside_the_build() -> None:
    assert routes._file("index.html") is not None
    for escape in ("../_session.py", "assets/../../routes.py", "/etc/passwd", "assets/../.."):
        assert routes._file(escape) is None
