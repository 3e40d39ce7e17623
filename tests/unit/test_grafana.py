"""The Grafana dashboard in cluster/grafana/ is the one the metric definitions generate, each
panel queries only metrics the runtime defines, every metric has a panel, and every query is
PromQL that Prometheus's own checker accepts."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from actors._metrics import SPECS
from actors._trigger_metrics import TRIGGER_SPECS
from hub.grafana import FILE, RATE, dashboard, dashboard_json, panels
from tests.prerequisites import require_tools

ROOT = Path(__file__).resolve().parents[2]
METRIC_NAME = re.compile(r"\bray_[a-zA-Z0-9_]+")


def exported_series() -> set[str]:
    return {series for spec in (*SPECS, *TRIGGER_SPECS) for series in spec.series}


def shipped() -> dict[str, object]:
    return dict(json.loads((ROOT / FILE).read_text()))


def test_the_shipped_dashboard_is_the_generated_one() -> None:
    assert (ROOT / FILE).read_text() == dashboard_json(), (
        f"{FILE} is out of date: regenerate it with `hub metrics grafana --out {FILE}`"
    )


def test_every_query_names_only_metrics_that_exist() -> None:
    known = exported_series()
    for panel in shipped()["panels"]:  # type: ignore[attr-defined]
        for target in panel["targets"]:
            named = METRIC_NAME.findall(target["expr"])
            assert named, f"panel {panel['title']!r} queries no metric: {target['expr']}"
            unknown = sorted(set(named) - known)
            assert not unknown, f"panel {panel['title']!r} queries unknown metrics {unknown}"


def test_every_metric_has_a_panel() -> None:
    queried = {
        name
        for panel in shipped()["panels"]  # type: ignore[attr-defined]
        for target in panel["targets"]
        for name in METRIC_NAME.findall(target["expr"])
    }
    missing = [spec.exported for spec in (*SPECS, *TRIGGER_SPECS) if not set(spec.series) & queried]
    assert not missing, f"metrics without a panel in the Grafana dashboard: {missing}"


def test_panels_are_laid_out_without_overlap_and_use_the_datasource_variable() -> None:
    model = dashboard()
    cells = set()
    for panel in model["panels"]:
        pos = panel["gridPos"]
        cell = (pos["x"], pos["y"])
        assert cell not in cells, f"panel {panel['title']!r} overlaps another"
        cells.add(cell)
        assert panel["datasource"]["uid"] == "${datasource}"
    assert [v["name"] for v in model["templating"]["list"]] == ["datasource"]


def test_every_query_is_valid_promql(tmp_path: Path) -> None:
    """Prometheus's checker parses each query as a recording rule ($__rate_interval is
    Grafana's; it becomes a plain range here)."""
    require_tools("promtool", install="apt-get install prometheus")
    exprs = [q.expr.replace(RATE, "5m") for panel in panels() for q in panel.queries]
    rules = {
        "groups": [
            {
                "name": "runtime-hub",
                "rules": [{"record": f"hub:panel:{n}", "expr": e} for n, e in enumerate(exprs)],
            }
        ]
    }
    path = tmp_path / "rules.yml"
    path.write_text(json.dumps(rules))  # JSON is YAML
    checked = subprocess.run(
        ["promtool", "check", "rules", str(path)], capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"{len(exprs)} rules found" in checked.stdout
