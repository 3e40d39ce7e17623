"""hub.prometheus without a Prometheus: the config it writes scrapes Ray's service-discovery file
of the session it is given, and a record whose process is no Prometheus is dropped, never
signalled."""

from __future__ import annotations

import os
from pathlib import Path

from hub import prometheus


def test_the_config_scrapes_the_sessions_discovery_file() -> None:
    path = prometheus.discovery_file("/tmp/ray/session_x")
    assert path == Path("/tmp/ray/session_x/prom_metrics_service_discovery.json")
    text = prometheus.config_text(path, 2.5)
    assert "scrape_interval: 2.5s" in text
    assert "job_name: ray" in text
    assert f"files: ['{path}']" in text


def test_a_record_of_a_process_that_is_not_prometheus_is_dropped(tmp_path: Path) -> None:
    record = prometheus.PrometheusInfo(
        pid=os.getpid(),  # alive, but this test's Python
        url="http://127.0.0.1:9",
        discovery_file="/nowhere",
        scrape_interval_s=10,
    )
    prometheus.state_dir(tmp_path).mkdir()
    state = prometheus.state_dir(tmp_path) / "prometheus.json"
    state.write_text(record.model_dump_json())
    assert prometheus.read(tmp_path) is None
    assert not state.exists()
    assert prometheus.dashboard_env(tmp_path, environ={}) == {}
