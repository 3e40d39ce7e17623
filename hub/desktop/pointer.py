"""Mouse and keyboard with pynput, behind the desktop safety rules.

Before every action: the coordinates must lie on the screen (:class:`OutOfScreen`); the kill
switch trips when the real pointer sits within ``corner_px`` of a screen corner, as pyautogui's
failsafe does, and refuses every action until :meth:`Pointer.reset_kill_switch`
(:class:`KillSwitchTripped`); clicks above ``max_clicks_per_s`` in any one-second window are
refused (:class:`RateLimited`). In dry-run mode nothing moves, clicks or types, yet every rule
still applies and the :class:`Action` that would have happened is returned.

pynput's xorg backend opens ``$DISPLAY`` at import and at each controller's construction and
fails with ImportError, python-xlib errors, or ``KeyError('XTEST')`` on a server without XTEST;
all of that is translated into :class:`DesktopUnavailable` here, at this one boundary. Every call
blocks; callers on an event loop run them in a worker thread. A lock serialises the calls of one
Pointer, so it may be shared between threads.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from hub.desktop.screen import INSTALL_HINT, DesktopError, DesktopUnavailable, _resolve_display

MouseButton = Literal["left", "right", "middle"]
_BUTTONS = ("left", "right", "middle")
_MAX_CLICKS_PER_CALL = 3


class OutOfScreen(DesktopError):
    """A pointer action aims outside the screen."""

    code = "out_of_screen"

    def __init__(self, message: str, *, x: int, y: int, screen_size: tuple[int, int]) -> None:
        super().__init__(message, details={"x": x, "y": y, "screen_size": list(screen_size)})
        self.x = x
        self.y = y
        self.screen_size = screen_size


CORNER = "the pointer went into a screen corner"


class KillSwitchTripped(DesktopError):
    """The pointer went into a screen corner: every desktop action is refused until reset."""

    code = "kill_switch_tripped"

    def __init__(self, message: str, *, position: tuple[int, int] | None = None) -> None:
        super().__init__(message, details={"position": list(position) if position else None})
        self.position = position


class RateLimited(DesktopError):
    """More clicks than ``max_clicks_per_s`` within one second."""

    code = "rate_limited"

    def __init__(self, message: str, *, max_clicks_per_s: float, retry_after_s: float) -> None:
        super().__init__(
            message,
            details={"max_clicks_per_s": max_clicks_per_s, "retry_after_s": retry_after_s},
        )
        self.max_clicks_per_s = max_clicks_per_s
        self.retry_after_s = retry_after_s


class BadKey(DesktopError):
    """A key combination names a key that does not exist."""

    code = "bad_key"

    def __init__(self, message: str, *, key: str, suggestions: list[str]) -> None:
        super().__init__(message, details={"key": key, "suggestions": suggestions})
        self.key = key
        self.suggestions = suggestions


class Action(BaseModel):
    """What a pointer call did, or with ``dry_run`` what it would have done.

    ``type`` actions record how many characters were typed, never the text: it may be a secret.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["move", "click", "type", "key"]
    x: int | None = None
    y: int | None = None
    detail: dict[str, Any] = Field(default_factory=dict)
    dry_run: bool
    at: datetime


def clicks_of(output: Any) -> tuple[int, bool]:
    """(clicks, dry_run) of a desktop.click step's output: an Action as JSON."""
    if not isinstance(output, dict) or output.get("kind") != "click":
        return 0, False
    detail = output.get("detail")
    clicks = detail.get("clicks", 1) if isinstance(detail, dict) else 1
    return (clicks if isinstance(clicks, int) else 1), bool(output.get("dry_run"))


