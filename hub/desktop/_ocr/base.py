"""What every OCR backend shares: the result models, the error, image normalisation, and
turning a backend's raw findings into an :class:`OcrResult` (clean texts, clipped boxes with
ordered corners, confidences in 0..1, reading order, the allowlist applied)."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, Field

from hub.errors import ErrorCategory, HubError, StepFailed

EXTRA_HINT = "install the extra: pip install 'runtime-hub[ocr]'"
TESSERACT_HINT = "tesseract binary not found: apt-get install tesseract-ocr"

Image = NDArray[Any]
RgbImage = NDArray[np.uint8]


class OcrUnavailable(HubError):
    """An OCR backend cannot be used here; ``reason`` says why and how to fix it."""

    code = "ocr_unavailable"

    def __init__(self, backend: str, reason: str) -> None:
        super().__init__(
            f"OCR backend {backend!r} is unavailable: {reason}",
            details={"backend": backend, "reason": reason},
        )
        self.backend = backend
        self.reason = reason


class OcrItem(BaseModel):
    """One piece of recognised text."""

    text: str
    box: list[list[float]]
    """Four corner points ``[x, y]``, clockwise from the top-left, in the image's pixels."""
    confidence: float = Field(ge=0.0, le=1.0)


class OcrResult(BaseModel):
    """Everything one ``read`` recognised."""

    text: str
    """All items' texts joined by single spaces, in reading order."""
    items: list[OcrItem]
    backend: str
    elapsed_ms: float


@runtime_checkable
class OcrBackend(Protocol):
    """What every backend offers: a name and ``read``."""

    name: str

    def read(
        self, image: Image, *, allowlist: str | None = None, single_line: bool = False
    ) -> OcrResult:
        """Read ``image``: HxWx3 uint8 RGB, HxWx4 BGRA (as mss captures), or HxW gray.

        ``single_line``: the image is one line of text (a fixed small region), so backends that
        can skip text detection do (rapidocr: recognition only; tesseract: page mode 7)."""
        ...


def as_rgb(image: Image) -> RgbImage:
    """``image`` (HxW gray, HxWx3 RGB or HxWx4 BGRA, uint8) as a contiguous HxWx3 uint8 RGB
    array: the input itself when it already is one. Anything else is a validation error."""
    if not isinstance(image, np.ndarray):
        raise StepFailed(
            f"an image must be a numpy array, not {type(image).__name__}",
            category=ErrorCategory.VALIDATION,
        )
    if image.dtype != np.uint8:
        raise StepFailed(
            f"an image must be uint8, not {image.dtype}", category=ErrorCategory.VALIDATION
        )
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 2:
        rgb = np.repeat(image[:, :, np.newaxis], 3, axis=2)
    elif image.ndim == 3 and image.shape[2] == 3:
        rgb = image
    elif image.ndim == 3 and image.shape[2] == 4:
        rgb = image[:, :, 2::-1]  # BGRA (mss) -> RGB; alpha dropped
    else:
        raise StepFailed(
            f"an image must be HxW gray, HxWx3 RGB or HxWx4 BGRA, not shape {image.shape}",
            category=ErrorCategory.VALIDATION,
        )
    if rgb.shape[0] == 0 or rgb.shape[1] == 0:
        raise StepFailed(f"the image is empty: {image.shape}", category=ErrorCategory.VALIDATION)
    return np.ascontiguousarray(rgb)


Raw = tuple[str, Sequence[Sequence[float]], float]  # text, corner points, confidence 0..1


def order_corners(points: Sequence[Sequence[float]]) -> list[list[float]]:
    """Four corners clockwise (on screen, y down) starting from the top-left one."""
    pts = [[float(p[0]), float(p[1])] for p in points]
    cx = sum(p[0] for p in pts) / len(pts)
    cy = sum(p[1] for p in pts) / len(pts)
    pts.sort(key=lambda p: math.atan2(p[1] - cy, p[0] - cx))
    first = min(range(len(pts)), key=lambda i: (pts[i][0] + pts[i][1], pts[i][1]))
    return pts[first:] + pts[:first]


def clip_box(points: Sequence[Sequence[float]], width: int, height: int) -> list[list[float]]:
    return [
        [min(max(x, 0.0), float(width)), min(max(y, 0.0), float(height))]
        for x, y in order_corners(points)
    ]


def reading_order(items: list[OcrItem]) -> list[OcrItem]:
    """Top to bottom, then left to right: items whose vertical centres fall inside one
    another's vertical extent form a line; lines go by their top, items in a line by left."""

    def top(item: OcrItem) -> float:
        return min(p[1] for p in item.box)

    def bottom(item: OcrItem) -> float:
        return max(p[1] for p in item.box)

    def left(item: OcrItem) -> float:
        return min(p[0] for p in item.box)

    lines: list[list[OcrItem]] = []
    for item in sorted(items, key=lambda it: (top(it), left(it))):
        centre = (top(item) + bottom(item)) / 2
        if lines:
            line = lines[-1]
            line_top = min(top(it) for it in line)
            line_bottom = max(bottom(it) for it in line)
            line_centre = (line_top + line_bottom) / 2
            if line_top <= centre <= line_bottom or top(item) <= line_centre <= bottom(item):
                line.append(item)
                continue
        lines.append([item])
    return [item for line in lines for item in sorted(line, key=left)]


def restrict(text: str, allowlist: str | None) -> str:
    if not allowlist:
        return text
    return "".join(ch for ch in text if ch in allowlist or ch == " ")


def finish(
    backend: str,
    raw: list[Raw],
    shape: tuple[int, ...],
    allowlist: str | None,
    started: float,
) -> OcrResult:
    height, width = int(shape[0]), int(shape[1])
    items: list[OcrItem] = []
    for text, points, confidence in raw:
        cleaned = " ".join(restrict(str(text), allowlist).split())
        if not cleaned or len(points) != 4:
            continue
        conf = float(confidence)
        conf = 0.0 if math.isnan(conf) else min(max(conf, 0.0), 1.0)
        items.append(OcrItem(text=cleaned, box=clip_box(points, width, height), confidence=conf))
    items = reading_order(items)
    return OcrResult(
        text=" ".join(item.text for item in items),
        items=items,
        backend=backend,
        elapsed_ms=(time.perf_counter() - started) * 1000.0,
    )


def rect(left: float, top: float, right: float, bottom: float) -> list[list[float]]:
    return [[left, top], [right, top], [right, bottom], [left, bottom]]
