"""OCR backends on images rendered here with Pillow; real engines, no mocks, no downloads.

Each backend available here is loaded once for the module. A backend that cannot be used is
skipped with the reason :func:`available_backends` gives (tesseract needs the ``tesseract-ocr``
Debian package; rapidocr and EasyOCR need the ``ocr`` extra).
"""

from __future__ import annotations

import glob
import importlib.util
import pickle
import re
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hub.desktop import (
    EasyOcrBackend,
    OcrBackend,
    OcrItem,
    OcrResult,
    OcrUnavailable,
    available_backends,
    load_backend,
)
from hub.desktop._ocr.base import reading_order
from hub.desktop.ocr import BACKENDS, EXTRA_HINT, TESSERACT_HINT, as_rgb
from hub.errors import ErrorCategory, HubError, StepFailed

Image = pytest.importorskip("PIL.Image", reason=f"Pillow renders the test images; {EXTRA_HINT}")
ImageDraw = pytest.importorskip("PIL.ImageDraw")
ImageFont = pytest.importorskip("PIL.ImageFont")

FONT_SIZE = 36
DIGITS = "0123456789"


def _font() -> Any:
    """DejaVu Sans (fonts-dejavu-core), any TrueType font, or Pillow's bundled one."""
    candidates = ["/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"]
    candidates += sorted(glob.glob("/usr/share/fonts/**/DejaVuSans.ttf", recursive=True))
    candidates += sorted(glob.glob("/usr/share/fonts/**/*.ttf", recursive=True))
    for path in candidates:
        try:
            return ImageFont.truetype(path, FONT_SIZE)
        except OSError:
            continue
    try:  # Pillow >= 10.1 bundles a TrueType font when it has FreeType.
        return ImageFont.load_default(size=FONT_SIZE)
    except (TypeError, OSError, ImportError):
        pytest.skip("no TrueType font to render test text: apt-get install fonts-dejavu-core")


@pytest.fixture(scope="module")
def font() -> Any:
    return _font()


def render(font: Any, lines: list[tuple[int, int, str]], size: tuple[int, int] = (400, 100)) -> Any:
    """A white RGB image (HxWx3 uint8) with black text at the given (x, y) positions."""
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    for x, y, text in lines:
        draw.text((x, y), text, fill="black", font=font)
    return np.asarray(image)


def norm(text: str) -> str:
    return " ".join(text.lower().split())


def numbers(text: str) -> list[str]:
    return re.findall(r"\d+", text)


_loaded: dict[str, OcrBackend] = {}


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Iterator[OcrBackend]:
    name = request.param
    reason = available_backends()[name]
    if reason is not None:
        pytest.skip(f"{name}: {reason}")
    if name not in _loaded:
        _loaded[name] = load_backend(name)  # easyocr: CPU here
    yield _loaded[name]


@pytest.fixture(scope="module")
def value_57(font: Any) -> Any:
    return render(font, [(20, 30, "Value: 57")])


@pytest.fixture(scope="module")
def apples(font: Any) -> Any:
    return render(font, [(20, 30, "12 apples 43 pears")])


# --- every backend -----------------------------------------------------------------------------


def test_backend_satisfies_the_protocol(backend: OcrBackend) -> None:
    assert isinstance(backend, OcrBackend)
    assert backend.name in BACKENDS


def test_reads_the_text(backend: OcrBackend, value_57: Any, apples: Any) -> None:
    first = backend.read(value_57)
    assert isinstance(first, OcrResult)
    assert first.backend == backend.name
    assert first.elapsed_ms > 0
    assert re.search(r"\bvalue\b", norm(first.text)), first.text
    assert re.search(r"(?<!\d)57(?!\d)", first.text), first.text

    second = backend.read(apples)
    assert re.search(r"(?<!\d)12(?!\d).*(?<!\d)43(?!\d)", second.text), second.text
    assert "apples" in norm(second.text) and "pears" in norm(second.text), second.text
    assert second.text == " ".join(item.text for item in second.items)


