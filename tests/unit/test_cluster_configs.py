"""The `ray up` configs in cluster/ pass Ray's own validation (what `ray up` runs before it
touches a machine) and keep the runtime's rules: Ray on 6380, never Redis's 6379; the head
starts the runtime with `hub up --address`; token authentication everywhere; the desktop
resource on the machine with the display; GPU workers with autoscaling limits. No Ray is
started here."""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from ray.autoscaler._private.util import prepare_config, validate_config

CLUSTER = Path(__file__).resolve().parents[2] / "cluster"
# Files in cluster/ that are not `ray up` configs.
NOT_RAY_UP = {"serve.yaml"}
RAY_UP_CONFIGS = sorted(p for p in CLUSTER.glob("*.yaml") if p.name not in NOT_RAY_UP)


def load(path: Path) -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(path.read_text())
    return config


def validated(config: dict[str, Any]) -> dict[str, Any]:
    """What `ray up` does with a config before it starts a node: defaults merged in, the
    local provider's node type made, then Ray's JSON schema and consistency checks."""
    prepared = prepare_config(copy.deepcopy(config))
    validate_config(prepared)
    return prepared


def commands(config: dict[str, Any], key: str) -> list[str]:
    return [str(c) for c in config.get(key, [])]


def test_the_ray_up_configs_are_there() -> None:
    assert {p.name for p in RAY_UP_CONFIGS} >= {"local.yaml", "cloud-gpu.yaml"}


@pytest.mark.parametrize("path", RAY_UP_CONFIGS, ids=lambda p: p.name)
def test_ray_accepts_the_config(path: Path) -> None:
    prepared = validated(load(path))
    assert prepared["head_node_type"] in prepared["available_node_types"]


def test_the_validation_rejects_a_broken_config() -> None:
    broken = load(CLUSTER / "local.yaml")
    broken["auth"]["ssh_key"] = "~/.ssh/id_ed25519"  # not a field: ssh_private_key is
    with pytest.raises(Exception, match="ssh_key"):
        validated(broken)


@pytest.mark.parametrize("path", sorted(CLUSTER.glob("*.yaml")), ids=lambda p: p.name)
def test_nothing_uses_the_redis_port(path: Path) -> None:
    assert not re.search(r"(?<!\d)6379(?!\d)", path.read_text())


@pytest.mark.parametrize("path", RAY_UP_CONFIGS, ids=lambda p: p.name)
def test_the_head_runs_ray_on_6380_then_joins_the_runtime_to_it(path: Path) -> None:
    config = load(path)
    head = commands(config, "head_start_ray_commands")
    [start] = [i for i, c in enumerate(head) if "ray start --head" in c]
    assert "--port=6380" in head[start]
    assert "--autoscaling-config=~/ray_bootstrap_config.yaml" in head[start]
    assert re.search(r"--metrics-export-port=\d+", head[start])
    assert "--dashboard-host=" in head[start]
    [up] = [i for i, c in enumerate(head) if "hub up" in c]
    assert up > start
    assert "--address 127.0.0.1:6380" in head[up]
    assert "--api-host 0.0.0.0" in head[up]
    # `hub down` before `ray stop`: a restart suspends runs rather than killing them.
    [down] = [i for i, c in enumerate(head) if "hub down" in c]
    assert down < head.index("ray stop") < start

    workers = commands(config, "worker_start_ray_commands")
    [join] = [c for c in workers if "ray start" in c]
    assert "--address=$RAY_HEAD_IP:6380" in join
    assert re.search(r"--metrics-export-port=\d+", join)


@pytest.mark.parametrize("path", RAY_UP_CONFIGS, ids=lambda p: p.name)
def test_every_node_gets_the_token_and_token_mode(path: Path) -> None:
    config = load(path)
    # file_mounts reach the head from `ray up`'s machine and each worker from the head.
    assert config["file_mounts"].get("~/.ray/auth_token") == "~/.ray/auth_token"
    everywhere = " ".join(
        commands(config, "setup_commands") + config.get("docker", {}).get("run_options", [])
    )
    assert "RAY_AUTH_MODE=token" in everywhere


