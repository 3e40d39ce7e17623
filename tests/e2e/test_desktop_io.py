"""Screen capture and pointer control on a real Xvfb display, against a real Tk window."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from hub.desktop.pointer import (
    Action,
    BadKey,
    KillSwitchTripped,
    OutOfScreen,
    Pointer,
    RateLimited,
)
from hub.desktop.screen import (
    DesktopUnavailable,
    Frame,
    Region,
    RegionOutOfBounds,
    Screen,
    encode_png,
)
from tests.e2e.xvfb import (
    DesktopApp,
    free_display_number,
    pointer_at,
    running_app,
    running_xvfb,
    wait_until,
    xdotool,
)

pytestmark = pytest.mark.skipif(
    shutil.which("Xvfb") is None or shutil.which("xdotool") is None,
    reason="needs Xvfb and xdotool (apt-get install xvfb xdotool)",
)

SIZE = (1024, 768)
HOME = (512, 700)  # away from the window and from every corner


@pytest.fixture(scope="session")
def xvfb_display() -> Iterator[str]:
    with running_xvfb(f"{SIZE[0]}x{SIZE[1]}x24") as display:
        yield display


@pytest.fixture
def app(xvfb_display: str, tmp_path: Path) -> Iterator[DesktopApp]:
    xdotool(xvfb_display, "mousemove", str(HOME[0]), str(HOME[1]))
    with running_app(xvfb_display, tmp_path / "app", number=7) as running:
        yield running


@pytest.fixture
def screen(xvfb_display: str) -> Iterator[Screen]:
    with Screen(xvfb_display) as s:
        yield s


@pytest.fixture
def make_pointer(xvfb_display: str) -> Iterator[Callable[..., Pointer]]:
    """Pointers on the session display, closed after the test."""
    made: list[Pointer] = []

    def make(**options: Any) -> Pointer:
        pointer = Pointer(screen_size=SIZE, display=xvfb_display, **options)
        made.append(pointer)
        return pointer

    yield make
    for pointer in made:
        pointer.close()


def region_of(app: DesktopApp, widget: str) -> Region:
    left, top, width, height = app.rects[widget]
    return Region(left=left, top=top, width=width, height=height)


def test_screen_reports_the_xvfb_geometry(screen: Screen) -> None:
    assert screen.size == SIZE
    assert screen.monitors[0] == Region(left=0, top=0, width=SIZE[0], height=SIZE[1])
    whole = screen.capture()
    assert whole.pixels.shape == (SIZE[1], SIZE[0], 3)
    assert whole.region == screen.monitors[0]


def test_capture_digest_follows_the_number(screen: Screen, app: DesktopApp) -> None:
    region = region_of(app, "number")
    first = screen.capture(region)
    assert first.pixels.shape == (region.height, region.width, 3)
    assert str(first.pixels.dtype) == "uint8"
    assert first.captured_at.utcoffset() is not None
    # A white label with black digits: the capture shows the window, not an empty screen.
    assert first.pixels.min() < 64 and first.pixels.max() > 192
    assert screen.capture(region).digest == first.digest  # nothing changed

    app.set_number(43)

    def repainted() -> Frame | None:
        frame = screen.capture(region)
        return frame if frame.digest != first.digest else None

    changed = wait_until(repainted, timeout_s=3, what="the new number to be painted")
    assert screen.capture(region).digest == changed.digest

    app.set_number(7)
    wait_until(lambda: screen.capture(region).digest == first.digest, timeout_s=3)

    png = encode_png(changed)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(png[16:20], "big") == region.width
    assert int.from_bytes(png[20:24], "big") == region.height


def test_regions_outside_the_screen_are_refused(screen: Screen) -> None:
    for outside in (
        Region(left=900, top=0, width=200, height=10),
        Region(left=-1, top=0, width=10, height=10),
        Region(left=0, top=760, width=10, height=10),
    ):
        with pytest.raises(RegionOutOfBounds, match="1024x768") as err:
            screen.capture(outside)
        assert err.value.region == outside.model_dump()
    screen.check_region(Region(left=1014, top=758, width=10, height=10))  # the last pixels fit
    with pytest.raises(ValidationError):
        Region(left=0, top=0, width=0, height=10)
    with pytest.raises(ValidationError):
        Region(left=0, top=0, width=10, height=10, depth=3)  # type: ignore[call-arg]


def test_click_on_the_button_is_seen_by_the_app(
    xvfb_display: str, app: DesktopApp, make_pointer: Callable[..., Pointer]
) -> None:
    pointer = make_pointer()
    x, y = app.centre("button")
    action = pointer.click(x, y)
    wait_until(lambda: app.clicks() == 1, timeout_s=3, what="the app to record the click")
    assert pointer_at(xvfb_display) == (x, y) == pointer.position()
    assert isinstance(action, Action)
    assert (action.kind, action.x, action.y, action.dry_run) == ("click", x, y, False)
    assert action.detail == {"button": "left", "clicks": 1}


def test_dry_run_clicks_nothing_but_reports_the_click(
    xvfb_display: str, app: DesktopApp, make_pointer: Callable[..., Pointer]
) -> None:
    pointer = make_pointer(dry_run=True)
    x, y = app.centre("button")
    action = pointer.click(x, y)
    moved = pointer.move(x, y)
    assert (action.kind, action.x, action.y, action.dry_run) == ("click", x, y, True)
    assert moved.dry_run
    time.sleep(0.3)
    assert app.clicks() == 0
    assert pointer_at(xvfb_display) == HOME


@pytest.mark.parametrize("corner", [(0, 0), (1023, 0), (0, 767), (1023, 767), (4, 763)])
def test_pointer_in_a_corner_trips_the_kill_switch(
    xvfb_display: str,
    app: DesktopApp,
    corner: tuple[int, int],
    make_pointer: Callable[..., Pointer],
) -> None:
    pointer = make_pointer(corner_px=5)
    x, y = app.centre("button")
    xdotool(xvfb_display, "mousemove", str(corner[0]), str(corner[1]))

    with pytest.raises(KillSwitchTripped, match="corner") as err:
        pointer.click(x, y)
    assert err.value.position == corner
    assert pointer.killed

    # It stays tripped after the pointer leaves the corner, for every kind of action.
    xdotool(xvfb_display, "mousemove", str(HOME[0]), str(HOME[1]))
    with pytest.raises(KillSwitchTripped):
        pointer.click(x, y)
    with pytest.raises(KillSwitchTripped):
        pointer.move(x, y)
    with pytest.raises(KillSwitchTripped):
        pointer.type_text("x")
    with pytest.raises(KillSwitchTripped):
        pointer.key("enter")
    time.sleep(0.2)
    assert app.clicks() == 0
    assert pointer_at(xvfb_display) == HOME

    pointer.reset_kill_switch()
    pointer.click(x, y)
    wait_until(lambda: app.clicks() == 1, timeout_s=3)


def test_just_outside_the_corner_does_not_trip(
    xvfb_display: str, app: DesktopApp, make_pointer: Callable[..., Pointer]
) -> None:
    pointer = make_pointer(corner_px=5)
    xdotool(xvfb_display, "mousemove", "5", "0")  # on the top edge, 5 px from the corner
    pointer.move(*HOME)
    assert not pointer.killed


def test_click_rate_limit(
    xvfb_display: str, app: DesktopApp, make_pointer: Callable[..., Pointer]
) -> None:
    pointer = make_pointer(max_clicks_per_s=3)
    x, y = app.centre("button")
    for _ in range(3):
        pointer.click(x, y)
    with pytest.raises(RateLimited, match="3 clicks per second") as err:
        pointer.click(x, y)
    assert 0 < err.value.retry_after_s <= 1
    wait_until(lambda: app.clicks() == 3, timeout_s=3)
    time.sleep(0.3)
    assert app.clicks() == 3


def test_rate_limit_window_slides(xvfb_display: str, make_pointer: Callable[..., Pointer]) -> None:
    xdotool(xvfb_display, "mousemove", str(HOME[0]), str(HOME[1]))
    now = [100.0]
    pointer = make_pointer(dry_run=True, max_clicks_per_s=2, clock=lambda: now[0])
    pointer.click(10, 10)
    now[0] = 100.6
    pointer.click(10, 10)
    now[0] = 100.9
    with pytest.raises(RateLimited):
        pointer.click(10, 10)
    with pytest.raises(RateLimited):
        pointer.click(10, 10, clicks=2)  # a double click needs room for two
    now[0] = 101.01  # the first click left the window
    pointer.click(10, 10)


def test_points_outside_the_screen_are_refused(
    xvfb_display: str, app: DesktopApp, make_pointer: Callable[..., Pointer]
) -> None:
    pointer = make_pointer()
    for x, y in ((1024, 10), (-1, 10), (10, 768)):
        with pytest.raises(OutOfScreen, match="1024x768"):
            pointer.click(x, y)
    with pytest.raises(OutOfScreen):
        pointer.move(2000, 2000)
    assert pointer_at(xvfb_display) == HOME


def test_typing_and_keys_reach_the_entry(
    xvfb_display: str, app: DesktopApp, make_pointer: Callable[..., Pointer]
) -> None:
    pointer = make_pointer()
    pointer.click(*app.centre("entry"))
    action = pointer.type_text("Hello 42")
    wait_until(lambda: app.typed() == "Hello 42", timeout_s=3, what="the typed text")
    assert action.detail == {"chars": 8}  # never the text itself: it may be a secret
    pointer.key("backspace")
    wait_until(lambda: app.typed() == "Hello 4", timeout_s=3)
    pointer.key("ctrl+a")  # Tk's Entry: to the start of the line
    pointer.type_text("x")
    wait_until(lambda: app.typed() == "xHello 4", timeout_s=3)

    with pytest.raises(BadKey, match="enter") as err:
        pointer.key("ctrl+entr")
    assert "enter" in err.value.suggestions


def test_no_display_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    with pytest.raises(DesktopUnavailable, match="no display: set DISPLAY or start Xvfb"):
        Screen()
    with pytest.raises(DesktopUnavailable, match="no display"):
        Pointer(screen_size=SIZE)

    nowhere = f":{free_display_number(start=500, stop=900)}"
    with pytest.raises(DesktopUnavailable, match="cannot open X display"):
        Screen(nowhere)
    with pytest.raises(DesktopUnavailable, match="cannot connect to X display"):
        Pointer(screen_size=SIZE, display=nowhere)


def test_display_without_xtest_is_a_clear_error() -> None:
    with running_xvfb("640x480x24", ["-extension", "XTEST"]) as display:
        with Screen(display) as screen:  # capture needs no XTEST
            assert screen.size == (640, 480)
        with pytest.raises(DesktopUnavailable, match="no XTEST extension"):
            Pointer(screen_size=(640, 480), display=display)
