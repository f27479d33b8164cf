"""SearchResult: what every strategy returns, plus Pareto and table helpers (pure functions)."""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

from .genome import describe_genome

__all__ = ["SearchResult", "dominates", "format_table", "pareto_front", "rank_records"]


def _ok(record: dict) -> bool:
    return record["status"] == "ok"


def rank_records(records: list) -> list:
    """Successful records, best first: lowest score, then fewest parameters, then earliest."""
    return sorted((r for r in records if _ok(r)),
                  key=lambda r: (r["score"], r["params"], r["index"]))


def dominates(first: tuple, second: tuple) -> bool:
    """True when ``first`` is no worse in every objective and better in one (all minimised)."""
    return all(a <= b for a, b in zip(first, second)) and any(a < b for a, b in zip(first, second))


def pareto_front(records: list) -> list:
    """Successful records not dominated in (validation error, parameter count), sorted by error.
    Records with identical objectives are all kept."""
    candidates = [r for r in records if _ok(r)]
    points = [(r["score"], r["params"]) for r in candidates]
    front = [record for record, point in zip(candidates, points)
             if not any(dominates(other, point) for other in points)]
    return sorted(front, key=lambda r: (r["score"], r["params"], r["index"]))


def format_table(records: list, title: str = "") -> str:
    """A plain-text table of records: rank, error, accuracy, parameters, architecture."""
    lines = [title] if title else []
    lines.append(f"{'rank':>4}  {'val_error':>9}  {'± std':>7}  {'params':>8}  architecture")
    for rank, record in enumerate(records, start=1):
        metrics = record["metrics"]
        spread = metrics.get("val_error_std", 0.0)
        lines.append(f"{rank:>4}  {record['score']:>9.4f}  {spread:>7.4f}"
                     f"  {record['params']:>8d}  {describe_genome(record['genome'])}")
    return "\n".join(lines)


@dataclass
class SearchResult:
    """The outcome of a search, the same for every strategy.

    ``evaluations`` holds every distinct candidate evaluated, in evaluation order, as a dict with
    ``index``, ``key``, ``genome``, ``generation``, ``status`` ("ok"/"failed"), ``score``
    (validation error, lower is better), ``params``, ``reason`` and ``metrics``. ``history`` holds
    one dict of statistics per generation (``best``, ``mean``, ``std``, ``median`` of the
    population's scores, ``failed``, ``trained``, ``cache_hits``, ``evaluations``,
    ``best_so_far``). ``population`` is the final population's genomes.
    """

    strategy: str
    evaluations: list
    history: list
    population: list
    hall_of_fame_size: int = 5
    evaluator: object = field(default=None, repr=False, compare=False)

    @property
    def best_record(self) -> dict | None:
        ranked = rank_records(self.evaluations)
        return ranked[0] if ranked else None

    @property
    def best_genome(self) -> dict | None:
        """The genome with the lowest validation error (ties: fewer parameters, found first)."""
        best = self.best_record
        return copy.deepcopy(best["genome"]) if best else None

    @property
    def best_score(self) -> float:
        """The best validation error (``inf`` if every candidate failed)."""
        best = self.best_record
        return best["score"] if best else math.inf

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
        return [r for r in self.evaluations if not _ok(r)]

    def best_model(self, epochs: int | None = None):
        """The best genome retrained on all the evaluator's data, as a compiled ``Sequential``.

        ``epochs`` defaults to the epoch where validation loss was best during the search."""
        best = self.best_record
        if best is None:
            raise RuntimeError("no candidate trained successfully, so there is no best model; "
                               "see result.failures for the reasons.")
        if self.evaluator is None or not hasattr(self.evaluator, "fit_final"):
            raise RuntimeError("this result has no evaluator that can retrain; build the model "
                               "with nastoolkit.nas.genome_to_model(result.best_genome, ...).")
        epochs = epochs or best["metrics"].get("best_epoch") or None
        return self.evaluator.fit_final(best["genome"], epochs=epochs)

    def table(self, top: int = 5) -> str:
        """The ``top`` best architectures as a plain-text table."""
        return format_table(rank_records(self.evaluations)[:top],
                            title=f"{self.strategy}: {len(self.evaluations)} candidates evaluated, "
                                  f"{len(self.failures)} failed")

    def to_dict(self) -> dict:
        """JSON-ready copy of everything but the evaluator."""
        return copy.deepcopy({"strategy": self.strategy, "evaluations": self.evaluations,
                              "history": self.history, "population": self.population,
                              "hall_of_fame_size": self.hall_of_fame_size})

    def __repr__(self) -> str:
        return (f"SearchResult(strategy={self.strategy!r}, evaluations={len(self.evaluations)}, "
                f"generations={len(self.history)}, best_score={self.best_score:.4g})")