@pytest.mark.parametrize("path", RAY_UP_CONFIGS, ids=lambda p: p.name)
def test_setup_installs_the_runtime(path: Path) -> None:
    setup = " ".join(commands(load(path), "setup_commands"))
    assert re.search(r"pip install .*'runtime-hub\[[a-z,]*ocr[a-z,]*\]'", setup)


def test_local_config_names_head_and_workers_for_the_user_to_edit() -> None:
    config = load(CLUSTER / "local.yaml")
    provider = config["provider"]
    assert provider["type"] == "local"
    assert provider["head_ip"] and isinstance(provider["worker_ips"], list)
    assert set(config["auth"]) == {"ssh_user", "ssh_private_key"}


def _node_env(tmp_path: Path, desktop_ip: str) -> dict[str, str]:
    """Run local.yaml's node-role setup command in a shell, as a node would, with DESKTOP_IP
    set to ``desktop_ip``; return what the start commands then see."""
    if shutil.which("ip") is None:
        pytest.skip("needs `ip` (Debian package iproute2), as the cluster's nodes do")
    setup = commands(load(CLUSTER / "local.yaml"), "setup_commands")
    [role] = [c for c in setup if "DESKTOP_IP=" in c]
    script = re.sub(r"DESKTOP_IP=\S+;", f"DESKTOP_IP={desktop_ip};", role)
    home = tmp_path / desktop_ip
    home.mkdir()
    env = {"HOME": str(home), "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    subprocess.run(["bash", "-c", script], env=env, check=True, timeout=30)
    shown = subprocess.run(
        ["bash", "-c", ". ~/.runtime-hub/node.env && env"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout
    return dict(line.split("=", 1) for line in shown.splitlines() if "=" in line)


def test_local_config_advertises_desktop_on_the_display_machine_only(tmp_path: Path) -> None:
    here = _node_env(tmp_path, "127.0.0.1")  # an address of this machine
    assert json.loads(here["HUB_NODE_RESOURCES"]) == {"desktop": 1}
    assert here["DISPLAY"] == ":0"
    elsewhere = _node_env(tmp_path, "192.0.2.123")  # TEST-NET-1: nobody's
    assert json.loads(elsewhere["HUB_NODE_RESOURCES"]) == {}
    assert "DISPLAY" not in elsewhere

    config = load(CLUSTER / "local.yaml")
    for key in ("head_start_ray_commands", "worker_start_ray_commands"):
        [start] = [c for c in commands(config, key) if "ray start" in c]
        assert ". ~/.runtime-hub/node.env" in start
        assert '--resources="$HUB_NODE_RESOURCES"' in start


def test_cloud_config_has_gpu_workers_within_limits() -> None:
    config = load(CLUSTER / "cloud-gpu.yaml")
    assert config["provider"]["type"] == "aws"
    prepared = validated(config)
    types = prepared["available_node_types"]
    head = types.pop(prepared["head_node_type"])
    assert head["max_workers"] == 0 and "GPU" not in head["resources"]
    gpu = [t for t in types.values() if t["resources"].get("GPU", 0) >= 1]
    assert gpu, "a worker type with GPUs, for the OCR actors"
    for node_type in types.values():
        assert 0 <= node_type["min_workers"] <= node_type["max_workers"]
        assert node_type["max_workers"] <= config["max_workers"]
    assert sum(t["min_workers"] for t in types.values()) <= config["max_workers"]
    assert any(t["resources"].get("GPU", 0) == 0 for t in types.values()), "a CPU worker type"
    # Clusters keep history in PostgreSQL.
    env = " ".join(config["docker"]["run_options"])
    assert re.search(r"HUB_DATABASE_URL=postgresql://", env)


def test_serve_config_is_a_valid_serve_deploy_config() -> None:
    from ray.serve.schema import ServeDeploySchema

    schema = ServeDeploySchema.model_validate(load(CLUSTER / "serve.yaml"))
    [app] = schema.applications
    assert app.import_path == "serve.deployment:build"
    assert schema.http_options.port != 6379
