"""Evaluations per second of a digits architecture search: serial, 2 processes, 2 Dask workers
(a LocalCluster, and an external ``dask scheduler`` with two ``dask worker`` processes).

One evaluation trains a 64 -> [32..128] x 1-3 -> 10 softmax MLP for 30 epochs at batch 32 on the
digits training split (1,437 images) and scores it on the validation split (360). The first row
trains each candidate alone through ``Sequential.fit`` on the NumPy path (``population=False``
inside ``engine.numpy_path()``: how every candidate trained before the compiled engine); the
second through ``Sequential.fit`` as it runs by default (in the engine, one candidate at a
time); the others train each generation (or each worker's slice of it) as one population in the
compiled engine (the evaluators' default). The same seeded
genetic search runs in every mode (so the same candidates train), with a fresh cache each time;
the cache hit rate is the share of requested candidates that were not retrained. Wall time
includes starting the pool / LocalCluster; the external scheduler and its workers are started
before the clock (as a cluster one connects to would be), the client connection is timed.

    .venv/bin/python benchmarks/bench_nas.py [--population 8] [--generations 2] [--modes ...]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

from nastoolkit import engine
from nastoolkit.datasets import load_digits
from nastoolkit.nas import GeneticSearch, HoldoutEvaluator, SearchSpace

SPACE = SearchSpace(
    max_layers=3,
    units=(32, 64, 128),
    activations=("relu", "tanh"),
    dropout=(0.0,),
    learning_rate=(1e-3, 1e-2),
    l2=(0.0,),
    optimizers=("adam",),
    batch_size=(32,),
)


def run(mode: str, options: dict, population: int, generations: int):
    (X, y), validation = load_digits(seed=0)
    # patience = epochs: every candidate trains the full 30 epochs, as the benchmark defines;
    # "numpy" and "alone" train each candidate through Sequential.fit (on the NumPy path, and
    # as fit runs by default), the others train a generation (or a worker's slice of it) as
    # one population in the compiled engine
    evaluator = HoldoutEvaluator(
        X,
        y,
        validation_data=validation,
        epochs=30,
        patience=30,
        seed=0,
        population=mode not in ("numpy", "alone"),
    )
    search = GeneticSearch(
        SPACE,
        evaluator,
        population_size=population,
        generations=generations,
        seed=0,
        progress=False,
        **options,
    )
    path = engine.numpy_path() if mode == "numpy" else contextlib.nullcontext()
    start = time.perf_counter()
    with path:
        result = search.run()
    seconds = time.perf_counter() - start
    trained = sum(row["trained"] for row in result.history)
    requested = sum(row["requested"] for row in result.history)
    return {
        "mode": mode,
        "trained": trained,
        "seconds": seconds,
        "rate": trained / seconds,
        "hit_rate": 1 - trained / requested,
        "best": result.best_score,
        "result": result.to_dict(),
    }


@contextlib.contextmanager
def external_cluster(workers: int = 2):
    """``dask scheduler`` and ``workers`` single-threaded ``dask worker`` processes on 127.0.0.1;
    yields the scheduler address and kills them all afterwards."""
    from dask.distributed import Client

    dask = shutil.which("dask", path=os.path.dirname(sys.executable)) or shutil.which("dask")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    quiet = {
        "stdout": subprocess.DEVNULL,
        "stderr": subprocess.DEVNULL,
        "start_new_session": True,
        "env": {
            **os.environ,
            **{
                name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
            },
        },
    }
    processes = [
        subprocess.Popen(
            [dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
            **quiet,
        )
    ]
    try:
        processes += [
            subprocess.Popen(
                [
                    dask,
                    "worker",
                    address,
                    "--nthreads",
                    "1",
                    "--no-dashboard",
                    "--host",
                    "127.0.0.1",
                ],
                **quiet,
            )
            for _ in range(workers)
        ]
        with Client(address, timeout=60) as client:
            client.wait_for_workers(workers, timeout=60)
        yield address
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--population", type=int, default=8)
    parser.add_argument("--generations", type=int, default=2)
    parser.add_argument("--modes", default="numpy,alone,serial,processes,dask,scheduler")
    args = parser.parse_args()
    modes = {
        "numpy": {},
        "alone": {},
        "serial": {},
        "processes": {"workers": 2},
        "dask": {"cluster": "local", "workers": 2},
    }
    rows = []
    for mode in args.modes.split(","):
        if mode == "scheduler":
            with external_cluster(2) as address:
                rows.append(run(mode, {"cluster": address}, args.population, args.generations))
        else:
            rows.append(run(mode, modes[mode], args.population, args.generations))
    print(
        f"{'mode':<30}{'trained':>8}{'seconds':>9}{'eval/s':>8}{'cache hits':>12}"
        f"{'best error':>12}  same result as serial"
    )
    serial = next((row for row in rows if row["mode"] == "serial"), rows[0])
    for row in rows:
        same = "yes" if row["result"] == serial["result"] else "NO"
        if row["mode"] == "numpy":
            same = "(NumPy path)"
        elif row["mode"] == "alone":
            same = "(one at a time)"
        label = {
            "numpy": "serial, NumPy path",
            "alone": "serial, each fit alone",
            "serial": "serial",
            "processes": "2 processes",
            "dask": "Dask LocalCluster (2x1)",
            "scheduler": "dask scheduler + 2 workers",
        }[row["mode"]]
        print(
            f"{label:<30}{row['trained']:>8}{row['seconds']:>9.2f}{row['rate']:>8.2f}"
            f"{row['hit_rate']:>12.1%}{row['best']:>12.4f}  {same}"
        )


if __name__ == "__main__":
    main()
