"""Processes and ports on this machine: what ``hub up`` and ``hub down`` need to start, find
and stop Ray's processes, and to check addresses before handing them to Ray."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import time
from pathlib import Path

from hub.errors import RuntimeUnavailable


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # An exited process whose parent is gone may linger as a zombie where nothing reaps it.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


# Ports handed out from outside the ranges others take ports from on their own: Ray's worker
# ports (10002-19999 by default) below, Serve's direct-ingress ports (30000+) and the kernel's
# ephemeral range (Linux: 32768-60999) above. A port is chosen well before its server binds
# it (hub up starts Ray, then the API's replica binds the API port seconds later); an
# ephemeral port is free only until the kernel gives it to some connection in between.
_SPARE_PORTS = range(20000, 30000)
_handed_out: set[int] = set()


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A port nobody listens on now and that nobody else is likely to take before the server
    it is for binds it: one of _SPARE_PORTS not handed out before by this process (the
    kernel's choice when that range overlaps the ephemeral one or is full)."""
    spare = range(_SPARE_PORTS.start, min(_SPARE_PORTS.stop, _ephemeral_low()))
    for _ in range(64 if spare else 0):
        port = random.choice(spare)
        if port not in _handed_out and _bindable(port):
            _handed_out.add(port)
            return port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def claim_ports(*ports: int) -> None:
    """Ports this process was given for later binding (``hub up --api-port``…): free_port
    never hands them out for something else."""
    _handed_out.update(ports)


def _bindable(port: int) -> bool:
    """Free for a listener without SO_REUSEADDR: nothing listens on it, and no connection
    (TIME-WAIT included) uses it, on any address."""
    with socket.socket() as s:
        try:
            s.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server could listen on ``host:port`` now. The servers behind these ports
    (the API's replica and Serve's proxy, uvicorn both; aiohttp for Ray's dashboard; gRPC for
    Ray's GCS) set ``SO_REUSEADDR`` before they bind, so the check does too: the TIME-WAIT
    connections a stopped runtime leaves behind for about a minute do not count as in use, a
    live listener still does (serve/deployment.py makes the replica bind so)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def reachable(address: str, timeout_s: float = 5) -> bool:
    try:
        check_reachable(address, timeout_s)
    except RuntimeUnavailable:
        return False
    return True


def check_reachable(address: str, timeout_s: float = 5) -> None:
    """Fail at once when nothing listens at a cluster address (Ray itself would retry for
    minutes)."""
    if address.startswith(("ray://", "auto")):
        return
    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except ValueError:
        raise RuntimeUnavailable(f"{address!r} is not a Ray address (HOST:PORT)") from None
    except OSError as exc:
        raise RuntimeUnavailable(
            f"no Ray cluster answers at {address}: {exc.strerror or exc}"
        ) from None


def ensure_ray_token(ray_cli: str) -> None:
    """Token authentication needs a cluster token before `ray start`; on a new machine there is
    none yet, so make one where every local process looks (~/.ray/auth_token, mode 0600)."""
    if os.environ.get("RAY_AUTH_MODE", "token") != "token" or os.environ.get("RAY_AUTH_TOKEN"):
        return
    path = Path(os.environ.get("RAY_AUTH_TOKEN_PATH") or Path.home() / ".ray" / "auth_token")
    if path.exists():
        return
    made = subprocess.run(
        [ray_cli, "get-auth-token", "--generate"], capture_output=True, text=True, timeout=120
    )
    if made.returncode != 0 or not path.exists():
        raise RuntimeUnavailable(
            f"could not create a Ray auth token at {path}: {made.stderr.strip()[-500:]}"
        )
    path.chmod(0o600)


def session_members(leader: int) -> list[int]:
    """Live processes of the session ``leader`` started (the Ray head and its workers)."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if os.getsid(int(entry.name)) == leader and alive(int(entry.name)):
                    members.append(int(entry.name))
    return members


def wait_for_log(
    path: Path, offset: int, marker: str, proc: subprocess.Popen[bytes], deadline: float
) -> None:
    while True:
        with open(path, "rb") as log:
            log.seek(offset)
            if marker.encode() in log.read():
                return
        if proc.poll() is not None:
            raise RuntimeUnavailable(f"ray start exited with code {proc.returncode}; see {path}")
        if time.monotonic() > deadline:
            terminate_session(proc.pid)
            raise RuntimeUnavailable(f"the Ray head did not come up in time; see {path}")
        time.sleep(0.2)


def terminate_session(pid: int, grace_s: float = 3) -> None:
    """Stop the Ray head started as session leader ``pid``: a polite SIGTERM to its group,
    then SIGKILL to whatever of its session is left (workers run in groups of their own)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while alive(pid) and time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.2)
    for member in session_members(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(member, signal.SIGKILL)
