"""Desktop cycle benchmarks (issue #3): capture + OCR + decide + click for a 400x100 region.

    .venv/bin/python bench/desktop.py

Runs in this process on a fresh Xvfb with the test window (tests/e2e/desktop_app.py), using the
same Screen, Pointer, OCR backends and ClickerSession the DesktopActor uses, so the numbers are
the cycle itself without Ray. The click goes to the window's button in dry-run mode (the
pointer's checks run; nothing is pressed), so the window keeps its number.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hub.desktop.clicker import ClickerConfig, ClickerSession, Reading  # noqa: E402
from hub.desktop.ocr import available_backends, load_backend  # noqa: E402
from hub.desktop.pointer import Pointer  # noqa: E402
from hub.desktop.screen import Region, Screen  # noqa: E402
from tests.e2e.xvfb import running_app, running_xvfb  # noqa: E402


def cycles(
    backend: Any,
    screen: Screen,
    pointer: Pointer,
    region: Region,
    button: tuple[int, int],
    *,
    skip_unchanged: bool,
    n: int,
    single_line: bool = False,
) -> dict[str, Any]:
    config = ClickerConfig.model_validate(
        {
            "region": region.model_dump(),
            "threshold": 42,
            "click_x": button[0],
            "click_y": button[1],
            "interval_ms": 0,
            "skip_unchanged": skip_unchanged,
            "dry_run": True,
        }
    )
    session = ClickerSession(config, time.monotonic)
    times = []
    for _ in range(n):
        started = time.perf_counter()
        frame = screen.capture(region)
        if session.needs_ocr(frame.digest):
            result = backend.read(frame.pixels, single_line=single_line)
            session.read(frame.digest, Reading(result.text, []), result.elapsed_ms)
        assert session.last_reading is not None
        decision = session.decide(session.last_reading)
        if decision.click and decision.point:
            pointer.click(*decision.point)
        times.append(time.perf_counter() - started)
    median = statistics.median(times)
    return {
        "cycle_ms_p50": round(median * 1000, 2),
        "cycle_ms_p95": round(statistics.quantiles(times, n=20)[18] * 1000, 2),
        "decisions_per_s": round(1 / median, 1),
        "last_text": session.last_reading.text if session.last_reading else None,
    }


def main() -> None:
    results: dict[str, Any] = {"available": available_backends()}
    # The region is the number's label: 400 px wide, as tall as the label (at most 100 px), so
    # that it holds one line of text, as a watched counter on a real screen would.
    with (
        running_xvfb() as display,
        running_app(
            display, Path(tempfile.mkdtemp()), geometry="400x200+100+100", number=57
        ) as app,
    ):
        import os

        os.environ["DISPLAY"] = display
        screen = Screen(display)
        pointer = Pointer(screen_size=screen.size, dry_run=True, max_clicks_per_s=100_000)
        left, top, width, height = app.rects["number"]
        region = Region(left=left, top=top, width=min(400, width), height=min(100, height))
        results["region"] = region.model_dump()
        for name, missing in results["available"].items():
            if missing:
                continue
            backend = load_backend(name)
            backend.read(screen.capture(region).pixels)  # warm
            results[name] = {
                "ocr_every_cycle": cycles(
                    backend,
                    screen,
                    pointer,
                    region,
                    app.centre("button"),
                    skip_unchanged=False,
                    n=30,
                ),
                "unchanged_frame_skip": cycles(
                    backend,
                    screen,
                    pointer,
                    region,
                    app.centre("button"),
                    skip_unchanged=True,
                    n=300,
                ),
                "single_line_every_cycle": cycles(
                    backend,
                    screen,
                    pointer,
                    region,
                    app.centre("button"),
                    skip_unchanged=False,
                    n=30,
                    single_line=True,
                ),
            }
        pointer.close()
        screen.close()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
