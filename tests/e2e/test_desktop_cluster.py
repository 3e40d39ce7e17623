"""Two Ray nodes on this machine: a head without a display, and a second node that advertises
``desktop: 1``. The DesktopActor must land on the second node, and a workflow started through
the head must drive that node's display."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from hub.runtime import terminate_session
from tests.conftest import HUB, free_port
from tests.e2e.xvfb import running_app, wait_until

pytestmark = pytest.mark.ray

RAY = str(Path(sys.executable).with_name("ray"))


def test_desktop_actor_lands_on_the_desktop_node(x_display: str | None, tmp_path: Path) -> None:
    if x_display is None:
        pytest.skip(
            "Xvfb is not installed here (the test command installs it: apt-get install xvfb)"
        )
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    env.update(HUB_HOME=str(home), HUB_ENABLE_DESKTOP="1", RAY_AUTH_MODE="token")
    port = free_port()
    up = subprocess.run(
        [HUB, "up", "--port", str(port), "--dashboard-port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert up.returncode == 0, up.stderr
    worker = None
    try:
        worker_env = dict(env, DISPLAY=x_display)
        worker = subprocess.Popen(
            [
                RAY,
                "start",
                f"--address=127.0.0.1:{port}",
                "--block",
                "--num-cpus=1",
                '--resources={"desktop": 1}',
                "--node-ip-address=127.0.0.1",
                "--disable-usage-stats",
            ],
            env=worker_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

        def two_nodes() -> list[dict[str, object]] | None:
            status = subprocess.run(
                [HUB, "status", "--json"], env=env, capture_output=True, text=True, timeout=120
            )
            nodes = json.loads(status.stdout)["nodes"] if status.returncode == 0 else []
            alive = [n for n in nodes if n["alive"]]
            return alive if len(alive) == 2 else None

        nodes = wait_until(two_nodes, timeout_s=90, interval_s=1, what="the second node to join")
        desktop_node = next(n for n in nodes if n["resources"].get("desktop"))  # type: ignore[union-attr]
        with running_app(x_display, tmp_path / "app", number=58) as app:
            left, top, width, height = app.rects["window"]
            region = {"left": left, "top": top, "width": width, "height": height}
            doc = {
                "id": f"remote-desk-{uuid.uuid4().hex[:6]}",
                "nodes": [
                    {
                        "id": "read",
                        "type": "desktop.read_text",
                        "parameters": {"region": region, "backend": "rapidocr"},
                    },
                    {
                        "id": "press",
                        "type": "desktop.click",
                        "parameters": {"text": "Click", "region": region, "backend": "rapidocr"},
                    },
                ],
                "edges": [{"from": "read", "to": "press"}],
            }
            path = tmp_path / "desk.json"
            path.write_text(json.dumps(doc))
            run = subprocess.run(
                [HUB, "run", str(path), "--json"],
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert run.returncode == 0, run.stderr + run.stdout
            assert "58" in json.loads(run.stdout)["outputs"]["read"]["text"]
            assert app.clicks() == 1
        status = json.loads(
            subprocess.run(
                [HUB, "status", "--json"], env=env, capture_output=True, text=True, timeout=120
            ).stdout
        )
        assert status["desktop"]["node_id"] == desktop_node["node_id"]
        assert status["desktop"]["display"] == x_display
    finally:
        subprocess.run([HUB, "down"], env=env, capture_output=True, timeout=120)
        if worker is not None:
            terminate_session(worker.pid)  # the node and the workers it started
            worker.wait(timeout=30)
