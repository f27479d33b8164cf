"""EvaluationCache: outcomes keyed by (evaluator fingerprint, genome key), so nothing trains twice.

The fingerprint covers the data, task, epoch budget, split scheme and seed, so a cache can be
shared between searches (and strategies) without ever returning a result measured differently.
"""

from __future__ import annotations

import copy

from .outcome import Outcome, as_outcome

__all__ = ["EvaluationCache"]


class EvaluationCache:
    """:class:`~nastoolkit.nas.outcome.Outcome` records by ``(fingerprint, genome_key)``, with hit
    and miss counters.

    Examples
    --------
    >>> from nastoolkit.nas.outcome import Outcome
    >>> cache = EvaluationCache()
    >>> cache.store("evaluator-fingerprint", "genome-key", Outcome("ok", 0.1))
    >>> cache.lookup("evaluator-fingerprint", "genome-key").score
    0.1
    """

    def __init__(self):
        self._results: dict = {}
        self.hits = 0
        self.misses = 0

    def lookup(self, fingerprint: str, key: str) -> Outcome | None:
        """A copy of the stored outcome, or None; counts a hit or a miss."""
        result = self._results.get((fingerprint, key))
        if result is None:
            self.misses += 1
            return None
        self.hits += 1
        return copy.deepcopy(result)

    def store(self, fingerprint: str, key: str, outcome: Outcome) -> None:
        """Keep a copy of ``outcome`` (later edits of its metrics by the caller do not leak in);
        a dict in :meth:`Outcome.to_dict` form is accepted and converted."""
        self._results[(fingerprint, key)] = copy.deepcopy(as_outcome(outcome))

    def __contains__(self, item) -> bool:
        return item in self._results

    def __len__(self) -> int:
        return len(self._results)

    @property
    def hit_rate(self) -> float:
        """hits / (hits + misses), 0.0 before any lookup."""
        total = self.hits + self.misses
        return self.hits / total if total else 0.0

    def __repr__(self) -> str:
        return f"EvaluationCache(entries={len(self)}, hits={self.hits}, misses={self.misses})"
