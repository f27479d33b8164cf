"""Learning-rate schedules: callables ``schedule(step) -> float`` wherever a learning rate goes.

``step`` is the number of optimizer updates made so far (0 for the first update, like Keras's
``optimizer.iterations``). With lr_0 = ``initial_learning_rate``:

- ExponentialDecay:       lr = lr_0 rate^(step / decay_steps)   (exponent floored if staircase)
- PiecewiseConstantDecay: lr = values[0] for step <= boundaries[0], values[i] for
                          boundaries[i-1] < step <= boundaries[i], values[-1] after the last one
- StepDecay:              lr = lr_0 factor^floor(step / step_size)       (not in Keras)
- CosineDecay:            lr = lr_0 ((1 - alpha) (1 + cos(pi t / decay_steps)) / 2 + alpha),
                          t = min(step, decay_steps); with ``warmup_target``, a linear warm-up
                          from lr_0 to warmup_target over ``warmup_steps`` first, then the cosine
                          decays from warmup_target (Keras 3)

``values(schedule, steps)`` evaluates a schedule over a range of steps, for plots.
"""

from __future__ import annotations

import bisect
import math

import numpy as np

from ._registry import Registry

__all__ = [
    "CosineDecay",
    "ExponentialDecay",
    "LearningRateSchedule",
    "PiecewiseConstantDecay",
    "StepDecay",
    "deserialize",
    "get",
    "serialize",
    "values",
]


# --- argument checks -----------------------------------------------------------------------------

