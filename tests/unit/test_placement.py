"""Placement decisions and the cluster view of ``hub status``, without a cluster."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.cluster_view import describe, node_views, role, where
from hub.errors import HubError
from hub.placement import (
    HEAD_RESOURCE,
    NodeWatch,
    Placement,
    api_placement,
    check_pool_resources,
    desktop_placement,
    execution_placement,
    ocr_placement,
    pool_placement,
    recorder_placement,
    runner_reaches_store,
    spread_over,
    supervisor_placement,
)
from hub.settings import settings_from_env


def test_a_sqlite_recorder_is_pinned_to_the_store_node_and_postgres_goes_anywhere() -> None:
    assert recorder_placement("sqlite:////home/u/hub.db", "n1") == Placement(node_id="n1")
    assert recorder_placement("sqlite+pysqlite:///x.db", "n1").node_id == "n1"
    assert recorder_placement("postgresql+psycopg://h/db", "n1") == Placement()
    assert recorder_placement("sqlite:///x.db", None) == Placement()


def test_the_supervisor_is_pinned_to_the_head_and_only_prefers_another_node() -> None:
    assert supervisor_placement("n1") == Placement(node_id="n1", soft=True)
    assert supervisor_placement("head", on_head=True) == Placement(node_id="head")


def test_pools_spread_and_ask_for_their_configured_resources() -> None:
    plain = pool_placement("http", {})
    assert plain.ray_options() == {"scheduling_strategy": "SPREAD"}
    asked = pool_placement("http", {"http": {"egress": 0.5, "CPU": 1, "GPU": 0.25}})
    assert asked.ray_options() == {
        "num_cpus": 1,
        "num_gpus": 0.25,
        "resources": {"egress": 0.5},
        "scheduling_strategy": "SPREAD",
    }
    assert execution_placement().ray_options() == {"scheduling_strategy": "SPREAD"}


def test_a_node_counts_as_joined_once_seen_alive_twice_in_a_row() -> None:
    watch = NodeWatch()
    none: frozenset[str] = frozenset()
    assert watch.look(frozenset({"head"})) == (none, none)  # the first look: none joined
    assert watch.look(frozenset({"head", "w1"})) == (none, none)  # w1 just registered
    assert watch.look(frozenset({"head", "w1"})) == ({"w1"}, none)
    assert watch.look(frozenset({"head", "w1"})) == (none, none)  # told once
    assert watch.look(frozenset({"head", "w2"})) == (none, {"w1"})  # w1 left, w2 is new
    assert watch.look(frozenset({"head", "w2", "w3"})) == ({"w2"}, none)
    assert watch.look(frozenset({"head", "w3"})) == ({"w3"}, {"w2"})
    assert watch.known == {"head", "w3"}
    assert watch.look(frozenset({"head", "w4"})) == (none, {"w3"})
    assert watch.look(frozenset({"head"})) == (none, none)  # w4 left before it settled


def test_warm_actors_made_anew_go_round_robin_joined_nodes_first_gpu_nodes_last() -> None:
    alive, none = frozenset({"head", "w1", "w2"}), frozenset[str]()
    assert spread_over(frozenset({"w2"}), alive, 4, none) == ["w2", "head", "w1", "w2"]
    assert spread_over(frozenset({"w1", "w2"}), alive, 2, none) == ["w1", "w2"]
    assert spread_over(none, alive, 2, none) == ["head", "w1"]  # a node left: all anew
    assert spread_over(frozenset({"w2"}), alive, 3, frozenset({"w2"})) == ["head", "w1", "head"]
    assert spread_over(none, frozenset({"g"}), 2, frozenset({"g"})) == ["g", "g"]  # GPUs only
    assert spread_over(none, none, 3, none) == []
    assert execution_placement("w1") == Placement(node_id="w1")
    assert execution_placement() == Placement(spread=True)


def test_desktop_ocr_and_api_ask_for_their_place() -> None:
    assert desktop_placement().ray_options() == {"resources": {"desktop": 1}}
    assert ocr_placement(0.25).ray_options() == {"num_gpus": 0.25}
    assert ocr_placement(0).ray_options() == {}
    assert api_placement().ray_options() == {"resources": {HEAD_RESOURCE: 0.001}}


def test_a_pinned_placement_does_not_also_spread() -> None:
    assert "scheduling_strategy" not in Placement(node_id="n", spread=True).ray_options()


def test_bad_pool_resources_are_refused_naming_each_problem() -> None:
    check_pool_resources({"http": {"egress": 1}}, ["http", "set"], ["set"])
    with pytest.raises(HubError) as caught:
        check_pool_resources(
            {
                "htp": {"x": 1},
                "set": {"x": 1},
                "http": {"egress": 0, "desktop": 1, "": 1, "big": float("inf")},
            },
            ["http", "set"],
            ["set"],
        )
    message = str(caught.value)
    assert "node_pool_resources['htp']: no node type 'htp'" in message
    assert "set runs inside the ExecutionActor" in message
    assert "['egress']: 0 is not a positive number" in message
    assert "'desktop' belongs to the DesktopActor" in message
    assert "an empty resource name" in message
    assert "['big']: inf is not a positive number" in message


def test_pool_resources_come_from_the_environment_as_json() -> None:
    settings = settings_from_env({"HUB_NODE_POOL_RESOURCES": '{"http": {"egress": 0.01}}'})
    assert settings.node_pool_resources == {"http": {"egress": 0.01}}
    with pytest.raises(HubError, match="HUB_NODE_POOL_RESOURCES is not valid JSON"):
        settings_from_env({"HUB_NODE_POOL_RESOURCES": "{http: 1}"})


def test_actor_names_map_to_roles() -> None:
    assert role("node-pool:http:3") == "node-pool:http"
    assert role("node-pool:test.echo:ab12.4") == "node-pool:test.echo"
    assert role("execution:12") == "execution"
    assert role("ocr:2") == "ocr"
    assert role("SERVE_REPLICA::hub-api#api#x1") == "api"
    assert role("supervisor") == "supervisor"
    assert role("someone-else") is None
    assert role("SERVE_CONTROLLER_ACTOR") is None


def test_node_views_place_each_actor_on_its_node() -> None:
    nodes = [
        {
            "NodeID": "w" * 56,
            "Alive": True,
            "NodeManagerAddress": "10.0.0.2",
            "Resources": {"CPU": 4.0, "desktop": 1.0, "node:10.0.0.2": 1.0, "memory": 9.0},
            "MetricsExportPort": 9100,
        },
        {
            "NodeID": "h" * 56,
            "Alive": True,
            "NodeManagerAddress": "10.0.0.1",
            "Resources": {"CPU": 2.0, HEAD_RESOURCE: 1.0},
            "MetricsExportPort": 9000,
        },
    ]
    actors = [
        {"name": "supervisor", "node_id": "h" * 56, "state": "ALIVE"},
        {"name": "recorder", "node_id": "h" * 56, "state": "ALIVE"},
        {"name": "desktop", "node_id": "w" * 56, "state": "ALIVE"},
        {"name": "node-pool:http:1", "node_id": "w" * 56, "state": "ALIVE"},
        {"name": "node-pool:http:2", "node_id": "w" * 56, "state": "ALIVE"},
        {"name": "execution:1", "node_id": "w" * 56, "state": "DEAD"},
        {"name": "unrelated", "node_id": "w" * 56, "state": "ALIVE"},
    ]
    views = node_views(nodes, actors)
    assert [v["head"] for v in views] == [True, False]  # the head first
    head, worker = views
    assert head["roles"] == {"recorder": 1, "supervisor": 1}
    assert worker["roles"] == {"desktop": 1, "node-pool:http": 2}
    assert worker["metrics_url"] == "http://10.0.0.2:9100/metrics"
    assert where(views, "desktop") == "w" * 56 and where(views, "api") is None
    lines = describe(views)
    assert lines[0].startswith("hhhhhhhhhhhh 10.0.0.1 (head)  CPU 2")
    assert "runs: recorder, supervisor" in lines[1]
    assert any("CPU 4, desktop 1" in line and "memory" not in line for line in lines)
    assert "    runs: desktop, node-pool:http x2" in lines


# --- hub up --address / hub down of a joined cluster, up to where Ray would be called ---------


def closed_address() -> str:
    from hub._processes import free_port

    return f"127.0.0.1:{free_port()}"  # nothing listens there


def test_joining_an_address_where_nothing_listens_fails_at_once(tmp_path: Path) -> None:
    from hub.errors import RuntimeUnavailable
    from hub.runtime import start_background

    address = closed_address()
    with pytest.raises(RuntimeUnavailable, match=f"no Ray cluster answers at {address}"):
        start_background(tmp_path, address=address)
    with pytest.raises(RuntimeUnavailable, match="not a Ray address"):
        start_background(tmp_path, address="somewhere")
    assert not (tmp_path / "runtime.json").exists()


def test_joining_with_desktop_says_where_the_resource_is_declared(tmp_path: Path) -> None:
    from hub.errors import RuntimeUnavailable
    from hub.runtime import start_background

    with pytest.raises(RuntimeUnavailable, match="--resources '\\{\"desktop\": 1\\}'"):
        start_background(tmp_path, address=closed_address(), desktop=True)


def test_hub_up_refuses_pool_resources_for_unknown_node_types(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hub.errors import RuntimeUnavailable
    from hub.runtime import start_background

    monkeypatch.setenv("HUB_NODE_POOL_RESOURCES", '{"htttp": {"edge": 1}}')
    with pytest.raises(RuntimeUnavailable, match=r"no node type 'htttp'.*HUB_NODE_POOL_RESOURCES"):
        start_background(tmp_path, address=closed_address())


def test_a_joined_runtime_whose_cluster_is_gone_is_down_at_once(tmp_path: Path) -> None:
    from hub.records import utcnow
    from hub.runtime import RuntimeInfo, read_runtime, runtime_file, stop_background

    info = RuntimeInfo(
        address=closed_address(),
        dashboard_url=None,
        pid=None,
        database_url="sqlite:///x.db",
        home=str(tmp_path),
        started_at=utcnow(),
    )
    runtime_file(tmp_path).write_text(info.model_dump_json())
    assert read_runtime(tmp_path) == info  # no process of its own to check: kept
    assert stop_background(tmp_path) == info
    assert not runtime_file(tmp_path).exists()


def test_pools_of_enabled_families_are_made_at_start_unless_pinned_to_resources() -> None:
    from actors._resources import ResourcePools

    class Pools(ResourcePools):
        def __init__(self, env: dict[str, str]) -> None:
            self.settings = settings_from_env(env)
            self.init_resources()

        def _new_node_actor(self, node_type: str) -> str:  # the names, not Ray actors
            return f"{node_type}-actor"

    assert Pools({}).prewarm_pools() == []  # code and shell are off by default
    both = {"HUB_ENABLE_CODE_NODES": "1", "HUB_ENABLE_SHELL_NODES": "1"}
    pools = Pools(both)
    assert pools.prewarm_pools() == ["code", "shell"]
    assert pools.pools == {"code": ["code-actor"], "shell": ["shell-actor"]}
    # A pool pinned to nodes with a resource waits for its first step: the node may join later.
    pinned = Pools({**both, "HUB_NODE_POOL_RESOURCES": '{"shell": {"edge": 0.1}}'})
    assert pinned.prewarm_pools() == ["code"]


def test_a_runner_writes_its_steps_itself_only_where_it_reaches_the_store() -> None:
    pg = "postgresql://hub@db.internal/hub"
    assert runner_reaches_store(pg, "worker", "head")
    assert runner_reaches_store("sqlite:////var/hub/hub.db", "head", "head")
    assert not runner_reaches_store("sqlite:////var/hub/hub.db", "worker", "head")
    for memory in ("sqlite://", "sqlite:///:memory:", "sqlite:///file:x?mode=memory&uri=true"):
        assert not runner_reaches_store(memory, "head", "head"), memory