# pynput's Key names (pynput.keyboard.Key), kept here so combos are checked without a display.
_KEY_NAMES = [
    "alt",
    "alt_r",
    "alt_gr",
    "backspace",
    "caps_lock",
    "cmd",
    "cmd_r",
    "ctrl",
    "ctrl_r",
    "delete",
    "down",
    "end",
    "enter",
    "esc",
    "home",
    "left",
    "page_down",
    "page_up",
    "right",
    "shift",
    "shift_r",
    "space",
    "tab",
    "up",
    "insert",
    "menu",
    "num_lock",
    "pause",
    "print_screen",
    "scroll_lock",
    "media_play_pause",
    "media_volume_mute",
    "media_volume_down",
    "media_volume_up",
    "media_previous",
    "media_next",
    *(f"f{n}" for n in range(1, 21)),
]
_KEY_ALIASES = {
    "return": "enter",
    "escape": "esc",
    "del": "delete",
    "control": "ctrl",
    "ctrl_l": "ctrl",
    "alt_l": "alt",
    "altgr": "alt_gr",
    "shift_l": "shift",
    "cmd_l": "cmd",
    "super": "cmd",
    "win": "cmd",
    "meta": "cmd",
    "pageup": "page_up",
    "pgup": "page_up",
    "pagedown": "page_down",
    "pgdn": "page_down",
    "ins": "insert",
    "capslock": "caps_lock",
    "printscreen": "print_screen",
    "bksp": "backspace",
}
_CHAR_NAMES = {"plus": "+", "minus": "-"}
_ALL_NAMES = sorted({*_KEY_NAMES, *_KEY_ALIASES, *_CHAR_NAMES})

# A key in a combo: ("key", pynput Key name) or ("char", one character).
_KeySpec = tuple[Literal["key", "char"], str]


def parse_combo(combo: str) -> list[_KeySpec]:
    """Split ``"ctrl+shift+tab"`` into keys, pressed in order; raises :class:`BadKey`."""
    if combo == "+":
        parts = ["+"]
    elif combo.endswith("++"):
        parts = [*combo[:-2].split("+"), "+"]
    else:
        parts = combo.split("+")
    return [_parse_key(part, combo) for part in parts]


def _parse_key(part: str, combo: str) -> _KeySpec:
    if len(part) == 1:
        return ("char", part)
    name = part.strip().lower().replace("-", "_").replace(" ", "_")
    if name in _CHAR_NAMES:
        return ("char", _CHAR_NAMES[name])
    name = _KEY_ALIASES.get(name, name)
    if name in _KEY_NAMES:
        return ("key", name)
    suggestions = difflib.get_close_matches(name, _ALL_NAMES, n=5, cutoff=0.5)
    hint = f"did you mean: {', '.join(suggestions)}? " if suggestions else ""
    raise BadKey(
        f"unknown key {part!r} in {combo!r}; {hint}keys are names such as enter, tab, esc, "
        "ctrl, shift, alt, cmd, up, page_down, f1-f20, or one character, joined by '+'",
        key=part,
        suggestions=suggestions,
    )


_ENV_LOCK = threading.Lock()


@contextmanager
def _display_env(display: str) -> Iterator[None]:
    """pynput only opens ``$DISPLAY``: point it at ``display`` while the controllers connect."""
    with _ENV_LOCK:
        previous = os.environ.get("DISPLAY")
        os.environ["DISPLAY"] = display
        try:
            yield
        finally:
            if previous is None:
                os.environ.pop("DISPLAY", None)
            else:
                os.environ["DISPLAY"] = previous


def _x_errors() -> tuple[type[BaseException], ...]:
    """The exceptions that mean "the X server refused or went away"."""
    import Xlib.error

    errors: list[type[BaseException]] = [
        Xlib.error.DisplayError,
        Xlib.error.ConnectionClosedError,
        Xlib.error.XError,
        OSError,
    ]
    try:
        from pynput._util.xorg import X11Error

        errors.append(X11Error)
    except ImportError:
        pass
    return tuple(errors)


def _probe_display(display: str) -> None:
    """Fail clearly, before pynput does obscurely, when the display is unreachable or no XTEST."""
    try:
        import Xlib.display
        import Xlib.error
    except ImportError as exc:
        raise DesktopUnavailable(
            f"mouse and keyboard need pynput and python-xlib: {INSTALL_HINT}", display=display
        ) from exc
    reason = None
    with warnings.catch_warnings():
        # python-xlib leaves its socket unclosed when the connection fails; the socket is
        # collected as this block ends (with the exception that holds it): no ResourceWarning.
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            conn = Xlib.display.Display(display)
        except (Xlib.error.DisplayError, Xlib.error.ConnectionClosedError, OSError) as exc:
            reason = str(exc) or type(exc).__name__
    if reason is not None:
        raise DesktopUnavailable(
            f"cannot connect to X display {display!r}: {reason}", display=display
        )
    try:
        if conn.query_extension("XTEST") is None:
            raise DesktopUnavailable(
                f"X display {display!r} has no XTEST extension, which pynput needs to move the "
                "mouse and press keys; enable it (Xvfb enables it unless started with "
                "`-extension XTEST`)",
                display=display,
            )
    finally:
        conn.close()


