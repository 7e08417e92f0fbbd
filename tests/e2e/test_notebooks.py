"""The analyst notebooks run top to bottom within their budget, produce their plots, and are stored
without outputs.

They execute against temporary settings (warehouse, MLflow, outputs in a temp folder) on the
small generated book (`small_book_dir`: 2 years, 6,000 invoices), and the test checks that the
repository's data/ is left exactly as it was. The three share one temp warehouse: whichever runs
first loads the book into it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests.conftest import set_env, settings_in

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
# Each notebook runs within this budget on the small book (the assertion), and any one cell gets
# a generous timeout before the run is stopped.
BUDGET_SECONDS = 120
CELL_TIMEOUT_SECONDS = 2 * BUDGET_SECONDS


@pytest.fixture(scope="module")
def notebook_env(small_book_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("notebooks")
    with pytest.MonkeyPatch.context() as mp:
        # every LATEPAY_* setting, so that a developer's .env cannot point a notebook at data/
        set_env(settings_in(folder, sample_dir=small_book_dir), mp)
        mp.setenv("MPLBACKEND", "Agg")
        mp.setenv("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
        yield folder


def _snapshot(folder: Path) -> dict[str, tuple[bool, int, int]]:
    """Every file and folder under `folder`: relative path -> (is a folder, size, mtime in ns)."""
    entries = {}
    for root, dirs, files in os.walk(folder):
        for name in [*dirs, *files]:
            path = Path(root, name)
            stat = path.lstat()
            entries[path.relative_to(folder).as_posix()] = (
                path.is_dir(),
                stat.st_size,
                stat.st_mtime_ns,
            )
    return entries


def test_the_three_notebooks_exist() -> None:
    assert [p.name for p in NOTEBOOKS] == [
        "01-receivables-overview.ipynb",
        "02-model-quality.ipynb",
        "03-feature-lab.ipynb",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_stored_without_outputs(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]


def _no_code_defined_in(notebook: nbformat.NotebookNode) -> list[str]:
    """Reusable code lives in the packages: no function or class is defined in a notebook."""
    return [
        line
        for cell in notebook.cells
        if cell.cell_type == "code"
        for line in cell.source.splitlines()
        if line.lstrip().startswith(("def ", "class ", "lambda"))
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_and_plots(path: Path, notebook_env: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    assert _no_code_defined_in(notebook) == []
    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT_SECONDS,
        kernel_name="python3",
        resources={"metadata": {"path": str(REPO)}},
    )
    data_before = _snapshot(REPO / "data")
    started = time.perf_counter()
    client.execute()  # raises CellExecutionError on the first failing cell
    elapsed = time.perf_counter() - started
    nbformat.write(notebook, notebook_env / path.name)  # the executed copy, to look at on failure

    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 2, f"{path.name} produced {len(images)} plots"
    assert elapsed < BUDGET_SECONDS, f"{path.name} took {elapsed:.0f} s"
    # everything went to the temp folder: the developer's data/ is exactly as it was
    assert _snapshot(REPO / "data") == data_before
    print(f"{path.name}: {elapsed:.1f} s")
