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

__all__ = ["FAILED_SCORE", "CandidateFailed", "Outcome", "OutcomeError", "as_outcome"]

# Finite so that NSGA-II's crowding distances and JSON stay well defined; worse than any error.
FAILED_SCORE = 1e300

_STATUSES = ("ok", "failed")
_FIELDS = ("status", "score", "reason", "metrics", "seconds")


class OutcomeError(ValueError):
    """A serialized outcome that is not one (a damaged or edited checkpoint, say).

    Examples
    --------
    >>> try:
    ...     Outcome.from_dict({"status": "maybe", "score": 0.5})
    ... except OutcomeError as error:
    ...     print(isinstance(error, ValueError))
    True
    """


class CandidateFailed(RuntimeError):
    """Training produced no usable score (e.g. the loss diverged); its message is the reason.

    Examples
    --------
    >>> error = CandidateFailed("the loss diverged at epoch 3")
    >>> Outcome.failure(str(error)).reason
    'the loss diverged at epoch 3'
    """


@dataclass(frozen=True)
class Outcome:
    """One evaluation: ``status`` ("ok" or "failed"), ``score`` (validation error, lower is
    better; :data:`FAILED_SCORE` for failures), ``reason`` (why it failed, else None),
    ``metrics`` (JSON-ready numbers such as ``val_loss``, ``fold_errors``) and ``seconds`` of
    wall-clock training time.

    Examples
    --------
    >>> outcome = Outcome("ok", 0.25, metrics={"val_loss": 0.3}, seconds=1.5)
    >>> outcome.ok, outcome.to_dict()["metrics"]
    (True, {'val_loss': 0.3})
    >>> Outcome.failure("diverged").score == FAILED_SCORE
    True
    """

    status: str
    score: float
    reason: str | None = None
    metrics: dict = field(default_factory=dict)
    # Timing is a measurement, not a result: two runs of one search are equal whatever it took.
    seconds: float = field(default=0.0, compare=False)

    @classmethod
    def failure(cls, reason: str, seconds: float = 0.0) -> Outcome:
        """The one way to record a failed candidate."""
        return cls(
            "failed", FAILED_SCORE, str(reason) or "failed (no reason given)", {}, float(seconds)
        )

    @classmethod
    def from_exception(cls, error: BaseException, seconds: float = 0.0) -> Outcome:
        """The failure an exception stands for: a :class:`CandidateFailed` gives its message as
        the reason, anything else ``"TypeName: message"`` (so evaluator bugs are recognisable)."""
        reason = (
            str(error) if isinstance(error, CandidateFailed) else f"{type(error).__name__}: {error}"
        )
        return cls.failure(reason, seconds)

    @property
    def ok(self) -> bool:
        """True when the candidate trained and was scored."""
        return self.status == "ok"

    def __getitem__(self, name: str):
        """Read-only ``outcome["score"]`` access, so code written for the former dict results
        keeps working; prefer the attributes."""
        if name not in _FIELDS:
            raise KeyError(f"{name!r} is not a field of Outcome; fields: {_FIELDS}")
        return getattr(self, name)

    def with_seconds(self, seconds: float) -> Outcome:
        """The same outcome with its training time set (the map measures it, not the evaluator)."""
        return Outcome(self.status, self.score, self.reason, self.metrics, float(seconds))

    def to_dict(self) -> dict:
        """JSON-ready form (used by checkpoints)."""
        return {
            "status": self.status,
            "score": self.score,
            "reason": self.reason,
            "metrics": self.metrics,
            "seconds": self.seconds,
        }

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
        if status == "ok" and not math.isfinite(score):
            raise OutcomeError(
                f"{where}.score of a successful candidate must be finite. Received: {score!r}"
            )
        reason = data.get("reason")
        if reason is not None and not isinstance(reason, str):
            raise OutcomeError(f"{where}.reason must be a string or null. Received: {reason!r}")
        if status == "failed" and not reason:
            raise OutcomeError(
                f"{where}.reason must say why the candidate failed. Received: {reason!r}"
            )
        metrics = data.get("metrics", {})
        if not isinstance(metrics, dict):
            raise OutcomeError(f"{where}.metrics must be an object. Received: {metrics!r}")
        seconds = data.get("seconds", 0.0)
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
            raise OutcomeError(f"{where}.seconds must be a number >= 0. Received: {seconds!r}")
        return cls(status, float(score), reason, dict(metrics), float(seconds))


def as_outcome(value, where: str = "evaluate() result") -> Outcome:
    """``value`` as an :class:`Outcome`: an Outcome unchanged, a dict in :meth:`Outcome.to_dict`
    form (older custom evaluators) rebuilt, anything else a failure saying what arrived.

    Parameters
    ----------
    value : Outcome, dict or object
        What an evaluator returned.
    where : str, default "evaluate() result"
        What ``value`` is, for the failure reason.

    Returns
    -------
    Outcome

    Examples
    --------
    >>> as_outcome({"status": "ok", "score": 0.5}).score
    0.5
    >>> as_outcome(0.5).reason
    'evaluate() result must be an Outcome. Received: float'
    >>> as_outcome(Outcome("ok", float("nan"))).reason
    'evaluate() result.score must be a number. Received: nan'
    """
    if not isinstance(value, (Outcome, dict)):
        return Outcome.failure(f"{where} must be an Outcome. Received: {type(value).__name__}")
    try:
        # An Outcome is checked too: a NaN score from a custom evaluator would break selection.
        checked = Outcome.from_dict(
            value.to_dict() if isinstance(value, Outcome) else value, where=where
        )
    except OutcomeError as error:
        return Outcome.failure(str(error))
    return value if isinstance(value, Outcome) else checked
