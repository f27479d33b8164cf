"""Hyperband and successive halving with epochs as the budget; ASHA when asynchronous.

Hyperband (Li et al., 2018, "Hyperband: a novel bandit-based approach to hyperparameter
optimization") runs successive halving (Jamieson & Talwalkar, 2016) in brackets
``s = s_max .. 0`` with ``s_max = floor(log_eta(R))``, ``R = max_epochs``, ``eta =
reduction_factor``. Bracket ``s`` samples ``n = ceil((s_max + 1) / (s + 1) * eta^s)`` genomes
and trains them for ``r = R eta^-s`` epochs; rung ``i`` trains ``n_i = floor(n eta^-i)``
candidates to ``r_i = r eta^i`` epochs and promotes the best ``floor(n_i / eta)``. A promoted
candidate continues from its saved weights and optimizer state (:mod:`.continuation`). Epoch
counts are rounded to whole epochs (at least 1) when ``R`` is not a power of ``eta``.

``asynchronous=True`` is ASHA (Li et al., 2020, "A system for massively parallel hyperparameter
tuning"): one bracket of rungs ``r_k = r_min eta^k`` with ``r_min = R eta^-s_max``; whenever a
worker is free it gets the best not-yet-promoted candidate of the highest rung that has one in
its top ``1/eta``, else a new genome at rung 0. Jobs go through a submit / as-completed map
(:func:`~nastoolkit.nas.parallel.make_submit_map`): the moment a worker finishes, its result is
recorded and it gets the next job, so no worker waits for the others. The run stops once it has
spent the epochs synchronous Hyperband would.

Every rung (ASHA: every finished job) is checkpointed: JSON for the trials, the history, the RNG
and the jobs in flight, an npz file beside it for the weights and optimizer states of candidates
that may continue. What is exact: with ``workers=None`` every job finishes before the next one
starts, so a run is deterministic and a resumed run ends exactly as an uninterrupted one; with
workers (a pool or Dask) the promotions depend on which job finishes first, so two runs may
differ, and a resumed run re-submits the jobs that were in flight and continues from the set of
results checkpointed after the last completion.
"""

from __future__ import annotations

import math
import os

import numpy as np

from .._checks import int_at_least
from .checkpoint import (
    CheckpointError,
    check_checkpoint_target,
    decode_rng_state,
    encode_rng_state,
    load_checkpoint,
    remove_stale_arrays,
    save_checkpoint,
    write_arrays,
)
from .continuation import segment_evaluator
from .genome import copy_genome, genome_key
from .outcome import Outcome
from .parallel import make_map, make_submit_map
from .result import Candidate
from .strategies import Search, SearchState

__all__ = ["Hyperband", "asha_rungs", "hyperband_brackets"]


def _s_max(max_epochs: int, reduction_factor: int) -> int:
    """floor(log_eta(R)) in integers (floating logs misround at exact powers, e.g. log_3 243)."""
    s, budget = 0, reduction_factor
    while budget <= max_epochs:
        s, budget = s + 1, budget * reduction_factor
    return s


def _epochs(max_epochs: int, reduction_factor: int, power: int) -> int:
    """R * eta^-power, rounded to whole epochs, at least 1."""
    return max(1, round(max_epochs / reduction_factor**power))


