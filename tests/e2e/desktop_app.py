"""A small Tk window for the desktop end-to-end tests, run as a subprocess.

It shows the number in ``--number-file`` (re-read every 100 ms, so a test changes it by
rewriting the file) in a large font, a "Click me" button that appends one timestamp line to
``--clicks-file`` per click, and an entry whose text is mirrored into ``--typed-file``. Once the
window is mapped it writes ``--ready-file`` (JSON: each widget's screen rectangle) and prints
"ready".

    python tests/e2e/desktop_app.py --number-file F --clicks-file G --geometry 400x200+100+100
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import tkinter as tk
from pathlib import Path

POLL_MS = 100
FONT = ("DejaVu Sans", 36)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--number-file", type=Path, required=True)
    parser.add_argument("--clicks-file", type=Path, required=True)
    parser.add_argument("--typed-file", type=Path)
    parser.add_argument("--ready-file", type=Path)
    parser.add_argument("--geometry", default="400x200+100+100")
    args = parser.parse_args(argv)

    root = tk.Tk()
    root.title("Runtime Hub desktop test")
    root.geometry(args.geometry)
    root.configure(background="white")

    number = tk.Label(root, text="", font=FONT, background="white", foreground="black")
    number.pack(side="top", fill="x", pady=(4, 2))

    def on_click() -> None:
        with args.clicks_file.open("a") as f:
            f.write(f"{time.time():.6f}\n")

    button = tk.Button(root, text="Click me", command=on_click, font=("DejaVu Sans", 14))
    button.pack(side="top", pady=2)

    typed = tk.StringVar(root)
    # No blinking cursor: a region around the entry must look the same between two captures.
    entry = tk.Entry(root, textvariable=typed, font=("DejaVu Sans", 14), insertofftime=0)
    entry.pack(side="top", fill="x", padx=10, pady=2)
    # No window manager runs under Xvfb to give the focus on click, as a desktop would: the
    # entry takes it itself when clicked.
    entry.bind("<Button-1>", lambda _event: entry.focus_force())

    def on_typed(*_: object) -> None:
        if args.typed_file is not None:
            write_atomically(args.typed_file, typed.get())

    typed.trace_add("write", on_typed)

    shown: str | None = None

    def poll_number() -> None:
        nonlocal shown
        try:
            text = args.number_file.read_text().strip()
        except OSError:
            text = ""
        if text != shown:
            shown = text
            number.configure(text=text)
        root.after(POLL_MS, poll_number)

    def announce_ready() -> None:
        # Under Xvfb no window manager hands out the keyboard focus: take it, for the entry.
        entry.focus_force()
        root.update_idletasks()
        rects = {
            name: [w.winfo_rootx(), w.winfo_rooty(), w.winfo_width(), w.winfo_height()]
            for name, w in (
                ("window", root),
                ("number", number),
                ("button", button),
                ("entry", entry),
            )
        }
        if args.ready_file is not None:
            write_atomically(args.ready_file, json.dumps(rects))
        print("ready", flush=True)

    announced = False

    def on_map(_: object) -> None:
        nonlocal announced
        if not announced:
            announced = True
            # Let the first poll paint the number before announcing.
            root.after(POLL_MS * 2, announce_ready)

    root.bind("<Map>", on_map)
    poll_number()
    root.mainloop()
    return 0


def write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


if __name__ == "__main__":
    sys.exit(main())
