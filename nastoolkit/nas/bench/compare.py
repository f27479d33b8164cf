"""compare_strategies: many seeded runs of each search strategy on a table, as regret vs cost.

Each repetition runs a strategy unchanged on a :class:`TabularEvaluator` whose every look-up is
charged its recorded training seconds; the run stops once the simulated budget is spent. The
incumbent after each evaluation is the candidate with the lowest *validation* error so far, and
its regret is its *test* error minus the lowest test error anywhere in the table (as in
NAS-Bench-101). Regret is therefore never negative; a search that evaluates the whole space ends
at :attr:`ComparisonReport.floor`, the test-error gap of the validation-best entry (0 only when
validation and test agree on the best entry).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from ..._checks import positive, positive_int
from ..strategies import GeneticSearch, NSGA2Search, RandomSearch, RegularizedEvolution, Search
from .evaluator import TabularEvaluator
from .table import NASBenchMLP

__all__ = ["STRATEGY_NAMES", "ComparisonReport", "compare_strategies"]

STRATEGY_NAMES = {
    "random": RandomSearch,
    "ga": GeneticSearch,
    "evolution": RegularizedEvolution,
    "nsga2": NSGA2Search,
}


class _BudgetSpent(BaseException):
    """Raised through the search loop (which only catches Exception) when the budget is spent
    or the search has stalled."""


_STOPPABLE = {}


def _stoppable(kind):
    """``kind`` with a stop after ``stall_generations`` generations that looked nothing up (a
    converged population proposes only genomes it has seen; running on changes nothing)."""
    if kind not in _STOPPABLE:

        def _finish_generation(self, generation, bar):
            kind._finish_generation(self, generation, bar)
            self._stalled = 0 if self.state.history[-1]["trained"] else self._stalled + 1
            if self._stalled >= self._stall_generations:
                raise _BudgetSpent

        _STOPPABLE[kind] = type(
            kind.__name__, (kind,), {"_finish_generation": _finish_generation, "_stalled": 0}
        )
    return _STOPPABLE[kind]


class _Budgeted:
    """Wraps a TabularEvaluator: logs every look-up in order and stops the run at the budget."""

    def __init__(self, evaluator: TabularEvaluator, budget: float):
        self.evaluator, self.budget = evaluator, budget
        self.spent = 0.0
        self.log = []  # (cumulative cost, val error, test error) per look-up
        self.timeout = None
        self.input_dim, self.output_dim = evaluator.input_dim, evaluator.output_dim

    def evaluate(self, genome):
        if self.spent >= self.budget:
            raise _BudgetSpent
        outcome = self.evaluator.evaluate(genome)
        self.spent += outcome.seconds
        self.log.append((self.spent, outcome.score, outcome.metrics["test_error"]))
        return outcome

    def fingerprint(self) -> str:
        return self.evaluator.fingerprint()

    def count_parameters(self, genome) -> int:
        return self.evaluator.count_parameters(genome)


@dataclass
class ComparisonReport:
    """Regret curves of several strategies on one table.

    ``regret[name]`` is an array (repetitions, len(costs)) of the incumbent's regret once
    ``costs[j]`` simulated seconds were spent (NaN before the first look-up finished);
    ``final_regret[name]`` the regret when the run ended; ``evaluations[name]`` the distinct
    look-ups per run; ``seconds[name]`` the wall-clock time of all repetitions.
    """

    strategies: list
    costs: np.ndarray
    regret: dict
    final_regret: dict
    evaluations: dict
    floor: dict
    budget_seconds: float
    repetitions: int
    seconds: dict = field(default_factory=dict)
    table: str = ""

    def quantiles(self, name: str, q=(25, 50, 75)) -> np.ndarray:
        """Percentiles ``q`` of the regret over repetitions at each cost (rows follow ``q``)."""
        curves = self.regret[name]
        out = np.full((len(q), curves.shape[1]), np.nan)
        seen = ~np.isnan(curves).all(axis=0)
        out[:, seen] = np.nanpercentile(curves[:, seen], q, axis=0)
        return out

    def median(self, name: str) -> np.ndarray:
        """Median regret over repetitions at each cost."""
        return self.quantiles(name, (50,))[0]

    def summary(self) -> str:
        """A plain-text table: median and quartiles of the final regret, evaluations, time."""
        lines = [f"{'strategy':<12}{'median':>10}{'q25':>10}{'q75':>10}{'evals':>8}{'s':>7}"]
        for name in self.strategies:
            final = self.final_regret[name]
            q25, q50, q75 = np.percentile(final, (25, 50, 75))
            lines.append(
                f"{name:<12}{q50:>10.4f}{q25:>10.4f}{q75:>10.4f}"
                f"{np.median(self.evaluations[name]):>8.0f}"
                f"{self.seconds.get(name, float('nan')):>7.1f}"
            )
        return "\n".join(lines)

    def plot(self, ax=None):
        """Regret vs simulated training seconds: median line and quartile band per strategy
        (see :func:`nastoolkit.viz.bench.plot_regret`)."""
        from ...viz.bench import plot_regret

        return plot_regret(self, ax=ax)

    def __repr__(self) -> str:
        return (
            f"ComparisonReport({self.strategies}, repetitions={self.repetitions}, "
            f"budget_seconds={self.budget_seconds:g})"
        )


def _strategy(name):
    if isinstance(name, type) and issubclass(name, Search):
        return name.__name__, name
    if name not in STRATEGY_NAMES:
        raise ValueError(
            f"strategies must be names from {sorted(STRATEGY_NAMES)} or Search "
            f"subclasses. Received: {name!r}"
        )
    return name, STRATEGY_NAMES[name]


def run_once(
    bench,
    strategy,
    seed,
    budget_seconds,
    epochs=None,
    patience=5,
    population_size=10,
    generations=None,
    table_seed=None,
    stall_generations=3,
    **options,
):
    """One budgeted run of ``strategy`` (a name or Search class) on ``bench``: it ends when
    the budget is spent, after ``generations`` (default: enough for five times the space's
    size), or after ``stall_generations`` generations in a row with no new look-up.

    Returns ``(log, search)``: ``log`` is an array (look-ups, 3) of cumulative cost, validation
    error and test error in evaluation order.
    """
    _, kind = _strategy(strategy)
    table_seed = bench.seeds[seed % len(bench.seeds)] if table_seed is None else table_seed
    evaluator = _Budgeted(TabularEvaluator(bench, epochs, patience, table_seed), budget_seconds)
    if generations is None:
        generations = math.ceil(5 * bench.space.size() / population_size)
    search = _stoppable(kind)(
        bench.space,
        evaluator,
        population_size=population_size,
        generations=generations,
        seed=seed,
        progress=False,
        **options,
    )
    search._stall_generations = positive_int("stall_generations", stall_generations)
    try:
        search.run()
    except _BudgetSpent:
        pass
    return np.asarray(evaluator.log, float).reshape(-1, 3), search


def _incumbents(val_errors) -> np.ndarray:
    """Index of the incumbent after each look-up: the first to reach the running minimum."""
    previous = np.concatenate([[np.inf], np.minimum.accumulate(val_errors)[:-1]])
    improved = val_errors < previous
    return np.maximum.accumulate(np.where(improved, np.arange(len(val_errors)), 0))


def _best_test_errors(bench, epochs, patience) -> tuple[dict, dict]:
    """Per table seed: the lowest test error anywhere, and the validation-best entry's gap."""
    best, floor = {}, {}
    genomes = bench.genomes()
    for seed in bench.seeds:
        evaluator = TabularEvaluator(bench, epochs, patience, seed)
        numbers = np.array(
            [(m["val_error"], m["test_error"]) for m in map(evaluator.lookup, genomes)]
        )
        best[seed] = float(numbers[:, 1].min())
        floor[seed] = float(numbers[int(np.argmin(numbers[:, 0])), 1] - best[seed])
    return best, floor


