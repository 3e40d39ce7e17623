"""Notebooks are executed on a real Jupyter kernel, joined to the session's runtime."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = pytest.mark.ray

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


@pytest.mark.parametrize("name", sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")))
def test_notebook_runs(name: str, runtime: Any) -> None:
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    try:
        client.execute()  # raises CellExecutionError, with the cell's traceback, if any cell fails
    finally:
        _stop_demo_triggers(runtime)
    outputs = "".join(
        out.get("text", "")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
    )
    assert "joined a running runtime" in outputs
    assert "execution_completed" in outputs


def _stop_demo_triggers(runtime: Any) -> None:
    """02-triggers switches its schedule off in its last cell; when an earlier cell failed,
    do it here, so it does not keep firing in the session's shared runtime."""
    for view in runtime.triggers():
        if view.workflow_id.startswith("triggers-demo-") and view.enabled:
            runtime.disable_trigger(view.workflow_id, view.trigger_id)
