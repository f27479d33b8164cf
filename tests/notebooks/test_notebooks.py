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

from notebook_helpers import NOTEBOOK_DIR, error_outputs, notebook_client

# Tutorials that must exist (skipped with a reason until written); every other
# notebooks/*.ipynb (e.g. 04, 05) is found by the glob and executed too.
EXPECTED = (
    "01_quickstart.ipynb",
    "02_gradient_descent.ipynb",
    "03_optimizers_and_schedules.ipynb",
    "06_kernels_as_a_library.ipynb",
)
NOTEBOOKS = sorted(set(EXPECTED) | {path.name for path in NOTEBOOK_DIR.glob("*.ipynb")})
TIMEOUT_PER_CELL = 90


def _client(notebook, workdir: Path):
    # NASTOOLKIT_BACKEND is inherited: in CI without a GPU the notebooks take the NumPy path.
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    # Sliced waits: a plain NotebookClient sometimes sat out the whole cell timeout on a cell
    # that had finished (notebook_helpers.poll_in_slices says why).
    return notebook_client(notebook, workdir, TIMEOUT_PER_CELL)


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_without_errors(name, notebook_workdir):
    path = notebook_workdir / name
    if not path.exists():
        pytest.skip(f"{name} is not written yet")
    notebook = nbformat.read(path, as_version=4)
    assert all(
        cell.get("outputs", []) == [] for cell in notebook.cells if cell.cell_type == "code"
    ), f"{name} is committed with outputs: clear them"
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
    text = "".join(
        output.get("text", "") for output in probe.outputs if output.get("name") == "stdout"
    )
    return json.loads(text.strip().splitlines()[-1])


@pytest.mark.slow
def test_gradient_descent_notebook_reacts_to_slider_and_buttons(notebook_workdir):
    result = _run_then_inject(
        "02_gradient_descent.ipynb",
        notebook_workdir,
        r"""
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
""",
    )
    assert result["after_step"]["steps"] == 1
    assert result["after_step"]["lr"] == pytest.approx(0.05)
    # first step from the surface's start (-4.5, 2) on (x^2 + 10 y^2)/2: (x, 10y) * 0.05
    assert result["after_step"]["theta"] == pytest.approx([-4.5 + 0.05 * 4.5, 2.0 - 0.05 * 20.0])
    assert result["draws_after"] >= result["draws_before"] + 3  # slider, step, slider, run
    assert result["status"] == "diverged" and "too large" in result["message"]
    assert result["plotted_points"] <= result["path_points"]


@pytest.mark.slow
def test_optimizer_notebook_play_and_momentum_map_react(notebook_workdir):
    result = _run_then_inject(
        "03_optimizers_and_schedules.ipynb",
        notebook_workdir,
        r"""
import json
race.reset_button.click()
race.play.value = race.play.value + 7          # seven frames of Play
steps_after_play = race.model.num_steps
draws = momentum_app.view.draw_count
momentum_app.momentum_slider.value = round(beta_star, 2)
momentum_app.learning_rate_slider.value = round(alpha_star, 3)
momentum_app.play.value = 10
print(json.dumps({"race_steps": steps_after_play, "momentum_steps": momentum_app.model.num_steps,
                  "rate": momentum_app.model.rate, "redraws": momentum_app.view.draw_count - draws}))
""",
    )
    assert result["race_steps"] == 7
    assert result["momentum_steps"] == 10 * 2
    assert result["rate"] == pytest.approx(0.52, abs=0.03)  # sliders round alpha*, beta*
    assert result["redraws"] >= 3


@pytest.mark.slow
def test_regularization_notebook_two_moons_retrains_on_a_slider(notebook_workdir):
    result = _run_then_inject(
        "04_l1_l2_and_dropout.ipynb",
        notebook_workdir,
        r"""
import json
before = moons.model.histories["L2"]["val_loss"][-1]
moons.l2_slider.value = 1e-2
print(json.dumps({"before": before, "after": moons.model.histories["L2"]["val_loss"][-1],
                  "l2": moons.model.l2, "panels": len(moons.view.last_figure.axes),
                  "seconds": moons.model.seconds}))
""",
    )
    assert result["l2"] == pytest.approx(1e-2)
    assert result["after"] < result["before"]  # the stronger penalty stops the overfitting
    assert result["panels"] >= 4  # three boundary maps (+ colour bar) and the loss curves


@pytest.mark.slow
def test_search_methods_notebook_steps_each_method_on_a_click(notebook_workdir):
    result = _run_then_inject(
        "07_three_more_ways_to_search.ipynb",
        notebook_workdir,
        r"""
import json
draws = [app.view.draw_count for app in (controller_app, darts_app, hyperband_app)]
controller_app.step_button.click()
darts_app.step_button.click()
hyperband_app.step_button.click()
print(json.dumps({"controller_steps": controller_app.model.steps,
                  "darts_epochs": darts_app.model.epochs,
                  "rungs": hyperband_app.model.rungs_done,
                  "redraws": [app.view.draw_count - before for app, before
                              in zip((controller_app, darts_app, hyperband_app), draws)],
                  "status": controller_app.status.value}))
""",
    )
    # The notebook clicked each once; the probe clicked once more.
    assert (result["controller_steps"], result["darts_epochs"], result["rungs"]) == (2, 2, 2)
    assert result["redraws"] == [1, 1, 1]
    assert result["status"].startswith("Controller step 1:")


NOTEBOOKS_WITH_EXERCISES = (
    "01_quickstart.ipynb",
    "02_gradient_descent.ipynb",
    "03_optimizers_and_schedules.ipynb",
    "04_l1_l2_and_dropout.ipynb",
    "06_kernels_as_a_library.ipynb",
    "07_three_more_ways_to_search.ipynb",
)


@pytest.mark.parametrize("name", NOTEBOOKS_WITH_EXERCISES)
def test_exercises_have_checks_and_collapsed_solutions(name):
    notebook = nbformat.read(NOTEBOOK_DIR / name, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    solutions = [cell for cell in code if "solution" in cell.metadata.get("tags", [])]
    turns = [cell for cell in code if "check(" in cell.source and cell not in solutions]
    assert 2 <= len(turns) <= 3, f"{name}: {len(turns)} 'your turn' cells"
    assert len(solutions) == len(turns)
    for cell in solutions:
        assert cell.metadata.get("jupyter", {}).get("source_hidden") is True
        assert "check(" in cell.source
