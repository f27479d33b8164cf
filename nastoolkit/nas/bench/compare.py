"""compare_strategies: many seeded runs of each search strategy on a table, as regret vs cost.

Each repetition runs a strategy unchanged on a :class:`TabularEvaluator` whose every look-up is
charged its recorded training seconds (Hyperband and ASHA: the seconds of the epochs a segment
adds); the run stops once the simulated budget is spent. The incumbent after each look-up is
the candidate with the lowest validation error the strategy has seen (Hyperband: at any rung).

Two regrets of the incumbent are recorded, both from the table's numbers for the incumbent
trained with the evaluator's full settings (``epochs``, ``patience``; as NAS-Bench-101's
benchmark code scores a choice made at a lower budget at the full one), both never negative:

- **test regret** (:attr:`ComparisonReport.regret`, what NAS-Bench-101 plots): its test error
  minus the lowest test error of any entry. A search that looks up the whole space ends at
  :attr:`ComparisonReport.floor`, the test-error gap of the validation-best entry, which is 0
  only when validation and test agree on the best entry.
- **validation regret** (:attr:`ComparisonReport.validation_regret`): its validation error minus
  the lowest validation error of any entry. It measures the search alone and reaches 0 once the
  strategy has looked up the validation-best entry at full fidelity (always, when it has looked
  up the whole space).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from ..._checks import positive, positive_int
from ..controller import ControllerSearch
from ..hyperband import Hyperband, hyperband_brackets
from ..strategies import GeneticSearch, NSGA2Search, RandomSearch, RegularizedEvolution, Search
from .evaluator import TabularEvaluator
from .table import NASBenchMLP

__all__ = ["STRATEGY_NAMES", "ComparisonReport", "compare_strategies"]

STRATEGY_NAMES = {
    "random": RandomSearch,
    "ga": GeneticSearch,
    "evolution": RegularizedEvolution,
    "nsga2": NSGA2Search,
    "controller": ControllerSearch,
    "hyperband": Hyperband,
    "asha": Hyperband,  # asynchronous=True
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
        # per look-up: cumulative cost, the validation error the strategy saw, and the full-
        # settings validation and test errors of the genome (what the regrets are taken of)
        self.log = []
        self.timeout = None
        self.input_dim, self.output_dim = evaluator.input_dim, evaluator.output_dim

    def charge(self, outcome, genome):
        """Count ``outcome``'s recorded cost and log it (a failed look-up costs nothing)."""
        if not outcome.ok:
            return outcome
        self.spent += outcome.metrics["cost"]
        full = self.evaluator.lookup(genome)
        self.log.append((self.spent, outcome.score, full["val_error"], full["test_error"]))
        return outcome

    def evaluate(self, genome):
        if self.spent >= self.budget:
            raise _BudgetSpent
        return self.charge(self.evaluator.evaluate(genome), genome)

    def segment_evaluator(self, max_epochs):
        return _BudgetedSegments(self, self.evaluator.segment_evaluator(max_epochs))

    def fingerprint(self) -> str:
        return self.evaluator.fingerprint()

    def count_parameters(self, genome) -> int:
        return self.evaluator.count_parameters(genome)


class _BudgetedSegments:
    """Hyperband's segments on the table, charged to the same budget and log."""

    def __init__(self, budgeted: _Budgeted, segments):
        self.budgeted, self.segments = budgeted, segments
        self.folds, self.timeout = segments.folds, None

    def evaluate(self, job):
        if self.budgeted.spent >= self.budgeted.budget:
            raise _BudgetSpent
        return self.budgeted.charge(self.segments.evaluate(job), job["genome"])


