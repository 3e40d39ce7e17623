"""The runtime on two Ray nodes of this machine (cluster/local_cluster.py): a head started by
``hub up`` without a display, and a worker that advertises ``edge`` and ``desktop`` and owns the
session's virtual display. Node types asked to run on ``edge`` nodes (the
``node_pool_resources`` setting) and the DesktopActor must land on the worker; a workflow started
through the head uses them; losing the worker mid-step ends in recovery, not a stuck run."""

from __future__ import annotations

import itertools
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from cluster.local_cluster import LocalCluster, Worker
from tests.e2e.xvfb import running_app, wait_until
from tests.metrics_text import fetch, parse, total

# The first test also pays for starting three nodes (pytest-timeout counts fixture setup).
pytestmark = [pytest.mark.ray, pytest.mark.cluster, pytest.mark.timeout(360)]

WORKER_RESOURCES = {"edge": 2.0, "desktop": 1.0}
POOLS_ON_EDGE = {"test.echo": {"edge": 0.1}, "shell": {"edge": 0.1}}


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory, x_display: str | None
) -> Iterator[LocalCluster]:
    home = tmp_path_factory.mktemp("cluster-home")
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}  # the head has no display
    env.update(
        HUB_ENABLE_SHELL_NODES="1",
        HUB_ENABLE_DESKTOP="1",
        HUB_WARM_EXECUTION_ACTORS="3",
        HUB_MAX_EXECUTION_ACTORS="4",
        HUB_NODE_POOL_RESOURCES=json.dumps(POOLS_ON_EDGE),
        # Metrics reach each node's endpoint within a second rather than ten.
        RAY_metrics_report_interval_ms="1000",
    )
    local = LocalCluster.create(home, env)
    try:
        local.up()
        local.add_worker(WORKER_RESOURCES, env={"DISPLAY": x_display} if x_display else None)
        # A GPU node (declared: Ray places by the count; easyocr falls back to its CPU here).
        local.add_worker({}, num_gpus=1)
        yield local
    finally:
        local.down()


def hub_json(cluster: LocalCluster, *args: str) -> Any:
    return json.loads(cluster.hub(*args, "--json", timeout_s=300).stdout)


def node_of(cluster: LocalCluster, role: str) -> str:
    """The live node that hosts an actor of ``role`` (``hub status`` may show placement a
    couple of seconds old: wait for the actor to appear)."""

    def found() -> str | None:
        for node in cluster.status()["nodes"]:
            if node["alive"] and role in node["roles"]:
                return str(node["node_id"])
        return None

    return wait_until(found, timeout_s=15, interval_s=0.5, what=f"an actor of {role}")


def worker_node(cluster: LocalCluster, resource: str = "edge") -> str:
    """The one live worker node that offers ``resource``."""
    nodes = [
        n
        for n in cluster.status()["nodes"]
        if n["alive"] and not n["head"] and n["resources"].get(resource)
    ]
    assert len(nodes) == 1, nodes
    return str(nodes[0]["node_id"])


def ran_on_worker(pid: int, worker: Worker) -> bool:
    """Whether a live process belongs to the worker node's session (its raylet's workers)."""
    try:
        return os.getsid(pid) == worker.pid
    except ProcessLookupError:
        return False


def write_workflow(path: Path, doc: dict[str, Any]) -> Path:
    path.write_text(json.dumps(doc))
    return path


