"""Search strategies: one loop, four ways to make the next generation.

:class:`Search` owns everything strategies share - evaluation through the cache and the parallel
map, per-generation statistics, JSON checkpoints after every generation, resume, the progress bar
and the result - and a strategy only says how the first population is drawn and how a generation
turns the current population into the next one. All randomness flows from one ``random.Random``
seeded by ``seed`` whose state is checkpointed, and training seeds derive from genome keys, so a
search gives the same result serially, on a process pool, on Dask, and after a kill and resume.

Strategies:

- :class:`GeneticSearch`: DEAP toolbox, (mu + lambda) with tournament selection.
- :class:`RegularizedEvolution`: aging evolution (Real et al., 2019, "Regularized evolution for
  image classifier architecture search"), batched: each generation mutates tournament winners
  of the current population, then the oldest members die.
- :class:`RandomSearch`: a fresh uniform sample every generation (the baseline).
- :class:`NSGA2Search`: DEAP's NSGA-II on (validation error, parameter count).
"""

from __future__ import annotations

import os
import random
import statistics
from dataclasses import dataclass, field

from .._checks import int_at_least, probability
from .build import count_parameters
from .cache import EvaluationCache
from .checkpoint import (
    CheckpointError,
    check_checkpoint_target,
    decode_rng_state,
    encode_rng_state,
    load_checkpoint,
    save_checkpoint,
)
from .genome import copy_genome, genome_key
from .outcome import as_outcome
from .parallel import make_map
from .result import Candidate, SearchResult, rank_records
from .space import SearchSpace

__all__ = [
    "STRATEGIES",
    "GeneticSearch",
    "NSGA2Search",
    "RandomSearch",
    "RegularizedEvolution",
    "Search",
    "SearchState",
    "load_search",
    "population_statistics",
]


def _offspring_size(value, population_size: int) -> int:
    """``offspring_size`` (None: as many as the population), checked."""
    if value is None:
        return population_size
    return int_at_least(
        "offspring_size", value, 1, "Pass e.g. offspring_size=None (the population size)."
    )


def population_statistics(records: list) -> dict:
    """best / mean / std / median of the successful scores of ``records`` (:class:`Candidate`
    records), and the failure count (failed candidates carry a sentinel score that would swamp
    the mean).

    Parameters
    ----------
    records : list of Candidate
        A population's evaluations.

    Returns
    -------
    dict
        ``best``, ``mean``, ``std``, ``median`` (NaN when none succeeded) and ``failed``.

    Examples
    --------
    >>> from nastoolkit.nas import Outcome, make_genome
    >>> from nastoolkit.nas.result import Candidate
    >>> genome = make_genome([(8, "relu", 0.0)])
    >>> records = [Candidate(0, "a", genome, 0, 10, Outcome("ok", 0.2)),
    ...            Candidate(1, "b", genome, 0, 10, Outcome("ok", 0.4)),
    ...            Candidate(2, "c", genome, 0, 10, Outcome.failure("diverged"))]
    >>> stats = population_statistics(records)
    >>> stats["best"], round(stats["mean"], 6), stats["failed"]
    (0.2, 0.3, 1)
    """
    scores = [r.score for r in records if r.ok]
    failed = len(records) - len(scores)
    if not scores:
        return {"best": None, "mean": None, "std": None, "median": None, "failed": failed}
    return {
        "best": min(scores),
        "mean": statistics.fmean(scores),
        "std": statistics.pstdev(scores),
        "median": statistics.median(scores),
        "failed": failed,
    }


@dataclass
class SearchState:
    """Everything a search needs to continue: the last completed generation (-1 before the
    first), the population as genome keys (in strategy order: oldest first for aging
    evolution), every evaluation (a :class:`Candidate`) by key in evaluation order, and the
    statistics so far.

    Examples
    --------
    >>> from nastoolkit.nas import Outcome, SearchSpace
    >>> class Size:  # scores by depth instead of training, to keep the example instant
    ...     input_dim, output_dim = 4, 2
    ...     def fingerprint(self): return "size"
    ...     def evaluate(self, genome): return Outcome("ok", len(genome["layers"]) / 10)
    >>> search = RandomSearch(SearchSpace(max_layers=3), Size(), population_size=4,
    ...                       generations=2, progress=False)
    >>> SearchState().generation, search.run().strategy, search.state.generation
    (-1, 'RandomSearch', 2)
    """

    generation: int = -1
    population: list = field(default_factory=list)
    evaluations: dict = field(default_factory=dict)
    history: list = field(default_factory=list)


