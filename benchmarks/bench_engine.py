"""Milliseconds per training epoch of the seed workload: the NumPy path vs the compiled engine.

Workload: 10 -> 64 (relu) -> Dropout 0.5 -> 32 (relu) -> 1, Adam, MSE, batch 32, 8,000 training
rows (no validation pass: this times training only). Columns, interleaved round-robin on one
thread so machine noise hits all alike, as medians (wall and the thread's CPU time) and minima:

- ``fit (NumPy)``: ``Sequential.fit(epochs=1)`` inside ``engine.numpy_path()``, with its
  per-epoch bookkeeping;
- ``train_step loop``: the NumPy steps alone over the same permutation;
- ``fit (default)``: the same ``fit`` as it runs by default (in the engine, with fit's hooks);
- ``engine``: ``nastoolkit.engine.train_epoch`` (one compiled call, -march=native);
- ``engine AVX2``: the same library built with ``-mno-avx512f`` (where the CPU has AVX-512).

Second table: 20 random MLPs of the default NAS search space (10 inputs, regression head,
batch 32 for all), one epoch each: the NumPy steps model by model, the engine model by model,
and the engine's population call (all 20 over the same batches in one call).

Before timing, one epoch from the same weights runs on both paths and the largest parameter
difference is printed (a check before any timing).

    python benchmarks/bench_engine.py [--epochs 20]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from nastoolkit import engine
from nastoolkit.datasets import load_synthetic_regression
from nastoolkit.kernels import _engine
from nastoolkit.layers import Dense, Dropout
from nastoolkit.losses import MeanSquaredError
from nastoolkit.models import Sequential
from nastoolkit.optimizers import Adam

BATCH = 32


def seed_model():
    model = Sequential(seed=0)
    model.add(Dense(64, activation="relu", input_shape=(10,)))
    model.add(Dropout(0.5))
    model.add(Dense(32, activation="relu"))
    model.add(Dense(1, activation="linear"))
    model.compile(optimizer=Adam(), loss=MeanSquaredError())
    return model


def cpu_description() -> str:
    name, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                elif line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                if name and flags:
                    break
    except OSError:
        pass
    wanted = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512vl", "avx512bw", "avx512dq")
    return f"{name}; flags: {' '.join(f for f in wanted if f in flags) or 'unknown'}"


def agreement(x, y) -> float:
    """Largest |parameter difference| after one epoch from the same weights, NumPy vs engine."""
    reference, model = seed_model(), seed_model()
    reference.build((None, 10))
    model.build((None, 10))
    order = np.random.default_rng(0).permutation(len(x))
    for start in range(0, len(order), BATCH):
        rows = order[start : start + BATCH]
        reference.train_step(x[rows], y[rows])
    engine.train_epoch(model, x, y, order, BATCH)
    return float(np.abs(reference.params - model.params).max())


def runners(x, y):
    fit_model, step_model, engine_model = seed_model(), seed_model(), seed_model()
    default_model = seed_model()
    for model in (step_model, engine_model):
        model.build((None, 10))
    rngs = {name: np.random.default_rng(1) for name in ("step", "engine")}

    def fit_epoch():
        with engine.numpy_path():  # fit's own default is the engine
            fit_model.fit(x, y, epochs=1, batch_size=BATCH, verbose=0)

    def fit_default_epoch():
        default_model.fit(x, y, epochs=1, batch_size=BATCH, verbose=0)

    def step_epoch():
        order = rngs["step"].permutation(len(x))
        for start in range(0, len(order), BATCH):
            rows = order[start : start + BATCH]
            step_model.train_step(x[rows], y[rows])

    def engine_epoch():
        order = rngs["engine"].permutation(len(x))
        engine.train_epoch(engine_model, x, y, order, BATCH)

    table = {
        "fit (NumPy)": fit_epoch,
        "train_step loop": step_epoch,
        "fit (default)": fit_default_epoch,
        "engine": engine_epoch,
    }
    if "avx512f" in cpu_description():
        avx2 = _engine._build(("-mno-avx512f",), tag="_avx2")
        native = _engine._load()

        def engine_avx2_epoch():
            _engine._library = avx2
            try:
                engine_epoch()
            finally:
                _engine._library = native

        table["engine AVX2"] = engine_avx2_epoch
    return table


def search_models(count=20, seed=0):
    """``count`` random MLPs of the default search space, compiled without metrics."""
    import random

    from nastoolkit.nas.build import genome_to_model
    from nastoolkit.nas.space import SearchSpace

    space, rng = SearchSpace(), random.Random(seed)
    models = []
    for index in range(count):
        model = genome_to_model(space.sample(rng), 10, 1, task="regression", seed=index)
        model.compile(optimizer=model.optimizer, loss=model.loss)
        model.build((None, 10))
        models.append(model)
    return models


def population_runners(x, y):
    step_models, engine_models, population = search_models(), search_models(), search_models()
    rngs = {name: np.random.default_rng(2) for name in ("step", "engine", "population")}

    def one_by_one_numpy():
        order = rngs["step"].permutation(len(x))
        for model in step_models:
            for start in range(0, len(order), BATCH):
                rows = order[start : start + BATCH]
                model.train_step(x[rows], y[rows])

    def one_by_one_engine():
        order = rngs["engine"].permutation(len(x))
        for model in engine_models:
            engine.train_epoch(model, x, y, order, BATCH)

    def as_population():
        engine.train_population(
            population,
            x,
            y,
            epochs=1,
            batch_size=BATCH,
            seed=int(rngs["population"].integers(2**31)),
        )

    return {
        "NumPy, one by one": one_by_one_numpy,
        "engine, one by one": one_by_one_engine,
        "engine population": as_population,
    }


def timed(table, epochs):
    """Interleaved runs: {name: (wall seconds, thread CPU seconds)} lists."""
    for run in table.values():  # warm-up: builds, first allocations
        run()
    times = {name: [] for name in table}
    cpu = {name: [] for name in table}
    for _ in range(epochs):
        for name, run in table.items():
            start, start_cpu = time.perf_counter(), time.thread_time()
            run()
            times[name].append(time.perf_counter() - start)
            cpu[name].append(time.thread_time() - start_cpu)
    return times, cpu


def print_table(times, cpu, base_name):
    # the minimum and the thread's CPU time too: on a shared machine they are what other
    # processes disturb least
    base = statistics.median(times[base_name])
    print(f"{'path':<20}{'median ms':>11}{'min ms':>9}{'CPU ms':>9}{'x first (median)':>18}")
    for name, ts in times.items():
        median = statistics.median(ts)
        print(
            f"{name:<20}{median * 1e3:>11.2f}{min(ts) * 1e3:>9.2f}"
            f"{statistics.median(cpu[name]) * 1e3:>9.2f}{base / median:>18.1f}"
        )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20, help="timed epochs per column")
    args = parser.parse_args(argv)
    if not _engine.available():
        print(f"compiled engine unavailable: {_engine.reason()}")
        return
    (x, y), _ = load_synthetic_regression(n_samples=10_000, seed=0)
    x, y = np.ascontiguousarray(x, np.float32), np.ascontiguousarray(y, np.float32).reshape(-1, 1)
    print(f"CPU: {cpu_description()}")
    print(f"engine flags: {' '.join(_engine.FLAGS)} (+ -DNK_LIBMVEC -lmvec where it links)")
    print(f"engine library: {_engine.reason()}")
    print(f"max |params NumPy - engine| after one epoch: {agreement(x, y):.2e}")
    times, cpu = timed(runners(x, y), args.epochs)
    print(
        f"\nSeed epoch ({len(x)} rows, batch {BATCH}), {args.epochs} epochs each, "
        "interleaved, 1 thread:"
    )
    print_table(times, cpu, "fit (NumPy)")
    times, cpu = timed(population_runners(x, y), max(3, args.epochs // 4))
    print(
        f"\n20 search-space MLPs, one epoch each ({len(x)} rows, batch {BATCH}), "
        f"{max(3, args.epochs // 4)} rounds, interleaved, 1 thread:"
    )
    print_table(times, cpu, "NumPy, one by one")


if __name__ == "__main__":
    main()