def hyperband_brackets(max_epochs: int, reduction_factor: int = 3) -> list:
    """The brackets of Hyperband: for ``s = s_max .. 0`` a list of rungs ``(n_i, r_i)``.

    Parameters
    ----------
    max_epochs : int
        ``R``, the most epochs any candidate trains (>= 1).
    reduction_factor : int
        ``eta`` (>= 2): each rung keeps the best ``1/eta`` of its candidates.

    Returns
    -------
    list of dict
        ``{"s": s, "rungs": [(n_i, r_i), ...]}`` per bracket, most aggressive first.

    Examples
    --------
    >>> [bracket["rungs"][0] for bracket in hyperband_brackets(81, 3)]
    [(81, 1), (34, 3), (15, 9), (8, 27), (5, 81)]
    """
    max_epochs = int_at_least("max_epochs", max_epochs, 1, "Pass e.g. max_epochs=81.")
    eta = int_at_least("reduction_factor", reduction_factor, 2, "Pass e.g. reduction_factor=3.")
    s_max = _s_max(max_epochs, eta)
    brackets = []
    for s in range(s_max, -1, -1):
        # Integer arithmetic for ceil((s_max + 1) / (s + 1) * eta^s).
        n = -(-((s_max + 1) * eta**s) // (s + 1))
        rungs = [(n // eta**i, _epochs(max_epochs, eta, s - i)) for i in range(s + 1)]
        brackets.append({"s": s, "rungs": rungs})
    return brackets


def asha_rungs(max_epochs: int, reduction_factor: int = 3) -> list:
    """ASHA's rung budgets ``r_min eta^k`` in epochs, ``k = 0 .. s_max`` (the last is ``R``).

    Examples
    --------
    >>> asha_rungs(81, 3)
    [1, 3, 9, 27, 81]
    """
    max_epochs = int_at_least("max_epochs", max_epochs, 1, "Pass e.g. max_epochs=81.")
    eta = int_at_least("reduction_factor", reduction_factor, 2, "Pass e.g. reduction_factor=3.")
    s_max = _s_max(max_epochs, eta)
    return [_epochs(max_epochs, eta, s_max - k) for k in range(s_max + 1)]


def _total_epochs(brackets: list) -> int:
    """Epochs synchronous Hyperband trains: each rung continues from the previous one."""
    total = 0
    for bracket in brackets:
        previous = 0
        for n_i, r_i in bracket["rungs"]:
            total += n_i * (r_i - previous)
            previous = r_i
    return total


class Hyperband(Search):
    """Hyperband over a search space, with epochs as the budget (see the module docstring).

    Parameters
    ----------
    space : SearchSpace
        The choices.
    evaluator : HoldoutEvaluator, CrossValidationEvaluator or TabularEvaluator
        Its data, splits, task and seed are used; its ``epochs``/``patience`` are not (the rungs
        set the epochs). An evaluator with a ``segment_evaluator(max_epochs)`` method answers
        the segments itself: :class:`~nastoolkit.nas.bench.TabularEvaluator` looks a promotion
        up at the later epoch and charges the recorded seconds in between.
    max_epochs : int
        ``R``: the most epochs one candidate trains.
    reduction_factor : int
        ``eta`` >= 2: each rung promotes its best ``1/eta``.
    seed : int
        Seeds the sampling of genomes.
    asynchronous : bool
        False: Hyperband's brackets of successive halving. True: ASHA.
    workers, client, cluster, checkpoint, progress, overwrite
        As for every :class:`Search`; ``checkpoint`` is written after every rung (ASHA: every
        finished job), with an npz file of continuing candidates beside it.

    ``result.history`` holds one row per rung (ASHA: per finished job): ``bracket``,
    ``rung``, ``epochs``, the ``trials`` it trained (ids), their ``scores`` and the
    ``promoted`` ids. Each candidate's
    record holds its latest (largest-budget) outcome, with ``metrics["epochs"]``; the best
    genome is the one with the lowest error seen at any rung, as in the paper.

    Examples
    --------
    >>> import numpy as np
    >>> from nastoolkit.nas import HoldoutEvaluator, SearchSpace
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.normal(size=(40, 3)).astype("float32"), np.arange(40) % 2
    >>> space = SearchSpace(max_layers=1, units=(4,), activations=("relu",))
    >>> search = Hyperband(space, HoldoutEvaluator(X, y), max_epochs=3, reduction_factor=3,
    ...                    progress=False)
    >>> [len(row["trials"]) for row in search.run().history]
    [3, 1, 2]
    """

    def __init__(
        self,
        space,
        evaluator,
        max_epochs=81,
        reduction_factor=3,
        seed=0,
        asynchronous=False,
        workers=None,
        client=None,
        cluster=None,
        checkpoint=None,
        progress=True,
        overwrite=False,
        hall_of_fame_size=5,
    ):
        self.max_epochs = int_at_least("max_epochs", max_epochs, 1, "Pass e.g. max_epochs=81.")
        self.reduction_factor = int_at_least(
            "reduction_factor", reduction_factor, 2, "Pass e.g. reduction_factor=3."
        )
        if not isinstance(asynchronous, bool):
            raise TypeError(
                f"asynchronous must be True (ASHA) or False (Hyperband). Received: "
                f"asynchronous={asynchronous!r}"
            )
        self.asynchronous = asynchronous
        self.brackets = hyperband_brackets(self.max_epochs, self.reduction_factor)
        self.schedule = [
            (bracket["s"], index, n_i, r_i)
            for bracket in self.brackets
            for index, (n_i, r_i) in enumerate(bracket["rungs"])
        ]
        self.budget = _total_epochs(self.brackets)
        super().__init__(
            space,
            evaluator,
            population_size=2,
            generations=len(self.schedule) - 1,
            seed=seed,
            workers=workers,
            client=client,
            cluster=cluster,
            checkpoint=checkpoint,
            progress=progress,
            hall_of_fame_size=hall_of_fame_size,
            overwrite=overwrite,
        )
        self._segments = segment_evaluator(evaluator, self.max_epochs)
        self._arrays = {}  # trial id -> list of fold states, for trials that may continue
        self._alive = []  # synchronous: trial ids of the current bracket's next rung
        self._spent = 0  # epochs trained so far
        self._rung_scores = {}  # ASHA: trial id -> its score at each rung it reached
        self._in_flight = []  # ASHA: (trial id, epochs) jobs running at the last checkpoint

    # -- configuration --------------------------------------------------------------------------
    def _strategy_config(self) -> dict:
        return {
            "max_epochs": self.max_epochs,
            "reduction_factor": self.reduction_factor,
            "asynchronous": self.asynchronous,
        }

    def get_config(self) -> dict:
        return {
            "space": self.space.get_config(),
            "seed": self.seed,
            "hall_of_fame_size": self.hall_of_fame_size,
            "generations": self.generations,
            **self._strategy_config(),
        }

    # -- the loop -------------------------------------------------------------------------------
    def run(self):
        """Run (or continue) every bracket (ASHA: until the budget is spent); returns the
        :class:`SearchResult`. Ctrl-C terminates the workers and keeps the last checkpoint."""
        from tqdm.auto import tqdm

        total = self.budget
        bar = tqdm(
            total=total,
            initial=min(self._spent, total),
            desc=type(self).__name__,
            unit="epoch",
            disable=not self.progress,
        )
        self._map = (make_submit_map if self.asynchronous else make_map)(
            self._segments, workers=self.workers, client=self.client, cluster=self.cluster
        )
        try:
            if self.asynchronous:
                self._run_asha(bar)
            else:
                # generations (default: the whole schedule) lets a stepper stop after a rung.
                last = min(self.generations, len(self.schedule) - 1)
                for position in range(self.state.generation + 1, last + 1):
                    self._rung(position, bar)
        except KeyboardInterrupt:
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

    def _sample_distinct(self, count: int) -> list:
        """``count`` genomes, distinct within the bracket when the space allows (100 tries)."""
        genomes, keys = [], set()
        for _ in range(100 * count):
            if len(genomes) == count:
                break
            genome = self.space.sample(self.rng)
            key = genome_key(genome)
            if key not in keys:
                keys.add(key)
                genomes.append(genome)
        return genomes

    def _new_trial(self, genome, generation) -> str:
        """Record a new candidate (as "not trained yet" until its first rung is done)."""
        trial = f"t{len(self.state.evaluations)}"
        outcome = Outcome.failure("not trained yet")
        self.state.evaluations[trial] = Candidate(
            len(self.state.evaluations),
            genome_key(genome),
            copy_genome(genome),
            generation,
            self._count(genome),
            outcome,
        )
        return trial

    def _count(self, genome) -> int:
        return int(self.evaluator.count_parameters(genome))

    def _train(self, trials: list, epochs: list, generation: int) -> None:
        """Train each trial up to its epochs (continuing from its state) and record outcomes."""
        jobs = [self._segment_job(trial, stop) for trial, stop in zip(trials, epochs)]
        outcomes = self._map.map(jobs) if jobs else []
        for trial, job, outcome in zip(trials, jobs, outcomes):
            self._record_segment(trial, job, outcome, generation)

    def _segment_job(self, trial: str, stop: int) -> dict:
        """The job that trains ``trial`` from where it stopped to ``stop`` epochs."""
        record = self.state.evaluations[trial]
        return {
            "genome": record.genome,
            "start": record.metrics.get("epochs", 0),
            "stop": stop,
            "state": self._arrays.get(trial),
        }

    def _record_segment(self, trial: str, job: dict, outcome, generation: int) -> None:
        """Record ``trial``'s outcome after ``job``, keep its state to continue from."""
        record = self.state.evaluations[trial]
        metrics = dict(outcome.metrics)
        state = metrics.pop("_state", None)
        self._spent += job["stop"] - job["start"]
        if state is None:
            self._arrays.pop(trial, None)
        else:
            self._arrays[trial] = state
        metrics.update({"epochs": job["stop"], "best_epoch": job["stop"]})
        outcome = Outcome(
            outcome.status,
            outcome.score,
            outcome.reason,
            metrics if outcome.ok else {"epochs": job["stop"]},
            outcome.seconds,
        )
        self.state.evaluations[trial] = Candidate(
            record.index, record.key, record.genome, generation, record.params, outcome
        )

    def _ranked(self, trials: list) -> list:
        """Best first; failures last; ties by trial order (deterministic)."""
        return sorted(
            trials, key=lambda t: (self.state.evaluations[t].score, self.state.evaluations[t].index)
        )

    def _rung(self, position: int, bar) -> None:
        """Synchronous Hyperband: one rung of one bracket."""
        s, index, n_i, r_i = self.schedule[position]
        if index == 0:
            self._arrays.clear()
            self._alive = [
                self._new_trial(genome, position) for genome in self._sample_distinct(n_i)
            ]
        trials = list(self._alive)
        before = self._spent
        self._train(trials, [r_i] * len(trials), position)
        ranked = self._ranked(trials)
        promoted = [
            trial
            for trial in ranked[: len(trials) // self.reduction_factor]
            if index < s and self.state.evaluations[trial].ok
        ]
        for trial in trials:
            if trial not in promoted:
                self._arrays.pop(trial, None)
        self._alive = promoted
        self.state.population = trials
        self._finish_rung(
            position,
            {"bracket": s, "rung": index, "epochs": r_i, "trials": trials, "promoted": promoted},
            bar,
            before,
        )

    # -- ASHA -----------------------------------------------------------------------------------
    def _asha_jobs(self, slots: int, generation: int, running=()) -> list:
        """Up to ``slots`` (trial, epochs) jobs by ASHA's rule, within the remaining budget;
        ``running`` are the (trial, epochs) jobs in flight (their epochs are planned, their
        trials taken)."""
        rungs = asha_rungs(self.max_epochs, self.reduction_factor)
        # Rung k holds every trial that ever reached it, with its score there (a promoted trial
        # stays counted in the rungs below, as in the paper).
        by_rung = [
            [
                (scores[k] is None, scores[k] or 0.0, self.state.evaluations[t].index, t)
                for t, scores in self._rung_scores.items()
                if len(scores) > k
            ]
            for k in range(len(rungs))
        ]
        jobs, taken = [], {trial for trial, _ in running}
        planned = self._spent + sum(
            stop - self.state.evaluations[trial].metrics.get("epochs", 0) for trial, stop in running
        )
        for _ in range(slots):
            job = None
            for k in range(len(rungs) - 2, -1, -1):
                top = sorted(by_rung[k])[: len(by_rung[k]) // self.reduction_factor]
                waiting = [
                    t
                    for failed, _, _, t in top
                    if t not in taken and not failed and len(self._rung_scores[t]) == k + 1
                ]
                if waiting:
                    job = (waiting[0], rungs[k + 1], rungs[k + 1] - rungs[k])
                    break
            if job is not None and planned + job[2] > self.budget:
                job = None  # a promotion past the budget: a new genome may still fit
            if job is None:
                if planned + rungs[0] > self.budget:
                    break
                genome = self.space.sample(self.rng)
                job = (self._new_trial(genome, generation), rungs[0], rungs[0])
            taken.add(job[0])
            planned += job[2]
            jobs.append(job[:2])
        return jobs

    def _run_asha(self, bar) -> None:
        """ASHA's event loop: keep every worker busy; whenever a job finishes, record it,
        checkpoint, and give the free worker the next job by ASHA's rule. Serially each job
        finishes as it is submitted, so the run is deterministic and resumes exactly; with
        workers, the order of completions (and so the promotions) depends on timing, and a
        resumed run first re-submits the jobs that were in flight."""
        running = {}  # token -> (trial, job)
        for trial, stop in self._in_flight:  # a resumed run: what was running at the kill
            job = self._segment_job(trial, stop)
            running[self._map.submit(job)] = (trial, job)
        while True:
            free = self._map.capacity - len(running)
            if free > 0:
                busy = [(trial, job["stop"]) for trial, job in running.values()]
                for trial, stop in self._asha_jobs(free, self.state.generation + 1, busy):
                    job = self._segment_job(trial, stop)
                    running[self._map.submit(job)] = (trial, job)
            if not running:
                return
            for token, outcome in self._map.wait_any():
                trial, job = running.pop(token)
                self._in_flight = [(t, j["stop"]) for t, j in running.values()]
                self._asha_finished(trial, job, outcome, bar)

    def _asha_finished(self, trial: str, job: dict, outcome, bar) -> None:
        """Record one finished ASHA job as its own history row, then checkpoint."""
        generation = self.state.generation + 1
        before = self._spent
        self._record_segment(trial, job, outcome, generation)
        rungs = asha_rungs(self.max_epochs, self.reduction_factor)
        record = self.state.evaluations[trial]
        if record.metrics["epochs"] >= rungs[-1] or not record.ok:
            self._arrays.pop(trial, None)  # nothing left to continue
        self._rung_scores.setdefault(trial, []).append(record.score if record.ok else None)
        self.state.population = [trial]
        row = {
            "bracket": 0,
            "rung": [rungs.index(job["stop"])],
            "epochs": [job["stop"]],
            "trials": [trial],
            "promoted": [],
        }
        self._finish_rung(generation, row, bar, before)

    # -- bookkeeping ----------------------------------------------------------------------------
    def _finish_rung(self, generation: int, row: dict, bar, before: int) -> None:
        scores = [self.state.evaluations[t].score for t in row["trials"]]
        ok = [score for score in scores if math.isfinite(score) and score < 1e299]
        trained = [r for r in self.state.evaluations.values() if r.ok]
        best = min((r.score for r in trained), default=None)
        row = {
            "generation": generation,
            **row,
            "scores": [score if score < 1e299 else None for score in scores],
            "best": min(ok) if ok else None,
            "mean": float(np.mean(ok)) if ok else None,
            "failed": len(scores) - len(ok),
            "epochs_trained": self._spent - before,
            "total_epochs": self._spent,
            "evaluations": len(self.state.evaluations),
            "best_so_far": best,
        }
        self.state.history.append(row)
        self.state.generation = generation
        if self.checkpoint:
            if not self._owns_checkpoint:
                check_checkpoint_target(self.checkpoint, False, type(self).__name__)
            self.save(self.checkpoint)
            self._owns_checkpoint = True
        if best is not None:
            bar.set_postfix(best=f"{best:.4f}", refresh=False)
        bar.update(min(self._spent, self.budget) - min(before, self.budget))

    # -- checkpoints ----------------------------------------------------------------------------
    def save(self, path) -> None:
        """Write the JSON checkpoint and, first, the npz of continuing candidates' arrays (the
        JSON names it, so a kill between the two leaves the previous pair intact)."""
        path = os.fspath(path)
        arrays = {}
        for trial, folds in self._arrays.items():
            for fold, fold_state in enumerate(folds):
                for index, weight in enumerate(fold_state["weights"]):
                    arrays[f"{trial}/{fold}/w/{index}"] = weight
                for name, value in fold_state["optimizer"].items():
                    arrays[f"{trial}/{fold}/o/{name}"] = np.asarray(value)
        name = write_arrays(path, self.state.generation, arrays)
        state = {
            "generation": self.state.generation,
            "population": self.state.population,
            "evaluations": [
                [trial, record.to_dict()] for trial, record in self.state.evaluations.items()
            ],
            "history": self.state.history,
            "alive": self._alive,
            "spent": self._spent,
            "rung_scores": self._rung_scores,
            "in_flight": [list(job) for job in self._in_flight],
            "rng_state": encode_rng_state(self.rng.getstate()),
            "arrays": name,
            "continuing": sorted(self._arrays),
        }
        save_checkpoint(path, self._checkpoint_payload(state))
        remove_stale_arrays(path, name)

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
        overwrite=False,
    ) -> Hyperband:
        """The Hyperband (or ASHA) run saved at ``path``, ready to :meth:`run` to the end; the
        result equals an uninterrupted run's. ``evaluator`` defaults to the one the checkpoint
        stores (its fingerprint must match)."""
        document = load_checkpoint(path)
        if document.get("strategy") != cls.__name__:
            raise CheckpointError(
                f"checkpoint {path!r} was written by "
                f"{document.get('strategy')!r}, not {cls.__name__}. Use "
                f"nastoolkit.nas.load_search({path!r})."
            )
        saved = document["evaluator"]
        if evaluator is None:
            from .evaluators import evaluator_from_config

            if not saved.get("config"):
                raise CheckpointError(
                    f"checkpoint {path!r} does not store its evaluator's data; "
                    f"pass evaluator=... to resume."
                )
            evaluator = evaluator_from_config(saved["config"])
        if evaluator.fingerprint() != saved.get("fingerprint"):
            raise CheckpointError(
                f"checkpoint {path!r} was made with another evaluator setup "
                f"(field evaluator.fingerprint differs). Resume with the same "
                f"evaluator settings."
            )
        from .space import SearchSpace

        config = dict(document["config"])
        target = checkpoint or path
        same = os.path.abspath(os.fspath(target)) == os.path.abspath(os.fspath(path))
        execution = document.get("execution") or {}
        try:
            search = cls(
                SearchSpace.from_config(config["space"]),
                evaluator,
                max_epochs=config["max_epochs"],
                reduction_factor=config["reduction_factor"],
                seed=config["seed"],
                asynchronous=config["asynchronous"],
                hall_of_fame_size=config["hall_of_fame_size"],
                workers=workers if workers is not None else execution.get("workers"),
                client=client,
                cluster=cluster,
                checkpoint=target,
                progress=progress,
                overwrite=overwrite or same,
            )
            search._restore(document["state"], os.path.dirname(os.path.abspath(path)))
        except (KeyError, TypeError, ValueError) as error:
            raise CheckpointError(
                f"checkpoint {path!r}: a field does not fit {cls.__name__} "
                f"({type(error).__name__}: {error})."
            ) from None
        return search

    def _restore(self, state: dict, folder: str) -> None:
        evaluations = {}
        for index, (trial, record) in enumerate(state["evaluations"]):
            evaluations[trial] = Candidate.from_dict(record, where=f"state.evaluations[{index}]")
        self.state = SearchState(
            generation=int(state["generation"]),
            population=list(state["population"]),
            evaluations=evaluations,
            history=list(state["history"]),
        )
        self._alive = list(state["alive"])
        self._spent = int(state["spent"])
        self._rung_scores = {trial: list(scores) for trial, scores in state["rung_scores"].items()}
        self._in_flight = [(str(trial), int(stop)) for trial, stop in state.get("in_flight", [])]
        self.rng.setstate(decode_rng_state(state["rng_state"]))
        arrays_path = os.path.join(folder, state["arrays"])
        if not os.path.exists(arrays_path):
            raise ValueError(
                f"the arrays file {arrays_path!r} named by field state.arrays is missing"
            )
        folds = self._segments.folds
        with np.load(arrays_path, allow_pickle=False) as data:
            for trial in state["continuing"]:
                restored = []
                for fold in range(folds):
                    weights = []
                    while f"{trial}/{fold}/w/{len(weights)}" in data:
                        weights.append(data[f"{trial}/{fold}/w/{len(weights)}"])
                    prefix = f"{trial}/{fold}/o/"
                    optimizer = {
                        name[len(prefix) :]: (
                            int(data[name]) if name.endswith("/iterations") else data[name]
                        )
                        for name in data.files
                        if name.startswith(prefix)
                    }
                    restored.append({"weights": weights, "optimizer": optimizer})
                self._arrays[trial] = restored

    def __repr__(self) -> str:
        return (
            f"Hyperband(max_epochs={self.max_epochs}, reduction_factor="
            f"{self.reduction_factor}, asynchronous={self.asynchronous}, seed={self.seed}, "
            f"evaluator={self.evaluator!r}, completed={self.state.generation + 1})"
        )
