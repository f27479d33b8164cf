"""SearchResult: what every strategy returns, the :class:`Candidate` record it holds, plus Pareto
and table helpers (pure functions)."""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

from .genome import describe_genome
from .outcome import Outcome, OutcomeError

__all__ = ["Candidate", "SearchResult", "dominates", "format_table", "pareto_front", "rank_records"]

_CANDIDATE_FIELDS = ("index", "key", "genome", "generation", "params")


@dataclass(frozen=True)
class Candidate:
    """One distinct genome a search evaluated: where it stands in the search and its
    :class:`~nastoolkit.nas.outcome.Outcome`.

    ``index`` is its position in evaluation order, ``key`` its :func:`~nastoolkit.nas.genome_key`,
    ``generation`` the generation that first asked for it, ``params`` its weight count. The
    outcome's fields read through (``candidate.score``, ``candidate.status``, ...).

    Examples
    --------
    >>> genome = {"layers": [{"units": 8, "activation": "relu", "dropout": 0.0}],
    ...           "learning_rate": 0.001, "l2": 0.0, "optimizer": "adam", "batch_size": 32}
    >>> candidate = Candidate(0, "k", genome, 0, 131, Outcome("ok", 0.25))
    >>> candidate.score, candidate.ok
    (0.25, True)
    >>> Candidate.from_dict(candidate.to_dict()) == candidate
    True
    """

    index: int
    key: str
    genome: dict
    generation: int
    params: int
    outcome: Outcome

    @property
    def status(self) -> str:
        """ "ok" or "failed"."""
        return self.outcome.status

    @property
    def score(self) -> float:
        """Validation error (lower is better); ``FAILED_SCORE`` for failures."""
        return self.outcome.score

    @property
    def reason(self) -> str | None:
        """Why the candidate failed, else None."""
        return self.outcome.reason

    @property
    def metrics(self) -> dict:
        """The outcome's metrics (``val_loss``, ``fold_errors``, ...)."""
        return self.outcome.metrics

    @property
    def seconds(self) -> float:
        """Wall-clock training time in seconds."""
        return self.outcome.seconds

    @property
    def ok(self) -> bool:
        """True when the candidate trained and was scored."""
        return self.outcome.ok

    def __getitem__(self, name: str):
        """Read-only ``candidate["score"]`` access, so code written for the former dict records
        keeps working; prefer the attributes."""
        if name in _CANDIDATE_FIELDS or name == "outcome":
            return getattr(self, name)
        return self.outcome[name]

    def to_dict(self) -> dict:
        """JSON-ready form (used by checkpoints and :meth:`SearchResult.to_dict`)."""
        return {
            "index": self.index,
            "key": self.key,
            "genome": copy.deepcopy(self.genome),
            "generation": self.generation,
            "params": self.params,
            "outcome": self.outcome.to_dict(),
        }

    @classmethod
    def from_dict(cls, data, where: str = "candidate") -> Candidate:
        """Rebuild from :meth:`to_dict` output, checking the types of every field (the genome is
        checked against a search space by the checkpoint reader, which knows the space)."""
        if not isinstance(data, dict):
            raise OutcomeError(f"{where} must be an object. Received: {type(data).__name__}")
        missing = [name for name in (*_CANDIDATE_FIELDS, "outcome") if name not in data]
        if missing:
            raise OutcomeError(f"{where} lacks {missing}")
        for name, kind in (("index", int), ("generation", int), ("params", int)):
            value = data[name]
            if isinstance(value, bool) or not isinstance(value, kind) or value < 0:
                raise OutcomeError(f"{where}.{name} must be an integer >= 0. Received: {value!r}")
        if not isinstance(data["key"], str):
            raise OutcomeError(f"{where}.key must be a string. Received: {data['key']!r}")
        if not isinstance(data["genome"], dict):
            raise OutcomeError(
                f"{where}.genome must be an object. Received: {data['genome']!r:.60}"
            )
        outcome = Outcome.from_dict(data["outcome"], where=f"{where}.outcome")
        return cls(
            data["index"],
            data["key"],
            copy.deepcopy(data["genome"]),
            data["generation"],
            data["params"],
            outcome,
        )


