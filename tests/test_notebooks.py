"""The analyst notebooks run top to bottom, produce their plots, and are stored without outputs.

They execute against temporary settings (warehouse, MLflow, outputs in a temp folder; the sample
book from the repository), so a test run never touches the developer's data/. The three share one
temp warehouse: whichever runs first loads the sample into it.
"""

from __future__ import annotations

import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
# The budget per notebook; a busy CI machine gets some slack before the test fails.
BUDGET_SECONDS = 120
TIMEOUT_SECONDS = 2 * BUDGET_SECONDS


@pytest.fixture(scope="module")
def notebook_env(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("notebooks")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LATEPAY_WAREHOUSE_PATH", str(folder / "warehouse.duckdb"))
        mp.setenv("LATEPAY_MLFLOW_TRACKING_URI", f"sqlite:///{folder / 'mlflow.db'}")
        mp.setenv("LATEPAY_MLFLOW_ARTIFACTS_DIR", str(folder / "mlartifacts"))
        mp.setenv("LATEPAY_OUTPUTS_DIR", str(folder / "outputs"))
        mp.setenv("LATEPAY_SAMPLE_DIR", str(REPO / "data" / "sample"))
        mp.setenv("MPLBACKEND", "Agg")
        mp.setenv("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
        yield folder


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
        timeout=TIMEOUT_SECONDS,
        kernel_name="python3",
        resources={"metadata": {"path": str(REPO)}},
    )
    started = time.perf_counter()
    client.execute()  # raises CellExecutionError on the first failing cell
    elapsed = time.perf_counter() - started
    nbformat.write(notebook, notebook_env / path.name)  # the executed copy, to look at on failure

    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 2, f"{path.name} produced {len(images)} plots"
    assert elapsed < TIMEOUT_SECONDS
    # the developer's data/ is untouched: everything went to the temp folder
    assert (notebook_env / "warehouse.duckdb").exists()