def compare_strategies(
    bench,
    strategies=("random", "ga", "evolution", "nsga2"),
    repetitions=100,
    budget_seconds=3600.0,
    epochs=None,
    patience=5,
    population_size=10,
    generations=None,
    stall_generations=3,
    points=100,
) -> ComparisonReport:
    """Run each strategy ``repetitions`` times (seeds 0..repetitions-1) on the table and
    collect regret against simulated training time.

    Parameters
    ----------
    bench : NASBenchMLP
        The table.
    strategies : sequence of str or Search subclasses
        ``"random"``, ``"ga"``, ``"evolution"``, ``"nsga2"`` or classes.
    repetitions : int
        Seeded runs per strategy; run ``r`` uses search seed ``r`` and table seed
        ``bench.seeds[r % len(bench.seeds)]``.
    budget_seconds : float
        Simulated training seconds per run (recorded times of the looked-up trainings).
    epochs, patience : int, optional
        The :class:`TabularEvaluator` settings.
    population_size, generations : int, optional
        Strategy settings (``generations`` default: enough for five times the space's size).
    stall_generations : int
        A run also ends after this many generations in a row without a new look-up.
    points : int
        Log-spaced cost points of the regret curves.

    Returns
    -------
    ComparisonReport

    Examples
    --------
    >>> bench = NASBenchMLP.load("digits")
    >>> report = compare_strategies(bench, ["random"], repetitions=2, budget_seconds=20)
    >>> bool((report.final_regret["random"] >= 0).all())
    True
    """
    if not isinstance(bench, NASBenchMLP):
        raise TypeError(f"bench must be a NASBenchMLP. Received: {type(bench).__name__}")
    if isinstance(strategies, str):
        strategies = [strategies]
    named = [_strategy(strategy) for strategy in strategies]
    repetitions = positive_int("repetitions", repetitions, "Pass e.g. repetitions=100.")
    budget_seconds = positive("budget_seconds", budget_seconds, "Pass e.g. 3600.")
    points = positive_int("points", points)
    epochs = bench.epochs if epochs is None else bench.check_epochs(epochs)
    best, floor = _best_test_errors(bench, epochs, patience)
    smallest = float(bench.arrays["seconds"][..., 0].min())
    costs = np.geomspace(max(smallest, budget_seconds * 1e-4), budget_seconds, points)
    regret, final, counts, seconds = {}, {}, {}, {}
    for label, kind in named:
        started = time.perf_counter()
        curves = np.full((repetitions, points), np.nan)
        final[label] = np.empty(repetitions)
        counts[label] = np.empty(repetitions, int)
        for repetition in range(repetitions):
            table_seed = bench.seeds[repetition % len(bench.seeds)]
            log, _ = run_once(
                bench,
                kind,
                repetition,
                budget_seconds,
                epochs,
                patience,
                population_size,
                generations,
                table_seed,
                stall_generations,
            )
            run_regret = log[_incumbents(log[:, 1]), 2] - best[table_seed]
            done = np.searchsorted(log[:, 0], costs, side="right") - 1
            curves[repetition] = np.where(done >= 0, run_regret[np.maximum(done, 0)], np.nan)
            final[label][repetition] = run_regret[-1]
            counts[label][repetition] = len(log)
        regret[label] = curves
        seconds[label] = time.perf_counter() - started
    return ComparisonReport(
        [label for label, _ in named],
        costs,
        regret,
        final,
        counts,
        floor,
        budget_seconds,
        repetitions,
        seconds,
        table=repr(bench),
    )
