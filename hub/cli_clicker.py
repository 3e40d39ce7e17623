"""``hub clicker ...``: auto-clicker sessions from the command line."""

from __future__ import annotations

import argparse
import json
from typing import Any

from hub.views import UsageError


def _pair(text: str, what: str, count: int) -> list[int]:
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        raise UsageError(
            f"{what} must be {count} integers separated by commas, got {text!r}"
        ) from None
    if len(values) != count:
        raise UsageError(f"{what} must be {count} integers separated by commas, got {text!r}")
    return values


def config_from_args(args: argparse.Namespace) -> dict[str, Any]:
    left, top, width, height = _pair(args.region, "--region", 4)
    config: dict[str, Any] = {
        "region": {"left": left, "top": top, "width": width, "height": height},
        "threshold": args.threshold,
        "condition": args.condition,
        "interval_ms": args.interval_ms,
        "max_clicks": args.max_clicks,
        "max_duration_s": args.max_duration,
        "dry_run": args.dry_run,
        "backend": args.backend,
        "button": args.button,
    }
    if args.click == "match":
        config["click_target"] = "match"
    elif args.click:
        config["click_x"], config["click_y"] = _pair(args.click, "--click", 2)
    return config


def cmd_clicker(args: argparse.Namespace) -> int:
    import hub

    # A malformed --region or --click is bad usage, reported before any runtime starts.
    config = config_from_args(args) if args.clicker_command == "start" else None
    with hub.connect() as client:
        if config is not None:
            record = client.clicker_start(config)
            print(record.id)
        elif args.clicker_command == "stop":
            print(json.dumps(client.clicker_stop(args.id), indent=2, default=str))
        elif args.clicker_command == "reset":
            tripped = client.desktop_reset()
            print("kill switch re-armed" if tripped else "the kill switch had not tripped")
        elif args.clicker_command == "ls":
            print(json.dumps(client.clicker_sessions(), indent=2, default=str))
        else:
            print(json.dumps(client.clicker_session(args.id), indent=2, default=str))
    return 0


def add_clicker_commands(sub: Any) -> None:
    clicker = sub.add_parser("clicker", help="auto-clicker sessions on the desktop node")
    commands = clicker.add_subparsers(dest="clicker_command", required=True)
    start = commands.add_parser(
        "start",
        help="watch a region; click when a number is over a threshold (or a condition holds)",
    )
    start.add_argument("--region", required=True, metavar="L,T,W,H")
    start.add_argument("--threshold", type=float, default=42.0)
    start.add_argument(
        "--condition", help="an expression over $numbers, $text, $items; replaces --threshold"
    )
    start.add_argument(
        "--click",
        required=True,
        metavar="X,Y|match",
        help="where to click: a point, or 'match' for the matched text",
    )
    start.add_argument("--button", choices=["left", "right", "middle"], default="left")
    start.add_argument("--interval-ms", type=int, default=200)
    start.add_argument("--max-clicks", type=int)
    start.add_argument("--max-duration", type=float, metavar="SECONDS")
    start.add_argument("--backend", default="auto", help="auto, rapidocr, tesseract or easyocr")
    start.add_argument("--dry-run", action="store_true", help="record clicks, make none")
    for name in ("stop", "show"):
        p = commands.add_parser(name, help=f"{name} a session")
        p.add_argument("id")
    commands.add_parser("ls", help="list sessions")
    commands.add_parser("reset", help="re-arm the desktop after its kill switch tripped")
    clicker.set_defaults(func=cmd_clicker)