class Search:
    """Shared search loop; subclasses define :meth:`_first_population` and :meth:`_generation`.

    ``workers`` > 1 evaluates on a process pool, ``client`` (a ``dask.distributed.Client``) or
    ``cluster`` (``"local"`` or a scheduler address) on Dask; results do not depend on which.
    ``checkpoint`` is a JSON path written after every generation; :meth:`resume` continues from
    it. A search never replaces a file already at ``checkpoint`` (another run's, say) unless
    ``overwrite=True``; a missing or read-only folder is an error here, before anything trains.
    ``cache`` (an :class:`EvaluationCache`) may be shared between searches.

    Examples
    --------
    >>> from nastoolkit.nas import Outcome, SearchSpace
    >>> class Size:  # scores by depth instead of training, to keep the example instant
    ...     input_dim, output_dim = 4, 2
    ...     def fingerprint(self): return "size"
    ...     def evaluate(self, genome): return Outcome("ok", len(genome["layers"]) / 10)
    >>> search = RandomSearch(SearchSpace(max_layers=3), Size(), population_size=4,
    ...                       generations=1, progress=False)
    >>> isinstance(search, Search), len(search.run().history)
    (True, 2)
    """

    def __init__(
        self,
        space: SearchSpace,
        evaluator,
        population_size=20,
        generations=10,
        seed=0,
        workers=None,
        client=None,
        cluster=None,
        checkpoint=None,
        cache=None,
        progress=True,
        hall_of_fame_size=5,
        overwrite=False,
    ):
        if not isinstance(space, SearchSpace):
            raise TypeError(
                f"space must be a nastoolkit.nas.SearchSpace. Received: "
                f"{type(space).__name__}. Build one with SearchSpace(max_layers=...)."
            )
        for method in ("evaluate", "fingerprint"):
            if not callable(getattr(evaluator, method, None)):
                raise TypeError(
                    f"evaluator must have an {method}() method (e.g. a "
                    f"HoldoutEvaluator). Received: {type(evaluator).__name__}"
                )
        if not callable(getattr(evaluator, "count_parameters", None)) and not (
            hasattr(evaluator, "input_dim") and hasattr(evaluator, "output_dim")
        ):
            raise TypeError(
                f"evaluator must have a count_parameters(genome) method or "
                f"input_dim and output_dim attributes (to count each candidate's "
                f"weights). Received: {type(evaluator).__name__}"
            )
        fingerprint = evaluator.fingerprint()
        if not isinstance(fingerprint, str):
            raise TypeError(
                f"evaluator.fingerprint() must return a string. Received: "
                f"{type(fingerprint).__name__}"
            )
        self.space = space
        self.evaluator = evaluator
        self.population_size = int_at_least("population_size", population_size, 2)
        self.generations = int_at_least("generations", generations, 0)
        self.seed = int_at_least("seed", seed, 0, "Pass e.g. seed=0.")
        self.hall_of_fame_size = int_at_least("hall_of_fame_size", hall_of_fame_size, 1)
        if workers is not None:
            workers = int_at_least("workers", workers, 1, "Pass e.g. workers=2, or None.")
        if (
            cluster is not None
            and client is None
            and not isinstance(cluster, str)
            and not hasattr(cluster, "scheduler_address")
        ):
            raise TypeError(
                f"cluster must be 'local', a scheduler address such as "
                f"'tcp://127.0.0.1:8786', or a dask cluster object. Received: "
                f"cluster={cluster!r}"
            )
        if cache is not None and not isinstance(cache, EvaluationCache):
            raise TypeError(
                f"cache must be a nastoolkit.nas.EvaluationCache or None. Received: "
                f"{type(cache).__name__}"
            )
        for name, flag in (("progress", progress), ("overwrite", overwrite)):
            if not isinstance(flag, bool):
                raise TypeError(f"{name} must be True or False. Received: {name}={flag!r}")
        self.workers, self.client, self.cluster = workers, client, cluster
        self.checkpoint = (
            None
            if checkpoint is None
            else check_checkpoint_target(checkpoint, overwrite, type(self).__name__)
        )
        self.overwrite = overwrite
        # Set once this search has written (or resumed from) its checkpoint: from then on the
        # file is this run's own and each generation replaces it.
        self._owns_checkpoint = overwrite
        self.cache = cache if cache is not None else EvaluationCache()
        self.progress = progress
        self.state = SearchState()
        self.rng = random.Random(self.seed)
        self._fingerprint = fingerprint
        self._evaluator_config = None
        self._map = None
        self._counts = {"requested": 0, "trained": 0}

    # -- what strategies define -----------------------------------------------------------------
    def _first_population(self) -> list:
        """Genomes of generation 0 (default: a uniform sample of ``population_size``)."""
        return [self.space.sample(self.rng) for _ in range(self.population_size)]

    def _generation(self, generation: int) -> None:
        """Evaluate one generation's candidates and set ``self.state.population``."""
        raise NotImplementedError

    def _strategy_config(self) -> dict:
        """Strategy-specific constructor arguments (saved in checkpoints)."""
        return {}

    # -- the loop -------------------------------------------------------------------------------
    def run(self) -> SearchResult:
        """Run (or continue) the search to ``generations`` and return its :class:`SearchResult`.

        Generation 0 evaluates the first population; generations 1..``generations`` each make
        and evaluate offspring. A checkpoint is written after each generation. On
        ``KeyboardInterrupt`` (Ctrl-C) the map's workers are terminated at once, the last
        finished generation's checkpoint stays, and the interrupt is re-raised."""
        from tqdm.auto import tqdm

        bar = tqdm(
            total=self.generations + 1,
            initial=self.state.generation + 1,
            desc=type(self).__name__,
            unit="gen",
            disable=not self.progress,
        )
        self._map = make_map(
            self.evaluator, workers=self.workers, client=self.client, cluster=self.cluster
        )
        try:
            if self.state.generation < 0:
                self.state.population = self._evaluate(self._first_population(), 0)
                self._finish_generation(0, bar)
            for generation in range(self.state.generation + 1, self.generations + 1):
                self._generation(generation)
                self._finish_generation(generation, bar)
        except KeyboardInterrupt:
            # Stop the workers now rather than wait for their candidates; the checkpoint of the
            # last finished generation is already on disk, so the run can be resumed.
            stop = getattr(self._map, "terminate", None) or self._map.close
            self._map = None
            stop()
            raise
        finally:
            if self._map is not None:
                self._map.close()
            self._map = None
            bar.close()
        return self.result()

    def _evaluate(self, genomes: list, generation: int) -> list:
        """Keys of ``genomes`` after making sure each has a record: already evaluated in this
        search, found in the cache, or trained now (each distinct genome once, in parallel)."""
        keys = [genome_key(genome) for genome in genomes]
        results, to_train = {}, {}
        for key, genome in zip(keys, genomes):
            if key in self.state.evaluations or key in results or key in to_train:
                continue
            cached = self.cache.lookup(self._fingerprint, key)
            if cached is not None:
                results[key] = cached
            else:
                to_train[key] = genome
        trained = self._map.map(list(to_train.values())) if to_train else []
        for key, result in zip(to_train, trained):
            outcome = as_outcome(result)
            self.cache.store(self._fingerprint, key, outcome)
            results[key] = outcome
        # Records go in in batch order, whatever the cache held, so runs stay comparable.
        for key, genome in zip(keys, genomes):
            if key in results and key not in self.state.evaluations:
                self._add_record(key, genome, results[key], generation)
        self._counts["requested"] += len(keys)
        self._counts["trained"] += len(to_train)
        return keys

    def _add_record(self, key, genome, outcome, generation) -> None:
        if hasattr(self.evaluator, "count_parameters"):
            params = int(self.evaluator.count_parameters(genome))
        else:
            params = count_parameters(genome, self.evaluator.input_dim, self.evaluator.output_dim)
        self.state.evaluations[key] = Candidate(
            len(self.state.evaluations), key, copy_genome(genome), generation, params, outcome
        )

    def _finish_generation(self, generation: int, bar) -> None:
        records = [self.state.evaluations[key] for key in self.state.population]
        best = rank_records(list(self.state.evaluations.values()))
        stats = {
            "generation": generation,
            **population_statistics(records),
            "requested": self._counts["requested"],
            "trained": self._counts["trained"],
            "cache_hits": self._counts["requested"] - self._counts["trained"],
            "evaluations": len(self.state.evaluations),
            "best_so_far": best[0].score if best else None,
        }
        self._counts = {"requested": 0, "trained": 0}
        self.state.history.append(stats)
        self.state.generation = generation
        if self.checkpoint:
            if not self._owns_checkpoint:
                # A file that appeared since construction (another run started meanwhile).
                check_checkpoint_target(self.checkpoint, False, type(self).__name__)
            self.save(self.checkpoint)
            self._owns_checkpoint = True
        if stats["best_so_far"] is not None:
            bar.set_postfix(
                best=f"{stats['best_so_far']:.4f}",
                mean=f"{stats['mean']:.4f}" if stats["mean"] is not None else "-",
                refresh=False,
            )
        bar.update(1)

    # -- population helpers for strategies ------------------------------------------------------
    def _record(self, key: str) -> Candidate:
        return self.state.evaluations[key]

    def _genome(self, key: str) -> dict:
        return self.state.evaluations[key].genome

    # -- results --------------------------------------------------------------------------------
    def result(self) -> SearchResult:
        """The result so far (complete once :meth:`run` returns)."""
        return SearchResult(
            strategy=type(self).__name__,
            evaluations=list(self.state.evaluations.values()),
            history=[dict(stats) for stats in self.state.history],
            population=[copy_genome(self._genome(key)) for key in self.state.population],
            hall_of_fame_size=self.hall_of_fame_size,
            evaluator=self.evaluator,
        )

    # -- checkpoints ----------------------------------------------------------------------------
    def get_config(self) -> dict:
        """The constructor arguments that define the search (not where it runs)."""
        return {
            "space": self.space.get_config(),
            "population_size": self.population_size,
            "generations": self.generations,
            "seed": self.seed,
            "hall_of_fame_size": self.hall_of_fame_size,
            **self._strategy_config(),
        }

    def _checkpoint_payload(self, state: dict, **extra) -> dict:
        """The checkpoint document every search writes (strategy, config, evaluator,
        execution) around its ``state``; ``extra`` adds top-level sections."""
        if self._evaluator_config is None:
            config = self.evaluator.get_config() if hasattr(self.evaluator, "get_config") else None
            self._evaluator_config = {
                "class": type(self.evaluator).__name__,
                "fingerprint": self._fingerprint,
                "config": config,
            }
        return {
            "strategy": type(self).__name__,
            "config": self.get_config(),
            "evaluator": self._evaluator_config,
            "execution": {
                "workers": self.workers,
                "cluster": self.cluster if isinstance(self.cluster, str) else None,
            },
            "state": state,
            **extra,
        }

    def save(self, path) -> None:
        """Write the whole state as a JSON checkpoint, atomically."""
        state = {
            "generation": self.state.generation,
            "population": self.state.population,
            "rng_state": encode_rng_state(self.rng.getstate()),
            "evaluations": [record.to_dict() for record in self.state.evaluations.values()],
            "history": self.state.history,
        }
        save_checkpoint(path, self._checkpoint_payload(state))

    @classmethod
    def resume(
        cls,
        path,
        evaluator=None,
        workers=None,
        client=None,
        cluster=None,
        checkpoint=None,
        progress=True,
        cache=None,
        generations=None,
        overwrite=False,
    ) -> Search:
        """The search saved at ``path``, ready to :meth:`run` to the end.

        The evaluator is rebuilt from the checkpoint (built-in evaluators store their data) unless
        one is passed; either way its fingerprint must match the checkpoint's. ``generations``
        extends (or keeps) the run's length; ``workers``/``client``/``cluster`` choose where the
        rest runs (default: as saved). New checkpoints go to ``checkpoint`` (default ``path``);
        a ``checkpoint`` other than ``path`` that already exists is refused unless
        ``overwrite=True``.
        """
        from ._schema import validate_checkpoint

        document = load_checkpoint(path)
        if document.get("strategy") in _OWN_FORMAT:
            raise CheckpointError(
                f"checkpoint {path!r} was written by {document['strategy']}, whose checkpoints "
                f"{cls.__name__}.resume cannot read. Use nastoolkit.nas.load_search({path!r})."
            )
        validate_checkpoint(path, document, STRATEGIES)
        strategy = STRATEGIES[document["strategy"]]
        if cls is not Search and strategy is not cls:
            raise CheckpointError(
                f"checkpoint {path!r} was written by {strategy.__name__}, not "
                f"{cls.__name__}. Use {strategy.__name__}.resume(...) or "
                f"nastoolkit.nas.load_search(...)."
            )
        saved = document["evaluator"]
        if evaluator is None:
            if not saved.get("config"):
                raise CheckpointError(
                    f"checkpoint {path!r} does not store the data of its "
                    f"{saved.get('class')}; pass evaluator=... to resume."
                )
            from .evaluators import evaluator_from_config

            try:
                evaluator = evaluator_from_config(saved["config"])
            except (KeyError, TypeError, ValueError) as error:
                raise CheckpointError(
                    f"checkpoint {path!r}: field evaluator.config cannot "
                    f"rebuild its evaluator ({type(error).__name__}: "
                    f"{error}). Pass evaluator=... to resume."
                ) from None
        if evaluator.fingerprint() != saved.get("fingerprint"):
            raise CheckpointError(
                f"checkpoint {path!r} was made with another evaluator setup (data, task, epochs, "
                f"patience, folds or seed differ: fingerprint {saved.get('fingerprint')!r:.20}, "
                f"given {evaluator.fingerprint()!r:.20}). Resume with the same evaluator settings."
            )
        config = dict(document["config"])
        target = checkpoint or path
        same_file = os.path.abspath(os.fspath(target)) == os.path.abspath(os.fspath(path))
        try:
            space = SearchSpace.from_config(config.pop("space"))
            execution = document.get("execution") or {}
            search = strategy(
                space,
                evaluator,
                **config,
                workers=workers if workers is not None else execution.get("workers"),
                client=client,
                cluster=cluster
                if cluster is not None or client is not None
                else execution.get("cluster"),
                checkpoint=target,
                progress=progress,
                cache=cache,
                overwrite=overwrite or same_file,
            )
            search._restore(document["state"])
        except (KeyError, TypeError, ValueError) as error:
            raise CheckpointError(
                f"checkpoint {path!r}: field config does not fit "
                f"{strategy.__name__} ({type(error).__name__}: {error})."
            ) from None
        search._check_parameter_counts(path)
        if generations is not None:
            search.generations = int_at_least(
                "generations",
                generations,
                search.state.generation,
                f"The checkpoint has finished generation {search.state.generation}; give at "
                f"least that many (more extends the run).",
            )
        return search

    def _check_parameter_counts(self, path) -> None:
        """Each record's ``params`` must be what the evaluator counts (NSGA-II selects on it)."""
        if not hasattr(self.evaluator, "count_parameters"):
            return
        for record in self.state.evaluations.values():
            expected = int(self.evaluator.count_parameters(record.genome))
            if record.params != expected:
                raise CheckpointError(
                    f"checkpoint {path!r} is damaged or was edited: field "
                    f"state.evaluations[{record.index}].params must be {expected} (the "
                    f"evaluator's count for its genome). Found: {record.params}."
                )

    def _restore(self, state: dict) -> None:
        records = [Candidate.from_dict(record) for record in state["evaluations"]]
        evaluations = {record.key: record for record in records}
        missing = [key for key in state["population"] if key not in evaluations]
        if missing:
            raise ValueError(f"population members without evaluations: {missing[:2]}")
        self.state = SearchState(
            generation=int(state["generation"]),
            population=list(state["population"]),
            evaluations=evaluations,
            history=list(state["history"]),
        )
        self.rng.setstate(decode_rng_state(state["rng_state"]))
        for key, record in evaluations.items():
            if (self._fingerprint, key) not in self.cache:
                self.cache.store(self._fingerprint, key, record.outcome)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(population_size={self.population_size}, generations="
            f"{self.generations}, seed={self.seed}, evaluator={self.evaluator!r}, "
            f"completed={self.state.generation + 1})"
        )


