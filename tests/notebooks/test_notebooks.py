"""Every tutorial notebook runs top to bottom, headless, with no error anywhere.

Also one live-kernel test per interactive tutorial: run the notebook, then inject code into the
same kernel that moves a slider / clicks a button, as a learner would, and check the app's state
and figure changed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

from notebook_helpers import NOTEBOOK_DIR, error_outputs  # noqa: E402

# Tutorials that must exist (skipped with a reason until written); every other
# notebooks/*.ipynb (e.g. 04, 05) is found by the glob and executed too.
EXPECTED = ("01_quickstart.ipynb", "02_gradient_descent.ipynb",
            "03_optimizers_and_schedules.ipynb", "06_kernels_as_a_library.ipynb")
NOTEBOOKS = sorted(set(EXPECTED) | {path.name for path in NOTEBOOK_DIR.glob("*.ipynb")})
TIMEOUT_PER_CELL = 90  # bounds a rare nbclient stall on a finished cell (it then returns normally)


def _client(notebook, workdir: Path):
    # NASTOOLKIT_BACKEND is inherited: in CI without a GPU the notebooks take the NumPy path.
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    return nbclient.NotebookClient(notebook, timeout=TIMEOUT_PER_CELL, kernel_name="python3",
                                   resources={"metadata": {"path": str(workdir)}})


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_without_errors(name, notebook_workdir):
    path = notebook_workdir / name
    if not path.exists():
        pytest.skip(f"{name} is not written yet")
    notebook = nbformat.read(path, as_version=4)
    assert all(cell.get("outputs", []) == [] for cell in notebook.cells
               if cell.cell_type == "code"), f"{name} is committed with outputs: clear them"
    client = _client(notebook, notebook_workdir)
    client.execute()
    errors = error_outputs(notebook, client.widget_state)
    assert not errors, f"{name}: " + "; ".join(errors)


def _run_then_inject(name: str, workdir: Path, code: str) -> dict:
    """Execute notebook ``name``, then ``code`` in its kernel; returns the JSON ``code`` prints."""
    path = workdir / name
    if not path.exists():
        pytest.skip(f"{name} is not written yet")
    notebook = nbformat.read(path, as_version=4)
    probe = nbformat.v4.new_code_cell(code)
    notebook.cells.append(probe)
    client = _client(notebook, workdir)
    client.execute()
    errors = error_outputs(notebook, client.widget_state)
    assert not errors, "; ".join(errors)
    text = "".join(output.get("text", "") for output in probe.outputs
                   if output.get("name") == "stdout")
    return json.loads(text.strip().splitlines()[-1])


@pytest.mark.slow
def test_gradient_descent_notebook_reacts_to_slider_and_buttons(notebook_workdir):
    result = _run_then_inject("02_gradient_descent.ipynb", notebook_workdir, r"""
import json
draws_before = app.view.draw_count
app.learning_rate_slider.value = 0.05
app.step_button.click()
after_step = {"steps": app.model.num_steps, "lr": app.model.learning_rate,
              "theta": app.model.path[-1].tolist()}
app.learning_rate_slider.value = 0.3
app.run_button.click()
path_line = app.view.last_figure.axes[0].get_lines()[1]
print(json.dumps({"draws_before": draws_before, "draws_after": app.view.draw_count,
                  "after_step": after_step, "status": app.model.status,
                  "message": app.model.message, "plotted_points": len(path_line.get_xdata()),
                  "path_points": len(app.model.path)}))
""")
    assert result["after_step"]["steps"] == 1
    assert result["after_step"]["lr"] == pytest.approx(0.05)
    # first step from the surface's start (-4.5, 2) on (x^2 + 10 y^2)/2: (x, 10y) * 0.05
    assert result["after_step"]["theta"] == pytest.approx([-4.5 + 0.05 * 4.5, 2.0 - 0.05 * 20.0])
    assert result["draws_after"] >= result["draws_before"] + 3  # slider, step, slider, run
    assert result["status"] == "diverged" and "too large" in result["message"]
    assert result["plotted_points"] <= result["path_points"]
