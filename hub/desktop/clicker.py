"""The auto-clicker session as a pure state machine: capture, read, decide, click, repeat.

The DesktopActor drives it (capturing and clicking in worker threads); every decision lives
here so it is tested without a screen: when to skip OCR (the frame did not change), whether a
reading calls for a click and where, when the session must stop, and the session's metrics.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hub.errors import ExpressionError, HubError
from hub.expressions import Expression, parse_expression

_NUMBER = re.compile(r"(?<![\d.])-?\d+(?:\.\d+)?")


def numbers_in(text: str) -> list[float | int]:
    """The numbers in a text, in order (as the expression function ``numbers``)."""
    found: list[float | int] = []
    for match in _NUMBER.finditer(text):
        token = match.group()
        found.append(float(token) if "." in token else int(token))
    return found


class ClickerRegion(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    left: int
    top: int
    width: int = Field(gt=0)
    height: int = Field(gt=0)


class ClickerConfig(BaseModel):
    """What a session watches, when it clicks, where, and when it stops."""

    model_config = ConfigDict(extra="forbid")

    region: ClickerRegion
    threshold: float | None = 42
    condition: str | None = None
    click_x: int | None = None
    click_y: int | None = None
    click_target: Literal["point", "match"] = "point"
    button: Literal["left", "right", "middle"] = "left"
    interval_ms: int = Field(default=200, ge=0, le=3_600_000)
    max_clicks: int | None = Field(default=None, ge=1)
    max_duration_s: float | None = Field(default=None, gt=0)
    dry_run: bool = False
    backend: str = "auto"
    skip_unchanged: bool = True
    single_line: bool = False  # the region holds one line of text: skip text detection

    @model_validator(mode="after")
    def _consistent(self) -> ClickerConfig:
        if self.condition is None and self.threshold is None:
            raise ValueError("give a threshold or a condition")
        if self.click_target == "point" and (self.click_x is None or self.click_y is None):
            raise ValueError("click_target 'point' needs click_x and click_y")
        if self.condition is not None:
            try:
                parse_expression(_strip_braces(self.condition))
            except ExpressionError as exc:
                raise ValueError(f"condition: {exc.message}") from None
        return self


def _strip_braces(text: str) -> str:
    text = text.strip()
    if text.startswith("{{") and text.endswith("}}"):
        return text[2:-2]
    return text


@dataclass(frozen=True)
class Reading:
    """What OCR saw in one frame: all text, and items with boxes relative to the region."""

    text: str
    items: list[dict[str, Any]]


@dataclass(frozen=True)
class Decision:
    click: bool
    numbers: list[float | int]
    point: tuple[int, int] | None = None
    reason: str = ""


@dataclass
class SessionMetrics:
    cycles: int = 0
    clicks: int = 0
    ocr_runs: int = 0
    ocr_skipped: int = 0
    errors: int = 0
    cycle_ms: list[float] = field(default_factory=list)
    ocr_ms: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        def pct(values: list[float], q: int) -> float | None:
            if not values:
                return None
            if len(values) == 1:
                return round(values[0], 3)
            return round(float(statistics.quantiles(values, n=100, method="inclusive")[q - 1]), 3)

        return {
            "cycles": self.cycles,
            "clicks": self.clicks,
            "ocr_runs": self.ocr_runs,
            "ocr_skipped": self.ocr_skipped,
            "errors": self.errors,
            "success_rate": round(1 - self.errors / self.cycles, 4) if self.cycles else None,
            "cycle_ms_p50": pct(self.cycle_ms, 50),
            "cycle_ms_p95": pct(self.cycle_ms, 95),
            "ocr_ms_p50": pct(self.ocr_ms, 50),
            "ocr_ms_p95": pct(self.ocr_ms, 95),
        }


class ClickerSession:
    """One session's decisions. ``clock`` returns monotonic seconds."""

    def __init__(self, config: ClickerConfig, clock: Callable[[], float]) -> None:
        self.config = config
        self.clock = clock
        self.started = clock()
        self.metrics = SessionMetrics()
        self.last_digest: str | None = None
        self.last_reading: Reading | None = None
        self.stop_requested: str | None = None
        self.condition: Expression | None = (
            parse_expression(_strip_braces(config.condition)) if config.condition else None
        )

    # --- the cycle --------------------------------------------------------------------------

    def needs_ocr(self, digest: str) -> bool:
        """False when the frame is the one already read (its reading is reused)."""
        if self.config.skip_unchanged and digest == self.last_digest and self.last_reading:
            self.metrics.ocr_skipped += 1
            return False
        return True

    def read(self, digest: str, reading: Reading, ocr_ms: float) -> None:
        self.last_digest, self.last_reading = digest, reading
        self.metrics.ocr_runs += 1
        self.metrics.ocr_ms.append(ocr_ms)

    def decide(self, reading: Reading) -> Decision:
        found = numbers_in(reading.text)
        if self.condition is not None:
            scope = {"text": reading.text, "numbers": found, "items": reading.items}
            try:
                hit = bool(self.condition.evaluate(scope))
            except ExpressionError as exc:
                raise HubError(f"clicker condition failed: {exc.message}") from None
            reason = f"condition {'true' if hit else 'false'}"
        else:
            assert self.config.threshold is not None
            hit = any(n > self.config.threshold for n in found)
            reason = f"a number > {self.config.threshold:g}" if hit else "no number over threshold"
        if not hit:
            return Decision(click=False, numbers=found, reason=reason)
        point = self.target(reading)
        if point is None:
            return Decision(click=False, numbers=found, reason="no matching text to click")
        return Decision(click=True, numbers=found, point=point, reason=reason)

    def target(self, reading: Reading) -> tuple[int, int] | None:
        if self.config.click_target == "point":
            assert self.config.click_x is not None and self.config.click_y is not None
            return self.config.click_x, self.config.click_y
        threshold = self.config.threshold
        for item in reading.items:
            values = numbers_in(str(item.get("text", "")))
            if values and (threshold is None or any(v > threshold for v in values)):
                xs = [p[0] for p in item["box"]]
                ys = [p[1] for p in item["box"]]
                region = self.config.region
                return (
                    round(region.left + (min(xs) + max(xs)) / 2),
                    round(region.top + (min(ys) + max(ys)) / 2),
                )
        return None

    def clicked(self) -> None:
        self.metrics.clicks += 1

    def cycle_done(self, cycle_ms: float, *, error: bool = False) -> None:
        self.metrics.cycles += 1
        self.metrics.cycle_ms.append(cycle_ms)
        if error:
            self.metrics.errors += 1

    # --- stopping ---------------------------------------------------------------------------

    def stop(self, reason: str) -> None:
        self.stop_requested = self.stop_requested or reason

    def stop_reason(self) -> str | None:
        """Why the session must end now, or None to go on."""
        if self.stop_requested:
            return self.stop_requested
        if self.config.max_clicks is not None and self.metrics.clicks >= self.config.max_clicks:
            return f"max_clicks ({self.config.max_clicks}) reached"
        limit = self.config.max_duration_s
        if limit is not None and self.clock() - self.started >= limit:
            return f"max_duration_s ({limit:g}) reached"
        return None

    @staticmethod
    def in_corner(position: tuple[int, int], screen: tuple[int, int], corner_px: int) -> bool:
        """The kill-switch test: is the pointer within ``corner_px`` of a screen corner?"""
        x, y = position
        width, height = screen
        near_x = x <= corner_px or x >= width - 1 - corner_px
        near_y = y <= corner_px or y >= height - 1 - corner_px
        return near_x and near_y

    def next_delay_s(self, cycle_s: float) -> float:
        """Sleep so cycles start every ``interval_ms`` (never negative)."""
        return max(0.0, self.config.interval_ms / 1000 - cycle_s)
