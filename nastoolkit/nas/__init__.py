"""Neural architecture search for nastoolkit MLPs.

A :class:`SearchSpace` declares the choices; genomes are plain JSON data (:mod:`.genome`) changed
by pure operators (:mod:`.operators`); evaluators train and score them (:mod:`.evaluators`);
strategies (:mod:`.strategies`) search, on one process, a process pool or Dask (:mod:`.parallel`),
checkpointing to JSON after every generation (:mod:`.checkpoint`)::

    space = SearchSpace(max_layers=3)
    evaluator = CrossValidationEvaluator(X, y, folds=5, epochs=20, seed=0)
    result = GeneticSearch(space, evaluator, population_size=20, generations=10, seed=0,
                           workers=2, checkpoint="search.json").run()
    model = result.best_model()

More ways to search: :class:`Hyperband` (and ASHA, ``asynchronous=True``),
:class:`ControllerSearch` (an RNN controller trained with REINFORCE) and
:class:`DifferentiableSearch` (DARTS); :func:`compare_at_epoch_budget` runs every strategy at
one budget of training epochs.

DEAP is imported only when a DEAP strategy runs, Dask only when a client or cluster is used.

Examples
--------
The same on 20 rows, two epochs per candidate:

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> X = rng.standard_normal((20, 4)).astype("float32")
>>> y = (X[:, 0] > 0).astype(int)
>>> evaluator = HoldoutEvaluator(X, y, epochs=2, seed=0)
>>> result = RandomSearch(SearchSpace(max_layers=2, units=(8, 16)), evaluator,
...                       population_size=2, generations=1, seed=0, progress=False).run()
>>> len(result.history), result.best_record.ok
(2, True)
"""

from . import strategies as _strategies
from .auto import AutoClassifier, AutoRegressor
from .budget import BudgetComparison, compare_at_epoch_budget
from .build import count_parameters, genome_to_model
from .cache import EvaluationCache
from .checkpoint import CheckpointError
from .controller import ControllerSearch
from .darts import DifferentiableSearch
from .evaluators import (
    CrossValidationEvaluator,
    Evaluator,
    HoldoutEvaluator,
    evaluator_from_config,
)
from .genome import GenomeError, describe_genome, genome_key, make_genome
from .hyperband import Hyperband
from .operators import crossover, mutate, sample_genome
from .outcome import FAILED_SCORE, Outcome
from .result import Candidate, SearchResult, pareto_front
from .space import SearchSpace
from .strategies import (
    GeneticSearch,
    NSGA2Search,
    RandomSearch,
    RegularizedEvolution,
    Search,
    load_search,
)

# Checkpoints name their strategy; load_search finds these three (whose modules import
# .strategies, so .strategies cannot import them) through STRATEGIES.
_strategies.STRATEGIES.update(
    {cls.__name__: cls for cls in (ControllerSearch, DifferentiableSearch, Hyperband)}
)

__all__ = [
    "FAILED_SCORE",
    "AutoClassifier",
    "AutoRegressor",
    "BudgetComparison",
    "Candidate",
    "CheckpointError",
    "ControllerSearch",
    "CrossValidationEvaluator",
    "DifferentiableSearch",
    "EvaluationCache",
    "Evaluator",
    "GeneticSearch",
    "GenomeError",
    "HoldoutEvaluator",
    "Hyperband",
    "NSGA2Search",
    "Outcome",
    "RandomSearch",
    "RegularizedEvolution",
    "Search",
    "SearchResult",
    "SearchSpace",
    "compare_at_epoch_budget",
    "count_parameters",
    "crossover",
    "describe_genome",
    "evaluator_from_config",
    "genome_key",
    "genome_to_model",
    "load_search",
    "make_genome",
    "mutate",
    "pareto_front",
    "sample_genome",
]
