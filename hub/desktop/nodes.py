"""Desktop node types (``desktop.*``). They run in the DesktopActor (placement "desktop"),
through the same invoke path as every action node; blocking device calls go to a thread."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Literal

import regex as _regex
from pydantic import BaseModel, ConfigDict, Field

from hub.desktop.clicker import ClickerRegion
from hub.desktop.devices import devices
from hub.errors import ErrorCategory, StepFailed
from hub.nodes import NodeContext, PoolConfig, node_type

DESKTOP = PoolConfig(min_size=1, max_size=1, concurrency=16)
# An attempt's limit when the node gives no timeout_s: room for the OCR engine's first load;
# ``desktop.wait_for_text`` is bounded by its own ``timeout_s`` parameter (10 s) instead.
DESKTOP_TIMEOUT_S = 60.0


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CaptureParams(_Params):
    region: ClickerRegion | None = None


def _screen_region(region: ClickerRegion | None) -> Any:
    from hub.desktop.screen import Region

    if region is None:
        return None
    target = Region.model_validate(region.model_dump())
    devices().screen().check_region(target)
    return target


async def _capture(region: ClickerRegion | None) -> Any:
    target = _screen_region(region)
    return await asyncio.to_thread(devices().screen().capture, target)


@node_type(
    "desktop.capture",
    parameters=CaptureParams,
    placement="desktop",
    family="desktop",
    pool=DESKTOP,
    default_timeout_s=DESKTOP_TIMEOUT_S,
)
async def capture(params: CaptureParams, ctx: NodeContext) -> dict[str, Any]:
    """Capture a region (or the whole screen); the image stays on the desktop, by id."""
    frame = await _capture(params.region)
    return {
        "image_id": devices().keep_image(frame.pixels),
        "width": frame.region.width,
        "height": frame.region.height,
        "region": frame.region.model_dump(),
        "digest": frame.digest,
    }


class OcrParams(_Params):
    image_id: str
    backend: str = "auto"
    allowlist: str | None = None
    placement: Literal["auto", "local", "pool"] | None = None


def _ocr_output(result: Any, region: dict[str, Any] | None = None) -> dict[str, Any]:
    output = {
        "text": result.text,
        "items": [item.model_dump() for item in result.items],
        "backend": result.backend,
        "elapsed_ms": round(result.elapsed_ms, 3),
    }
    if region is not None:
        output["region"] = region
    return output


@node_type(
    "desktop.ocr",
    parameters=OcrParams,
    placement="desktop",
    family="desktop",
    pool=DESKTOP,
    default_timeout_s=DESKTOP_TIMEOUT_S,
)
async def ocr(params: OcrParams, ctx: NodeContext) -> dict[str, Any]:
    """Read the text of a captured image."""
    pixels = devices().image(params.image_id)
    engine = await asyncio.to_thread(devices().ocr, params.backend, params.placement)
    result = await asyncio.to_thread(lambda: engine.read(pixels, allowlist=params.allowlist))
    return _ocr_output(result)


class ReadTextParams(_Params):
    region: ClickerRegion | None = None
    backend: str = "auto"
    allowlist: str | None = None


async def _read(region: ClickerRegion | None, backend: str, allowlist: str | None) -> Any:
    frame = await _capture(region)
    engine = await asyncio.to_thread(devices().ocr, backend)
    result = await asyncio.to_thread(lambda: engine.read(frame.pixels, allowlist=allowlist))
    return frame, result


@node_type(
    "desktop.read_text",
    parameters=ReadTextParams,
    placement="desktop",
    family="desktop",
    pool=DESKTOP,
    default_timeout_s=DESKTOP_TIMEOUT_S,
)
async def read_text(params: ReadTextParams, ctx: NodeContext) -> dict[str, Any]:
    """Capture and read in one step."""
    frame, result = await _read(params.region, params.backend, params.allowlist)
    return _ocr_output(result, frame.region.model_dump())


REGEX_TIMEOUT_S = 0.5  # per OCR'd item, for find_text's `regex`


class FindTextParams(_Params):
    region: ClickerRegion | None = None
    text: str | None = None
    regex: str | None = None
    backend: str = "auto"


def _find(result: Any, region: Any, text: str | None, regex: str | None) -> dict[str, Any] | None:
    pattern = _regex.compile(regex) if regex else None
    for item in result.items:
        if pattern is None:
            hit = (text or "").lower() in item.text.lower()
        else:
            try:  # an OCR'd text is short, but a backtracking pattern must not hold the desktop
                hit = pattern.search(item.text, timeout=REGEX_TIMEOUT_S) is not None
            except TimeoutError:
                raise StepFailed(
                    f"the regex {regex!r} took over {REGEX_TIMEOUT_S:g}s on {item.text[:80]!r}; "
                    "simplify it",
                    category=ErrorCategory.VALIDATION,
                ) from None
        if hit:
            xs = [p[0] for p in item.box]
            ys = [p[1] for p in item.box]
            left, top = (region.left, region.top) if region is not None else (0, 0)
            return {
                "found": True,
                "text": item.text,
                "x": round(left + (min(xs) + max(xs)) / 2),
                "y": round(top + (min(ys) + max(ys)) / 2),
                "confidence": item.confidence,
            }
    return None


@node_type(
    "desktop.find_text",
    parameters=FindTextParams,
    placement="desktop",
    family="desktop",
    pool=DESKTOP,
    default_timeout_s=DESKTOP_TIMEOUT_S,
)
async def find_text(params: FindTextParams, ctx: NodeContext) -> dict[str, Any]:
    """Find text (or a regex) on screen; output its centre point in screen pixels."""
    found = await _search(params)
    return found or {"found": False, "text": None, "x": None, "y": None, "confidence": None}


async def _search(params: FindTextParams) -> dict[str, Any] | None:
    if not params.text and not params.regex:
        raise StepFailed("give 'text' or 'regex'", category=ErrorCategory.VALIDATION)
    frame, result = await _read(params.region, params.backend, None)
    return _find(result, frame.region, params.text, params.regex)


class WaitForTextParams(FindTextParams):
    timeout_s: float = Field(default=10, gt=0, le=3600)
    poll_ms: int = Field(default=250, ge=10, le=60_000)


@node_type(
    "desktop.wait_for_text",
    parameters=WaitForTextParams,
    placement="desktop",
    family="desktop",
    pool=DESKTOP,
)
async def wait_for_text(params: WaitForTextParams, ctx: NodeContext) -> dict[str, Any]:
    """Poll until the text is on screen; fails with category timeout if it never shows."""
    deadline = time.monotonic() + params.timeout_s
    while True:
        found = await _search(params)
        if found:
            return found
        if time.monotonic() >= deadline:
            raise StepFailed(
                f"text {params.text or params.regex!r} did not appear within {params.timeout_s:g}s",
                category=ErrorCategory.TIMEOUT,
            )
        await asyncio.sleep(params.poll_ms / 1000)


class ClickParams(_Params):
    x: int | None = None
    y: int | None = None
    text: str | None = None
    region: ClickerRegion | None = None
    backend: str = "auto"
    button: Literal["left", "right", "middle"] = "left"
    clicks: int = Field(default=1, ge=1, le=3)
    dry_run: bool = False


@node_type(
    "desktop.click",
    parameters=ClickParams,
    placement="desktop",
    family="desktop",
    pool=DESKTOP,
    default_timeout_s=DESKTOP_TIMEOUT_S,
)
async def click(params: ClickParams, ctx: NodeContext) -> dict[str, Any]:
    """Click a point, or the centre of a text found on screen."""
    x, y = params.x, params.y
    if params.text is not None:
        frame, result = await _read(params.region, params.backend, None)
        found = _find(result, frame.region, params.text, None)
        if found is None:
            raise StepFailed(
                f"text {params.text!r} not found on screen", category=ErrorCategory.NODE_ERROR
            )
        x, y = found["x"], found["y"]
    if x is None or y is None:
        raise StepFailed("give x and y, or text", category=ErrorCategory.VALIDATION)
    pointer = devices().pointer(params.dry_run)
    action = await asyncio.to_thread(
        lambda: pointer.click(x, y, button=params.button, clicks=params.clicks)
    )
    return dict(action.model_dump(mode="json"))


class MoveParams(_Params):
    x: int
    y: int
    dry_run: bool = False


@node_type(
    "desktop.move",
    parameters=MoveParams,
    placement="desktop",
    family="desktop",
    pool=DESKTOP,
    default_timeout_s=DESKTOP_TIMEOUT_S,
)
async def move(params: MoveParams, ctx: NodeContext) -> dict[str, Any]:
    """Move the pointer."""
    pointer = devices().pointer(params.dry_run)
    action = await asyncio.to_thread(pointer.move, params.x, params.y)
    return dict(action.model_dump(mode="json"))


class TypeParams(_Params):
    text: str
    dry_run: bool = False


@node_type(
    "desktop.type",
    parameters=TypeParams,
    placement="desktop",
    family="desktop",
    pool=DESKTOP,
    default_timeout_s=DESKTOP_TIMEOUT_S,
)
async def type_text(params: TypeParams, ctx: NodeContext) -> dict[str, Any]:
    """Type text with the keyboard."""
    pointer = devices().pointer(params.dry_run)
    action = await asyncio.to_thread(pointer.type_text, params.text)
    return dict(action.model_dump(mode="json"))


class KeyParams(_Params):
    key: str = Field(min_length=1)
    dry_run: bool = False


@node_type(
    "desktop.key",
    parameters=KeyParams,
    placement="desktop",
    family="desktop",
    pool=DESKTOP,
    default_timeout_s=DESKTOP_TIMEOUT_S,
)
async def key(params: KeyParams, ctx: NodeContext) -> dict[str, Any]:
    """Press a key or a combination such as ``ctrl+a``."""
    pointer = devices().pointer(params.dry_run)
    action = await asyncio.to_thread(pointer.key, params.key)
    return dict(action.model_dump(mode="json"))
