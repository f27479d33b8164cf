"""Helpers shared by the notebook tests: where the notebooks are and how to find errors."""

from __future__ import annotations

from pathlib import Path

NOTEBOOK_DIR = Path(__file__).resolve().parents[2] / "notebooks"


def error_outputs(notebook, widget_state: dict) -> list[str]:
    """Every error output: in the cells and inside Output widgets (callbacks that raised).

    nbclient does not fail when a widget callback raises; the traceback only lands in the
    Output widget's state, so both places are searched.
    """
    found = []
    for index, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                found.append(f"cell {index}: {output.get('ename')}: {output.get('evalue')}")
    for model_id, model in (widget_state or {}).items():
        state = model.get("state", model)
        for output in state.get("outputs", []) or []:
            if isinstance(output, dict) and output.get("output_type") == "error":
                found.append(
                    f"Output widget {model_id}: {output.get('ename')}: {output.get('evalue')}"
                )
    return found
