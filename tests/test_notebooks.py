"""The notebooks in notebooks/ run top to bottom in a real Jupyter kernel, and are committed
without outputs.

Each notebook is executed by ``nbclient`` with the ``python3`` kernel, the working directory set
to ``notebooks/``. ipykernel's own kernelspec is used (installed into the environment with it, or
jupyter_client's built-in one for the running interpreter), so no ``ipykernel install`` step is
needed; the kernel gets this checkout on ``PYTHONPATH`` so it imports the adoptsim under test.
"""

import os
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
SECONDS_PER_NOTEBOOK = 120  # each takes well under a minute on 2 cores


def _ids(paths):
    return [p.name for p in paths]


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found in notebooks/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_is_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name} cell {i} has outputs: strip them"
            assert cell.execution_count is None, f"{path.name} cell {i} has an execution count"
    assert "widgets" not in nb.metadata, f"{path.name} has saved widget state: strip it"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_runs_without_errors(path, monkeypatch):
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    )
    nb = nbformat.read(path, as_version=4)
    started, seconds = {}, {}  # per cell, as seen by this process
    client = NotebookClient(
        nb,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}},
        on_cell_start=lambda cell, cell_index: started.update({cell_index: time.perf_counter()}),
        on_cell_executed=lambda cell, cell_index, execute_reply: seconds.update(
            {cell_index: round(time.perf_counter() - started[cell_index], 1)}
        ),
    )
    # nbclient mimics a front end's Output widget by sending comm messages on the shell channel
    # while it waits for the cell's reply there; now and then that wait then only ends at the
    # cell timeout (jupyter/nbclient#312, ipywidgets.interactive). Without the mimic, output
    # produced inside an Output widget simply lands in the cell's outputs.
    client.widget_registry = {}
    start = time.perf_counter()
    client.execute()  # raises CellExecutionError naming the cell on the first error
    elapsed = time.perf_counter() - start
    errors = [
        (i, out.get("ename"), out.get("evalue"))
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code"
        for out in cell.outputs
        if out.output_type == "error"
    ]
    assert not errors, f"{path.name}: {errors}"
    images = sum(
        "image/png" in out.get("data", {})
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.outputs
    )
    assert images >= 1, f"{path.name} drew no figure"
    slowest = sorted(seconds.items(), key=lambda kv: -kv[1])[:3]
    assert elapsed < SECONDS_PER_NOTEBOOK, (
        f"{path.name} took {elapsed:.0f} s; slowest cells {slowest}"
    )
