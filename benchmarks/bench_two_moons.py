"""Seconds one two-moons slider move costs in notebook 04: retrain three networks, then redraw.

Builds ``TwoMoonsApp`` with the notebook's settings, then moves each slider as a learner would
(L2 strength, dropout rate, learning rate, width) and times the whole callback: the retrain of
the plain, L2 and dropout networks (``model.seconds``) and the redraw (boundary heat maps, loss
curves, PNG). Pinned to one CPU core with one BLAS thread; wall and CPU seconds are both shown,
since on a shared machine the wall time also counts other people's processes. Medians of
``--repeat`` runs per move. Prints a table; asserts nothing.

    python benchmarks/bench_two_moons.py [--core 0] [--repeat 3]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from nastoolkit.widgets.moons import TwoMoonsApp

NOTEBOOK_SETTINGS = {"l2": 1e-3, "dropout_rate": 0.5, "units": 128}
# (label, slider attribute, values it visits; the last one returns it to the notebook's value)
MOVES = [
    ("L2 strength", "l2_slider", [1e-2, 1e-3]),
    ("dropout rate", "dropout_slider", [0.3, 0.5]),
    ("learning rate", "learning_rate_slider", [10**-2.5, None]),
    ("units 128 -> 256", "units_slider", [256, 128]),
]


def time_move(app, slider_name: str, value) -> tuple[float, float, float]:
    """(wall, cpu, retrain wall) seconds of setting ``slider_name`` to ``value``."""
    slider = getattr(app, slider_name)
    wall, cpu = time.perf_counter(), time.process_time()
    with contextlib.redirect_stdout(io.StringIO()):  # outside Jupyter the PNG prints as text
        slider.value = value
    return time.perf_counter() - wall, time.process_time() - cpu, app.model.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--core", type=int, default=0, help="the one CPU core to run on")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.core})
    with contextlib.redirect_stdout(io.StringIO()):
        app = TwoMoonsApp(**NOTEBOOK_SETTINGS)
    default_rate = app.learning_rate_slider.value
    print(
        f"{app.model!r}; one core (#{args.core}), load average {os.getloadavg()[0]:.2f}\n"
        f"{'slider move':18s} {'wall s':>7s} {'cpu s':>7s} {'retrain s':>9s} {'redraw s':>9s}"
    )
    for label, slider_name, values in MOVES:
        runs = []
        for _ in range(args.repeat):
            for value in values:
                runs.append(time_move(app, slider_name, default_rate if value is None else value))
        wall, cpu, fit = (statistics.median(column) for column in zip(*runs, strict=True))
        print(f"{label:18s} {wall:7.2f} {cpu:7.2f} {fit:9.2f} {wall - fit:9.2f}")


if __name__ == "__main__":
    sys.exit(main())
