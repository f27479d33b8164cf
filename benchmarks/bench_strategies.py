"""Seven ways to search the digits at an equal budget of training epochs, five seeds each.

The digits (1,797 images) are split once into a search part (80%) and a test part (20%). Every
strategy searches on the search part (a HoldoutEvaluator holding out 20% of it, stratified,
early stopping off so a candidate trains the epochs it is given), its winner is retrained on the
whole search part for ``--epochs`` epochs and scored on the test part. The budget is Hyperband's:
with ``R = --epochs`` and ``eta = 3`` it trains ``B`` epochs in all (promoted candidates continue
training, so each epoch counts once); the population strategies get ``B / R`` candidates of
``R`` epochs (population x generations), the controller as many samples, DARTS ``B - R``
supernet epochs plus the retraining of its derived genome. One extra row gives the genetic
algorithm ``--ga-multiple`` times the budget, to test the claim that Hyperband reaches the GA's
median test error with a third of its epochs.

Columns: epochs actually trained (median over seeds; cache hits train nothing), median test
error of the winner with min-max over seeds, and median wall seconds of the search (winner
retraining not included). One BLAS thread; ``--seeds`` seeds from 0.

    python benchmarks/bench_strategies.py [--epochs 9] [--seeds 5] [--ga-multiple 3]
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from nastoolkit.datasets import load_digits, train_validation_split
from nastoolkit.nas import (
    GeneticSearch,
    HoldoutEvaluator,
    NSGA2Search,
    RandomSearch,
    RegularizedEvolution,
    SearchSpace,
)
from nastoolkit.nas.controller import ControllerSearch
from nastoolkit.nas.darts import DifferentiableSearch
from nastoolkit.nas.hyperband import Hyperband

SPACE = SearchSpace(
    max_layers=3,
    units=(16, 32, 64, 128),
    activations=("relu", "tanh", "sigmoid"),
    dropout=(0.0,),
    learning_rate=(1e-3, 1e-2),
    l2=(0.0,),
    optimizers=("adam",),
    batch_size=(32,),
)


def digits():
    (X, y), (X_val, y_val) = load_digits(validation_split=0.2, seed=0)
    X_all, y_all = np.concatenate([X, X_val]), np.concatenate([y, y_val])
    return train_validation_split(X_all, y_all, validation_split=0.2, seed=123)


def population_shape(candidates: int) -> tuple:
    """(population, generations) with population x (generations + 1) close to ``candidates``."""
    population = max(2, round(math.sqrt(candidates)))
    return population, max(0, round(candidates / population) - 1)


def epochs_of(result) -> int:
    if result.strategy == "Hyperband":
        return int(result.history[-1]["total_epochs"])
    if result.strategy == "DifferentiableSearch":
        return len(result.history) + int(result.evaluations[0].metrics.get("epochs", 0))
    return int(sum(record.metrics.get("epochs", 0) for record in result.evaluations))


def run_one(name, seed, search_data, test_data, epochs, budget, ga_multiple):
    X, y = search_data
    evaluator = HoldoutEvaluator(X, y, epochs=epochs, patience=epochs, seed=seed)
    candidates = max(2, budget // epochs)
    population, generations = population_shape(candidates)
    options = {"seed": seed, "progress": False}
    if name == f"GeneticSearch x{ga_multiple}":
        population, generations = population_shape(candidates * ga_multiple)
        search = GeneticSearch(SPACE, evaluator, population, generations, **options)
    elif name == "GeneticSearch":
        search = GeneticSearch(SPACE, evaluator, population, generations, **options)
    elif name == "RegularizedEvolution":
        search = RegularizedEvolution(
            SPACE,
            evaluator,
            population,
            generations,
            sample_size=max(1, population // 2),
            **options,
        )
    elif name == "RandomSearch":
        search = RandomSearch(SPACE, evaluator, population, generations, **options)
    elif name == "NSGA2Search":
        search = NSGA2Search(SPACE, evaluator, population, generations, **options)
    elif name == "ControllerSearch":
        search = ControllerSearch(
            SPACE,
            evaluator,
            controller_steps=generations + 1,
            architectures_per_step=population,
            **options,
        )
    elif name == "Hyperband":
        search = Hyperband(SPACE, evaluator, max_epochs=epochs, reduction_factor=3, **options)
    elif name == "DifferentiableSearch":
        search = DifferentiableSearch(
            SPACE,
            X,
            y,
            epochs=max(1, budget - epochs),
            seed=seed,
            validation_split=0.2,
            evaluator_epochs=epochs,
        )
    else:
        raise ValueError(name)
    start = time.perf_counter()
    result = search.run()
    seconds = time.perf_counter() - start
    model = result.best_model(epochs=epochs)
    logs = model.evaluate(*test_data, verbose=0, return_dict=True)
    return {"epochs": epochs_of(result), "test_error": 1.0 - logs["accuracy"], "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=9, help="R: most epochs per candidate")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--ga-multiple", type=int, default=3)
    parser.add_argument(
        "--strategies",
        default="GeneticSearch,RegularizedEvolution,RandomSearch,"
        "NSGA2Search,ControllerSearch,DifferentiableSearch,Hyperband,GA-multiple",
    )
    args = parser.parse_args()
    (X, y), (X_test, y_test) = digits()
    budget = Hyperband(SPACE, HoldoutEvaluator(X, y), max_epochs=args.epochs, progress=False).budget
    names = [
        f"GeneticSearch x{args.ga_multiple}" if name == "GA-multiple" else name
        for name in args.strategies.split(",")
    ]
    print(
        f"digits: {len(X)} search / {len(X_test)} test images; R = {args.epochs} epochs, "
        f"budget B = {budget} epochs; {args.seeds} seeds"
    )
    print(f"{'strategy':<24}{'epochs':>8}{'test error':>12}{'min-max':>16}{'wall s':>9}")
    for name in names:
        rows = [
            run_one(name, seed, (X, y), (X_test, y_test), args.epochs, budget, args.ga_multiple)
            for seed in range(args.seeds)
        ]
        errors = [row["test_error"] for row in rows]
        print(
            f"{name:<24}{statistics.median(row['epochs'] for row in rows):>8.0f}"
            f"{statistics.median(errors):>12.4f}"
            f"{f'{min(errors):.4f}-{max(errors):.4f}':>16}"
            f"{statistics.median(row['seconds'] for row in rows):>9.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