@dataclass
class ComparisonReport:
    """Regret curves of several strategies on one table.

    ``regret[name]`` is an array (repetitions, len(costs)) of the incumbent's test regret once
    ``costs[j]`` simulated seconds were spent (NaN before the first look-up finished);
    ``final_regret[name]`` the test regret when the run ended; ``validation_regret`` and
    ``final_validation_regret`` the same for the validation regret (see the module docstring
    for both); ``floor[seed]`` the test regret of the validation-best entry of table seed
    ``seed``; ``evaluations[name]`` the look-ups per run (Hyperband: segments);
    ``seconds[name]`` the wall-clock time of all repetitions.
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
    validation_regret: dict = field(default_factory=dict)
    final_validation_regret: dict = field(default_factory=dict)

    def curves(self, name: str, regret: str = "test") -> np.ndarray:
        """``regret[name]`` (``regret="test"``) or ``validation_regret[name]``
        (``"validation"``)."""
        if regret not in ("test", "validation"):
            raise ValueError(f"regret must be 'test' or 'validation'. Received: regret={regret!r}")
        return (self.regret if regret == "test" else self.validation_regret)[name]

    def quantiles(self, name: str, q=(25, 50, 75), regret: str = "test") -> np.ndarray:
        """Percentiles ``q`` of the regret over repetitions at each cost (rows follow ``q``)."""
        curves = self.curves(name, regret)
        out = np.full((len(q), curves.shape[1]), np.nan)
        seen = ~np.isnan(curves).all(axis=0)
        out[:, seen] = np.nanpercentile(curves[:, seen], q, axis=0)
        return out

    def median(self, name: str, regret: str = "test") -> np.ndarray:
        """Median regret over repetitions at each cost."""
        return self.quantiles(name, (50,), regret)[0]

    def summary(self) -> str:
        """A plain-text table: median and quartiles of the final test regret, median final
        validation regret, look-ups per run, wall-clock seconds."""
        lines = [
            f"{'strategy':<12}{'median':>10}{'q25':>10}{'q75':>10}{'val':>10}{'evals':>8}{'s':>7}"
        ]
        for name in self.strategies:
            final = self.final_regret[name]
            q25, q50, q75 = np.percentile(final, (25, 50, 75))
            validation = np.median(self.final_validation_regret.get(name, np.nan))
            lines.append(
                f"{name:<12}{q50:>10.4f}{q25:>10.4f}{q75:>10.4f}{validation:>10.4f}"
                f"{np.median(self.evaluations[name]):>8.0f}"
                f"{self.seconds.get(name, float('nan')):>7.1f}"
            )
        return "\n".join(lines)

    def plot(self, ax=None, regret: str = "test"):
        """Regret (``"test"`` or ``"validation"``) vs simulated training seconds: median line
        and quartile band per strategy (see :func:`nastoolkit.viz.bench.plot_regret`)."""
        from ...viz.bench import plot_regret

        return plot_regret(self, ax=ax, regret=regret)

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


def _build(label, kind, space, evaluator, seed, population_size, generations, options):
    """The search ``label`` names, with the comparison's settings in its own arguments."""
    if issubclass(kind, Hyperband):
        # R = the evaluator's epochs: no candidate trains longer than the others' budget
        return kind(
            space,
            evaluator,
            **{"max_epochs": evaluator.evaluator.epochs, **options},
            seed=seed,
            asynchronous=label == "asha",
            progress=False,
        )
    if issubclass(kind, ControllerSearch):
        sizes = {"controller_steps": generations + 1, "architectures_per_step": population_size}
    else:
        sizes = {"population_size": population_size, "generations": generations}
    return _stoppable(kind)(space, evaluator, **sizes, seed=seed, progress=False, **options)


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
    size; the controller: that many steps plus one), after ``stall_generations`` generations in
    a row with no new look-up, or (Hyperband, ASHA) when its brackets are done.

    Hyperband and ASHA run with ``max_epochs=epochs`` (their ``options`` may set
    ``max_epochs`` lower and ``reduction_factor``). When their brackets are done and budget
    remains they start over, as the paper's outer loop is repeated: pass ``k`` is a new run with
    seed ``seed + k * 100003``, up to ``generations`` passes (default: enough for five times the
    space's size in first-rung trials); ``population_size`` does not apply to them.

    Returns ``(log, searches)``: ``log`` is an array (look-ups, 4) of cumulative cost, the
    validation error the strategy saw, and the validation and test errors of the genome with
    the evaluator's full settings, in look-up order; ``searches`` the runs made (one, or one per
    Hyperband pass), the last one possibly stopped by the budget.
    """
    label, kind = _strategy(strategy)
    table_seed = bench.seeds[seed % len(bench.seeds)] if table_seed is None else table_seed
    evaluator = _Budgeted(TabularEvaluator(bench, epochs, patience, table_seed), budget_seconds)
    passes = 1
    if issubclass(kind, Hyperband):
        passes = generations or _hyperband_passes(bench, evaluator.evaluator.epochs, options)
    elif generations is None:
        generations = math.ceil(5 * bench.space.size() / population_size)
    stall_generations = positive_int("stall_generations", stall_generations)
    searches = []
    try:
        for repeat in range(positive_int("generations", passes)):
            search = _build(
                label,
                kind,
                bench.space,
                evaluator,
                seed + repeat * _PASS_SEED_STRIDE,
                population_size,
                generations,
                options,
            )
            search._stall_generations = stall_generations
            searches.append(search)
            search.run()
    except _BudgetSpent:
        pass
    return np.asarray(evaluator.log, float).reshape(-1, 4), searches


_PASS_SEED_STRIDE = 100_003  # Hyperband pass k of run seed r has seed r + k * stride


def _hyperband_passes(bench, epochs, options) -> int:
    """Hyperband passes whose first rungs sample five times the space's size in all."""
    brackets = hyperband_brackets(
        options.get("max_epochs", epochs), options.get("reduction_factor", 3)
    )
    per_pass = sum(bracket["rungs"][0][0] for bracket in brackets)
    return math.ceil(5 * bench.space.size() / per_pass)