def _number(name: str, value, minimum: float = 0.0, strict: bool = False) -> float:
    """``value`` as a finite float >= minimum (> minimum if strict), else ValueError."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    ok = math.isfinite(number) and (number > minimum if strict else number >= minimum)
    if not ok:
        bound = f"> {minimum}" if strict else f">= {minimum}"
        raise ValueError(f"{name} must be a finite number {bound}. Received: {name}={value!r}")
    return number


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{name} must be a positive integer (a number of steps). "
                         f"Received: {name}={value!r}")
    return int(value)


def _step(step) -> float:
    step = float(step)
    if not step >= 0:  # also rejects NaN
        raise ValueError(f"step must be a number >= 0 (optimizer updates so far). "
                         f"Received: step={step!r}")
    return step


# --- schedules -----------------------------------------------------------------------------------

class LearningRateSchedule:
    """Base class: subclasses implement ``learning_rate(step: float) -> float`` and
    ``get_config()``; ``__call__`` validates the step."""

    def __call__(self, step) -> float:
        return float(self.learning_rate(_step(step)))

    def learning_rate(self, step: float) -> float:
        raise NotImplementedError

    def get_config(self) -> dict:
        raise NotImplementedError

    @classmethod
    def from_config(cls, config: dict) -> LearningRateSchedule:
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class ExponentialDecay(LearningRateSchedule):
    """lr = lr_0 decay_rate^(step / decay_steps); floor the exponent when ``staircase``."""

    def __init__(self, initial_learning_rate: float, decay_steps: int, decay_rate: float,
                 staircase: bool = False):
        self.initial_learning_rate = _number("initial_learning_rate", initial_learning_rate)
        self.decay_steps = _positive_int("decay_steps", decay_steps)
        self.decay_rate = _number("decay_rate", decay_rate, strict=True)
        self.staircase = bool(staircase)

    def learning_rate(self, step: float) -> float:
        exponent = step / self.decay_steps
        if self.staircase:
            exponent = math.floor(exponent)
        return self.initial_learning_rate * self.decay_rate ** exponent

    def get_config(self) -> dict:
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "decay_rate": self.decay_rate,
                "staircase": self.staircase}


class PiecewiseConstantDecay(LearningRateSchedule):
    """values[i] on the i-th interval of ``boundaries`` (right-closed, as Keras)."""

    def __init__(self, boundaries, values):
        boundaries, values = list(boundaries), list(values)
        if len(values) != len(boundaries) + 1:
            raise ValueError(f"values must have exactly one more entry than boundaries. "
                             f"Received: len(boundaries)={len(boundaries)}, "
                             f"len(values)={len(values)}")
        self.boundaries = [_number("boundaries", b) for b in boundaries]
        if any(b1 <= b0 for b0, b1 in zip(self.boundaries, self.boundaries[1:])):
            raise ValueError(f"boundaries must be strictly increasing. "
                             f"Received: boundaries={boundaries}")
        self.values = [_number("values", v) for v in values]

    def learning_rate(self, step: float) -> float:
        return self.values[bisect.bisect_left(self.boundaries, step)]

    def get_config(self) -> dict:
        return {"boundaries": list(self.boundaries), "values": list(self.values)}


class StepDecay(LearningRateSchedule):
    """lr = lr_0 factor^floor(step / step_size): multiply by ``factor`` every ``step_size``."""

    def __init__(self, initial_learning_rate: float, step_size: int, factor: float = 0.5):
        self.initial_learning_rate = _number("initial_learning_rate", initial_learning_rate)
        self.step_size = _positive_int("step_size", step_size)
        self.factor = _number("factor", factor, strict=True)

    def learning_rate(self, step: float) -> float:
        return self.initial_learning_rate * self.factor ** math.floor(step / self.step_size)

    def get_config(self) -> dict:
        return {"initial_learning_rate": self.initial_learning_rate,
                "step_size": self.step_size, "factor": self.factor}


def _cosine(step: float, decay_steps: int, alpha: float, start: float) -> float:
    """start ((1 - alpha) (1 + cos(pi min(step, decay_steps) / decay_steps)) / 2 + alpha)."""
    fraction = min(step, decay_steps) / decay_steps
    return start * ((1.0 - alpha) * 0.5 * (1.0 + math.cos(math.pi * fraction)) + alpha)


class CosineDecay(LearningRateSchedule):
    """Cosine decay to ``alpha * start`` over ``decay_steps`` (Loshchilov & Hutter 2017), with an
    optional linear warm-up from lr_0 to ``warmup_target`` over ``warmup_steps`` (Keras 3)."""

    def __init__(self, initial_learning_rate: float, decay_steps: int, alpha: float = 0.0,
                 warmup_target: float | None = None, warmup_steps: int = 0):
        self.initial_learning_rate = _number("initial_learning_rate", initial_learning_rate)
        self.decay_steps = _positive_int("decay_steps", decay_steps)
        self.alpha = _number("alpha", alpha)
        self.warmup_target = (None if warmup_target is None
                              else _number("warmup_target", warmup_target))
        if warmup_steps != 0:
            warmup_steps = _positive_int("warmup_steps", warmup_steps)
        self.warmup_steps = int(warmup_steps)

    def learning_rate(self, step: float) -> float:
        if self.warmup_target is None:
            return _cosine(step, self.decay_steps, self.alpha, self.initial_learning_rate)
        if step < self.warmup_steps:
            fraction = step / self.warmup_steps
            return self.initial_learning_rate + fraction * (
                self.warmup_target - self.initial_learning_rate)
        return _cosine(step - self.warmup_steps, self.decay_steps, self.alpha, self.warmup_target)

    def get_config(self) -> dict:
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "alpha": self.alpha,
                "warmup_target": self.warmup_target, "warmup_steps": self.warmup_steps}


def values(schedule, steps) -> np.ndarray:
    """The schedule at each step: ``steps`` is a count (steps 0..steps-1) or an iterable of steps.

    Returns a float64 array, e.g. for ``plt.plot(values(schedule, 1000))``.
    """
    if isinstance(steps, (int, np.integer)) and not isinstance(steps, bool):
        steps = range(int(steps))
    return np.array([schedule(step) for step in steps], dtype=np.float64)


_REGISTRY = Registry("schedule", LearningRateSchedule)
for _cls in (ExponentialDecay, PiecewiseConstantDecay, StepDecay, CosineDecay):
    _REGISTRY.add(_cls, _cls.__name__.lower())  # names only for deserialize; get() refuses them


def get(identifier) -> LearningRateSchedule:
    """A schedule from an instance or a serialized dict (schedules have required arguments, so
    a bare name is not enough)."""
    if isinstance(identifier, str):
        raise TypeError(f"schedule must be a LearningRateSchedule object or a serialized dict; "
                         f"a name is not enough because schedules need arguments, e.g. "
                         f"ExponentialDecay(0.01, decay_steps=1000, decay_rate=0.9). "
                         f"Received: schedule={identifier!r}")
    return _REGISTRY.get(identifier)


def serialize(schedule: LearningRateSchedule) -> dict:
    """``{"class_name": ..., "config": ...}``: JSON-ready."""
    return _REGISTRY.serialize(schedule)


def deserialize(config: dict, custom_objects: dict | None = None) -> LearningRateSchedule:
    """The schedule a ``serialize`` dict describes (``custom_objects`` for your own classes)."""
    return _REGISTRY.deserialize(config, custom_objects)