def rank_records(records: list) -> list:
    """Successful records, best first: lowest score, then fewest parameters, then earliest.

    Parameters
    ----------
    records : list of Candidate
        Evaluated candidates, failures included.

    Returns
    -------
    list of Candidate
        The successful ones, best first.

    Examples
    --------
    >>> from nastoolkit.nas import make_genome
    >>> small, wide = make_genome([(8, "relu", 0.0)]), make_genome([(32, "tanh", 0.0)])
    >>> records = [Candidate(0, "a", small, 0, 131, Outcome("ok", 0.3)),
    ...            Candidate(1, "b", wide, 0, 500, Outcome("ok", 0.2)),
    ...            Candidate(2, "c", wide, 1, 600, Outcome("ok", 0.25)),
    ...            Candidate(3, "d", small, 1, 131, Outcome.failure("diverged"))]
    >>> [record.index for record in rank_records(records)]
    [1, 2, 0]
    """
    return sorted((r for r in records if r.ok), key=lambda r: (r.score, r.params, r.index))


def dominates(first: tuple, second: tuple) -> bool:
    """True when ``first`` is no worse in every objective and better in one (all minimised).

    Parameters
    ----------
    first, second : tuple of float
        Objective values, e.g. ``(validation error, parameter count)``.

    Returns
    -------
    bool

    Examples
    --------
    >>> dominates((0.1, 100), (0.2, 100)), dominates((0.1, 100), (0.1, 100))
    (True, False)
    """
    return all(a <= b for a, b in zip(first, second)) and any(a < b for a, b in zip(first, second))


def pareto_front(records: list) -> list:
    """Successful records not dominated in (validation error, parameter count), sorted by error.
    Records with identical objectives are all kept.

    Parameters
    ----------
    records : list of Candidate
        Evaluated candidates, failures included.

    Returns
    -------
    list of Candidate
        The front, lowest error first.

    Examples
    --------
    >>> from nastoolkit.nas import make_genome
    >>> small, wide = make_genome([(8, "relu", 0.0)]), make_genome([(32, "tanh", 0.0)])
    >>> records = [Candidate(0, "a", small, 0, 131, Outcome("ok", 0.3)),
    ...            Candidate(1, "b", wide, 0, 500, Outcome("ok", 0.2)),
    ...            Candidate(2, "c", wide, 1, 600, Outcome("ok", 0.25)),
    ...            Candidate(3, "d", small, 1, 131, Outcome.failure("diverged"))]
    >>> [record.index for record in pareto_front(records)]  # 2 is dominated by 1
    [1, 0]
    """
    candidates = [r for r in records if r.ok]
    points = [(r.score, r.params) for r in candidates]
    front = [
        record
        for record, point in zip(candidates, points)
        if not any(dominates(other, point) for other in points)
    ]
    return sorted(front, key=lambda r: (r.score, r.params, r.index))


def format_table(records: list, title: str = "") -> str:
    """A plain-text table of records: rank, error, parameters, architecture, and the spread
    over folds (``± std``) only when some record was cross-validated (more than one entry in
    its ``fold_errors``): a holdout score has no spread to show.

    Parameters
    ----------
    records : list of Candidate
        Evaluated candidates, failures included.
    title : str, default ""
        A first line, when given.

    Returns
    -------
    str
        The table, one line per record in the given order.

    Examples
    --------
    >>> from nastoolkit.nas import make_genome
    >>> small, wide = make_genome([(8, "relu", 0.0)]), make_genome([(32, "tanh", 0.0)])
    >>> records = [Candidate(0, "a", small, 0, 131, Outcome("ok", 0.3)),
    ...            Candidate(1, "b", wide, 0, 500, Outcome("ok", 0.2)),
    ...            Candidate(2, "c", wide, 1, 600, Outcome("ok", 0.25)),
    ...            Candidate(3, "d", small, 1, 131, Outcome.failure("diverged"))]
    >>> print(format_table(records[:2], title="demo"))
    demo
    rank  val_error    params  architecture
       1     0.3000       131  8relu | adam lr=0.001 l2=0 bs=32
       2     0.2000       500  32tanh | adam lr=0.001 l2=0 bs=32
    """
    lines = [title] if title else []

    def cross_validated(record):
        return len(record.metrics.get("fold_errors", ())) > 1

    folds = any(cross_validated(record) for record in records)
    spread_header = f"  {'± std':>7}" if folds else ""
    lines.append(f"{'rank':>4}  {'val_error':>9}{spread_header}  {'params':>8}  architecture")
    for rank, record in enumerate(records, start=1):
        spread = (
            (
                f"  {record.metrics['val_error_std']:>7.4f}"
                if cross_validated(record)
                else f"  {'-':>7}"
            )
            if folds
            else ""
        )
        lines.append(
            f"{rank:>4}  {record.score:>9.4f}{spread}"
            f"  {record.params:>8d}  {describe_genome(record.genome)}"
        )
    return "\n".join(lines)


