from __future__ import annotations

import pytest

from hub.desktop.placement import OcrPlan, plan_ocr
from hub.errors import HubError


@pytest.mark.parametrize(
    ("backend", "placement", "gpus", "expected"),
    [
        ("auto", "auto", 0, OcrPlan("rapidocr", "local", 0.0)),
        ("auto", "auto", 1, OcrPlan("easyocr", "pool", 0.25)),
        ("easyocr", "auto", 0, OcrPlan("easyocr", "local", 0.0)),
        ("easyocr", "auto", 2, OcrPlan("easyocr", "pool", 0.25)),
        ("tesseract", "auto", 1, OcrPlan("tesseract", "local", 0.0)),
        ("rapidocr", "pool", 0, OcrPlan("rapidocr", "pool", 0.0)),
        ("auto", "local", 1, OcrPlan("easyocr", "local", 0.0)),
    ],
)
def test_plan(backend: str, placement: str, gpus: float, expected: OcrPlan) -> None:
    assert plan_ocr(backend, placement, gpus) == expected  # type: ignore[arg-type]


def test_bad_names() -> None:
    with pytest.raises(HubError, match="choose auto, rapidocr"):
        plan_ocr("paddle", "auto", 0)
    with pytest.raises(HubError, match="choose auto, local or pool"):
        plan_ocr("auto", "remote", 0)  # type: ignore[arg-type]
