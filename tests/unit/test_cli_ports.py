"""``hub up``'s free-port check (hub._processes.port_free) against real sockets on loopback.

The servers behind the runtime's ports (uvicorn for the API, aiohttp for Ray's dashboard, gRPC
for the GCS) set SO_REUSEADDR before they bind, so a port whose last connections linger in
TIME-WAIT after ``hub down`` is one they can listen on again at once; the check must agree.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub import _processes
from hub._processes import claim_ports, free_port, port_free

TIME_WAIT = "06"  # the state column of /proc/net/tcp


def _states(port: int) -> set[str]:
    """The TCP states of the IPv4 sockets whose local port is ``port``."""
    states = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        if int(local.rsplit(":", 1)[1], 16) == port:
            states.add(state)
    return states


def _server_can_listen(port: int) -> bool:
    """What uvicorn and aiohttp do on start: SO_REUSEADDR, bind, listen."""
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            server.bind(("127.0.0.1", port))
            server.listen()
        except OSError:
            return False
    return True


def _listener(reuse: bool = True, host: str = "127.0.0.1") -> socket.socket:
    listener = socket.socket()
    if reuse:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, 0))
    listener.listen()
    return listener


def _leave_time_wait(listener_reuse: bool) -> int:
    """A port whose server answered a connection, closed it first (as an HTTP server does on
    ``Connection: close``, or when it is stopped) and stopped listening: the server's end of the
    connection stays in TIME-WAIT for a minute."""
    listener = _listener(listener_reuse)
    port = int(listener.getsockname()[1])
    client = socket.create_connection(("127.0.0.1", port))
    conn, _ = listener.accept()
    conn.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
    conn.close()
    client.settimeout(5)
    while client.recv(1024):  # read to the server's FIN, then close our end
        pass
    client.close()
    listener.close()
    assert TIME_WAIT in _states(port), f"no TIME-WAIT socket on port {port}: {_states(port)}"
    return port


@pytest.fixture
def live_listener() -> Iterator[socket.socket]:
    listener = _listener()
    yield listener
    listener.close()


def test_a_port_left_in_time_wait_by_a_stopped_server_is_free() -> None:
    port = _leave_time_wait(listener_reuse=True)
    assert port_free(port)
    assert _server_can_listen(port)  # and a server really does start there


@pytest.mark.parametrize("listener_reuse", [True, False])
def test_the_check_agrees_with_how_the_servers_bind(listener_reuse: bool) -> None:
    # A server that bound without SO_REUSEADDR leaves TIME-WAIT that does block a new one
    # (a kernel rule): the check says so too, rather than letting Ray fail later.
    port = _leave_time_wait(listener_reuse)
    assert port_free(port) == _server_can_listen(port)


def test_a_port_with_a_live_listener_is_busy(live_listener: socket.socket) -> None:
    port = int(live_listener.getsockname()[1])
    assert not port_free(port)


def test_a_port_with_a_live_listener_with_open_connections_is_busy(
    live_listener: socket.socket,
) -> None:
    port = int(live_listener.getsockname()[1])
    client = socket.create_connection(("127.0.0.1", port))
    conn, _ = live_listener.accept()
    try:
        assert not port_free(port)
    finally:
        conn.close()
        client.close()


def test_a_listener_on_every_address_makes_loopback_busy() -> None:
    listener = _listener(host="0.0.0.0")
    try:
        assert not port_free(int(listener.getsockname()[1]))
    finally:
        listener.close()


# free_port: a port chosen now for a server that binds it seconds later (hub up's API port,
# the test session's ports) must not be one the kernel hands to a connection in between: CI
# once lost its whole session runtime when the API replica found its port taken.


def test_handed_out_ports_are_free_distinct_and_outside_the_ranges_others_take_from() -> None:
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    ports = [free_port() for _ in range(40)]
    assert len(set(ports)) == len(ports)
    for port in ports:
        assert 20000 <= port < min(30000, low), port  # above Ray's worker ports (10002-19999)
        assert _server_can_listen(port)


def test_a_port_someone_listens_on_is_never_handed_out(monkeypatch: pytest.MonkeyPatch) -> None:
    busy = free_port()  # a spare port: its neighbour is one no connection holds
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", busy))
        listener.listen()
        monkeypatch.setattr(_processes, "_SPARE_PORTS", range(busy, busy + 2))
        monkeypatch.setattr(_processes, "_handed_out", set())
        monkeypatch.setattr(_processes, "_ephemeral_low", lambda: 65536)
        assert {free_port()} == {busy + 1}
        # Both taken now (one listened on, one handed out): the kernel's choice instead.
        assert free_port() not in (busy, busy + 1)


def test_where_the_spare_range_is_ephemeral_the_kernel_chooses(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    monkeypatch.setattr(_processes, "_ephemeral_low", lambda: 1024)  # e.g. 1024-65535
    port = free_port()
    assert low <= port <= high  # what the kernel hands out for port 0
    assert _server_can_listen(port)


def test_a_port_given_for_later_is_not_handed_out_for_something_else(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    given = free_port()
    monkeypatch.setattr(_processes, "_SPARE_PORTS", range(given, given + 2))
    monkeypatch.setattr(_processes, "_handed_out", set())
    monkeypatch.setattr(_processes, "_ephemeral_low", lambda: 65536)
    claim_ports(given)  # hub up --api-port <given>: the replica binds it seconds later
    assert free_port() == given + 1