class GeneticSearch(Search):
    """(mu + lambda) genetic algorithm on a DEAP toolbox with tournament selection.

    Each generation makes ``offspring_size`` (lambda, default ``population_size``) children by
    crossover (probability ``crossover_probability``), mutation (``mutation_probability``) or
    copying, evaluates them, and keeps ``population_size`` (mu) winners of tournaments of
    ``tournament_size`` among parents and children together.

    Tournaments alone can lose the best candidate: it survives only if some tournament draws it, and
    a single copy among mu + lambda members is missed by all mu tournaments of size k with
    probability ``(1 - 1/(mu + lambda))^(mu k)`` (21 % for mu = lambda = 8, k = 3).
    ``elitism`` (default 0: DEAP's plain ``eaMuPlusLambda``) copies that many best distinct
    members of parents + children straight into the next population before the tournaments fill
    the rest, so with ``elitism >= 1`` the population's best error never gets worse. The hall of
    fame (``SearchResult.hall_of_fame``) keeps the best ever either way.

    Examples
    --------
    >>> from nastoolkit.nas import Outcome, SearchSpace
    >>> class Size:  # scores by depth instead of training, to keep the example instant
    ...     input_dim, output_dim = 4, 2
    ...     def fingerprint(self): return "size"
    ...     def evaluate(self, genome): return Outcome("ok", len(genome["layers"]) / 10)
    >>> result = GeneticSearch(SearchSpace(max_layers=3), Size(), population_size=4,
    ...                        generations=2, seed=0, progress=False).run()
    >>> result.best_score, len(result.history)
    (0.1, 3)
    """

    def __init__(
        self,
        space,
        evaluator,
        population_size=20,
        generations=10,
        seed=0,
        crossover_probability=0.5,
        mutation_probability=0.4,
        tournament_size=3,
        offspring_size=None,
        elitism=0,
        **options,
    ):
        super().__init__(space, evaluator, population_size, generations, seed, **options)
        self.crossover_probability = probability("crossover_probability", crossover_probability)
        self.mutation_probability = probability("mutation_probability", mutation_probability)
        if self.crossover_probability + self.mutation_probability > 1.0:
            raise ValueError(
                f"crossover_probability + mutation_probability must be <= 1 (the "
                f"rest is plain copying). Received: {crossover_probability} + "
                f"{mutation_probability}."
            )
        self.tournament_size = int_at_least("tournament_size", tournament_size, 1)
        self.offspring_size = _offspring_size(offspring_size, self.population_size)
        self.elitism = int_at_least(
            "elitism",
            elitism,
            0,
            "Pass e.g. elitism=1 to always keep the best candidate, or 0 for tournaments alone.",
        )
        if self.elitism > self.population_size:
            raise ValueError(
                f"elitism must be at most population_size ({self.population_size})"
                f". Received: elitism={elitism}. Pass e.g. elitism=1."
            )

    def _strategy_config(self) -> dict:
        return {
            "crossover_probability": self.crossover_probability,
            "mutation_probability": self.mutation_probability,
            "tournament_size": self.tournament_size,
            "offspring_size": self.offspring_size,
            "elitism": self.elitism,
        }

    def _individuals(self, toolbox, keys):
        individuals = []
        for key in keys:
            individual = toolbox.individual(self._genome(key))
            individual.fitness.values = (self._record(key).score,)
            individuals.append(individual)
        return individuals

    def _generation(self, generation: int) -> None:
        from . import _deap

        toolbox = _deap.make_toolbox(self.space, self.rng, tournament_size=self.tournament_size)
        parents = self._individuals(toolbox, self.state.population)
        offspring = _deap.vary_or(
            parents,
            toolbox,
            self.offspring_size,
            self.crossover_probability,
            self.mutation_probability,
            self.rng,
        )
        offspring_keys = self._evaluate([dict(child) for child in offspring], generation)
        pool = parents + self._individuals(toolbox, offspring_keys)
        elites = self._elites(pool)
        chosen = elites + toolbox.select(pool, self.population_size - len(elites))
        self.state.population = [genome_key(individual) for individual in chosen]

    def _elites(self, pool: list) -> list:
        """The ``elitism`` best distinct members of ``pool`` (ranked as the hall of fame is)."""
        if not self.elitism:
            return []
        ranked = {
            record.key: record
            for record in rank_records([self._record(genome_key(member)) for member in pool])
        }
        by_key = {genome_key(member): member for member in pool}
        return [by_key[key] for key in list(ranked)[: self.elitism]]


