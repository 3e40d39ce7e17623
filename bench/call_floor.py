"""What one Ray actor call costs, by the kind of caller and callee (issue #16). Reports;
asserts nothing.

    .venv/bin/python bench/call_floor.py            # about a minute; --calls N

A pooled action step is at least one call from an async actor (the ExecutionActor) to an async
actor (the node actor); bench/peers.py compares it with a call from a driver to a plain (sync)
actor. This bench measures both, and the kinds between, on a fresh local Ray: the wall time a
call takes when made one after another, and the CPU each side spends on it (``/proc`` through
psutil), so the floor under a step is visible.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import threading
import time
from typing import Any

import psutil
import ray


@ray.remote(num_cpus=0)
class Plain:
    def noop(self, x: Any) -> Any:
        return x

    def pid(self) -> int:
        return os.getpid()


@ray.remote(num_cpus=0, max_concurrency=100)
class Async:
    async def noop(self, x: Any) -> Any:
        return x

    async def pid(self) -> int:
        return os.getpid()


async def _echo(x: Any) -> Any:
    return x


@ray.remote(num_cpus=0, max_concurrency=64)
class LoopThreaded:
    """A threaded actor that runs async functions on an event loop thread of its own, as the
    node actors do (actors/node_pool.py)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()

    def noop(self, x: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(_echo(x), self.loop).result()

    def pid(self) -> int:
        return os.getpid()


@ray.remote(num_cpus=0)
class Caller:
    """An async actor that calls another one after another, as the ExecutionActor does."""

    def __init__(self, target: Any) -> None:
        self.target = target

    async def chain(self, n: int) -> None:
        for i in range(n):
            await self.target.noop.remote(i)

    async def pid(self) -> int:
        return os.getpid()


def cpu_s(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def from_driver(target: Any, calls: int) -> tuple[float, float, float]:
    callee = ray.get(target.pid.remote())
    ray.get([target.noop.remote(i) for i in range(10)])
    me, them, started = cpu_s(os.getpid()), cpu_s(callee), time.perf_counter()
    for i in range(calls):
        ray.get(target.noop.remote(i))
    wall = time.perf_counter() - started
    return wall / calls, (cpu_s(callee) - them) / calls, (cpu_s(os.getpid()) - me) / calls


def from_actor(target: Any, calls: int) -> tuple[float, float, float]:
    caller = Caller.remote(target)  # type: ignore[attr-defined]
    callee, source = ray.get(target.pid.remote()), ray.get(caller.pid.remote())
    ray.get(caller.chain.remote(10))
    mine, them, started = cpu_s(source), cpu_s(callee), time.perf_counter()
    ray.get(caller.chain.remote(calls))
    wall = time.perf_counter() - started
    return wall / calls, (cpu_s(callee) - them) / calls, (cpu_s(source) - mine) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000)
    args = parser.parse_args()
    os.environ.pop("RAY_ADDRESS", None)
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    print("| caller -> callee | wall a call | callee CPU | caller CPU |\n|---|---|---|---|")
    for label, measure, cls in (
        ("driver -> plain actor (bench/peers.py's raw call)", from_driver, Plain),
        ("driver -> async actor", from_driver, Async),
        ("async actor -> plain actor", from_actor, Plain),
        ("async actor -> async actor (node actors before commit ad2e0bd)", from_actor, Async),
        (
            "async actor -> threaded actor, its own loop thread (node actors now)",
            from_actor,
            LoopThreaded,
        ),
    ):
        target = cls.remote()  # type: ignore[attr-defined]
        wall, callee, caller = measure(target, args.calls)
        print(f"| {label} | {wall * 1e3:.2f} ms | {callee * 1e3:.2f} ms | {caller * 1e3:.2f} ms |")
        ray.kill(target)
    ray.shutdown()


if __name__ == "__main__":
    main()