def test_items_have_boxes_inside_the_image_and_confidences(
    backend: OcrBackend, apples: Any
) -> None:
    height, width = apples.shape[:2]
    result = backend.read(apples)
    assert result.items
    for item in result.items:
        assert item.text == item.text.strip() and item.text
        assert 0.0 <= item.confidence <= 1.0
        assert len(item.box) == 4
        for x, y in item.box:
            assert 0 <= x <= width and 0 <= y <= height
        (x0, y0), (x1, y1), (x2, y2), (x3, y3) = item.box
        # clockwise from the top-left: top-left, top-right, bottom-right, bottom-left
        assert x0 < x1 and x3 < x2 and y0 < y3 and y1 < y2
    xs = [x for item in result.items for x, _ in item.box]
    ys = [y for item in result.items for _, y in item.box]
    # the text was drawn from x=20, y=30 to about x=370, y=75
    assert min(xs) < 60 and max(xs) > 300
    assert 15 < min(ys) < 50 and 55 < max(ys) < 95


def test_bgra_and_gray_input(backend: OcrBackend, value_57: Any) -> None:
    bgra = np.dstack([value_57[:, :, 2], value_57[:, :, 1], value_57[:, :, 0]])
    bgra = np.dstack([bgra, np.full(value_57.shape[:2], 255, np.uint8)])  # as mss captures
    assert "57" in numbers(backend.read(bgra).text)
    gray = value_57[:, :, 0].copy()
    assert "57" in numbers(backend.read(gray).text)


def test_blank_image_reads_nothing(backend: OcrBackend) -> None:
    blank = np.full((100, 400, 3), 255, np.uint8)
    result = backend.read(blank)
    assert result.text == ""
    assert result.items == []


def test_allowlist_restricts_output(backend: OcrBackend, value_57: Any, apples: Any) -> None:
    # Native in tesseract (tessedit_char_whitelist) and EasyOCR (allowlist); rapidocr has no
    # option for it, so the backend masks its CTC decoder to the allowed characters.
    restricted = backend.read(apples, allowlist=DIGITS)
    assert set(restricted.text) <= set(DIGITS + " "), restricted.text
    assert {"12", "43"} <= set(numbers(restricted.text)), restricted.text
    for item in restricted.items:
        assert set(item.text) <= set(DIGITS + " ")
    assert "57" in numbers(backend.read(value_57, allowlist=DIGITS).text)
    # the allowlist applies to one read only
    assert "apples" in norm(backend.read(apples).text)


def test_reading_order(backend: OcrBackend, font: Any) -> None:
    image = render(
        font,
        [(20, 120, "beta 22"), (250, 25, "x 99"), (20, 20, "alpha 11")],
        size=(400, 200),
    )
    result = backend.read(image)
    assert numbers(result.text) == ["11", "99", "22"], result.text


# --- without an engine -------------------------------------------------------------------------


def _box(left: float, top: float, right: float, bottom: float) -> list[list[float]]:
    return [[left, top], [right, top], [right, bottom], [left, bottom]]


def test_reading_order_groups_lines_then_left_to_right() -> None:
    items = [
        OcrItem(text="d", box=_box(10, 60, 50, 80), confidence=1),
        OcrItem(text="b", box=_box(200, 12, 260, 32), confidence=1),  # a little lower than "a"
        OcrItem(text="c", box=_box(300, 8, 350, 28), confidence=1),  # a little higher
        OcrItem(text="a", box=_box(10, 10, 60, 30), confidence=1),
    ]
    assert [item.text for item in reading_order(items)] == ["a", "b", "c", "d"]