class Pointer:
    """The mouse and keyboard of one X display (``$DISPLAY`` unless ``display`` is given)."""

    def __init__(
        self,
        *,
        screen_size: tuple[int, int],
        dry_run: bool = False,
        max_clicks_per_s: float = 10.0,
        corner_px: int = 5,
        clock: Callable[[], float] = time.monotonic,
        display: str | None = None,
    ) -> None:
        width, height = screen_size
        if width <= 0 or height <= 0:
            raise ValueError(f"screen_size must be positive, got {screen_size}")
        if max_clicks_per_s <= 0:
            raise ValueError(f"max_clicks_per_s must be positive, got {max_clicks_per_s}")
        if corner_px < 1:
            raise ValueError(f"corner_px must be at least 1 (the kill switch), got {corner_px}")
        self.screen_size = (width, height)
        self.dry_run = dry_run
        self.max_clicks_per_s = max_clicks_per_s
        self.corner_px = corner_px
        self.killed = False
        self.kill_reason = CORNER
        self._closed = False
        self.display = _resolve_display(display)
        self._clock = clock
        self._clicks: deque[float] = deque()
        self._lock = threading.RLock()
        _probe_display(self.display)
        with self._x_boundary("connect"), _display_env(self.display):
            try:
                from pynput import keyboard, mouse
            except ImportError as exc:
                if isinstance(exc, ModuleNotFoundError) and (exc.name or "").startswith(
                    ("pynput", "Xlib")
                ):
                    raise DesktopUnavailable(
                        f"mouse and keyboard need pynput: {INSTALL_HINT}", display=self.display
                    ) from exc
                raise DesktopUnavailable(
                    f"pynput cannot use X display {self.display!r}: {exc}", display=self.display
                ) from exc
            self._mouse_mod = mouse
            self._keyboard_mod = keyboard
            self._mouse = mouse.Controller()
            self._keyboard = keyboard.Controller()

    @contextmanager
    def _x_boundary(self, what: str) -> Iterator[None]:
        try:
            yield
        except KeyError as exc:
            if exc.args != ("XTEST",):
                raise
            raise DesktopUnavailable(
                f"{what}: X display {self.display!r} has no XTEST extension", display=self.display
            ) from exc
        except _x_errors() as exc:
            raise DesktopUnavailable(
                f"{what} on X display {self.display!r} failed: {exc or type(exc).__name__}",
                display=self.display,
            ) from exc

    def close(self) -> None:
        """Close the X connections now, rather than when the controllers are collected (by then
        the X server may be gone, and pynput's ``__del__`` would fail)."""
        with self._lock:
            self._closed = True
            for controller in (self._mouse, self._keyboard):
                conn = getattr(controller, "_display", None)
                if conn is None:
                    continue
                del controller._display  # pynput's __del__ closes it only while it exists
                with contextlib.suppress(*_x_errors()):
                    conn.close()

    def __enter__(self) -> Pointer:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def position(self) -> tuple[int, int]:
        """Where the real pointer is now."""
        with self._lock:
            if self._closed:
                raise DesktopUnavailable(
                    f"this Pointer on X display {self.display!r} is closed", display=self.display
                )
            with self._x_boundary("reading the pointer position"):
                x, y = self._mouse.position
        return (int(x), int(y))

    def reset_kill_switch(self) -> None:
        """Allow actions again after the kill switch tripped."""
        with self._lock:
            self.killed = False

    def trip(self, reason: str) -> None:
        """Trip the kill switch for ``reason``: every action is refused until it is reset."""
        with self._lock:
            self.killed, self.kill_reason = True, reason

    def move(self, x: int, y: int) -> Action:
        """Move the pointer to (x, y)."""
        with self._lock:
            self._check_point(x, y)
            self._check_kill_switch()
            if not self.dry_run:
                with self._x_boundary("moving the pointer"):
                    self._mouse.position = (x, y)
            return self._action("move", x, y, {})

    def click(self, x: int, y: int, *, button: MouseButton = "left", clicks: int = 1) -> Action:
        """Move to (x, y) and click ``clicks`` times (2 is a double click)."""
        if button not in _BUTTONS:
            raise DesktopError(f"unknown mouse button {button!r}; use one of {', '.join(_BUTTONS)}")
        if not 1 <= clicks <= _MAX_CLICKS_PER_CALL:
            raise DesktopError(f"clicks must be 1 to {_MAX_CLICKS_PER_CALL}, got {clicks}")
        with self._lock:
            self._check_point(x, y)
            self._check_kill_switch()
            self._take_clicks(clicks)
            if not self.dry_run:
                with self._x_boundary("clicking"):
                    self._mouse.position = (x, y)
                    self._mouse.click(getattr(self._mouse_mod.Button, button), clicks)
            return self._action("click", x, y, {"button": button, "clicks": clicks})

    def type_text(self, text: str) -> Action:
        """Type ``text`` into the focused window; the kill switch is checked before each char."""
        with self._lock:
            self._check_kill_switch()
            for i, char in enumerate(text):
                if i:
                    self._check_kill_switch()
                if not self.dry_run:
                    with self._x_boundary("typing"):
                        self._keyboard.type(char)
            return self._action("type", None, None, {"chars": len(text)})

    def key(self, combo: str) -> Action:
        """Press a key or a combination: ``"enter"``, ``"ctrl+a"``, ``"shift+tab"``."""
        keys = parse_combo(combo)
        with self._lock:
            self._check_kill_switch()
            if not self.dry_run:
                with self._x_boundary("pressing keys"):
                    self._press_combo(keys)
            return self._action("key", None, None, {"combo": combo})

    def _press_combo(self, keys: list[_KeySpec]) -> None:
        kb = self._keyboard_mod
        resolved = [
            getattr(kb.Key, value) if kind == "key" else kb.KeyCode.from_char(value)
            for kind, value in keys
        ]
        pressed: list[Any] = []
        try:
            for k in resolved:
                self._keyboard.press(k)
                pressed.append(k)
        finally:
            # Release even when a press failed, so no modifier stays held down.
            for k in reversed(pressed):
                self._keyboard.release(k)

    def _check_point(self, x: int, y: int) -> None:
        width, height = self.screen_size
        if not (0 <= x < width and 0 <= y < height):
            raise OutOfScreen(
                f"point ({x}, {y}) is outside the {width}x{height} screen "
                f"(x must be 0-{width - 1}, y 0-{height - 1})",
                x=x,
                y=y,
                screen_size=self.screen_size,
            )

    def _check_kill_switch(self) -> None:
        if self.killed:
            raise KillSwitchTripped(
                f"the desktop kill switch has tripped ({self.kill_reason}); "
                "every desktop action is refused until it is reset",
                position=None,
            )
        x, y = self.position()
        width, height = self.screen_size
        c = self.corner_px
        if (x < c or x >= width - c) and (y < c or y >= height - c):
            self.killed, self.kill_reason = True, CORNER
            raise KillSwitchTripped(
                f"kill switch: the pointer is at ({x}, {y}), within {c}px of a corner of the "
                f"{width}x{height} screen; every desktop action is refused until it is reset",
                position=(x, y),
            )

    def _take_clicks(self, n: int) -> None:
        now = self._clock()
        while self._clicks and self._clicks[0] <= now - 1.0:
            self._clicks.popleft()
        if len(self._clicks) + n > self.max_clicks_per_s:
            retry_after_s = round(self._clicks[0] + 1.0 - now, 3) if self._clicks else 1.0
            raise RateLimited(
                f"click rate limit: at most {self.max_clicks_per_s:g} clicks per second "
                f"({len(self._clicks)} in the last second); retry in {retry_after_s:.3f}s",
                max_clicks_per_s=self.max_clicks_per_s,
                retry_after_s=retry_after_s,
            )
        self._clicks.extend([now] * n)

    def _action(
        self,
        kind: Literal["move", "click", "type", "key"],
        x: int | None,
        y: int | None,
        detail: dict[str, Any],
    ) -> Action:
        return Action(
            kind=kind, x=x, y=y, detail=detail, dry_run=self.dry_run, at=datetime.now(UTC)
        )
