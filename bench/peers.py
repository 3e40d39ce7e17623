"""This runtime against its peers, in one invocation on one machine (issue #16). Reports; asserts
nothing.

    .venv/bin/pip install -e '.[bench]'        # once: DBOS (pinned), the durable peer
    .venv/bin/python bench/peers.py            # about 6 minutes; --quick for fewer repetitions

The same workloads run on three engines (hub and raw Ray taking turns, one sample of each in
turn, so that their ratios come from the same minutes; DBOS once the runtime is down, so its
idle processes take nothing from it):

- **hub**: a background runtime of this repository (``hub up`` in a temporary HUB_HOME, SQLite
  store, code nodes on, the no-op action node of bench/bench_nodes.py), driven through
  ``hub.connect()``, every step durable before its dependents run (the default);
- **ray**: raw Ray actors on the same Ray cluster (no durability: the floor);
- **dbos**: DBOS Transact in this process with a SQLite system database in a temporary
  directory (every step's output checkpointed before the next step: the durable peer).

Then the start-up figures: a fresh embedded ``hub run examples/hello.json`` against a bare
``ray.init(); ray.shutdown()``, and the first ``code`` step on a new runtime. Each figure is the
median of repetitions, with min and max; the table at the end gives the ratios of issue #16.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.core import FIBO, HUB, calls_per_s, chain  # noqa: E402

PYTHON = sys.executable
FIBO_STEPS = 40  # the fibo(10) chain
STEP_CHAIN = 100  # the pooled no-op chain whose run time / 100 is "a pooled action step"
THREE_SUBMITTERS = 16


def fibo(n: int) -> int:
    return n if n < 2 else fibo(n - 1) + fibo(n - 2)


class Figure:
    """Samples of one measure: seconds, or calls a second (names ending in ``per_s``)."""

    def __init__(self, samples: list[float]) -> None:
        self.samples = samples

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    def show(self, unit: str = "s", digits: int = 3) -> str:
        lo, mid, hi = min(self.samples), self.median, max(self.samples)
        return f"{mid:.{digits}f} {unit} (min {lo:.{digits}f}, max {hi:.{digits}f})"


def timed(fn: Callable[[], Any], repeat: int, warm: int = 1) -> Figure:
    for _ in range(warm):
        fn()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return Figure(samples)


def rate(fn: Callable[[], Any], submitters: int, per: int, repeat: int) -> Figure:
    """Calls of ``fn`` per second with ``submitters`` threads calling it ``per`` times each."""
    calls_per_s(fn, submitters, per)  # warm
    return Figure([calls_per_s(fn, submitters, per) for _ in range(repeat)])


def taking_turns(measures: dict[str, Callable[[], float]], repeat: int) -> dict[str, Figure]:
    """Each measure ``repeat`` times, one sample of each in turn (after one warm-up round):
    engines compared from the same minutes, as this machine drifts by 10-30% within one."""
    for measure in measures.values():
        measure()
    samples: dict[str, list[float]] = {name: [] for name in measures}
    for _ in range(repeat):
        for name, measure in measures.items():
            samples[name].append(measure())
    return {name: Figure(values) for name, values in samples.items()}


def once(fn: Callable[[], Any]) -> Callable[[], float]:
    """A measure: the seconds one call of ``fn`` takes."""

    def measure() -> float:
        started = time.perf_counter()
        fn()
        return time.perf_counter() - started

    return measure


# --- hub ------------------------------------------------------------------------------------


@contextmanager
def hub_runtime(env: dict[str, str], **extra: str) -> Iterator[dict[str, str]]:
    """A background runtime (``hub up``) on free ports in a HUB_HOME of its own."""
    from hub._processes import free_port

    env = dict(env, HUB_HOME=tempfile.mkdtemp(prefix="hub-peers-"), **extra)
    ports = ["--port", str(free_port()), "--dashboard-port", str(free_port())]
    up = [HUB, "up", *ports, "--api-port", str(free_port())]
    subprocess.run(up, env=env, check=True, stdout=subprocess.DEVNULL)
    try:
        yield env
    finally:
        subprocess.run([HUB, "down", "--cancel-runs"], env=env, check=False, capture_output=True)


def hub_figures(env: dict[str, str], repeat: int) -> dict[str, Figure]:
    import hub

    os.environ.update(env)
    client = hub.connect()

    def run(workflow_id: str) -> Any:
        record = client.run(workflow_id)
        assert record.status == "completed", record.error
        return record

    for wf in (
        chain("fibo", "code", FIBO_STEPS, {"source": FIBO, "input": {"n": 10}}),
        chain("noop", "bench.noop", STEP_CHAIN),
        chain("noop-10", "bench.noop", 10),
        isolated(chain("three", "set", 3), "exclusive"),
        isolated(chain("three-auto", "set", 3), "auto"),
    ):
        client.register(wf)
    raw = RawRay()  # the floor, on the same Ray cluster, sampled in turn with the runtime
    try:
        figures = taking_turns(
            {
                "fibo_chain": once(lambda: run("fibo")),
                "ray_fibo_chain": once(raw.fibo_chain),
                "step_chain": once(lambda: run("noop")),
                "step_chain_10": once(lambda: run("noop-10")),
                "ray_calls": once(raw.calls),
            },
            repeat,
        )
        per, raw_per = (24, 60) if repeat < 5 else (48, 120)
        figures |= taking_turns(
            {
                "three_per_s": partial(calls_per_s, partial(run, "three"), THREE_SUBMITTERS, per),
                "three_auto_per_s": partial(
                    calls_per_s, partial(run, "three-auto"), THREE_SUBMITTERS, per
                ),
                "ray_three_per_s": partial(calls_per_s, raw.three_chain, THREE_SUBMITTERS, raw_per),
            },
            max(3, repeat // 2),
        )
    finally:
        raw.close()
        client.close()
    return figures


def isolated(workflow: dict[str, Any], isolation: str) -> dict[str, Any]:
    """``workflow`` in the isolation mode ``isolation`` (docs/dsl.md, "Isolation modes")."""
    return {**workflow, "settings": {"isolation": isolation}}


def scale_figures(env: dict[str, str], repeat: int) -> list[tuple[str, str]]:
    """How the cost grows: 3-node executions/s and start latency (the execution's creation to
    its start, as the runtime recorded them) at 1 to 64 submitters; the pooled step's cost in
    chains of 10 to 1,000 steps."""
    import hub

    os.environ.update(env)
    client = hub.connect()
    client.register(isolated(chain("three", "set", 3), "exclusive"))  # as hub_figures has it
    rows = []
    latencies: list[float] = []
    lock = threading.Lock()

    def run() -> None:
        record = client.run("three")
        assert record.status == "completed" and record.started_at, record.error
        with lock:
            latencies.append((record.started_at - record.created_at).total_seconds())

    for submitters in (1, 4, 16, 64):
        latencies.clear()
        per = max(4, 256 // submitters)
        figure = rate(run, submitters, per, max(2, repeat // 3))
        latencies.sort()
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
        rows.append(
            (
                f"{submitters} submitters",
                f"{figure.median:.0f} executions/s, start p50 "
                f"{statistics.median(latencies) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms",
            )
        )
    for steps in (10, 100, 1000):
        client.register(chain(f"noop-{steps}", "bench.noop", steps))
        figure = timed(lambda steps=steps: client.run(f"noop-{steps}"), max(2, repeat // 3))
        rows.append((f"{steps}-step pooled chain", f"{figure.median / steps * 1000:.2f} ms a step"))
    client.close()
    return rows


# --- raw Ray --------------------------------------------------------------------------------


class RawRay:
    """Raw Ray actor calls, awaited one after another, on the cluster the client joined."""

    def __init__(self) -> None:
        import ray

        @ray.remote(num_cpus=0)
        class Worker:
            def fibo(self, n: int) -> dict[str, int]:
                return {"value": fibo(n)}

            def noop(self, x: Any) -> Any:
                return x

        self.actors = [Worker.remote() for _ in range(3)]  # type: ignore[attr-defined]
        ray.get([a.noop.remote(0) for a in self.actors])

    def fibo_chain(self) -> None:
        import ray

        for _ in range(FIBO_STEPS):
            ray.get(self.actors[0].fibo.remote(10))

    def calls(self) -> None:
        import ray

        for i in range(STEP_CHAIN):
            ray.get(self.actors[0].noop.remote(i))

    def three_chain(self) -> None:  # three calls, each on the previous one's result
        import ray

        value: Any = {}
        for actor in self.actors:
            value = ray.get(actor.noop.remote(value))

    def close(self) -> None:
        import ray

        for actor in self.actors:
            ray.kill(actor)


# --- DBOS -----------------------------------------------------------------------------------


def dbos_figures(repeat: int) -> dict[str, Figure]:
    from dbos import DBOS, DBOSConfig

    database = Path(tempfile.mkdtemp(prefix="dbos-peers-")) / "dbos.sqlite"
    config: DBOSConfig = {
        "name": "hub-peers",
        "system_database_url": f"sqlite:///{database}",
        "log_level": "WARNING",
    }
    DBOS(config=config)

    @DBOS.step()
    def fibo_step(n: int) -> dict[str, int]:
        return {"value": fibo(n)}

    @DBOS.step()
    def noop_step(x: Any) -> Any:
        return x

    @DBOS.workflow()
    def fibo_chain() -> None:
        for _ in range(FIBO_STEPS):
            fibo_step(10)

    @DBOS.workflow()
    def step_chain() -> None:
        for i in range(STEP_CHAIN):
            noop_step(i)

    @DBOS.workflow()
    def three() -> Any:
        value: Any = {}
        for _ in range(3):
            value = noop_step(value)
        return value

    DBOS.launch()
    try:
        per = 12 if repeat < 5 else 24
        return {
            "dbos_fibo_chain": timed(fibo_chain, repeat),
            "dbos_step_chain": timed(step_chain, repeat),
            "dbos_three_per_s": rate(three, THREE_SUBMITTERS, per, max(3, repeat // 2)),
        }
    finally:
        DBOS.destroy()


# --- start-up -------------------------------------------------------------------------------


def wall(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def start_figures(repeat: int) -> dict[str, Figure]:
    """Fresh processes each time, in a newcomer's environment (no HUB_* settings): ``hub run``
    on a new embedded runtime (its own HUB_HOME, so no background runtime is found) against a
    bare ``ray.init(); ray.shutdown()``. RAY_ADDRESS=local keeps the bare one from joining a
    cluster a stale /tmp/ray/ray_current_cluster points at (it waits minutes for a dead one)."""
    plain = {k: v for k, v in os.environ.items() if not k.startswith(("HUB_", "RAY_ADDRESS"))}
    bare = [PYTHON, "-c", "import ray; ray.init(); ray.shutdown()"]
    hello = [HUB, "run", str(ROOT / "examples" / "hello.json"), "--input", "name=Ada"]
    embedded, ray_only = [], []
    for _ in range(max(3, repeat // 2)):
        ray_only.append(wall(bare, dict(plain, RAY_ADDRESS="local")))
        home = tempfile.mkdtemp(prefix="hub-peers-embedded-")
        embedded.append(wall(hello, dict(plain, HUB_HOME=home)))
    return {"embedded_hello": Figure(embedded), "ray_init": Figure(ray_only)}


def first_code_step(env: dict[str, str], repeat: int) -> Figure:
    """The first ``code`` step on a runtime just started (``hub up`` returned): its duration,
    from the step's start to its end, pool process start included when one is needed."""
    import hub

    samples = []
    for _ in range(max(3, repeat // 2)):
        with hub_runtime(env) as own:
            os.environ.update(own)
            client = hub.connect()
            source = "def main(input):\n    return {'ok': True}\n"
            client.register(chain("first-code", "code", 1, {"source": source}))
            record = client.run("first-code")
            step = record.steps[0]
            assert step.started_at and step.ended_at, step
            samples.append((step.ended_at - step.started_at).total_seconds())
            client.close()
            import ray

            ray.shutdown()
    return Figure(samples)


# --- report ---------------------------------------------------------------------------------


def report(figures: dict[str, Figure]) -> None:
    f = figures
    step = f["step_chain"].median / STEP_CHAIN
    step_alone = (f["step_chain"].median - f["step_chain_10"].median) / (STEP_CHAIN - 10)
    call = f["ray_calls"].median / STEP_CHAIN
    rows = [
        (
            f"{FIBO_STEPS} x fibo(10) chain vs DBOS",
            f"{f['fibo_chain'].median / f['dbos_fibo_chain'].median:.2f}x",
            "<= 1.0x",
        ),
        (
            "pooled action step (run / 100), vs one raw Ray actor call",
            f"{step / call:.2f}x",
            "<= 2.0x",
        ),
        (
            "pooled action step alone ((100-chain - 10-chain) / 90), vs one raw Ray call",
            f"{step_alone / call:.2f}x",
            "",
        ),
    ]
    for name, mode in (("three_per_s", "exclusive"), ("three_auto_per_s", "auto")):
        rows += [
            (
                f"3-node executions/s (16 submitters, {mode}) vs raw Ray 3-call chains/s",
                f"{f[name].median / f['ray_three_per_s'].median:.0%}",
                ">= 60%",
            ),
            (
                f"3-node executions/s ({mode}) vs DBOS workflows/s",
                f"{f[name].median / f['dbos_three_per_s'].median:.1f}x",
                ">= 3x",
            ),
        ]
    if "embedded_hello" in f:
        rows.append(
            (
                "embedded `hub run examples/hello.json` vs bare ray.init()+shutdown()",
                f"{f['embedded_hello'].median / f['ray_init'].median:.2f}x",
                "<= 1.5x",
            )
        )
    if "first_code_step" in f:
        rows.append(
            ("first code step on a new runtime", f["first_code_step"].show(digits=2), "<= 0.3 s")
        )
    print("\n| figure | measured | target |\n|---|---|---|")
    for name, value, target in rows:
        print(f"| {name} | {value} | {target} |")
    print("\nRaw figures (median, min, max):")
    for name, figure in f.items():
        rate = name.endswith("per_s")
        print(f"  {name:22} {figure.show(unit='/s' if rate else 's', digits=1 if rate else 4)}")
    print(f"  pooled step (run/100)  {step * 1000:.2f} ms; alone {step_alone * 1000:.2f} ms")
    print(f"  raw Ray call           {call * 1000:.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--skip-start", action="store_true", help="leave out the start-up figures")
    parser.add_argument("--scale", action="store_true", help="add the scale curve (hub only)")
    parser.add_argument("--json", type=Path, help="also write the raw samples here")
    args = parser.parse_args()
    repeat = 3 if args.quick else 7
    env = dict(
        os.environ,
        HUB_ENABLE_CODE_NODES="1",
        HUB_NODE_MODULES="bench.bench_nodes",
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    )
    figures: dict[str, Figure] = {}
    scale: list[tuple[str, str]] = []
    with hub_runtime(env) as own:
        figures.update(hub_figures(own, repeat))
        if args.scale:
            scale = scale_figures(own, repeat)
    import ray

    ray.shutdown()
    figures.update(dbos_figures(repeat))
    if not args.skip_start:
        figures.update(start_figures(repeat))
        figures["first_code_step"] = first_code_step(env, repeat)
    report(figures)
    if scale:
        print("\nScale (hub):\n\n| load | measured |\n|---|---|")
        for name, value in scale:
            print(f"| {name} | {value} |")
    if args.json:
        args.json.write_text(json.dumps({k: v.samples for k, v in figures.items()}, indent=2))


if __name__ == "__main__":
    main()
