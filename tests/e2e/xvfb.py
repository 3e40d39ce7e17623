"""Helpers for tests on a real X display: an Xvfb server, the Tk test window, xdotool.

Needs the `xvfb` package (and `xdotool` for test-side checks). Use from fixtures::

    with running_xvfb() as display:       # ":93"
        with running_app(display, tmp_path) as app:
            app.set_number(57)
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TypeVar

APP = Path(__file__).with_name("desktop_app.py")
SCREEN = "1024x768x24"

T = TypeVar("T")


def wait_until(
    probe: Callable[[], T | None],
    *,
    timeout_s: float = 5.0,
    interval_s: float = 0.02,
    what: str = "",
) -> T:
    """Call ``probe`` until it returns something truthy; that value, or AssertionError."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what or probe}")
        time.sleep(interval_s)


def display_in_use(number: int) -> bool:
    """An X server holds display ``number`` (its lock file or its socket exists)."""
    return Path(f"/tmp/.X{number}-lock").exists() or Path(f"/tmp/.X11-unix/X{number}").exists()


def free_display_number(start: int = 90, stop: int = 400) -> int:
    for number in range(start, stop):
        if not display_in_use(number):
            return number
    raise RuntimeError(f"no free X display number in :{start}-:{stop - 1}")


def display_accepts(display: str) -> bool:
    """True when an X client can connect to ``display`` now."""
    probe = subprocess.run(["xdpyinfo", "-display", display], capture_output=True, check=False)
    return probe.returncode == 0


@contextlib.contextmanager
def running_xvfb(
    screen: str = SCREEN, extra_args: Sequence[str] = (), *, attempts: int = 5
) -> Iterator[str]:
    """Start ``Xvfb :N -screen 0 <screen> -nolisten tcp -noreset`` on a free display; yield ":N".

    Another process may take the same number between the check and the start (Xvfb then exits
    at once), so a few numbers are tried.
    """
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        raise RuntimeError("Xvfb is not installed (apt-get install xvfb)")
    with tempfile.TemporaryFile() as log:
        proc, display = _start_xvfb(xvfb, screen, extra_args, attempts, log)
        try:
            yield display
        finally:
            _stop(proc)


def _start_xvfb(
    xvfb: str, screen: str, extra_args: Sequence[str], attempts: int, log: IO[bytes]
) -> tuple[subprocess.Popen[bytes], str]:
    number = free_display_number(start=90 + os.getpid() % 200)
    err = ""
    for _ in range(attempts):
        display = f":{number}"
        log.seek(0)
        log.truncate()
        proc = subprocess.Popen(
            # -noreset: otherwise the server resets whenever its last client leaves (each
            # xdotool call, when no window is open), which puts the pointer back in the centre.
            [xvfb, display, "-screen", "0", screen, "-nolisten", "tcp", "-noreset", *extra_args],
            stdout=subprocess.DEVNULL,
            stderr=log,  # a file, not a pipe: xkbcomp's warnings could fill a pipe and block Xvfb
        )
        try:
            if _started(proc, display):
                return proc, display
        except BaseException:
            _stop(proc)
            raise
        _stop(proc)
        log.seek(0)
        err = log.read().decode(errors="replace")
        number = free_display_number(start=number + 1)
    raise RuntimeError(f"Xvfb did not start after {attempts} attempts: {err[-500:]}")


def _started(proc: subprocess.Popen[bytes], display: str) -> bool:
    """Wait until Xvfb accepts connections (True) or exits, its display taken (False)."""
    wait_until(
        lambda: proc.poll() is not None or display_accepts(display),
        timeout_s=10,
        interval_s=0.05,
        what=f"Xvfb {display} to accept connections",
    )
    return proc.poll() is None


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.stderr:
        proc.stderr.close()


def x_env(display: str) -> dict[str, str]:
    return {**os.environ, "DISPLAY": display}


def xdotool(display: str, *args: str) -> str:
    """Run xdotool against ``display`` (test-side checks and pointer moves)."""
    out = subprocess.run(
        ["xdotool", *args], env=x_env(display), check=True, capture_output=True, text=True
    )
    return out.stdout


def pointer_at(display: str) -> tuple[int, int]:
    fields = dict(
        line.split("=", 1) for line in xdotool(display, "getmouselocation", "--shell").split()
    )
    return int(fields["X"]), int(fields["Y"])


def write_atomically(path: Path, text: str) -> None:
    """The app polls the file: never let it read a half-written one."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


Rect = tuple[int, int, int, int]  # left, top, width, height


@dataclass
class DesktopApp:
    """The running Tk test window and the files it talks through."""

    proc: subprocess.Popen[bytes]
    number_file: Path
    clicks_file: Path
    typed_file: Path
    rects: dict[str, Rect]

    def set_number(self, value: int | str) -> None:
        write_atomically(self.number_file, f"{value}\n")

    def clicks(self) -> int:
        """Clicks the button has seen so far."""
        if not self.clicks_file.exists():
            return 0
        return len(self.clicks_file.read_text().splitlines())

    def typed(self) -> str:
        return self.typed_file.read_text() if self.typed_file.exists() else ""

    def centre(self, widget: str) -> tuple[int, int]:
        left, top, width, height = self.rects[widget]
        return left + width // 2, top + height // 2


@contextlib.contextmanager
def running_app(
    display: str, workdir: Path, *, geometry: str = "400x200+100+100", number: int | str = 7
) -> Iterator[DesktopApp]:
    """Start desktop_app.py on ``display``; yield once its window is mapped and painted."""
    workdir.mkdir(parents=True, exist_ok=True)
    ready = workdir / "ready.json"
    number_file, clicks_file = workdir / "number.txt", workdir / "clicks.txt"
    typed_file = workdir / "typed.txt"
    write_atomically(number_file, f"{number}\n")  # before the start: the first paint shows it
    proc = subprocess.Popen(
        [
            sys.executable,
            str(APP),
            "--number-file",
            str(number_file),
            "--clicks-file",
            str(clicks_file),
            "--typed-file",
            str(typed_file),
            "--ready-file",
            str(ready),
            "--geometry",
            geometry,
        ],
        env=x_env(display),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    app = DesktopApp(proc, number_file, clicks_file, typed_file, rects={})
    try:
        wait_until(
            lambda: ready.exists() or app.proc.poll() is not None,
            timeout_s=15,
            what="the Tk test window to be ready",
        )
        if app.proc.poll() is not None:
            err = app.proc.stderr.read().decode(errors="replace") if app.proc.stderr else ""
            raise RuntimeError(f"desktop_app.py exited with {app.proc.returncode}: {err[-1000:]}")
        app.rects = {k: (v[0], v[1], v[2], v[3]) for k, v in json.loads(ready.read_text()).items()}
        yield app
    finally:
        _stop(app.proc)
