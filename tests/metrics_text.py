"""Reading Prometheus text from a Ray node's metrics endpoint, for the metrics tests."""

from __future__ import annotations

import re
import urllib.request

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')

Sample = tuple[str, dict[str, str], float]


def node_endpoints() -> list[str]:
    """host:port of every alive node's metrics endpoint, as Ray's service discovery lists it
    (this process joined to the runtime)."""
    import ray

    return [
        f"{n['NodeManagerAddress']}:{n['MetricsExportPort']}"
        for n in ray.nodes()
        if n["Alive"] and n.get("MetricsExportPort")
    ]


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return str(response.read().decode())


def parse(text: str, prefix: str = "ray_hub_") -> list[Sample]:
    """The samples whose metric name starts with ``prefix``: (name, labels, value)."""
    samples: list[Sample] = []
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if match is None or not match.group(1).startswith(prefix):
            continue
        labels = dict(_LABEL.findall(match.group(2) or ""))
        samples.append((match.group(1), labels, float(match.group(3))))
    return samples


def total(samples: list[Sample], name: str, **labels: str) -> float | None:
    """The sum over every series of ``name`` with these labels (one per process), or None."""
    found = [
        value
        for n, series, value in samples
        if n == name and all(series.get(k) == v for k, v in labels.items())
    ]
    return sum(found) if found else None
