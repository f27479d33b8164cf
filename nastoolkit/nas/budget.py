"""Every search strategy at one budget of training epochs, on real training: who wins what.

The budget is Hyperband's: with ``R = max_epochs`` and ``eta = reduction_factor`` it trains
``B`` epochs in all (promoted candidates continue, so each epoch counts once). The population
strategies and the controller get at most ``B / R`` candidates of ``R`` epochs (population x
generations as square as it goes), DARTS ``B - R`` supernet epochs plus the retraining of its
derived genome for ``R``. Every run searches on ``(X, y)`` through a
:class:`~nastoolkit.nas.HoldoutEvaluator` with early stopping off (a candidate trains the
epochs it is given); its winner is retrained on all of ``(X, y)`` for ``R`` epochs and scored
on ``test_data``, which no search sees. ``benchmarks/bench_strategies.py`` runs the same
comparison on the whole digits with five seeds.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass

from .._checks import int_at_least
from .controller import ControllerSearch
from .darts import DifferentiableSearch
from .evaluators import HoldoutEvaluator
from .hyperband import Hyperband
from .strategies import GeneticSearch, NSGA2Search, RandomSearch, RegularizedEvolution

__all__ = ["BudgetComparison", "compare_at_epoch_budget", "epochs_trained"]

STRATEGY_ORDER = (
    "RandomSearch",
    "GeneticSearch",
    "RegularizedEvolution",
    "NSGA2Search",
    "ControllerSearch",
    "DifferentiableSearch",
    "Hyperband",
)


def epochs_trained(result) -> int:
    """Training epochs a search result spent (cache hits train nothing; Hyperband's promoted
    candidates continue; DARTS: supernet epochs plus the derived genome's retraining).

    Parameters
    ----------
    result : SearchResult
        Of any strategy; candidates' ``metrics["epochs"]`` say what each trained.

    Returns
    -------
    int
        Epochs trained in all.

    Examples
    --------
    >>> from nastoolkit.nas import Candidate, Outcome, SearchResult, make_genome
    >>> genome = make_genome([(8, "relu", 0.0)])
    >>> records = [Candidate(i, str(i), genome, 0, 10, Outcome("ok", 0.1, None, {"epochs": 3}))
    ...            for i in range(2)]
    >>> epochs_trained(SearchResult("RandomSearch", records, history=[], population=[genome]))
    6
    """
    if result.strategy == "Hyperband":
        return int(result.history[-1]["total_epochs"])
    if result.strategy == "DifferentiableSearch":
        return len(result.history) + int(result.evaluations[0].metrics.get("epochs", 0))
    return int(sum(record.metrics.get("epochs", 0) for record in result.evaluations))


def _population_shape(candidates: int) -> tuple:
    """(population, generations): population x (generations + 1) as close to ``candidates`` as
    it goes without passing it (a population has at least 2 members)."""
    population = max(2, round(math.sqrt(candidates)))
    return population, max(0, candidates // population - 1)


def _search(name, space, X, y, seed, max_epochs, reduction_factor, budget, validation_split):
    evaluator = HoldoutEvaluator(
        X, y, validation_split=validation_split, epochs=max_epochs, patience=max_epochs, seed=seed
    )
    population, generations = _population_shape(max(2, budget // max_epochs))
    options = {"seed": seed, "progress": False}
    if name == "Hyperband":
        return Hyperband(
            space, evaluator, max_epochs=max_epochs, reduction_factor=reduction_factor, **options
        )
    if name == "DifferentiableSearch":
        return DifferentiableSearch(
            space,
            X,
            y,
            epochs=max(1, budget - max_epochs),
            seed=seed,
            validation_split=validation_split,
            evaluator_epochs=max_epochs,
        )
    if name == "ControllerSearch":
        return ControllerSearch(
            space,
            evaluator,
            controller_steps=generations + 1,
            architectures_per_step=population,
            **options,
        )
    if name == "RegularizedEvolution":
        return RegularizedEvolution(
            space,
            evaluator,
            population,
            generations,
            sample_size=max(1, population // 2),
            **options,
        )
    kinds = {
        "RandomSearch": RandomSearch,
        "GeneticSearch": GeneticSearch,
        "NSGA2Search": NSGA2Search,
    }
    return kinds[name](space, evaluator, population, generations, **options)


@dataclass
class BudgetComparison:
    """The runs of :func:`compare_at_epoch_budget`.

    ``runs`` holds one dict per (strategy, seed): ``strategy``, ``seed``, ``epochs`` (trained),
    ``candidates`` (distinct genomes scored), ``val_error`` (the winner's, as the search saw
    it), ``test_error`` (the winner retrained on all the search data) and ``seconds`` (wall time
    of the search, the retraining not included). ``budget`` is Hyperband's ``B`` in epochs.

    Examples
    --------
    >>> run = {"strategy": "Hyperband", "seed": 0, "epochs": 11, "candidates": 5,
    ...        "val_error": 0.1, "test_error": 0.12, "seconds": 0.3}
    >>> print(BudgetComparison(11, 3, ["Hyperband"], [run]).table().splitlines()[0])
    budget B = 11 epochs (R = 3); median over 1 seed
    """

    budget: int
    max_epochs: int
    strategies: list
    runs: list

    def rows(self) -> list:
        """Per strategy: median epochs, candidates and seconds; median, min and max test error.

        Examples
        --------
        >>> comparison = BudgetComparison(9, 3, ["RandomSearch"], [
        ...     {"strategy": "RandomSearch", "seed": 0, "epochs": 9, "candidates": 3,
        ...      "val_error": 0.2, "test_error": 0.25, "seconds": 0.5}])
        >>> comparison.rows()[0]["test_error"], comparison.rows()[0]["candidates"]
        (0.25, 3)
        """
        table = []
        for name in self.strategies:
            runs = [run for run in self.runs if run["strategy"] == name]
            errors = [run["test_error"] for run in runs]
            table.append(
                {
                    "strategy": name,
                    "epochs": statistics.median(run["epochs"] for run in runs),
                    "candidates": statistics.median(run["candidates"] for run in runs),
                    "val_error": statistics.median(run["val_error"] for run in runs),
                    "test_error": statistics.median(errors),
                    "test_min": min(errors),
                    "test_max": max(errors),
                    "seconds": statistics.median(run["seconds"] for run in runs),
                }
            )
        return table

    def table(self) -> str:
        """The comparison as plain text, one line per strategy (medians over seeds)."""
        seeds = len({run["seed"] for run in self.runs})
        plural = "s" if seeds > 1 else ""
        header = f"budget B = {self.budget} epochs (R = {self.max_epochs}); median over "
        columns = ("strategy", "epochs", "models", "val error", "test error", "min-max", "wall s")
        lines = [
            header + f"{seeds} seed{plural}",
            "{:<22}{:>7}{:>7}{:>11}{:>12}{:>14}{:>8}".format(*columns),
        ]
        for row in self.rows():
            spread = f"{row['test_min']:.3f}-{row['test_max']:.3f}"
            lines.append(
                f"{row['strategy']:<22}{row['epochs']:>7.0f}{row['candidates']:>7.0f}"
                f"{row['val_error']:>11.4f}{row['test_error']:>12.4f}{spread:>14}"
                f"{row['seconds']:>8.2f}"
            )
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.table()


def compare_at_epoch_budget(
    space,
    X,
    y,
    test_data,
    max_epochs=9,
    reduction_factor=3,
    seeds=(0,),
    strategies=STRATEGY_ORDER,
    validation_split=0.2,
) -> BudgetComparison:
    """Run each strategy at Hyperband's epoch budget and score its winner on held-out data.

    Parameters
    ----------
    space : SearchSpace
        The choices, the same for every strategy.
    X, y : array-like
        The search data (split inside each run by a holdout evaluator).
    test_data : tuple
        ``(X_test, y_test)``, never seen by a search.
    max_epochs, reduction_factor : int
        Hyperband's ``R`` and ``eta``; they set the budget ``B`` and each candidate's epochs.
    seeds : sequence of int
        One run per strategy per seed.
    strategies : sequence of str
        Names from ``STRATEGY_ORDER``.
    validation_split : float
        The holdout fraction of every run.

    Returns
    -------
    BudgetComparison
        ``.table()`` prints the comparison; ``.runs`` has every run's numbers.

    Examples
    --------
    >>> import numpy as np
    >>> from nastoolkit.nas import SearchSpace
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(60, 3)).astype("float32"); y = (X[:, 0] > 0).astype(int)
    >>> space = SearchSpace(max_layers=1, units=(4, 8), activations=("relu",))
    >>> comparison = compare_at_epoch_budget(space, X, y, (X, y), max_epochs=3,
    ...                                      strategies=["RandomSearch", "Hyperband"])
    >>> comparison.budget, [row["epochs"] for row in comparison.rows()]
    (11, [6, 11])
    """
    max_epochs = int_at_least("max_epochs", max_epochs, 1, "Pass e.g. max_epochs=9.")
    unknown = [name for name in strategies if name not in STRATEGY_ORDER]
    if unknown or not strategies:
        raise ValueError(
            f"strategies must be names from {list(STRATEGY_ORDER)}. Received: {list(strategies)!r}."
        )
    seeds = [int_at_least("seeds", seed, 0, "Pass e.g. seeds=(0, 1, 2).") for seed in seeds]
    if not seeds:
        raise ValueError("seeds must hold at least one seed. Received: (). Pass e.g. seeds=(0,).")
    budget = Hyperband(
        space,
        HoldoutEvaluator(X, y, validation_split=validation_split),
        max_epochs=max_epochs,
        reduction_factor=reduction_factor,
        progress=False,
    ).budget
    X_test, y_test = test_data
    runs = []
    for name in strategies:
        for seed in seeds:
            search = _search(
                name, space, X, y, seed, max_epochs, reduction_factor, budget, validation_split
            )
            start = time.perf_counter()
            result = search.run()
            seconds = time.perf_counter() - start
            model = result.best_model(epochs=max_epochs)
            logs = model.evaluate(X_test, y_test, verbose=0, return_dict=True)
            runs.append(
                {
                    "strategy": name,
                    "seed": seed,
                    "epochs": epochs_trained(result),
                    "candidates": len({record.key for record in result.evaluations}),
                    "val_error": result.best_score,
                    "test_error": 1.0 - float(logs["accuracy"]),
                    "seconds": seconds,
                }
            )
    return BudgetComparison(budget, max_epochs, list(strategies), runs)
