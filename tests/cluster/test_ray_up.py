"""A real ``ray up`` of cluster/local.yaml, with the local provider, over SSH to this machine.

The cluster config is the real file with only what a loopback run must change: the head is
127.0.0.1 with no workers, the SSH key and user are the test's, the PyPI install is skipped (the
node's "virtualenv" is this checkout's, as a shim), and the ports are free ones. SSH goes to a
private sshd (``sshd -i`` as the ProxyCommand, so no port is opened) whose sessions get a home of
their own in tmp_path: ~/.bashrc, ~/ray_bootstrap_config.yaml, ~/.ray/auth_token and
~/.runtime-hub land there, and this machine's own home and sshd config stay untouched.

Other Ray clusters may run on this machine (the test session's runtime among them), and plain
``ray stop`` (which both the config's start commands and ``ray down`` run) stops every Ray
process on a machine. The node's ``ray`` therefore turns ``ray stop`` into stopping only the
processes this test's head started (they carry a marker in their environment); everything
else goes to the real ``ray``.
"""

from __future__ import annotations

import contextlib
import getpass
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from ray.autoscaler._private.command_runner import HASH_MAX_LENGTH

from tests.conftest import free_port

pytestmark = [pytest.mark.ray_up, pytest.mark.timeout(420)]

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
RAY = str(BIN / "ray")
HUB = str(BIN / "hub")
HELLO = str(ROOT / "examples" / "hello.json")
MARKER_VAR = "HUB_RAY_UP_TEST"
INSTALL = "apt-get install -y openssh-server rsync iproute2"

# Stops what this test's head started: the processes whose environment carries
# MARKER_VAR=<value> (argv[1], argv[2]), and every process of their sessions (Ray's agents get
# an environment of their own). That is what `ray stop` means on a machine this test shares.
# SIGTERM first, as `ray stop` does, then SIGKILL. Zombies (this container's init may not reap
# them) count as gone.
STOP_MARKED = """\
import os, signal, sys, time
needle = f"{sys.argv[1]}={sys.argv[2]}".encode()
mine = os.getsid(0)
def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False
def pids():
    return [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) != os.getpid()]
def marked(pid):
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            return needle in f.read().split(b"\\0")
    except OSError:
        return False
sessions = set()
for pid in pids():
    if marked(pid):
        try:
            sessions.add(os.getsid(pid))
        except OSError:
            pass
sessions.discard(mine)
def targets():
    found = []
    for pid in pids():
        try:
            member = os.getsid(pid) in sessions
        except OSError:
            continue
        if (member or marked(pid)) and alive(pid):
            found.append(pid)
    return found
for sig, wait_s in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 2.0)):
    for pid in targets():
        try:
            os.kill(pid, sig)
        except OSError:
            pass
    deadline = time.monotonic() + wait_s
    while targets() and time.monotonic() < deadline:
        time.sleep(0.1)
"""

# The node's `ray`: this checkout's, except `ray stop` (see the module's docstring).
RAY_SHIM = """\
#!/bin/bash
if [ "$1" = stop ]; then
  exec {python} {stop_script} {var} {marker}
fi
exec {ray} "$@"
"""

# sshd's ForceCommand: the session's home is the test's, and the command runs as sent.
SESSION = """\
#!/bin/sh
export HOME={home}
cd "$HOME" || exit 1
exec /bin/bash -c "$SSH_ORIGINAL_COMMAND"
"""

SSHD_CONFIG = """\
HostKey {host_key}
AuthorizedKeysFile {authorized_keys}
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
ForceCommand {session}
PidFile none
LogLevel ERROR
"""