def _incumbents(val_errors) -> np.ndarray:
    """Index of the incumbent after each look-up: the first to reach the running minimum."""
    previous = np.concatenate([[np.inf], np.minimum.accumulate(val_errors)[:-1]])
    improved = val_errors < previous
    return np.maximum.accumulate(np.where(improved, np.arange(len(val_errors)), 0))


def _table_optima(bench, epochs, patience) -> tuple[dict, dict, dict]:
    """Per table seed: the lowest validation and test errors of any entry with the evaluator's
    settings, and the test-error gap of the validation-best entry (the floor)."""
    best_val, best_test, floor = {}, {}, {}
    genomes = bench.genomes()
    for seed in bench.seeds:
        evaluator = TabularEvaluator(bench, epochs, patience, seed)
        numbers = np.array(
            [(m["val_error"], m["test_error"]) for m in map(evaluator.lookup, genomes)]
        )
        best_val[seed] = float(numbers[:, 0].min())
        best_test[seed] = float(numbers[:, 1].min())
        floor[seed] = float(numbers[int(np.argmin(numbers[:, 0])), 1] - best_test[seed])
    return best_val, best_test, floor


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
        ``"random"``, ``"ga"``, ``"evolution"``, ``"nsga2"``, ``"controller"`` (REINFORCE,
        ``population_size`` architectures per step), ``"hyperband"``, ``"asha"`` (both with
        ``max_epochs=epochs``, ``reduction_factor=3``; a promotion is charged only the epochs
        it adds, and a run starts over with a new seed while budget remains, see
        :func:`run_once`) or population-based Search classes.
    repetitions : int
        Seeded runs per strategy; run ``r`` uses search seed ``r`` and table seed
        ``bench.seeds[r % len(bench.seeds)]``.
    budget_seconds : float
        Simulated training seconds per run (recorded times of the looked-up trainings).
    epochs, patience : int, optional
        The :class:`TabularEvaluator` settings.
    population_size, generations : int, optional
        Strategy settings (``generations`` default: enough for five times the space's size;
        for Hyperband and ASHA it counts passes).
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
    best_val, best_test, floor = _table_optima(bench, epochs, patience)
    smallest = float(bench.arrays["seconds"][..., 0].min())
    costs = np.geomspace(max(smallest, budget_seconds * 1e-4), budget_seconds, points)
    regret, final, counts, seconds = {}, {}, {}, {}
    validation, final_validation = {}, {}
    for label, kind in named:
        started = time.perf_counter()
        curves = np.full((repetitions, points), np.nan)
        validation_curves = np.full((repetitions, points), np.nan)
        final[label] = np.empty(repetitions)
        final_validation[label] = np.empty(repetitions)
        counts[label] = np.empty(repetitions, int)
        for repetition in range(repetitions):
            table_seed = bench.seeds[repetition % len(bench.seeds)]
            log, _ = run_once(
                bench,
                label if label in STRATEGY_NAMES else kind,
                repetition,
                budget_seconds,
                epochs,
                patience,
                population_size,
                generations,
                table_seed,
                stall_generations,
            )
            incumbents = _incumbents(log[:, 1])
            run_regret = log[incumbents, 3] - best_test[table_seed]
            run_validation = log[incumbents, 2] - best_val[table_seed]
            done = np.searchsorted(log[:, 0], costs, side="right") - 1
            curves[repetition] = np.where(done >= 0, run_regret[np.maximum(done, 0)], np.nan)
            validation_curves[repetition] = np.where(
                done >= 0, run_validation[np.maximum(done, 0)], np.nan
            )
            final[label][repetition] = run_regret[-1]
            final_validation[label][repetition] = run_validation[-1]
            counts[label][repetition] = len(log)
        regret[label] = curves
        validation[label] = validation_curves
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
        validation_regret=validation,
        final_validation_regret=final_validation,
    )
