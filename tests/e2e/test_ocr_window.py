"""Every OCR backend available here reads the real test window on Xvfb (captured with mss)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from hub.desktop.ocr import available_backends, load_backend
from hub.desktop.screen import Region, Screen
from tests.e2e.xvfb import DesktopApp, running_app, xdotool

BACKENDS = ["rapidocr", "tesseract", "easyocr"]


@pytest.fixture(scope="module")
def window(
    x_display: str | None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Screen, DesktopApp]]:
    if x_display is None:
        pytest.skip(
            "Xvfb is not installed here (the test command installs it: apt-get install xvfb)"
        )
    with (
        running_app(x_display, tmp_path_factory.mktemp("ocr-app"), number=4817) as app,
        Screen(x_display) as screen,
    ):
        xdotool(x_display, "mousemove", "900", "700")  # no hover highlight on the button
        yield screen, app


@pytest.mark.parametrize("name", BACKENDS)
def test_backend_reads_the_window(name: str, window: tuple[Screen, DesktopApp]) -> None:
    missing = available_backends()[name]
    if missing:
        pytest.skip(f"{name} cannot run here: {missing}")
    screen, app = window
    backend = load_backend(name)
    left, top, width, height = app.rects["window"]
    frame = screen.capture(Region(left=left, top=top, width=width, height=height))
    result = backend.read(frame.pixels)
    assert re.search(r"4817", result.text.replace(" ", "")), result.text
    # the button's label, in a small font: backends differ on its first letters
    assert re.search(r"[i1l]ck\b|\bme\b", result.text, re.IGNORECASE), result.text
    number_only = backend.read(frame.pixels, allowlist="0123456789")
    assert number_only.text.replace(" ", "").isdigit()
    assert all(0 <= item.confidence <= 1 for item in result.items)
