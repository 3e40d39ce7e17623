"""Operator commands for Ray's own tools: ``hub env`` (the shell exports that point Ray's CLI at
the runtime), ``hub metrics prometheus`` and ``hub metrics grafana`` (docs/metrics.md); and the
lines ``hub up`` and ``hub status`` print about the dashboard's sign-in and Ray's CLI."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from hub import prometheus
from hub.errors import HubError
from hub.ray_access import cli_hint, render_exports, shell_exports, sign_in_hint
from hub.settings import hub_home

INDENT = " " * 16  # under the values of `hub up`'s "  name        : value" lines


def _running() -> Any:
    from hub.runtime import read_runtime

    info = read_runtime(hub_home())
    if info is None:
        raise HubError(f"no runtime is running (HUB_HOME={hub_home()}); start one with: hub up")
    return info


def ray_tool_lines(info: Any) -> list[str]:
    """The lines under ``hub up``'s dashboard address: how to sign in, how to use Ray's CLI."""
    lines = [f"{INDENT}{sign_in_hint()}"]
    running = prometheus.read(Path(info.home))
    if running is not None:
        given = prometheus.dashboard_env(Path(info.home)).get("RAY_PROMETHEUS_HOST")
        whose = "given to the dashboard" if given else "the dashboard has RAY_PROMETHEUS_HOST"
        lines.append(f"  prometheus  : {running.url}  ({whose})")
    lines.append(f"  ray cli     : {cli_hint()}")
    return lines


def after_up(info: Any) -> None:
    """A Prometheus of ``hub metrics prometheus`` follows the runtime to its new Ray session,
    and the runtime's Grafana dashboard joins the ones Ray provisions for this session (a
    Grafana started with Ray's generated grafana.ini shows it)."""
    if not info.session_dir:
        return
    running = prometheus.read(Path(info.home))
    if running is not None:
        prometheus.repoint(Path(info.home), running, info.session_dir)
    dashboards = Path(info.session_dir) / "metrics" / "grafana" / "dashboards"
    if dashboards.is_dir():
        from hub.grafana import dashboard_json

        (dashboards / "runtime_hub_grafana_dashboard.json").write_text(dashboard_json())


def ray_tools_json(info: Any) -> dict[str, Any]:
    home = Path(info.home)
    running = prometheus.read(home)
    return {
        "ray_sign_in": sign_in_hint(),
        "ray_env": shell_exports(info, home),
        "prometheus_url": running.url if running else None,
    }


# --- commands ---------------------------------------------------------------------------------


def cmd_env(args: argparse.Namespace) -> int:
    info = _running()
    exports = shell_exports(info, hub_home())
    if args.json:
        print(json.dumps(exports, indent=2))
    else:
        print(render_exports(exports), end="")
    return 0


def cmd_prometheus(args: argparse.Namespace) -> int:
    home = hub_home()
    if args.stop:
        stopped = prometheus.stop(home)
        print("prometheus stopped" if stopped else "no prometheus was running")
        return 0
    info = _running()
    if not info.session_dir:
        raise HubError(
            "this runtime's Ray session directory is unknown (it was started by an older hub): "
            "restart it with hub down && hub up"
        )
    running = prometheus.read(home)
    if args.port is not None and running and not running.url.endswith(f":{args.port}"):
        raise HubError(
            f"a Prometheus already runs at {running.url}; stop it first with "
            "hub metrics prometheus --stop"
        )
    started = prometheus.start(
        home,
        info.session_dir,
        port=args.port or prometheus.DEFAULT_PORT,
        scrape_interval_s=args.scrape_interval_s,
    )
    if args.json:
        print(started.model_dump_json(indent=2))
        return 0
    print(f"prometheus at {started.url}, scraping every {started.scrape_interval_s:g}s")
    print(f"  targets     : {started.discovery_file} (Ray's service discovery)")
    print(f"  data        : {prometheus.state_dir(home) / 'data'} (kept across hub down/up)")
    print(f"  logs        : {home / 'logs' / 'prometheus.log'}")
    if info.dashboard_url and not prometheus.dashboard_reaches_prometheus(info.dashboard_url):
        print(
            "  the dashboard was started looking for Prometheus elsewhere; its Metrics page "
            "uses this one from the next start: hub down && hub up"
        )
    print("stop it with: hub metrics prometheus --stop")
    return 0


def cmd_grafana(args: argparse.Namespace) -> int:
    from hub.grafana import dashboard_json

    text = dashboard_json()
    if args.out:
        Path(args.out).write_text(text)
        print(f"wrote {args.out}")
    else:
        print(text, end="")
    return 0


def add_ops_commands(sub: Any) -> None:
    p = sub.add_parser(
        "env",
        help='shell exports that point Ray\'s CLI at the runtime: eval "$(hub env)"',
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_env)

    p = sub.add_parser("metrics", help="Prometheus and Grafana for the runtime's metrics")
    metrics = p.add_subparsers(dest="metrics_command", required=True, parser_class=type(p))
    p = metrics.add_parser(
        "prometheus",
        help="start Debian's prometheus scraping every Ray node (it outlives hub down)",
    )
    p.add_argument("--port", type=int, help=f"where it listens (default {prometheus.DEFAULT_PORT})")
    p.add_argument(
        "--scrape-interval-s",
        type=float,
        default=prometheus.DEFAULT_SCRAPE_INTERVAL_S,
        help="seconds between scrapes (default 10, Ray's metrics report interval)",
    )
    p.add_argument("--stop", action="store_true", help="stop the one hub started")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_prometheus)

    p = metrics.add_parser(
        "grafana", help="the runtime's Grafana dashboard (JSON, as in cluster/grafana/)"
    )
    p.add_argument("--out", metavar="FILE", help="write it there instead of printing it")
    p.set_defaults(func=cmd_grafana)
