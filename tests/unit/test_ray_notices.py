"""Ray's cluster notices never land in a ``--json`` result (CI: ``hub status --json`` right after
a worker was killed printed "(raylet) The node with node id ... has been marked dead" first)."""

from __future__ import annotations

import pytest


def test_ray_cluster_notices_go_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    from ray._private import worker

    from hub.runtime import _ray

    _ray()  # how every hub process imports Ray
    _ray()  # twice: wrapped once, not twice
    # What Ray's error listener thread calls for a node that died (ray/_private/worker.py).
    worker.print_to_stdstream(
        {
            "lines": ["The node with node id: 61be has been marked dead"],
            "pid": "raylet",
            "is_err": False,
        },
        ignore_prefix=False,
    )
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("has been marked dead") == 1
