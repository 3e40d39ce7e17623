"""The API's ingress settings (hub/api_deploy.py): what Ray's processes are started with."""

from __future__ import annotations

import pytest

from hub.api_deploy import (
    access_log_from_env,
    deploy_failure,
    heartbeat_from_env,
    ingress_from_env,
    ray_env,
)
from hub.errors import HubError, RuntimeUnavailable


def test_direct_ingress_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HUB_API_INGRESS", raising=False)
    assert ingress_from_env() == "direct"
    monkeypatch.setenv("HUB_API_INGRESS", " Proxy ")
    assert ingress_from_env() == "proxy"


def test_an_unknown_ingress_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_API_INGRESS", "haproxy")
    with pytest.raises(RuntimeUnavailable, match=r"HUB_API_INGRESS is 'haproxy'.*direct, proxy"):
        ingress_from_env()


def test_direct_ingress_gives_the_replica_exactly_the_api_port() -> None:
    env = ray_env("direct", 8123)
    assert env["RAY_SERVE_ENABLE_DIRECT_INGRESS"] == "1"
    # Serve allocates from range(min, max): one port, the API's.
    low, high = (int(env[f"RAY_SERVE_DIRECT_INGRESS_{b}_HTTP_PORT"]) for b in ("MIN", "MAX"))
    assert list(range(low, high)) == [8123]
    assert env["RAY_SERVE_RUN_USER_CODE_IN_SEPARATE_THREAD"] == "0"


def test_proxy_ingress_leaves_serve_s_proxy_in_front() -> None:
    env = ray_env("proxy", 8123)
    assert "RAY_SERVE_ENABLE_DIRECT_INGRESS" not in env
    assert env["RAY_SERVE_RUN_USER_CODE_IN_SEPARATE_THREAD"] == "0"


def test_the_access_log_is_off_unless_a_flag_turns_it_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HUB_API_ACCESS_LOG", raising=False)
    assert access_log_from_env() is False
    monkeypatch.setenv("HUB_API_ACCESS_LOG", "on")
    assert access_log_from_env() is True
    monkeypatch.setenv("HUB_API_ACCESS_LOG", "loud")
    with pytest.raises(HubError, match="HUB_API_ACCESS_LOG='loud'"):
        access_log_from_env()


def test_the_stream_heartbeat_is_the_api_s_default_unless_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("HUB_API_HEARTBEAT_S", raising=False)
    assert heartbeat_from_env() is None  # ApiConfig's own default (15 s)
    monkeypatch.setenv("HUB_API_HEARTBEAT_S", "2.5")
    assert heartbeat_from_env() == 2.5
    for bad in ("0", "-1", "301", "soon", "nan"):
        monkeypatch.setenv("HUB_API_HEARTBEAT_S", bad)
        with pytest.raises(RuntimeUnavailable, match=f"HUB_API_HEARTBEAT_S is '{bad}'"):
            heartbeat_from_env()


# What Serve's status says when the replica could not listen on the API port (captured from
# Ray 2.60 with the port held by another listener), shortened to the lines that matter.
_PORT_TAKEN = (
    "The deployment failed to start 3 times in a row. This may be due to a problem with its "
    "constructor or initial health check failing. See controller logs for details. Error:\n"
    '  File ".../ray/serve/_private/replica.py", line 2328, in allocate_and_start_server\n'
    "ray.serve._private.node_port_manager.NoAvailablePortError: No available ports on node "
    "d909bc for RequestProtocol.HTTP protocol."
)


def test_a_taken_api_port_is_named_with_what_to_do() -> None:
    failure = "Deploying application hub-api failed: Failed to update the deployments ['api']."
    message = deploy_failure(failure, [_PORT_TAKEN], "127.0.0.1", 8123, "direct")
    assert "the API port 127.0.0.1:8123 was taken by another program" in message
    assert "--api-port" in message


def test_another_deployment_failure_carries_the_replicas_error() -> None:
    failure = "Deploying application hub-api failed: Failed to update the deployments ['api']."
    detail = 'The deployment failed to start.\n  File "x.py"\nValueError: bad token digest\n'
    message = deploy_failure(failure, [detail], "127.0.0.1", 8123, "direct")
    assert message == f"{failure} ValueError: bad token digest"
    assert deploy_failure(failure, [], "127.0.0.1", 8123, "direct") == failure