class RegularizedEvolution(Search):
    """Aging evolution (Real et al. 2019): a tournament of ``sample_size`` members drawn without
    replacement picks a parent, its mutation joins the population, and the oldest member dies.

    Batched for parallel evaluation: each generation makes ``offspring_size`` (default
    ``population_size``) children from the current population, evaluates them together, then
    appends them in order, removing as many of the oldest members.

    Examples
    --------
    >>> from nastoolkit.nas import Outcome, SearchSpace
    >>> class Size:  # scores by depth instead of training, to keep the example instant
    ...     input_dim, output_dim = 4, 2
    ...     def fingerprint(self): return "size"
    ...     def evaluate(self, genome): return Outcome("ok", len(genome["layers"]) / 10)
    >>> result = RegularizedEvolution(SearchSpace(max_layers=3), Size(), population_size=4,
    ...                               generations=2, sample_size=2, seed=0, progress=False).run()
    >>> result.best_score, len(result.history)
    (0.1, 3)
    """

    def __init__(
        self,
        space,
        evaluator,
        population_size=20,
        generations=10,
        seed=0,
        sample_size=5,
        offspring_size=None,
        **options,
    ):
        super().__init__(space, evaluator, population_size, generations, seed, **options)
        self.sample_size = int_at_least("sample_size", sample_size, 1)
        if self.sample_size > self.population_size:
            raise ValueError(
                f"sample_size must be <= population_size={population_size}. "
                f"Received: sample_size={sample_size}. Pass e.g. "
                f"sample_size={max(1, self.population_size // 2)}."
            )
        self.offspring_size = _offspring_size(offspring_size, self.population_size)

    def _strategy_config(self) -> dict:
        return {"sample_size": self.sample_size, "offspring_size": self.offspring_size}

    def _generation(self, generation: int) -> None:
        from .operators import mutate

        population = self.state.population
        children = []
        for _ in range(self.offspring_size):
            sample = self.rng.sample(population, self.sample_size)
            parent = min(sample, key=lambda key: self._record(key).score)
            children.append(mutate(self._genome(parent), self.space, self.rng))
        keys = self._evaluate(children, generation)
        self.state.population = (population + keys)[-self.population_size :]