def test_pools_land_on_the_nodes_with_their_resources(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    doc = {
        "id": f"edge-{uuid.uuid4().hex[:6]}",
        "inputs": {"x": {"type": "number"}},
        "nodes": [
            {"id": "double", "type": "set", "parameters": {"values": {"y": "{{ $input.x * 2 }}"}}},
            {"id": "echo", "type": "test.echo", "parameters": {"value": "{{ $double.y }}"}},
        ],
        "edges": [{"from": "double", "to": "echo"}],
    }
    record = hub_json(
        cluster, "run", str(write_workflow(tmp_path / "edge.json", doc)), "-i", "x=21"
    )
    assert record["status"] == "completed", record.get("error")
    echo = record["outputs"]["echo"]
    assert echo["echo"] == 42
    assert ran_on_worker(echo["pid"], cluster.workers[0])

    status = cluster.status()
    worker = worker_node(cluster)
    head = next(n["node_id"] for n in status["nodes"] if n["head"])
    assert status["placement_unknown"] is None
    assert node_of(cluster, "node-pool:test.echo") == worker
    # The Recorder stays with the SQLite file, the supervisor and the API on the head.
    assert status["placement"]["recorder"] == head
    assert status["placement"]["supervisor"] == head
    assert status["placement"]["api"] == head
    human = cluster.hub("status").stdout
    assert "ray nodes: 3 alive" in human and "node-pool:test.echo" in human


def test_warm_execution_actors_spread_over_the_nodes_that_joined(cluster: LocalCluster) -> None:
    """`hub up` made the warm ExecutionActors on the head, before any worker joined; when the
    workers joined, the supervisor made them anew, round-robin over the nodes."""

    def spread() -> list[str] | None:
        status = cluster.status()
        nodes = [n["node_id"] for n in status["nodes"] if n["alive"] and "execution" in n["roles"]]
        return nodes if len(nodes) > 1 and status["execution_actors"]["respread"] > 0 else None

    nodes = wait_until(spread, timeout_s=60, interval_s=1, what="warm ExecutionActors spread")
    head = next(n["node_id"] for n in cluster.status()["nodes"] if n["head"])
    assert set(nodes) - {head}, nodes


def needs_display(x_display: str | None) -> str:
    if x_display is None:
        pytest.skip("Xvfb is not installed here (the test command installs it with apt-get)")
    return x_display


def read_window(backend: str, app: Any, *then: dict[str, Any]) -> dict[str, Any]:
    """A workflow that reads the test window's text with ``backend`` (node ``read``), then runs
    the ``then`` nodes one after another."""
    left, top, width, height = app.rects["window"]
    region = {"left": left, "top": top, "width": width, "height": height}
    nodes = [{"id": "read", "type": "desktop.read_text", "parameters": {"region": region}}]
    nodes[0]["parameters"]["backend"] = backend
    for node in then:
        node["parameters"] = {"region": region, "backend": backend, **node["parameters"]}
        nodes.append(node)
    edges = [{"from": a["id"], "to": b["id"]} for a, b in itertools.pairwise(nodes)]
    return {"id": f"desk-{uuid.uuid4().hex[:6]}", "nodes": nodes, "edges": edges}


def test_the_desktop_actor_follows_the_desktop_resource(
    cluster: LocalCluster, x_display: str | None, tmp_path: Path
) -> None:
    display = needs_display(x_display)
    with running_app(display, tmp_path / "app", number=58) as app:
        press = {"id": "press", "type": "desktop.click", "parameters": {"text": "Click"}}
        doc = read_window("rapidocr", app, press)
        record = hub_json(cluster, "run", str(write_workflow(tmp_path / "desk.json", doc)))
        assert record["status"] == "completed", record.get("error")
        assert "58" in record["outputs"]["read"]["text"]
        assert app.clicks() == 1
    status = cluster.status()
    assert status["desktop"]["node_id"] == worker_node(cluster)
    assert status["desktop"]["display"] == display
    assert status["placement"]["desktop"] == worker_node(cluster)


def test_ocr_on_a_gpu_reads_on_the_gpu_node(
    cluster: LocalCluster, x_display: str | None, tmp_path: Path
) -> None:
    with running_app(needs_display(x_display), tmp_path / "app", number=73) as app:
        # easyocr reads on a GPU when the cluster has one: in an OcrActor on that node
        doc = read_window("easyocr", app)
        record = hub_json(cluster, "run", str(write_workflow(tmp_path / "gpu.json", doc)))
    assert record["status"] == "completed", record.get("error")
    assert "73" in record["outputs"]["read"]["text"]
    assert node_of(cluster, "ocr") == worker_node(cluster, "GPU")
    # The screen was captured on the desktop node, not where the text was read.
    assert cluster.status()["placement"]["desktop"] == worker_node(cluster, "desktop")


def sample(text: str, metric: str, **tags: str) -> float | None:
    return total(parse(text), metric, **tags)


def test_each_node_exports_the_metrics_of_what_runs_there(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    workflow = f"metrics-{uuid.uuid4().hex[:6]}"
    doc = {
        "id": workflow,
        "nodes": [{"id": "echo", "type": "test.echo", "parameters": {"value": 1}}],
    }
    path = write_workflow(tmp_path / "m.json", doc)
    for _ in range(3):
        assert hub_json(cluster, "run", str(path))["status"] == "completed"
    nodes = {n["node_id"]: n for n in cluster.status()["nodes"] if n["alive"]}
    head = next(n for n in nodes.values() if n["head"])
    worker = nodes[worker_node(cluster)]

    def exported() -> tuple[str, str] | None:
        on_head, on_worker = fetch(head["metrics_url"]), fetch(worker["metrics_url"])
        done = sample(on_head, "ray_hub_executions_total", workflow=workflow, status="completed")
        # Steps are counted where their ExecutionActor runs: on either node.
        steps = sample(
            on_head + "\n" + on_worker, "ray_hub_step_duration_seconds_count", node_type="test.echo"
        )
        pool = sample(on_worker, "ray_hub_node_actor_inflight", node_type="test.echo")
        if done is not None and done >= 3 and steps is not None and pool is not None:
            return on_head, on_worker
        return None

    on_head, on_worker = wait_until(
        exported, timeout_s=90, interval_s=1, what="the runtime's metrics on both nodes"
    )
    # The worker's endpoint carries the pool's gauges, not the supervisor's.
    assert sample(on_head, "ray_hub_pool_size", node_type="test.echo") == 1
    assert sample(on_worker, "ray_hub_executions_total", workflow=workflow) is None


def test_losing_the_worker_mid_step_ends_in_recovery(
    cluster: LocalCluster, x_display: str | None, tmp_path: Path
) -> None:
    marker = tmp_path / "started"
    doc = {
        "id": f"slow-edge-{uuid.uuid4().hex[:6]}",
        "nodes": [
            {
                "id": "slow",
                "type": "shell",
                "parameters": {
                    "argv": ["sh", "-c", f"echo $PPID >> {marker}; sleep 4; echo finished"],
                },
            },
            {"id": "after", "type": "test.echo", "parameters": {"value": "{{ $slow.stdout }}"}},
        ],
        "edges": [{"from": "slow", "to": "after"}],
    }
    path = write_workflow(tmp_path / "slow.json", doc)
    execution_id = hub_json(cluster, "run", str(path), "--no-wait")["id"]
    first = wait_until(
        lambda: marker.exists() and marker.read_text().split(),
        timeout_s=120,
        interval_s=0.2,
        what="the slow step to start on the worker",
    )
    assert ran_on_worker(int(first[0]), cluster.workers[0])
    lost = cluster.workers[0]
    cluster.kill_worker(lost)
    # A new machine takes the lost one's place (as an autoscaler would bring one).
    replacement = cluster.add_worker(
        WORKER_RESOURCES, env={"DISPLAY": x_display} if x_display else None
    )
    record = wait_until(
        lambda: (
            (r := hub_json(cluster, "show", execution_id))["status"]
            in ("completed", "failed", "cancelled")
            and r
        ),
        timeout_s=240,
        interval_s=1,
        what="the run to end after the worker was lost",
    )
    assert record["status"] == "completed", record.get("error")
    assert record["outputs"]["after"]["echo"].strip() == "finished"
    # The step ran again, in a node process (the shell's parent) on the new node.
    reruns = marker.read_text().split()
    assert len(reruns) >= 2
    assert ran_on_worker(int(reruns[-1]), replacement)
    assert not psutil.pid_exists(int(first[0]))
    steps = {s["node_id"]: s for s in record["steps"]}
    assert steps["slow"]["status"] == "completed"

    if x_display is None:
        return
    # The DesktopActor (made by an earlier test) came back on the new node by itself: nobody
    # has looked at that screen yet, so it refuses to act until the kill switch is reset.
    move = {
        "id": f"move-{uuid.uuid4().hex[:6]}",
        "nodes": [{"id": "move", "type": "desktop.move", "parameters": {"x": 300, "y": 200}}],
    }
    moved = write_workflow(tmp_path / "move.json", move)
    refused = json.loads(cluster.hub("run", str(moved), "--json", check=False).stdout)
    assert refused["status"] == "failed", refused
    message = refused["steps"][0]["error"]["message"]
    assert "kill switch" in message and "restarted" in message
    assert cluster.status()["desktop"]["node_id"] == worker_node(cluster, "desktop")
    cluster.hub("clicker", "reset")
    assert hub_json(cluster, "run", str(moved))["status"] == "completed"
