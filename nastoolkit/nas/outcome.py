"""Outcome: what one evaluation of one genome produced, as one small typed record.

Evaluators return it, the parallel maps carry it back from workers, the cache stores it,
checkpoints write it as JSON and :class:`~nastoolkit.nas.SearchResult` reads it. Failures are made
in one place, :meth:`Outcome.failure`, so every failed candidate looks the same wherever it failed
(in training, in a worker that died, past its time limit).

>>> Outcome.failure("timed out after 5 s").ok
False
>>> Outcome.from_dict(Outcome("ok", 0.12, metrics={"val_loss": 0.3}).to_dict()).score
0.12
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

__all__ = ["FAILED_SCORE", "Outcome", "OutcomeError"]

# Finite so that NSGA-II's crowding distances and JSON stay well defined; worse than any error.
FAILED_SCORE = 1e300

_STATUSES = ("ok", "failed")


class OutcomeError(ValueError):
    """A serialized outcome that is not one (a damaged or edited checkpoint, say)."""


@dataclass(frozen=True)
class Outcome:
    """One evaluation: ``status`` ("ok" or "failed"), ``score`` (validation error, lower is
    better; :data:`FAILED_SCORE` for failures), ``reason`` (why it failed, else None),
    ``metrics`` (JSON-ready numbers such as ``val_loss``, ``fold_errors``) and ``seconds`` of
    wall-clock training time."""

    status: str
    score: float
    reason: str | None = None
    metrics: dict = field(default_factory=dict)
    seconds: float = 0.0

    @classmethod
    def failure(cls, reason: str, seconds: float = 0.0) -> Outcome:
        """The one way to record a failed candidate."""
        return cls("failed", FAILED_SCORE, str(reason), {}, float(seconds))

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def with_seconds(self, seconds: float) -> Outcome:
        """The same outcome with its training time set (the map measures it, not the evaluator)."""
        return Outcome(self.status, self.score, self.reason, self.metrics, float(seconds))

    def to_dict(self) -> dict:
        """JSON-ready form (used by checkpoints)."""
        return {"status": self.status, "score": self.score, "reason": self.reason,
                "metrics": self.metrics, "seconds": self.seconds}

    @classmethod
    def from_dict(cls, data, where: str = "outcome") -> Outcome:
        """Rebuild from :meth:`to_dict` output, checking every field; ``where`` names the place in
        the error (e.g. ``"evaluations[3].outcome"``)."""
        if not isinstance(data, dict):
            raise OutcomeError(f"{where} must be an object. Received: {type(data).__name__}")
        missing = {"status", "score"} - data.keys()
        if missing:
            raise OutcomeError(f"{where} lacks {sorted(missing)}")
        status, score = data["status"], data["score"]
        if status not in _STATUSES:
            raise OutcomeError(f"{where}.status must be one of {_STATUSES}. Received: {status!r}")
        if isinstance(score, bool) or not isinstance(score, (int, float)) or math.isnan(score):
            raise OutcomeError(f"{where}.score must be a number. Received: {score!r}")
        reason = data.get("reason")
        if reason is not None and not isinstance(reason, str):
            raise OutcomeError(f"{where}.reason must be a string or null. Received: {reason!r}")
        metrics = data.get("metrics", {})
        if not isinstance(metrics, dict):
            raise OutcomeError(f"{where}.metrics must be an object. Received: {metrics!r}")
        seconds = data.get("seconds", 0.0)
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
            raise OutcomeError(f"{where}.seconds must be a number >= 0. Received: {seconds!r}")
        return cls(status, float(score), reason, dict(metrics), float(seconds))
