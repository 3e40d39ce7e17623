"""A multi-node Ray cluster on one machine, for tests and demos: a head started by ``hub up``
(the supervisor, the Recorder and the API) and worker nodes joined with ``ray start``, each
with resources of its own. Ray never listens on 6379 (Redis's port); every process uses the
same ``RAY_AUTH_MODE`` and token.

    python cluster/local_cluster.py up --worker '{"desktop": 1}' --worker '{"egress": 1}'
    python cluster/local_cluster.py status
    python cluster/local_cluster.py down

The cluster's state (ports, worker process ids) is kept in ``HUB_HOME/local-cluster.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent


def _free_port() -> int:
    from hub._processes import free_port

    return free_port()


@dataclass
class Worker:
    resources: dict[str, float]
    pid: int
    num_cpus: float = 1
    num_gpus: float = 0
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class LocalCluster:
    """One head and its workers on this machine. ``env`` is the environment of every process
    (HUB_HOME, HUB_ settings); the head's ``hub up`` reads its settings from it."""

    home: Path
    env: dict[str, str] = field(repr=False)
    port: int = 0
    api_port: int = 0
    dashboard_port: int = 0
    workers: list[Worker] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        # The worker processes this object started, to reap them when they stop (not saved).
        self.processes: dict[int, subprocess.Popen[bytes]] = {}

    @classmethod
    def create(cls, home: Path, env: Mapping[str, str] | None = None) -> LocalCluster:
        full = dict(os.environ if env is None else env)
        full.update(HUB_HOME=str(home), RAY_AUTH_MODE=full.get("RAY_AUTH_MODE", "token"))
        return cls(home=home, env=full)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def up(self, head_args: tuple[str, ...] = (), timeout_s: float = 300) -> dict[str, Any]:
        """Start the head with ``hub up`` on free ports (never 6379)."""
        if self.exists(self.home):
            raise RuntimeError(
                f"a local cluster already runs with HUB_HOME={self.home}: stop it first "
                f"(python cluster/local_cluster.py down)"
            )
        self.port = self.port or _free_port()
        self.api_port = self.api_port or _free_port()
        self.dashboard_port = self.dashboard_port or _free_port()
        ports = [
            f"--port={self.port}",
            f"--api-port={self.api_port}",
            f"--dashboard-port={self.dashboard_port}",
        ]
        done = self.hub("up", *ports, *head_args, "--json", timeout_s=timeout_s)
        self.info = json.loads(done.stdout)
        self.save()
        return self.info

    def add_worker(
        self,
        resources: Mapping[str, float] | None = None,
        *,
        num_cpus: float = 1,
        num_gpus: float = 0,
        env: Mapping[str, str] | None = None,
        timeout_s: float = 120,
    ) -> Worker:
        """Join a worker node with ``resources`` (and ``env`` on top of the cluster's, say a
        DISPLAY); returns once the head counts it alive. ``num_gpus`` declares GPUs to Ray
        whether or not the machine has them: Ray places by the count."""
        # By node id, not by count: a node killed just before may be declared dead while this
        # one joins, and the count then never rises above what it was.
        before = {n["node_id"] for n in self.alive_nodes()}
        worker_env = {**self.env, **(env or {})}
        proc = subprocess.Popen(
            [
                str(BIN / "ray"),
                "start",
                f"--address={self.address}",
                "--block",
                f"--num-cpus={num_cpus:g}",
                f"--num-gpus={num_gpus:g}",
                f"--resources={json.dumps(dict(resources or {}))}",
                "--node-ip-address=127.0.0.1",
                f"--metrics-export-port={_free_port()}",
                f"--dashboard-agent-listen-port={_free_port()}",
                "--disable-usage-stats",
            ],
            env=worker_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        worker = Worker(dict(resources or {}), proc.pid, num_cpus, num_gpus, dict(env or {}))
        self.processes[proc.pid] = proc
        self.workers.append(worker)
        self.save()
        deadline = time.monotonic() + timeout_s
        while not {n["node_id"] for n in self.alive_nodes()} - before:
            if proc.poll() is not None:
                raise RuntimeError(f"ray start for a worker exited with code {proc.returncode}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"the worker node did not join in {timeout_s:g}s")
            time.sleep(0.5)
        return worker

    def kill_worker(self, worker: Worker) -> None:
        """Stop a worker node at once (SIGKILL to its raylet and its workers), as a machine
        that dies would."""
        from hub._processes import terminate_session

        terminate_session(worker.pid, grace_s=0)
        self._reap(worker)
        self.workers.remove(worker)
        self.save()

    def _reap(self, worker: Worker) -> None:
        proc = self.processes.pop(worker.pid, None)
        if proc is not None:
            proc.wait(timeout=30)

    def status(self) -> dict[str, Any]:
        out = self.hub("status", "--json").stdout
        # The document first: right after a node is killed, something else has been seen on
        # stdout after it (CI, once; not yet traced to its source: see issue 13's note).
        document, _ = json.JSONDecoder().raw_decode(out.lstrip())
        return document  # type: ignore[no-any-return]

    def alive_nodes(self) -> list[dict[str, Any]]:
        return [n for n in self.status().get("nodes", []) if n["alive"]]

    def down(self) -> None:
        """``hub down`` on the head, then stop every worker node."""
        from hub._processes import terminate_session

        self.hub("down", check=False)
        for worker in list(self.workers):
            terminate_session(worker.pid)
            self._reap(worker)
        self.workers.clear()
        self.state_file().unlink(missing_ok=True)

    def hub(
        self, *args: str, timeout_s: float = 120, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [str(BIN / "hub"), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )
        if check and done.returncode != 0:
            raise RuntimeError(f"hub {' '.join(args)} failed: {done.stderr.strip()}")
        return done

    def state_file(self) -> Path:
        return self.home / "local-cluster.json"

    @staticmethod
    def exists(home: Path) -> bool:
        return (home / "local-cluster.json").exists()

    def save(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        state = {k: v for k, v in asdict(self).items() if k not in ("env", "home")}
        self.state_file().write_text(json.dumps(state, indent=2))

    @classmethod
    def load(cls, home: Path) -> LocalCluster:
        cluster = cls.create(home)
        state = json.loads(cluster.state_file().read_text())
        workers = [Worker(**w) for w in state.pop("workers")]
        for key, value in state.items():
            setattr(cluster, key, value)
        cluster.workers = workers
        return cluster


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start a head (hub up) and worker nodes")
    up.add_argument(
        "--worker",
        action="append",
        default=[],
        metavar="JSON",
        help="a worker node and its resources, e.g. '{\"desktop\": 1}' (repeatable)",
    )
    up.add_argument("--desktop", action="store_true", help="the head advertises desktop: 1")
    sub.add_parser("status", help="hub status of the cluster")
    sub.add_parser("down", help="hub down, then stop the worker nodes")
    args = parser.parse_args(argv)

    from hub.settings import hub_home

    home = hub_home()
    if args.command == "up":
        cluster = LocalCluster.create(home)
        info = cluster.up(("--desktop",) if args.desktop else ())
        for spec in args.worker:
            cluster.add_worker(json.loads(spec))
        print(f"head at {cluster.address}, api {info['api_url']}")
        print(f"dashboard {info['dashboard_url']}")
        print(f"{len(cluster.workers)} worker node(s); stop with: python {sys.argv[0]} down")
    elif not LocalCluster.exists(home):
        print(f"no local cluster in {home}")
    elif args.command == "status":
        print(LocalCluster.load(home).hub("status").stdout, end="")
    else:
        LocalCluster.load(home).down()
        print("local cluster stopped")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