class RandomSearch(Search):
    """Uniform random sampling: every generation evaluates ``population_size`` fresh genomes (the
    population statistics are those of each batch). The baseline any search must beat.

    Examples
    --------
    >>> from nastoolkit.nas import Outcome, SearchSpace
    >>> class Size:  # scores by depth instead of training, to keep the example instant
    ...     input_dim, output_dim = 4, 2
    ...     def fingerprint(self): return "size"
    ...     def evaluate(self, genome): return Outcome("ok", len(genome["layers"]) / 10)
    >>> result = RandomSearch(SearchSpace(max_layers=3), Size(), population_size=4,
    ...                       generations=2, seed=0, progress=False).run()
    >>> result.best_score, len(result.evaluations) <= 12
    (0.1, True)
    """

    def _generation(self, generation: int) -> None:
        self.state.population = self._evaluate(self._first_population(), generation)


class NSGA2Search(Search):
    """NSGA-II (Deb et al. 2002) on (validation error, parameter count), both minimised.

    Parents come from binary tournaments on dominance and crowding distance; pairs cross over
    with ``crossover_probability`` and children mutate with ``mutation_probability``; DEAP's
    ``selNSGA2`` keeps ``population_size`` of parents and children. ``result.pareto_front`` is the
    non-dominated set of everything evaluated.

    Examples
    --------
    >>> from nastoolkit.nas import Outcome, SearchSpace
    >>> class Size:  # scores by depth instead of training, to keep the example instant
    ...     input_dim, output_dim = 4, 2
    ...     def fingerprint(self): return "size"
    ...     def evaluate(self, genome): return Outcome("ok", len(genome["layers"]) / 10)
    >>> result = NSGA2Search(SearchSpace(max_layers=3), Size(), population_size=4,
    ...                      generations=2, seed=0, progress=False).run()
    >>> front = result.pareto_front  # (error, parameter count) trade-offs
    >>> all(a.score <= b.score and a.params >= b.params for a, b in zip(front, front[1:]))
    True
    """

    def __init__(
        self,
        space,
        evaluator,
        population_size=20,
        generations=10,
        seed=0,
        crossover_probability=0.8,
        mutation_probability=0.5,
        **options,
    ):
        super().__init__(space, evaluator, population_size, generations, seed, **options)
        self.crossover_probability = probability("crossover_probability", crossover_probability)
        self.mutation_probability = probability("mutation_probability", mutation_probability)

    def _strategy_config(self) -> dict:
        return {
            "crossover_probability": self.crossover_probability,
            "mutation_probability": self.mutation_probability,
        }

    def _individuals(self, toolbox, keys):
        individuals = []
        for key in keys:
            record = self._record(key)
            individual = toolbox.individual(record.genome)
            individual.fitness.values = (record.score, float(record.params))
            individuals.append(individual)
        return individuals

    def _generation(self, generation: int) -> None:
        from . import _deap

        toolbox = _deap.make_toolbox(self.space, self.rng, objectives=2)
        # selNSGA2 over the whole population only assigns crowding distances (and orders).
        population = toolbox.select(
            self._individuals(toolbox, self.state.population), len(self.state.population)
        )
        parents = toolbox.select_parents(population, len(population))
        offspring = _deap.vary_and(
            parents, toolbox, self.crossover_probability, self.mutation_probability, self.rng
        )
        offspring_keys = self._evaluate([dict(child) for child in offspring], generation)
        chosen = toolbox.select(
            population + self._individuals(toolbox, offspring_keys), self.population_size
        )
        self.state.population = [genome_key(individual) for individual in chosen]


