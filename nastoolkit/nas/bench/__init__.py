"""NAS-Bench-MLP: a tabular benchmark of MLP architectures, built with the toolkit itself.

Every architecture of a declared :class:`BenchSpace` is trained in advance with several seeds and
its per-epoch curves are stored in a small table shipped with the package, so a search strategy
runs by look-up (:class:`TabularEvaluator`) and strategies are compared over many seeded
repetitions in seconds (:func:`compare_strategies`)::

    bench = NASBenchMLP.load("digits")
    bench.query(genome, epochs=20, seed=0)
    report = compare_strategies(bench, ["random", "ga", "evolution", "nsga2"], repetitions=100)
    report.plot()                      # test regret; report.plot(regret="validation") too

Every strategy runs on :class:`TabularEvaluator` unchanged, Hyperband and ASHA included: a rung
is the look-up at its epoch and a promotion is charged only the recorded seconds of the epochs it
adds (:class:`TabularSegments`). :func:`compare_strategies` also takes ``"controller"``,
``"hyperband"`` and ``"asha"``, and records both the test regret NAS-Bench-101 plots and the
validation regret of each run's choice (see :mod:`nastoolkit.nas.bench.compare`).

Shipped tables (``NASBenchMLP.available()``): ``digits`` and ``regression`` hold the full space
(1-3 hidden layers of 16/32/64/128 units, relu/tanh per layer, learning rates 1e-3 and 1e-2,
seeds 0-2, 50 epochs: 3,504 trainings each); ``digits-small`` and ``regression-small`` the widths
16 and 64 only, for 30 epochs (504 trainings each). Build others with ``nastoolkit bench build``.
"""

from .build import DATASETS, build_table, load_dataset
from .compare import ComparisonReport, compare_strategies
from .evaluator import TabularEvaluator, TabularSegments
from .space import FULL_SPACE, SMALL_SPACE, BenchSpace
from .table import NASBenchMLP, Query, TableError

__all__ = [
    "DATASETS",
    "FULL_SPACE",
    "SMALL_SPACE",
    "BenchSpace",
    "ComparisonReport",
    "NASBenchMLP",
    "Query",
    "TableError",
    "TabularEvaluator",
    "TabularSegments",
    "build_table",
    "compare_strategies",
    "load_dataset",
]
