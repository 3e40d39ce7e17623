"""Per-process tuning shared by every actor of the runtime."""

from __future__ import annotations

import gc
import pickle
import sys
from typing import Any

from ray import cloudpickle

from hub.nodes import NodeCall, NodeResult
from hub.records import ExecutionRecord, RunOrder, RunOutcome

# Ray delivers replies on its own threads, which must take the GIL from the actor's event loop
# thread. With CPython's default 5 ms switch interval each hand-off can cost milliseconds; the
# runtime's actors are latency-bound, so they hand the GIL over sooner.
SWITCH_INTERVAL_S = 0.0005

# The cyclic garbage collector, measured in the supervisor under load (bench/README.md, "Less
# garbage, fewer turns of the loop"): 7% of its CPU at the default thresholds (700, 10, 10),
# mostly full collections walking the ~110,000 objects Ray, pydantic and the runtime's
# modules hold from the start. Those are frozen out of every collection once the process is
# set up, and a young collection waits for GC_THRESHOLD[0] objects more than were freed: a
# run's records die by reference counting, so a collection is rare and reference cycles still
# get collected.
GC_THRESHOLD = (20_000, 20, 20)

# The records every run or step sends through a Ray call. Ray pickles arguments and answers
# with cloudpickle, whose Python hook runs for every object and looks up every class anew:
# 2-3x the standard library's C pickler for these (bench/README.md, "Records on the wire").
WIRE_RECORDS = (RunOrder, RunOutcome, ExecutionRecord, NodeCall, NodeResult)


def tune_process() -> None:
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    tune_gc()
    pickle_records_in_c()


def tune_gc() -> None:
    gc.freeze()  # what the process has loaded so far is never garbage
    gc.set_threshold(*GC_THRESHOLD)


def pickle_records_in_c() -> None:
    for cls in WIRE_RECORDS:  # the process that sends them pickles them so
        cloudpickle.CloudPickler.dispatch[cls] = _c_pickled


def _c_pickled(record: Any) -> tuple[Any, ...]:
    """A record as the C pickler's bytes, unpickled by ``pickle.loads`` wherever it lands
    (no registration needed there). What only cloudpickle can carry (a node's output holding
    a local function, say) goes its usual way."""
    try:
        return pickle.loads, (pickle.dumps(record, pickle.HIGHEST_PROTOCOL),)
    except Exception:
        return record.__reduce_ex__(pickle.HIGHEST_PROTOCOL)  # type: ignore[no-any-return]
