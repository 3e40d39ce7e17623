"""The tesseract binary, one subprocess per read: the image on stdin (PPM), TSV on stdout."""

from __future__ import annotations

import os
import shutil
import subprocess
import time

from hub.desktop._ocr.base import (
    TESSERACT_HINT,
    Image,
    OcrResult,
    OcrUnavailable,
    Raw,
    as_rgb,
    finish,
    rect,
)
from hub.errors import ErrorCategory, StepFailed

_TESSERACT_CODES = {
    "en": "eng",
    "de": "deu",
    "fr": "fra",
    "es": "spa",
    "it": "ita",
    "pt": "por",
    "nl": "nld",
    "pl": "pol",
    "ru": "rus",
    "uk": "ukr",
    "ja": "jpn",
    "ko": "kor",
    "ch_sim": "chi_sim",
    "ch_tra": "chi_tra",
}


class TesseractBackend:
    """The tesseract binary; one subprocess per read (image on stdin, TSV on stdout)."""

    name = "tesseract"

    def __init__(
        self,
        *,
        languages: list[str] | None = None,
        psm: int = 6,
        binary: str | None = None,
        timeout_s: float = 30.0,
    ) -> None:
        found = binary or shutil.which("tesseract")
        if not found:
            raise OcrUnavailable(self.name, TESSERACT_HINT)
        self.binary = found
        self.psm = psm
        self.timeout_s = timeout_s
        self.languages = [_TESSERACT_CODES.get(lang, lang) for lang in languages or ["en"]]
        installed = self._installed_languages()
        missing = [lang for lang in self.languages if lang not in installed]
        if missing:
            packages = " ".join(f"tesseract-ocr-{m.lower().replace('_', '-')}" for m in missing)
            raise OcrUnavailable(
                self.name,
                f"no tesseract language data for {', '.join(missing)}: apt-get install {packages}",
            )
        # Tesseract's OpenMP threads cost more than they save on small images.
        self._env = {**os.environ, "OMP_THREAD_LIMIT": os.environ.get("OMP_THREAD_LIMIT", "1")}

    def _installed_languages(self) -> set[str]:
        try:
            done = subprocess.run(
                [self.binary, "--list-langs"],
                capture_output=True,
                text=True,
                timeout=self.timeout_s,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise OcrUnavailable(self.name, f"cannot run {self.binary}: {exc}") from None
        lines = (done.stdout + done.stderr).splitlines()
        return {line.strip() for line in lines if line.strip() and ":" not in line}

    def read(
        self, image: Image, *, allowlist: str | None = None, single_line: bool = False
    ) -> OcrResult:
        started = time.perf_counter()
        rgb = as_rgb(image)
        height, width = rgb.shape[:2]
        ppm = b"P6\n%d %d\n255\n" % (width, height) + rgb.tobytes()
        psm = 7 if single_line else self.psm  # 7: treat the image as a single text line
        command = [self.binary, "stdin", "stdout", "--psm", str(psm)]
        command += ["-l", "+".join(self.languages)]
        if allowlist:
            # With the space allowed, words stay apart ("12 43", not "1243").
            whitelist = allowlist if " " in allowlist else allowlist + " "
            command += ["-c", f"tessedit_char_whitelist={whitelist}"]
        command.append("tsv")
        try:
            done = subprocess.run(
                command,
                input=ppm,
                capture_output=True,
                timeout=self.timeout_s,
                env=self._env,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise StepFailed(
                f"tesseract took longer than {self.timeout_s} s",
                category=ErrorCategory.TIMEOUT,
                retryable=True,
            ) from None
        except OSError as exc:
            raise StepFailed(f"cannot run tesseract: {exc}") from None
        if done.returncode != 0:
            message = done.stderr.decode(errors="replace").strip()[-500:]
            raise StepFailed(f"tesseract exited with {done.returncode}: {message}")
        raw = self._parse_tsv(done.stdout.decode("utf-8", errors="replace"))
        return finish(self.name, raw, rgb.shape, allowlist, started)

    @staticmethod
    def _parse_tsv(tsv: str) -> list[Raw]:
        """Words (level 5) grouped into their lines: text, union box, mean confidence."""
        lines: dict[tuple[str, ...], list[tuple[str, float, float, float, float, float]]] = {}
        for row in tsv.splitlines()[1:]:
            cols = row.split("\t")
            if len(cols) < 12 or cols[0] != "5" or not cols[11].strip():
                continue
            left, top, w, h = (float(c) for c in cols[6:10])
            conf = float(cols[10])
            if conf < 0:
                continue
            key = tuple(cols[1:5])  # page, block, paragraph, line
            lines.setdefault(key, []).append((cols[11].strip(), left, top, w, h, conf))
        raw: list[Raw] = []
        for words in lines.values():
            text = " ".join(word[0] for word in words)
            left = min(word[1] for word in words)
            top = min(word[2] for word in words)
            right = max(word[1] + word[3] for word in words)
            bottom = max(word[2] + word[4] for word in words)
            conf = sum(word[5] for word in words) / len(words) / 100.0
            raw.append((text, rect(left, top, right, bottom), conf))
        return raw
