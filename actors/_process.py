"""Per-process tuning shared by every actor of the runtime."""

from __future__ import annotations

import sys

# Ray delivers replies on its own threads, which must take the GIL from the actor's event loop
# thread. With CPython's default 5 ms switch interval each hand-off can cost milliseconds; the
# runtime's actors are latency-bound, so they hand the GIL over sooner.
SWITCH_INTERVAL_S = 0.0005


def tune_process() -> None:
    sys.setswitchinterval(SWITCH_INTERVAL_S)
