"""Desktop automation: screen capture, mouse and keyboard, OCR, auto-clicker sessions.

The devices and OCR engines need the ``desktop`` and ``ocr`` extras; their names load on first
use, so the core (and the desktop node types' definitions) import without them.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "OcrItem": "hub.desktop.ocr",
    "OcrResult": "hub.desktop.ocr",
    "OcrBackend": "hub.desktop.ocr",
    "OcrUnavailable": "hub.desktop.ocr",
    "available_backends": "hub.desktop.ocr",
    "load_backend": "hub.desktop.ocr",
    "RapidOcrBackend": "hub.desktop.ocr",
    "TesseractBackend": "hub.desktop.ocr",
    "EasyOcrBackend": "hub.desktop.ocr",
    "Screen": "hub.desktop.screen",
    "Region": "hub.desktop.screen",
    "Frame": "hub.desktop.screen",
    "Pointer": "hub.desktop.pointer",
    "Action": "hub.desktop.pointer",
    "ClickerConfig": "hub.desktop.clicker",
    "ClickerSession": "hub.desktop.clicker",
}

__all__ = [
    # OCR
    "OcrItem",
    "OcrResult",
    "OcrBackend",
    "OcrUnavailable",
    "available_backends",
    "load_backend",
    "RapidOcrBackend",
    "TesseractBackend",
    "EasyOcrBackend",
    # screen, mouse and keyboard
    "Screen",
    "Region",
    "Frame",
    "Pointer",
    "Action",
    # auto-clicker
    "ClickerConfig",
    "ClickerSession",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'hub.desktop' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
