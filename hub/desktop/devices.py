"""The desktop devices of this process: screen, pointer and OCR engines.

Only the DesktopActor's process installs them (``install``); desktop node types reach them with
``devices()``, so a desktop node that somehow runs elsewhere fails with a clear error instead of
driving the wrong machine. Images captured by nodes stay here (a small LRU keyed by image id)
and travel between desktop nodes by id, never through the SQL store.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from hub.desktop.placement import plan_ocr
from hub.errors import HubError, NodeFamilyDisabled


class DesktopDisabled(NodeFamilyDisabled):  # a 403 over HTTP, like any closed family
    code = "desktop_disabled"


class NotOnDesktop(HubError):
    code = "not_on_desktop"


class Devices:
    def __init__(
        self,
        *,
        enabled: bool,
        dry_run: bool,
        max_clicks_per_s: float,
        gpu: bool = False,
        image_cache: int = 64,
        ocr_placement: str = "auto",
        cluster_gpus: float | Callable[[], float] = 0.0,
        remote_ocr: Callable[[str, float], Any] | None = None,
    ) -> None:
        self.enabled = enabled
        self.ocr_placement = ocr_placement
        self.cluster_gpus = cluster_gpus
        self.remote_ocr = remote_ocr
        self.dry_run = dry_run
        self.max_clicks_per_s = max_clicks_per_s
        self.gpu = gpu
        self._screen: Any = None
        self._pointer: Any = None
        # Why the kill switch starts tripped, if it does (a desktop that came back by itself).
        self.tripped_at_start: str | None = None
        self._backends: dict[str, Any] = {}
        self._images: OrderedDict[str, Any] = OrderedDict()
        self._image_cache = image_cache
        self._lock = threading.Lock()

    def check_enabled(self) -> None:
        if not self.enabled:
            raise DesktopDisabled(
                "desktop control is disabled; start the runtime with HUB_ENABLE_DESKTOP=1 in "
                "its environment (`HUB_ENABLE_DESKTOP=1 hub up --desktop`), or, if it was "
                'disabled through the settings API, PUT /api/v1/settings {"enable_desktop": true}'
            )

    def screen(self) -> Any:
        self.check_enabled()
        with self._lock:
            if self._screen is None:
                from hub.desktop.screen import Screen

                self._screen = Screen()
            return self._screen

    def pointer(self, dry_run: bool = False) -> Any:
        """The pointer; ``dry_run`` (or the runtime's dry-run setting) records, never clicks."""
        size = self.screen().size
        with self._lock:
            if self._pointer is None:
                from hub.desktop.pointer import Pointer

                self._pointer = Pointer(
                    screen_size=size, dry_run=False, max_clicks_per_s=self.max_clicks_per_s
                )
                if self.tripped_at_start is not None:
                    self._pointer.trip(self.tripped_at_start)
            self._pointer.dry_run = dry_run or self.dry_run
            return self._pointer

    def ocr(self, name: str = "auto", placement: str | None = None) -> Any:
        """The OCR engine for ``name``: loaded here, or an OcrActor (hub.desktop.placement)."""
        where = placement or self.ocr_placement
        gpus = self.cluster_gpus() if callable(self.cluster_gpus) else self.cluster_gpus
        plan = plan_ocr(name, where, gpus)  # type: ignore[arg-type]
        key = f"{plan.where}:{plan.backend}"
        with self._lock:
            if key not in self._backends:
                if plan.where == "pool" and self.remote_ocr is not None:
                    self._backends[key] = self.remote_ocr(plan.backend, plan.num_gpus)
                else:
                    from hub.desktop.ocr import load_backend

                    self._backends[key] = load_backend(plan.backend, gpu=self.gpu)
            return self._backends[key]

    def keep_image(self, pixels: Any) -> str:
        image_id = uuid.uuid4().hex[:16]
        with self._lock:
            self._images[image_id] = pixels
            while len(self._images) > self._image_cache:
                self._images.popitem(last=False)
        return image_id

    def image(self, image_id: str) -> Any:
        with self._lock:
            try:
                return self._images[image_id]
            except KeyError:
                raise HubError(
                    f"image {image_id!r} is not (or no longer) held by the desktop; capture it "
                    "again (the desktop keeps the last "
                    f"{self._image_cache} captured images)"
                ) from None


_current: Devices | None = None


def install(devices: Devices) -> None:
    global _current
    _current = devices


def devices() -> Devices:
    if _current is None:
        raise NotOnDesktop(
            "desktop nodes run only in the DesktopActor (on the node started with "
            "`hub up --desktop`)"
        )
    return _current
