"""The records runs and steps send through Ray calls (actors._process.WIRE_RECORDS) are pickled
by the standard library's C pickler inside Ray's cloudpickle, and come back equal; what only
cloudpickle can carry still goes."""

from __future__ import annotations

import pickle
import subprocess
import sys
from datetime import UTC, datetime

from ray import cloudpickle

from actors._process import GC_THRESHOLD, WIRE_RECORDS, pickle_records_in_c
from hub.nodes import NodeCall, NodeResult
from hub.records import (
    ExecutionRecord,
    ExecutionStatus,
    RunOrder,
    RunOutcome,
    StepRecord,
    StepStatus,
    UpdateExecution,
)


def _record() -> ExecutionRecord:
    when = datetime(2026, 12, 7, 11, 0, 0, 5, tzinfo=UTC)
    return ExecutionRecord(
        id="e1",
        workflow_id="wf",
        workflow_version="v1",
        status=ExecutionStatus.COMPLETED,
        inputs={"n": 1, "tags": ["a"], "nan": float("inf")},
        started_at=when,
        steps=[StepRecord(node_id="a", node_type="set", status=StepStatus.COMPLETED, output=b"x")],
    )


def test_each_wire_record_goes_through_the_c_pickler_and_comes_back_equal() -> None:
    pickle_records_in_c()
    record = _record()
    samples = [
        RunOrder(definition={"id": "wf", "nodes": []}, record=record, env={"A": "1"}),
        RunOutcome(record=record, writes=[UpdateExecution(execution_id="e1", outputs={"x": 1})]),
        record,
        NodeCall(
            execution_id="e1",
            workflow_id="wf",
            node_id="a",
            node_type="set",
            attempt=1,
            parameters={"v": [1, 2.5, None]},
        ),
        NodeResult(output={"when": record.started_at}),
    ]
    assert {type(s) for s in samples} == set(WIRE_RECORDS)
    for sample in samples:
        blob = cloudpickle.dumps(sample)
        assert b"_pickle" in blob, type(sample)  # unpickled by pickle.loads, not field by field
        back = pickle.loads(blob)
        assert type(back) is type(sample) and back == sample


def test_a_record_the_c_pickler_cannot_carry_goes_the_usual_way() -> None:
    pickle_records_in_c()

    def local() -> int:  # a local function: only cloudpickle pickles it (by value)
        return 7

    back = pickle.loads(cloudpickle.dumps(NodeResult(output={"f": local})))
    assert back.output["f"]() == 7


def test_an_actor_process_freezes_what_it_loaded_and_collects_garbage_later() -> None:
    """tune_process, in a process of its own (it would change this one's collector)."""
    probe = (
        "import gc\n"
        "from actors._process import tune_process\n"
        "tune_process()\n"
        "print(gc.get_threshold(), gc.get_freeze_count() > 10_000)\n"
        "a = []; a.append(a); del a\n"  # a reference cycle is garbage still
        "print(gc.collect() >= 1)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.split("\n")[:2] == [f"{GC_THRESHOLD} True", "True"]
