"""The runtime's Grafana dashboard, built from the metric definitions (actors/_metrics.py,
actors/_trigger_metrics.py): every query names a metric through its definition, so a renamed
or removed metric changes the dashboard, and tests/unit/test_grafana.py fails until
cluster/grafana/runtime-hub.json is generated again (``hub metrics grafana --out ...``).

The dashboard takes its Prometheus from a ``datasource`` variable, so it works with Ray's
provisioned data source or any other.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

UID = "runtime-hub"
TITLE = "Runtime Hub"
RATE = "$__rate_interval"
FILE = "cluster/grafana/runtime-hub.json"


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str


@dataclass(frozen=True)
class Panel:
    title: str
    description: str
    queries: tuple[Query, ...]
    unit: str = "short"
    metrics: tuple[str, ...] = field(default=())  # the definitions' names it is about


def _quantiles(series: str, by: str, label: str) -> tuple[Query, ...]:
    """p50/p95/p99 of a histogram, by the labels ``by`` (``le`` added)."""
    keys = f"le, {by}" if by else "le"
    return tuple(
        Query(
            f"histogram_quantile({q}, sum by ({keys}) (rate({series}_bucket[{RATE}])))",
            f"p{int(q * 100)} {label}".strip(),
        )
        for q in (0.5, 0.95, 0.99)
    )


def panels() -> list[Panel]:
    """The dashboard's panels, in reading order (two to a row)."""
    from actors import _metrics as m
    from actors import _trigger_metrics as t

    step, cycle, ocr, lag = (
        m.STEP_DURATION.exported,
        m.DESKTOP_CYCLE.exported,
        m.OCR_DURATION.exported,
        t.SCHEDULE_LAG.exported,
    )
    return [
        Panel(
            "Executions ended, by status",
            m.EXECUTIONS.description,
            (
                Query(
                    f"sum by ({m.STATUS}) (rate({m.EXECUTIONS.exported}[{RATE}]))",
                    f"{{{{{m.STATUS}}}}}",
                ),
            ),
            "ops",
            (m.EXECUTIONS.name,),
        ),
        Panel(
            "Failed executions, by workflow",
            "Executions that ended failed, per second, by workflow.",
            (
                Query(
                    f"sum by ({m.WORKFLOW}) "
                    f'(rate({m.EXECUTIONS.exported}{{{m.STATUS}="failed"}}[{RATE}]))',
                    f"{{{{{m.WORKFLOW}}}}}",
                ),
            ),
            "ops",
            (m.EXECUTIONS.name,),
        ),
        Panel(
            "Step latency by node type",
            m.STEP_DURATION.description,
            _quantiles(step, m.NODE_TYPE, f"{{{{{m.NODE_TYPE}}}}}"),
            "s",
            (m.STEP_DURATION.name,),
        ),
        Panel(
            "Steps per second, by node type and status",
            "Steps that ended, from the step-duration histogram's count.",
            (
                Query(
                    f"sum by ({m.NODE_TYPE}, {m.STATUS}) (rate({step}_count[{RATE}]))",
                    f"{{{{{m.NODE_TYPE}}}}} {{{{{m.STATUS}}}}}",
                ),
            ),
            "ops",
            (m.STEP_DURATION.name,),
        ),
        Panel(
            "Queue depth and running executions",
            f"{m.QUEUE_DEPTH.description} {m.RUNNING_EXECUTIONS.description}",
            (
                Query(f"max({m.QUEUE_DEPTH.exported})", "queued"),
                Query(f"max({m.RUNNING_EXECUTIONS.exported})", "running"),
            ),
            "short",
            (m.QUEUE_DEPTH.name, m.RUNNING_EXECUTIONS.name),
        ),
        Panel(
            "ExecutionActors by state",
            m.EXECUTION_ACTORS.description,
            (
                Query(
                    f"max by ({m.STATE}) ({m.EXECUTION_ACTORS.exported})",
                    f"{{{{{m.STATE}}}}}",
                ),
            ),
            "short",
            (m.EXECUTION_ACTORS.name,),
        ),
        Panel(
            "Node pool sizes",
            m.POOL_SIZE.description,
            (
                Query(
                    f"max by ({m.NODE_TYPE}) ({m.POOL_SIZE.exported})",
                    f"{{{{{m.NODE_TYPE}}}}}",
                ),
            ),
            "short",
            (m.POOL_SIZE.name,),
        ),
        Panel(
            "Node actors busy, calls in flight",
            m.NODE_ACTOR_BUSY.description,
            (
                Query(
                    f"sum by ({m.NODE_TYPE}) ({m.NODE_ACTOR_BUSY.exported})",
                    f"busy {{{{{m.NODE_TYPE}}}}}",
                ),
                Query(
                    f"sum by ({m.NODE_TYPE}) ({m.NODE_ACTOR_INFLIGHT.exported})",
                    f"in flight {{{{{m.NODE_TYPE}}}}}",
                ),
            ),
            "short",
            (m.NODE_ACTOR_BUSY.name, m.NODE_ACTOR_INFLIGHT.name),
        ),
        Panel(
            "Desktop cycle time",
            m.DESKTOP_CYCLE.description,
            (
                *_quantiles(cycle, "", ""),
                Query(
                    f"sum by ({m.STATUS}) (rate({cycle}_count[{RATE}]))",
                    f"cycles/s {{{{{m.STATUS}}}}}",
                ),
            ),
            "s",
            (m.DESKTOP_CYCLE.name,),
        ),
        Panel(
            "Desktop clicks",
            m.DESKTOP_CLICKS.description,
            (
                Query(
                    f"sum by ({m.SOURCE}, {m.DRY_RUN}) (rate({m.DESKTOP_CLICKS.exported}[{RATE}]))",
                    f"{{{{{m.SOURCE}}}}} dry_run={{{{{m.DRY_RUN}}}}}",
                ),
            ),
            "ops",
            (m.DESKTOP_CLICKS.name,),
        ),
        Panel(
            "OCR time by backend and placement",
            m.OCR_DURATION.description,
            _quantiles(ocr, f"{m.BACKEND}, {m.WHERE}", f"{{{{{m.BACKEND}}}}} {{{{{m.WHERE}}}}}"),
            "s",
            (m.OCR_DURATION.name,),
        ),
        Panel(
            "Circuit breakers",
            m.BREAKER_STATE.description,
            (
                Query(f"max by ({m.KEY}) ({m.BREAKER_STATE.exported})", f"{{{{{m.KEY}}}}}"),
                Query(
                    f"sum by ({m.KEY}, {m.TO}) "
                    f"(increase({m.BREAKER_TRANSITIONS.exported}[{RATE}]))",
                    f"{{{{{m.KEY}}}}} to {{{{{m.TO}}}}}",
                ),
            ),
            "short",
            (m.BREAKER_STATE.name, m.BREAKER_TRANSITIONS.name),
        ),
        Panel(
            "Trigger fires and refusals, by type",
            t.TRIGGER_FIRES.description,
            (
                Query(
                    f"sum by ({t.TYPE}) (rate({t.TRIGGER_FIRES.exported}[{RATE}]))",
                    f"fired {{{{{t.TYPE}}}}}",
                ),
                Query(
                    f"sum by ({t.TYPE}) (rate({t.TRIGGER_REFUSED.exported}[{RATE}]))",
                    f"refused {{{{{t.TYPE}}}}}",
                ),
            ),
            "ops",
            (t.TRIGGER_FIRES.name, t.TRIGGER_REFUSED.name),
        ),
        Panel(
            "Schedule lag",
            t.SCHEDULE_LAG.description,
            _quantiles(lag, "", ""),
            "s",
            (t.SCHEDULE_LAG.name,),
        ),
        Panel(
            "AMQP messages by outcome",
            t.AMQP_MESSAGES.description,
            (
                Query(
                    f"sum by ({t.OUTCOME}) (rate({t.AMQP_MESSAGES.exported}[{RATE}]))",
                    f"{{{{{t.OUTCOME}}}}}",
                ),
            ),
            "ops",
            (t.AMQP_MESSAGES.name,),
        ),
    ]