STRATEGIES = {
    strategy.__name__: strategy
    for strategy in (GeneticSearch, RegularizedEvolution, RandomSearch, NSGA2Search)
}
"""Strategy name (as written in checkpoints) -> class. ``nastoolkit.nas`` adds the strategies of
their own modules (``ControllerSearch``, ``DifferentiableSearch``, ``Hyperband``) when it loads,
since those modules import this one."""

# Strategies whose checkpoints carry arrays and a format of their own: their ``resume`` reads them.
_OWN_FORMAT = ("ControllerSearch", "DifferentiableSearch", "Hyperband")


def _checkpoint_strategy(path) -> type:
    """The class named by the checkpoint at ``path`` (read, not yet validated)."""
    name = load_checkpoint(path).get("strategy")
    if name not in STRATEGIES:
        raise CheckpointError(
            f"checkpoint {path!r} is damaged or was edited: field strategy must name a known "
            f"strategy ({sorted(STRATEGIES)}). Found: {name!r}."
        )
    return STRATEGIES[name]


def _resume_own_format(strategy, path, evaluator, generations, options) -> object:
    """Resume a controller, DARTS or Hyperband checkpoint through the class's own ``resume``."""
    if generations is not None:
        raise TypeError(
            f"generations= extends population searches only; checkpoint {path!r} was written "
            f"by {strategy.__name__}, whose length is fixed by its own settings. Received: "
            f"generations={generations!r}. Call load_search({path!r}) without it."
        )
    if strategy.__name__ == "DifferentiableSearch":
        unknown = sorted(set(options) - {"checkpoint", "progress", "overwrite"})
        if unknown:
            raise TypeError(
                f"DifferentiableSearch checkpoints resume with checkpoint=, progress= and "
                f"overwrite= only (the data is in the checkpoint). Received: {unknown}."
            )
        search = strategy.resume(path, **options)
        if evaluator is not None and evaluator.fingerprint() != search.evaluator.fingerprint():
            raise CheckpointError(
                f"checkpoint {path!r} was made with another evaluator setup (its stored data "
                f"and split differ from the evaluator given). Call load_search({path!r}) "
                f"without evaluator=, or pass the same data."
            )
        return search
    return strategy.resume(path, evaluator=evaluator, **options)


