"""Seconds each tutorial takes to run headless: kernel start, every cell, and the total.

Each notebook runs from a temporary copy with tests/notebooks' nbclient client, pinned to one
CPU core (``os.sched_setaffinity``, inherited by the kernel) with one BLAS thread. Printed: one
row per notebook (kernel start, cells, total wall time) and its three slowest cells with the first
line of their source, so a slow part is named rather than guessed. The tutorials promise to run
in under 30 s each on one core; this prints, it asserts nothing.

    python benchmarks/bench_notebooks.py [--core 0] [notebooks/04_l1_l2_and_dropout.ipynb ...]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")

import nbformat

ROOT = Path(__file__).resolve().parents[1]
# The tests' client: waits on the kernel in slices (a plain one sometimes idles a whole timeout).
sys.path.insert(0, str(ROOT / "tests" / "notebooks"))
from notebook_helpers import notebook_client

# The kernel must import this checkout's package, whatever is installed.
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
)


def _seconds(cell) -> float:
    timing = cell.get("metadata", {}).get("execution", {})
    start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not (start and end):
        return 0.0
    parse = datetime.fromisoformat
    return (parse(end.replace("Z", "+00:00")) - parse(start.replace("Z", "+00:00"))).total_seconds()


def time_notebook(path: Path) -> dict:
    """Run ``path`` from a temporary copy; kernel start, per-cell and total seconds."""
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder) / "notebooks"
        shutil.copytree(path.parent, work, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        notebook = nbformat.read(work / path.name, as_version=4)
        client = notebook_client(notebook, work, timeout=300, record_timing=True)
        started = time.perf_counter()
        with client.setup_kernel():
            kernel_ready = time.perf_counter()
            for index, cell in enumerate(notebook.cells):
                client.execute_cell(cell, index)
        total = time.perf_counter() - started
    cells = [
        (_seconds(cell), index, (cell.source.splitlines() or [""])[0][:60])
        for index, cell in enumerate(notebook.cells)
        if cell.cell_type == "code"
    ]
    return {
        "kernel": kernel_ready - started,
        "cells": sum(seconds for seconds, _, _ in cells),
        "total": total,
        "slowest": sorted(cells, reverse=True)[:3],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--core", type=int, default=0, help="the one CPU core to run on")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.core})
    paths = args.notebooks or sorted((ROOT / "notebooks").glob("*.ipynb"))
    print(f"one core (#{args.core}), load average {os.getloadavg()[0]:.2f} at start")
    print(f"{'notebook':42s} {'kernel s':>8s} {'cells s':>8s} {'total s':>8s}  slowest cells")
    for path in paths:
        result = time_notebook(path.resolve())
        slowest = "; ".join(f"[{i}] {s:.1f}s {text!r}" for s, i, text in result["slowest"])
        print(
            f"{path.name:42s} {result['kernel']:8.1f} {result['cells']:8.1f} "
            f"{result['total']:8.1f}  {slowest}",
            flush=True,
        )


if __name__ == "__main__":
    sys.exit(main())