@dataclass
class SearchResult:
    """The outcome of a search, the same for every strategy.

    ``evaluations`` holds every distinct candidate evaluated, in evaluation order, as
    :class:`Candidate` records (``index``, ``key``, ``genome``, ``generation``, ``params`` and
    the :class:`~nastoolkit.nas.outcome.Outcome`, whose ``status``, ``score`` (validation error,
    lower is better), ``reason`` and ``metrics`` read through). ``history`` holds
    one dict of statistics per generation (``best``, ``mean``, ``std``, ``median`` of the
    population's scores, ``failed``, ``trained``, ``cache_hits``, ``evaluations``,
    ``best_so_far``). ``population`` is the final population's genomes.

    Examples
    --------
    >>> from nastoolkit.nas import make_genome
    >>> small, wide = make_genome([(8, "relu", 0.0)]), make_genome([(32, "tanh", 0.0)])
    >>> records = [Candidate(0, "a", small, 0, 131, Outcome("ok", 0.3)),
    ...            Candidate(1, "b", wide, 0, 500, Outcome("ok", 0.2)),
    ...            Candidate(2, "c", wide, 1, 600, Outcome("ok", 0.25)),
    ...            Candidate(3, "d", small, 1, 131, Outcome.failure("diverged"))]
    >>> result = SearchResult("random", records, history=[], population=[small, wide])
    >>> result.best_score, result.best_record.index, len(result.failures)
    (0.2, 1, 1)
    """

    strategy: str
    evaluations: list
    history: list
    population: list
    hall_of_fame_size: int = 5
    evaluator: object = field(default=None, repr=False, compare=False)

    @property
    def best_record(self) -> Candidate | None:
        """The best successful :class:`Candidate` (None if every candidate failed)."""
        ranked = rank_records(self.evaluations)
        return ranked[0] if ranked else None

    @property
    def best_genome(self) -> dict | None:
        """The genome with the lowest validation error (ties: fewer parameters, found first)."""
        best = self.best_record
        return copy.deepcopy(best.genome) if best else None

    @property
    def best_score(self) -> float:
        """The best validation error (``inf`` if every candidate failed)."""
        best = self.best_record
        return best.score if best else math.inf

    @property
    def pareto_front(self) -> list:
        """Non-dominated records in (validation error, parameter count)."""
        return pareto_front(self.evaluations)

    @property
    def hall_of_fame(self) -> list:
        """The ``hall_of_fame_size`` best distinct records."""
        return rank_records(self.evaluations)[: self.hall_of_fame_size]

    @property
    def failures(self) -> list:
        """Failed records, each with its ``reason``."""
        return [r for r in self.evaluations if not r.ok]

    def best_model(self, epochs: int | None = None):
        """The best genome retrained on all the evaluator's data, as a compiled ``Sequential``.

        ``epochs`` defaults to the epoch where validation loss was best during the search."""
        best = self.best_record
        if best is None:
            raise RuntimeError(
                "no candidate trained successfully, so there is no best model; "
                "see result.failures for the reasons."
            )
        if self.evaluator is None or not hasattr(self.evaluator, "fit_final"):
            raise RuntimeError(
                "this result has no evaluator that can retrain; build the model "
                "with nastoolkit.nas.genome_to_model(result.best_genome, ...)."
            )
        epochs = epochs or best.metrics.get("best_epoch") or None
        return self.evaluator.fit_final(best.genome, epochs=epochs)

    def table(self, top: int = 5) -> str:
        """The ``top`` best architectures as a plain-text table."""
        return format_table(
            rank_records(self.evaluations)[:top],
            title=f"{self.strategy}: {len(self.evaluations)} candidates evaluated, "
            f"{len(self.failures)} failed",
        )

    def to_dict(self, timing: bool = False) -> dict:
        """JSON-ready copy of everything but the evaluator (candidates as
        :meth:`Candidate.to_dict`). Training times differ between runs of the same search, so
        they are left out unless ``timing=True``: equal searches give equal dicts (as ``==``
        on results, which ignores timing)."""
        evaluations = [record.to_dict() for record in self.evaluations]
        if not timing:
            for record in evaluations:
                del record["outcome"]["seconds"]
        return copy.deepcopy(
            {
                "strategy": self.strategy,
                "evaluations": evaluations,
                "history": self.history,
                "population": self.population,
                "hall_of_fame_size": self.hall_of_fame_size,
            }
        )

    def __repr__(self) -> str:
        return (
            f"SearchResult(strategy={self.strategy!r}, evaluations={len(self.evaluations)}, "
            f"generations={len(self.history)}, best_score={self.best_score:.4g})"
        )