def load_search(path, evaluator=None, generations=None, **options) -> Search:
    """Resume whichever strategy wrote the checkpoint at ``path``.

    The checkpoint is validated field by field first (a damaged or edited file is a
    :class:`CheckpointError` naming the file and the field). ``evaluator`` defaults to the one
    rebuilt from the checkpoint; ``generations`` above the saved count extends a finished run.
    Other ``options`` as :meth:`Search.resume` (``workers``, ``checkpoint``, ``overwrite``, ...).
    Checkpoints of :class:`ControllerSearch`, :class:`Hyperband` and
    :class:`DifferentiableSearch` go to that class's own ``resume`` (DARTS takes only
    ``checkpoint``, ``progress`` and ``overwrite``; its data is in the checkpoint);
    ``generations`` does not apply to them.

    Parameters
    ----------
    path : str or os.PathLike
        A checkpoint written by a search.
    evaluator : object, optional
        Replaces the evaluator rebuilt from the checkpoint (its fingerprint must match).
    generations : int, optional
        The new total number of generations (>= the saved count).
    **options
        As :meth:`Search.resume`.

    Returns
    -------
    Search or DifferentiableSearch
        Of the checkpoint's strategy, ready to ``run``.

    Examples
    --------
    >>> import os, tempfile
    >>> from nastoolkit.nas import RandomSearch, SearchSpace
    >>> from nastoolkit.nas.outcome import Outcome
    >>> class Size:  # scores by size instead of training, to keep the example instant
    ...     input_dim, output_dim = 4, 2
    ...     def fingerprint(self): return "size"
    ...     def evaluate(self, genome): return Outcome("ok", len(genome["layers"]) / 10)
    >>> path = os.path.join(tempfile.mkdtemp(), "search.json")
    >>> _ = RandomSearch(SearchSpace(), Size(), population_size=2, generations=1,
    ...                  checkpoint=path, progress=False).run()
    >>> search = load_search(path, evaluator=Size(), generations=3, progress=False)
    >>> len(search.run().history)
    4
    """
    strategy = _checkpoint_strategy(path)
    if strategy.__name__ in _OWN_FORMAT:
        return _resume_own_format(strategy, path, evaluator, generations, options)
    return Search.resume(path, evaluator=evaluator, generations=generations, **options)
