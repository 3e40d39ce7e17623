"""rapidocr-onnxruntime: PP-OCRv4 detection and recognition, models inside the wheel."""

from __future__ import annotations

import importlib
import threading
import time
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hub.desktop._ocr.base import EXTRA_HINT, Image, OcrResult, OcrUnavailable, Raw, as_rgb, finish

_RAPID_LANGUAGES = {"en", "ch", "ch_sim", "zh", "eng", "chi_sim"}


class _MaskedDecoder:
    """Wraps rapidocr's CTC decoder: characters outside the allowlist get probability 0."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.characters: list[str] = list(inner.character)
        self.mask: NDArray[np.bool_] | None = None

    def set_allowlist(self, allowlist: str | None) -> None:
        if not allowlist:
            self.mask = None
            return
        allowed = set(allowlist) | {" "}
        # index 0 is CTC's blank: always allowed.
        self.mask = np.array(
            [i == 0 or ch in allowed for i, ch in enumerate(self.characters)], dtype=bool
        )

    def __call__(self, preds: NDArray[Any], *args: Any, **kwargs: Any) -> Any:
        if self.mask is not None and preds.shape[-1] == self.mask.shape[0]:
            preds = np.where(self.mask, preds, 0.0).astype(preds.dtype)
        return self.inner(preds, *args, **kwargs)


class RapidOcrBackend:
    """rapidocr-onnxruntime (PP-OCRv4 detector and recogniser, Chinese and English)."""

    name = "rapidocr"

    def __init__(
        self,
        *,
        gpu: bool = False,
        languages: list[str] | None = None,
        det_limit_side_len: int = 96,
        det_limit_type: str = "min",
        use_cls: bool = False,
    ) -> None:
        unsupported = [lang for lang in languages or [] if lang not in _RAPID_LANGUAGES]
        if unsupported:
            raise OcrUnavailable(
                self.name,
                f"rapidocr's bundled models read English and Chinese only, not {unsupported}",
            )
        try:
            rapidocr = importlib.import_module("rapidocr_onnxruntime")
            onnxruntime = importlib.import_module("onnxruntime")
        except ImportError as exc:
            raise OcrUnavailable(self.name, f"{exc}; {EXTRA_HINT}") from None
        options: dict[str, Any] = {
            "det_limit_side_len": det_limit_side_len,
            "det_limit_type": det_limit_type,
            # Screen text is upright: the 180-degree classifier only costs time.
            "use_cls": use_cls,
        }
        self.device = "cpu"
        if gpu and "CUDAExecutionProvider" in onnxruntime.get_available_providers():
            options.update(det_use_cuda=True, cls_use_cuda=True, rec_use_cuda=True)
            self.device = "cuda"
        self._engine = rapidocr.RapidOCR(**options)
        self._lock = threading.Lock()
        self._decoder: _MaskedDecoder | None = None
        text_rec = getattr(self._engine, "text_rec", None)
        inner = getattr(text_rec, "postprocess_op", None)
        if text_rec is not None and hasattr(inner, "character"):
            self._decoder = _MaskedDecoder(inner)
            text_rec.postprocess_op = self._decoder
        # else: an unknown rapidocr layout; the allowlist is then applied by filtering only.

    def read(
        self, image: Image, *, allowlist: str | None = None, single_line: bool = False
    ) -> OcrResult:
        started = time.perf_counter()
        rgb = as_rgb(image)
        bgr = np.ascontiguousarray(rgb[:, :, ::-1])
        with self._lock:
            if self._decoder is not None:
                self._decoder.set_allowlist(allowlist)
            try:
                if single_line:  # recognition only: the whole image is the text line
                    found, _elapsed = self._engine(bgr, use_det=False, use_cls=False, use_rec=True)
                else:
                    found, _elapsed = self._engine(bgr)
            finally:
                if self._decoder is not None:
                    self._decoder.set_allowlist(None)
        if single_line:
            height, width = rgb.shape[:2]
            whole = [
                [0.0, 0.0],
                [float(width), 0.0],
                [float(width), float(height)],
                [0.0, float(height)],
            ]
            raw: list[Raw] = [(str(r[0]), whole, float(r[1])) for r in found or [] if r[0]]
        else:
            raw = [(str(r[1]), r[0], float(r[2])) for r in found or []]
        return finish(self.name, raw, rgb.shape, allowlist, started)
