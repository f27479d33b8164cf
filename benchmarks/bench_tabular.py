"""NAS-Bench-MLP speed: table sizes and load time, look-ups per second, the 100-repetition
strategy comparison, and (with --build) build time serial vs 2 processes vs a 2-worker Dask
LocalCluster on a small space.

    .venv/bin/python benchmarks/bench_tabular.py [--table digits] [--repetitions 100]
        [--budget 3600] [--strategies random ga evolution nsga2 controller hyperband asha]
        [--build]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

from nastoolkit.nas.bench import (
    BenchSpace,
    NASBenchMLP,
    TabularEvaluator,
    build_table,
    compare_strategies,
)


def sizes() -> None:
    print("table                      load s   npz KB  json KB  trainings  epochs  hash")
    for name in NASBenchMLP.available():
        started = time.perf_counter()
        bench = NASBenchMLP.load(name)
        seconds = time.perf_counter() - started
        npz, json = (
            os.path.getsize(bench.path.replace(".npz", s)) / 1024 for s in (".npz", ".json")
        )
        print(
            f"{name:<26}{seconds:>7.3f}{npz:>9.0f}{json:>9.1f}"
            f"{bench.metadata['trainings']:>11}{bench.epochs:>8}  {bench.content_hash[:12]}"
            f"  (built in {bench.metadata['build_seconds_this_run']:.0f} s, "
            f"{bench.metadata['workers']} worker(s))"
        )


def lookups(bench: NASBenchMLP) -> None:
    genomes = bench.genomes()
    evaluator = TabularEvaluator(bench)
    for label, call in (
        ("bench.query", bench.query),
        ("TabularEvaluator.evaluate", evaluator.evaluate),
    ):
        count, started = 0, time.perf_counter()
        while time.perf_counter() - started < 1.0:
            for genome in genomes:
                call(genome)
            count += len(genomes)
        print(f"{label:<26} {count / (time.perf_counter() - started):>10,.0f} look-ups/s")


def comparison(bench: NASBenchMLP, repetitions: int, budget: float, strategies) -> None:
    started = time.perf_counter()
    report = compare_strategies(bench, strategies, repetitions=repetitions, budget_seconds=budget)
    print(
        f"compare_strategies: {repetitions} repetitions x {len(strategies)} strategies, "
        f"budget {budget:g} s: {time.perf_counter() - started:.1f} s wall "
        f"(column s: per strategy; val: median final validation regret)"
    )
    print(report.summary())
    print(
        "floor (regret of evaluating everything) per table seed:",
        {seed: round(value, 4) for seed, value in report.floor.items()},
    )


def builds() -> None:
    space = BenchSpace(units=(16, 64))  # the small space, one seed: 168 trainings
    with tempfile.TemporaryDirectory() as folder:
        hashes = []
        for label, options in (
            ("serial", {"workers": 1}),
            ("2 processes", {"workers": 2}),
            ("Dask LocalCluster 2x1 (incl. start-up)", {"cluster": "local", "workers": 2}),
        ):
            started = time.perf_counter()
            table = build_table(
                "digits",
                os.path.join(folder, str(len(hashes))),
                space=space,
                seeds=(0,),
                epochs=10,
                progress=False,
                **options,
            )
            hashes.append(table.content_hash)
            print(
                f"build {len(table)} trainings x 10 epochs, {label}: "
                f"{time.perf_counter() - started:.1f} s"
            )
        print("same hash:", len(set(hashes)) == 1)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", default="digits")
    parser.add_argument("--repetitions", type=int, default=100)
    parser.add_argument("--budget", type=float, default=3600.0)
    parser.add_argument(
        "--strategies",
        nargs="+",
        default=["random", "ga", "evolution", "nsga2", "controller", "hyperband", "asha"],
    )
    parser.add_argument("--build", action="store_true")
    args = parser.parse_args()
    sizes()
    table = NASBenchMLP.load(args.table)
    print(table)
    lookups(table)
    comparison(table, args.repetitions, args.budget, args.strategies)
    if args.build:
        builds()