def _panel_json(panel: Panel, index: int) -> dict[str, Any]:
    return {
        "id": index + 1,
        "type": "timeseries",
        "title": panel.title,
        "description": panel.description,
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "gridPos": {"h": 8, "w": 12, "x": 12 * (index % 2), "y": 8 * (index // 2)},
        "fieldConfig": {"defaults": {"unit": panel.unit}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}},
        "targets": [
            {
                "datasource": {"type": "prometheus", "uid": "${datasource}"},
                "expr": query.expr,
                "legendFormat": query.legend,
                "refId": chr(ord("A") + n),
            }
            for n, query in enumerate(panel.queries)
        ],
    }


def dashboard() -> dict[str, Any]:
    """The dashboard as Grafana's JSON model (import it, or provision it from a folder)."""
    return {
        "uid": UID,
        "title": TITLE,
        "description": "Runtime Hub's ray_hub_* metrics (docs/metrics.md). Generated by "
        "`hub metrics grafana` from actors/_metrics.py; do not edit by hand.",
        "tags": ["runtime-hub", "ray"],
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "time": {"from": "now-1h", "to": "now"},
        "refresh": "30s",
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "label": "Prometheus",
                    "type": "datasource",
                    "query": "prometheus",
                    "current": {},
                    "hide": 0,
                }
            ]
        },
        "annotations": {"list": []},
        "panels": [_panel_json(panel, i) for i, panel in enumerate(panels())],
    }


def dashboard_json() -> str:
    return json.dumps(dashboard(), indent=2) + "\n"


__all__ = ["FILE", "Panel", "Query", "dashboard", "dashboard_json", "panels"]