def _sshd() -> str:
    for candidate in (shutil.which("sshd"), "/usr/sbin/sshd"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    pytest.skip(f"a `ray up` over SSH needs sshd: {INSTALL}")


def _require_tools() -> str:
    sshd = _sshd()
    missing = [tool for tool in ("ssh", "ssh-keygen", "rsync", "ip") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"missing {', '.join(missing)}: {INSTALL}")
    if os.geteuid() == 0 and not Path("/run/sshd").is_dir():
        # sshd (as root) insists on its privilege separation directory; the Debian service
        # creates it when it starts, and nothing else uses it.
        Path("/run/sshd").mkdir(mode=0o755)
    return sshd


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _kill_matching(needle: str) -> None:
    """SIGKILL processes whose command line mentions ``needle``."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if needle in cmdline:
            with contextlib.suppress(OSError):
                os.kill(int(entry.name), signal.SIGKILL)


def _replace_port(commands: list[str], port: int, new: int) -> list[str]:
    pattern = re.compile(rf"(?<!\d){port}(?!\d)")
    assert any(pattern.search(c) for c in commands), f"no command uses port {port}"
    return [pattern.sub(str(new), c) for c in commands]


class Loopback:
    """The node (a home and an sshd reached through ProxyCommand) and the machine `ray up`
    runs on (a home of its own, with Ray's token in it)."""

    def __init__(self, base: Path, sshd: str) -> None:
        self.base = base
        self.node_home = base / "node"
        self.launcher_home = base / "launcher"
        self.marker = uuid.uuid4().hex
        self.cluster_name = f"hub-ray-up-test-{self.marker[:8]}"
        for d in (self.node_home, self.launcher_home):
            d.mkdir()
        ssh = base / "ssh"
        ssh.mkdir(mode=0o700)
        self.key = ssh / "id_ed25519"
        for path in (ssh / "host_key", self.key):
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True
            )
        (ssh / "authorized_keys").write_text((ssh / "id_ed25519.pub").read_text())
        session = ssh / "session.sh"
        session.write_text(SESSION.format(home=self.node_home))
        session.chmod(0o755)
        self.sshd_config = ssh / "sshd_config"
        self.sshd_config.write_text(
            SSHD_CONFIG.format(
                host_key=ssh / "host_key",
                authorized_keys=ssh / "authorized_keys",
                session=session,
            )
        )
        self.proxy_command = f"{sshd} -i -f {self.sshd_config}"
        # The node's "virtualenv" (the config puts ~/runtime-hub-venv/bin on PATH): this
        # checkout's hub, and the `ray` that keeps `ray stop` to this test's processes.
        self.stop_script = base / "stop_marked.py"
        self.stop_script.write_text(STOP_MARKED)
        venv_bin = self.node_home / "runtime-hub-venv" / "bin"
        venv_bin.mkdir(parents=True)
        for name in ("hub", "python"):
            (venv_bin / name).symlink_to(BIN / name)
        shim = venv_bin / "ray"
        shim.write_text(
            RAY_SHIM.format(
                python=sys.executable,
                stop_script=self.stop_script,
                var=MARKER_VAR,
                marker=self.marker,
                ray=RAY,
            )
        )
        shim.chmod(0o755)
        # `ray up` runs from a home of its own: the config's file_mounts copies its
        # ~/.ray/auth_token to the node, as it does from a user's machine.
        made = subprocess.run(
            [RAY, "get-auth-token", "--generate"],
            env=self.launcher_env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert made.returncode == 0, made.stderr
        self.token_file = self.launcher_home / ".ray" / "auth_token"
        assert self.token_file.exists()

    def launcher_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_", "HUB_"))}
        env["HOME"] = str(self.launcher_home)
        return env

    def client_env(self) -> dict[str, str]:
        """`hub` on this machine, reading what `hub up --address` wrote on the node."""
        env = self.launcher_env()
        env.update(
            HUB_HOME=str(self.node_home / ".runtime-hub"),
            RAY_AUTH_MODE="token",
            RAY_AUTH_TOKEN_PATH=str(self.token_file),
        )
        return env

    def stop_marked(self) -> None:
        subprocess.run(
            [sys.executable, str(self.stop_script), MARKER_VAR, self.marker],
            timeout=60,
            check=False,
        )

    def ssh_control_dir(self) -> Path:
        """Where Ray's ssh keeps this cluster's master connections (as command_runner names
        it): each master, with its `sshd -i`, would otherwise linger for ControlPersist's 10 s."""
        user = hashlib.sha256(getpass.getuser().encode()).hexdigest()[:HASH_MAX_LENGTH]
        cluster = hashlib.sha256(self.cluster_name.encode()).hexdigest()[:HASH_MAX_LENGTH]
        return Path(f"/tmp/ray_ssh_{user}/{cluster}")

    def cleanup(self) -> None:
        self.stop_marked()
        _kill_matching(str(self.ssh_control_dir()))
        _kill_matching(str(self.sshd_config))
        shutil.rmtree(self.ssh_control_dir(), ignore_errors=True)
        for suffix in ("state", "lock"):
            Path(f"/tmp/ray/cluster-{self.cluster_name}.{suffix}").unlink(missing_ok=True)
        # `ray exec` and `ray down` cache the resolved config in /tmp (ray-config-<sha256>).
        for cached in Path(tempfile.gettempdir()).glob("ray-config-*"):
            with contextlib.suppress(OSError):
                if self.cluster_name in cached.read_text():
                    cached.unlink()


def loopback_config(loop: Loopback, ports: dict[str, int]) -> dict[str, Any]:
    """cluster/local.yaml, changed only where a run against this machine must differ."""
    config = yaml.safe_load((ROOT / "cluster" / "local.yaml").read_text())
    config["cluster_name"] = loop.cluster_name
    config["provider"] = {"type": "local", "head_ip": "127.0.0.1", "worker_ips": []}
    config["auth"] = {
        "ssh_user": getpass.getuser(),
        "ssh_private_key": str(loop.key),
        "ssh_proxy_command": loop.proxy_command,
    }
    assert config["file_mounts"] == {"~/.ray/auth_token": "~/.ray/auth_token"}

    setup = [c for c in config["setup_commands"] if "pip install" not in c]
    assert len(setup) == len(config["setup_commands"]) - 1, "one command installs from PyPI"
    # This node is the one with the display: the desktop resource must reach Ray.
    setup = [re.sub(r"DESKTOP_IP=\S+;", "DESKTOP_IP=127.0.0.1;", c) for c in setup]
    assert any("DESKTOP_IP=127.0.0.1;" in c for c in setup)
    config["setup_commands"] = setup

    head = list(config["head_start_ray_commands"])
    for default, port in (
        (6380, ports["ray"]),
        (8265, ports["dashboard"]),
        (8080, ports["metrics"]),
        (8000, ports["api"]),
    ):
        head = _replace_port(head, default, port)
    head = [c.replace("0.0.0.0", "127.0.0.1") for c in head]
    [start] = [i for i, c in enumerate(head) if "ray start --head" in c]
    # Ray's fixed default ports might be another cluster's here; the marker lets `ray stop`
    # find this head's processes (Ray's workers inherit the raylet's environment).
    head[start] = head[start].replace(
        "ray start --head",
        f"export {MARKER_VAR}={loop.marker}; ray start --head"
        f" --ray-client-server-port={ports['client']}"
        f" --dashboard-agent-listen-port={ports['agent']}",
    )
    config["head_start_ray_commands"] = head
    return config


@pytest.fixture()
def loopback(tmp_path: Path) -> Iterator[Loopback]:
    sshd = _require_tools()
    loop = Loopback(tmp_path, sshd)
    try:
        yield loop
    finally:
        loop.cleanup()


def _run(
    args: list[str], env: dict[str, str], timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout)


def _hub_status(loop: Loopback) -> dict[str, Any]:
    status = _run([HUB, "status", "--json"], loop.client_env(), timeout=120)
    assert status.returncode == 0, status.stdout + status.stderr
    data: dict[str, Any] = json.loads(status.stdout)
    return data


_NAMED_ACTORS = """
import json, sys, ray
ray.init(address=sys.argv[1], logging_level="ERROR", log_to_driver=False)
print(json.dumps(ray.util.list_named_actors(all_namespaces=True)))
"""


def _runtime_actors(loop: Loopback, address: str) -> set[str]:
    """The runtime's named actors on the cluster: its namespace's, and its API's replicas."""
    from serve import APP_NAME

    listed = _run([sys.executable, "-c", _NAMED_ACTORS, address], loop.client_env(), timeout=120)
    assert listed.returncode == 0, listed.stderr[-3000:]
    actors = json.loads(listed.stdout.strip().splitlines()[-1])
    return {
        f"{a['namespace']}/{a['name']}"
        for a in actors
        if a["namespace"] == "runtime-hub" or f"::{APP_NAME}#" in a["name"]
    }


def test_ray_up_starts_the_runtime_and_ray_down_stops_ray(
    loopback: Loopback, tmp_path: Path
) -> None:
    import httpx

    loop = loopback
    ports = {
        name: free_port() for name in ("ray", "dashboard", "metrics", "api", "client", "agent")
    }
    config_path = tmp_path / "cluster.yaml"
    config_path.write_text(yaml.safe_dump(loopback_config(loop, ports)))
    launcher = loop.launcher_env()
    cluster_up = True
    try:
        up = _run([RAY, "up", "-y", "--no-config-cache", str(config_path)], launcher, 300)
        assert up.returncode == 0, (up.stdout + up.stderr)[-6000:]
        assert _listening(ports["ray"])
        assert (loop.node_home / ".ray" / "auth_token").read_text() == (
            loop.token_file.read_text()
        ), "file_mounts carries Ray's token to the node"

        # `hub up --address` wrote runtime.json on the node: a client on this machine joins.
        info = json.loads((loop.node_home / ".runtime-hub" / "runtime.json").read_text())
        assert info["address"] == f"127.0.0.1:{ports['ray']}"
        assert info["pid"] is None  # joined, not started: Ray is the cluster's
        status = _hub_status(loop)
        assert status["up"] is True
        [node] = [n for n in status["nodes"] if n["alive"]]
        assert node["head"] and node["resources"].get("desktop") == 1  # DESKTOP_IP is this node
        assert node["metrics_url"].endswith(f":{ports['metrics']}/metrics")
        assert {"supervisor", "recorder", "api"} <= set(node["roles"])

        run = _run([HUB, "run", HELLO, "-i", "name=Ada", "--json"], loop.client_env())
        assert run.returncode == 0, run.stdout + run.stderr
        record = json.loads(run.stdout)
        assert record["status"] == "completed"
        assert record["outputs"]["greeting"]["text"] == "Hello, Ada!"

        # The HTTP API is up on the head, with the token `hub up` made there (read as the
        # README says).
        shown_token = _run(
            [RAY, "exec", str(config_path), "cat ~/.runtime-hub/api.token"], launcher
        )
        assert shown_token.returncode == 0, shown_token.stderr[-2000:]
        token = shown_token.stdout.strip().splitlines()[-1].strip()
        assert token == (loop.node_home / ".runtime-hub" / "api.token").read_text().strip()
        url = f"http://127.0.0.1:{ports['api']}/api/v1/executions/{record['id']}"
        assert httpx.get(url, timeout=30).status_code == 401
        shown = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert shown.status_code == 200 and shown.json()["status"] == "completed"

        # `hub down` on the head (as the README says, before `ray down`) stops the runtime:
        # its actors and its API go, Ray stays.
        address = f"127.0.0.1:{ports['ray']}"
        running = _runtime_actors(loop, address)
        assert {"runtime-hub/supervisor", "runtime-hub/recorder"} <= running, running
        assert any("SERVE_REPLICA" in name for name in running), running
        down = _run([RAY, "exec", str(config_path), "hub down"], launcher)
        assert down.returncode == 0, (down.stdout + down.stderr)[-4000:]
        assert not (loop.node_home / ".runtime-hub" / "runtime.json").exists()
        assert _listening(ports["ray"])
        assert _runtime_actors(loop, address) == set()

        teardown = _run([RAY, "down", "-y", str(config_path)], launcher)
        cluster_up = False
        assert teardown.returncode == 0, (teardown.stdout + teardown.stderr)[-4000:]
        deadline = time.monotonic() + 30
        while _listening(ports["ray"]) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _listening(ports["ray"]), "ray down left Ray running on the head"
    finally:
        if cluster_up:  # the fixture then stops whatever this leaves
            with contextlib.suppress(subprocess.TimeoutExpired):
                _run([RAY, "down", "-y", str(config_path)], launcher, 120)