def test_as_rgb_converts_bgra_and_gray() -> None:
    rgb = np.zeros((2, 3, 3), np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 10, 20, 30
    bgra = np.dstack([rgb[..., 2], rgb[..., 1], rgb[..., 0], np.full((2, 3), 255, np.uint8)])
    assert np.array_equal(as_rgb(bgra), rgb)
    assert np.array_equal(as_rgb(rgb), rgb)
    gray = np.full((2, 3), 7, np.uint8)
    assert as_rgb(gray).shape == (2, 3, 3) and int(as_rgb(gray).max()) == 7
    assert as_rgb(gray[:, :, np.newaxis]).shape == (2, 3, 3)


@pytest.mark.parametrize(
    "image",
    [
        np.zeros((4, 4, 3), np.float32),
        np.zeros((4, 4, 2), np.uint8),
        np.zeros((0, 4, 3), np.uint8),
        [[0, 0], [0, 0]],
    ],
    ids=["float", "two-channels", "empty", "not-an-array"],
)
def test_bad_images_are_validation_errors(image: Any) -> None:
    with pytest.raises(StepFailed) as caught:
        as_rgb(image)
    assert caught.value.category is ErrorCategory.VALIDATION


def test_available_backends_reports_each_correctly() -> None:
    found = available_backends()
    assert set(found) == set(BACKENDS)

    def installed(*modules: str) -> bool:
        return all(importlib.util.find_spec(module) is not None for module in modules)

    assert (found["rapidocr"] is None) == installed("rapidocr_onnxruntime", "onnxruntime")
    assert (found["easyocr"] is None) == installed("easyocr", "torch", "easyocr_en_models")
    assert (found["tesseract"] is None) == (shutil.which("tesseract") is not None)
    for reason in found.values():
        assert reason is None or "install" in reason


def test_missing_pieces_give_the_reason(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no tesseract binary on it
    monkeypatch.setitem(sys.modules, "rapidocr_onnxruntime", None)  # as if not installed
    monkeypatch.setitem(sys.modules, "easyocr", None)
    found = available_backends()
    assert found["tesseract"] == TESSERACT_HINT
    assert found["tesseract"] == "tesseract binary not found: apt-get install tesseract-ocr"
    assert found["rapidocr"] is not None and EXTRA_HINT in found["rapidocr"]
    assert found["easyocr"] is not None and EXTRA_HINT in found["easyocr"]
    assert EXTRA_HINT == "install the extra: pip install 'runtime-hub[ocr]'"
    with pytest.raises(OcrUnavailable) as caught:
        load_backend("tesseract")
    assert caught.value.reason == TESSERACT_HINT and caught.value.backend == "tesseract"
    assert isinstance(caught.value, HubError)
    # auto: rapidocr without a GPU, EasyOCR with one
    with pytest.raises(OcrUnavailable) as caught:
        load_backend("auto")
    assert caught.value.backend == "rapidocr" and EXTRA_HINT in str(caught.value)
    with pytest.raises(OcrUnavailable) as caught:
        load_backend("auto", gpu=True)
    assert caught.value.backend == "easyocr"


def test_unknown_backend_lists_the_valid_names() -> None:
    with pytest.raises(HubError) as caught:
        load_backend("nope")
    assert not isinstance(caught.value, OcrUnavailable)
    for name in ("auto", "rapidocr", "tesseract", "easyocr"):
        assert name in str(caught.value)
    assert "nope" in str(caught.value)


def test_auto_picks_rapidocr_without_gpu() -> None:
    reason = available_backends()["rapidocr"]
    if reason is not None:
        pytest.skip(f"rapidocr: {reason}")
    engine = load_backend("auto")
    assert engine.name == "rapidocr"
    assert load_backend("AUTO", gpu=False).name == "rapidocr"


def test_unsupported_languages_are_refused() -> None:
    found = available_backends()
    if found["rapidocr"] is None:
        with pytest.raises(OcrUnavailable, match="English and Chinese only"):
            load_backend("rapidocr", languages=["de"])
    if found["tesseract"] is None:
        with pytest.raises(OcrUnavailable, match="apt-get install tesseract-ocr-qqq"):
            load_backend("tesseract", languages=["qqq"])
    with pytest.raises(OcrUnavailable, match="English only"):
        EasyOcrBackend(languages=["de"])  # refused before anything is imported or loaded


def test_ocr_unavailable_survives_pickling() -> None:
    err = OcrUnavailable("easyocr", "because")
    back = pickle.loads(pickle.dumps(err))
    assert isinstance(back, OcrUnavailable)
    assert (back.backend, back.reason, str(back)) == (err.backend, err.reason, str(err))


def test_easyocr_md5_check_rejects_corrupt_weights(tmp_path: Path) -> None:
    reason = available_backends()["easyocr"]
    if reason is not None:
        pytest.skip(f"easyocr: {reason}")
    import easyocr_en_models

    source = Path(easyocr_en_models.model_dir())
    for name in ("craft_mlt_25k.pth", "english_g2.pth"):
        assert (source / name).is_file()

    corrupt = tmp_path / "corrupt"
    shutil.copytree(source, corrupt)
    target = corrupt / "english_g2.pth"  # the second file checked: the first one passes
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    with pytest.raises(OcrUnavailable) as caught:
        EasyOcrBackend(model_dir=corrupt)
    assert "english_g2.pth" in str(caught.value) and "md5" in str(caught.value)

    missing = tmp_path / "missing"
    missing.mkdir()
    shutil.copy(source / "english_g2.pth", missing / "english_g2.pth")
    with pytest.raises(OcrUnavailable, match=re.escape("craft_mlt_25k.pth")):
        EasyOcrBackend(model_dir=missing)
