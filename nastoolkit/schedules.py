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
- PolynomialDecay:        lr = (lr_0 - lr_end) (1 - t / decay_steps)^power + lr_end,
                          t = min(step, decay_steps); with ``cycle``, decay_steps grows to the
                          next multiple of itself above the step instead
- InverseTimeDecay:       lr = lr_0 / (1 + decay_rate step / decay_steps)   (floored if staircase)
- CosineDecayRestarts:    SGDR (Loshchilov & Hutter 2017): cosine decays over periods
                          first_decay_steps, t_mul first_decay_steps, ..., the k-th starting from
                          lr_0 m_mul^k

Every schedule takes Keras 3's arguments, including ``name=`` (Keras's default names), and
``nastoolkit.optimizers.schedules`` exposes them as ``keras.optimizers.schedules`` does.

``values(schedule, steps)`` evaluates a schedule over a range of steps, for plots.
"""

from __future__ import annotations

import bisect
import math

import numpy as np

from . import _checks
from ._registry import Registry

__all__ = [
    "CosineDecay",
    "CosineDecayRestarts",
    "ExponentialDecay",
    "InverseTimeDecay",
    "LearningRateSchedule",
    "PiecewiseConstantDecay",
    "PolynomialDecay",
    "StepDecay",
    "deserialize",
    "get",
    "serialize",
    "values",
]


# --- argument checks (the shared ones from _checks) ----------------------------------------------


def _number(name: str, value, strict: bool = False) -> float:
    """``value`` as a finite float >= 0 (> 0 if strict), else ValueError."""
    return _checks.positive(name, value) if strict else _checks.non_negative(name, value)


def _positive_int(name: str, value) -> int:
    return _checks.positive_int(name, value, fix="(a number of steps)")


def _name(name) -> str:
    if not isinstance(name, str):
        raise TypeError(f"name must be a string. Received: name={name!r}")
    return name


def _step(step) -> float:
    step = float(step)
    if not step >= 0:  # also rejects NaN
        raise ValueError(
            f"step must be a number >= 0 (optimizer updates so far). Received: step={step!r}"
        )
    return step


# --- schedules -----------------------------------------------------------------------------------


class LearningRateSchedule:
    """Base class: subclasses implement ``learning_rate(step: float) -> float`` and
    ``get_config()``; ``__call__`` validates the step.

    Examples
    --------
    >>> class Halving(LearningRateSchedule):
    ...     def learning_rate(self, step):
    ...         return 0.1 * 0.5 ** (step // 10)
    ...     def get_config(self):
    ...         return {}
    >>> Halving()(25)
    0.025
    """

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
    """lr = lr_0 decay_rate^(step / decay_steps); floor the exponent when ``staircase``.

    Parameters
    ----------
    initial_learning_rate : float
        lr_0, >= 0.
    decay_steps : int
        Steps per factor of ``decay_rate``, > 0.
    decay_rate : float
        The factor, > 0.
    staircase : bool
        Decay in whole steps of ``decay_steps``.
    name : str
        Keras's name for the schedule.

    Examples
    --------
    >>> ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)(20)
    0.025
    """

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: int,
        decay_rate: float,
        staircase: bool = False,
        name: str = "ExponentialDecay",
    ):
        self.initial_learning_rate = _number("initial_learning_rate", initial_learning_rate)
        self.decay_steps = _positive_int("decay_steps", decay_steps)
        self.decay_rate = _number("decay_rate", decay_rate, strict=True)
        self.staircase = bool(staircase)
        self.name = _name(name)

    def learning_rate(self, step: float) -> float:
        exponent = step / self.decay_steps
        if self.staircase:
            exponent = math.floor(exponent)
        return self.initial_learning_rate * self.decay_rate**exponent

    def get_config(self) -> dict:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
            "name": self.name,
        }


class PiecewiseConstantDecay(LearningRateSchedule):
    """values[i] on the i-th interval of ``boundaries`` (right-closed, as Keras).

    Parameters
    ----------
    boundaries : list of float
        Strictly increasing steps.
    values : list of float
        One more entry than ``boundaries``.
    name : str
        Keras's name for the schedule.

    Examples
    --------
    >>> schedule = PiecewiseConstantDecay([10, 20], [1.0, 0.5, 0.1])
    >>> schedule(10), schedule(11), schedule(30)
    (1.0, 0.5, 0.1)
    """

    def __init__(self, boundaries, values, name: str = "PiecewiseConstant"):
        boundaries, values = list(boundaries), list(values)
        if len(values) != len(boundaries) + 1:
            raise ValueError(
                f"values must have exactly one more entry than boundaries. "
                f"Received: len(boundaries)={len(boundaries)}, "
                f"len(values)={len(values)}"
            )
        self.boundaries = [_number("boundaries", b) for b in boundaries]
        if any(b1 <= b0 for b0, b1 in zip(self.boundaries, self.boundaries[1:])):
            raise ValueError(
                f"boundaries must be strictly increasing. Received: boundaries={boundaries}"
            )
        self.values = [_number("values", v) for v in values]
        self.name = _name(name)

    def learning_rate(self, step: float) -> float:
        return self.values[bisect.bisect_left(self.boundaries, step)]

    def get_config(self) -> dict:
        return {"boundaries": list(self.boundaries), "values": list(self.values), "name": self.name}


class StepDecay(LearningRateSchedule):
    """lr = lr_0 factor^floor(step / step_size): multiply by ``factor`` every ``step_size``
    (not in Keras; ``ExponentialDecay(..., staircase=True)`` is its Keras spelling).

    Parameters
    ----------
    initial_learning_rate : float
        lr_0, >= 0.
    step_size : int
        Steps between drops, > 0.
    factor : float
        The multiplier at each drop, > 0.
    name : str
        The schedule's name.

    Examples
    --------
    >>> StepDecay(0.1, step_size=10, factor=0.5)(25)
    0.025
    """

    def __init__(
        self,
        initial_learning_rate: float,
        step_size: int,
        factor: float = 0.5,
        name: str = "StepDecay",
    ):
        self.initial_learning_rate = _number("initial_learning_rate", initial_learning_rate)
        self.step_size = _positive_int("step_size", step_size)
        self.factor = _number("factor", factor, strict=True)
        self.name = _name(name)

    def learning_rate(self, step: float) -> float:
        return self.initial_learning_rate * self.factor ** math.floor(step / self.step_size)

    def get_config(self) -> dict:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "step_size": self.step_size,
            "factor": self.factor,
            "name": self.name,
        }


def _cosine(step: float, decay_steps: int, alpha: float, start: float) -> float:
    """start ((1 - alpha) (1 + cos(pi min(step, decay_steps) / decay_steps)) / 2 + alpha)."""
    fraction = min(step, decay_steps) / decay_steps
    return start * ((1.0 - alpha) * 0.5 * (1.0 + math.cos(math.pi * fraction)) + alpha)


class CosineDecay(LearningRateSchedule):
    """Cosine decay to ``alpha * start`` over ``decay_steps`` (Loshchilov & Hutter 2017), with an
    optional linear warm-up from lr_0 to ``warmup_target`` over ``warmup_steps`` (Keras 3).

    Parameters
    ----------
    initial_learning_rate : float
        lr_0, >= 0.
    decay_steps : int
        Length of the decay, > 0.
    alpha : float
        The final rate as a fraction of the start.
    name : str
        Keras's name for the schedule (Keras's fourth positional argument).
    warmup_target : float or None
        The rate the warm-up reaches; no warm-up when None.
    warmup_steps : int
        Length of the warm-up.

    Examples
    --------
    >>> CosineDecay(1.0, decay_steps=10, alpha=0.1)(5)
    0.55
    """

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: int,
        alpha: float = 0.0,
        name: str = "CosineDecay",
        warmup_target: float | None = None,
        warmup_steps: int = 0,
    ):
        self.initial_learning_rate = _number("initial_learning_rate", initial_learning_rate)
        self.decay_steps = _positive_int("decay_steps", decay_steps)
        self.alpha = _number("alpha", alpha)
        self.name = _name(name)
        self.warmup_target = (
            None if warmup_target is None else _number("warmup_target", warmup_target)
        )
        self.warmup_steps = _checks.non_negative_int("warmup_steps", warmup_steps)

    def learning_rate(self, step: float) -> float:
        if self.warmup_target is None:
            return _cosine(step, self.decay_steps, self.alpha, self.initial_learning_rate)
        if step < self.warmup_steps:
            fraction = step / self.warmup_steps
            return self.initial_learning_rate + fraction * (
                self.warmup_target - self.initial_learning_rate
            )
        return _cosine(step - self.warmup_steps, self.decay_steps, self.alpha, self.warmup_target)

    def get_config(self) -> dict:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "alpha": self.alpha,
            "name": self.name,
            "warmup_target": self.warmup_target,
            "warmup_steps": self.warmup_steps,
        }


class PolynomialDecay(LearningRateSchedule):
    """lr = (lr_0 - lr_end) (1 - t / T)^power + lr_end, from lr_0 to ``end_learning_rate``.

    Without ``cycle``, t = min(step, decay_steps) and T = decay_steps (the rate then stays at
    lr_end); with ``cycle``, t = step and T = decay_steps ceil(step / decay_steps) (T =
    decay_steps at step 0), so the decay restarts, ever longer, from lr_0.

    Parameters
    ----------
    initial_learning_rate : float
        lr_0, >= 0.
    decay_steps : int
        Length of the decay, > 0.
    end_learning_rate : float
        lr_end, >= 0.
    power : float
        The polynomial's power, >= 0 (1: linear).
    cycle : bool
        Restart after decay_steps instead of staying at lr_end.
    name : str
        Keras's name for the schedule.

    Examples
    --------
    >>> PolynomialDecay(1.0, decay_steps=10, end_learning_rate=0.0)(5)
    0.5
    """

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: int,
        end_learning_rate: float = 0.0001,
        power: float = 1.0,
        cycle: bool = False,
        name: str = "PolynomialDecay",
    ):
        self.initial_learning_rate = _number("initial_learning_rate", initial_learning_rate)
        self.decay_steps = _positive_int("decay_steps", decay_steps)
        self.end_learning_rate = _number("end_learning_rate", end_learning_rate)
        self.power = _number("power", power)
        self.cycle = bool(cycle)
        self.name = _name(name)

    def learning_rate(self, step: float) -> float:
        period = float(self.decay_steps)
        if self.cycle:
            period *= 1.0 if step == 0 else math.ceil(step / self.decay_steps)
        else:
            step = min(step, period)
        remaining = (1.0 - step / period) ** self.power
        return (
            self.initial_learning_rate - self.end_learning_rate
        ) * remaining + self.end_learning_rate

    def get_config(self) -> dict:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "end_learning_rate": self.end_learning_rate,
            "power": self.power,
            "cycle": self.cycle,
            "name": self.name,
        }


class InverseTimeDecay(LearningRateSchedule):
    """lr = lr_0 / (1 + decay_rate step / decay_steps); the ratio floored when ``staircase``.

    Parameters
    ----------
    initial_learning_rate : float
        lr_0, >= 0.
    decay_steps : int
        Steps per unit of decay, > 0.
    decay_rate : float
        The decay per ``decay_steps``, >= 0.
    staircase : bool
        Decay in whole steps of ``decay_steps``.
    name : str
        Keras's name for the schedule.

    Examples
    --------
    >>> InverseTimeDecay(1.0, decay_steps=10, decay_rate=0.5)(20)
    0.5
    """

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: int,
        decay_rate: float,
        staircase: bool = False,
        name: str = "InverseTimeDecay",
    ):
        self.initial_learning_rate = _number("initial_learning_rate", initial_learning_rate)
        self.decay_steps = _positive_int("decay_steps", decay_steps)
        self.decay_rate = _number("decay_rate", decay_rate)
        self.staircase = bool(staircase)
        self.name = _name(name)

    def learning_rate(self, step: float) -> float:
        ratio = step / self.decay_steps
        if self.staircase:
            ratio = math.floor(ratio)
        return self.initial_learning_rate / (1.0 + self.decay_rate * ratio)

    def get_config(self) -> dict:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
            "name": self.name,
        }


class CosineDecayRestarts(LearningRateSchedule):
    """Cosine decay with warm restarts (SGDR, Loshchilov & Hutter 2017), as Keras computes it.

    With f = step / first_decay_steps, the k-th period (k = 0, 1, ...) lasts
    ``first_decay_steps t_mul^k`` steps and starts from ``lr_0 m_mul^k``: for t_mul != 1,
    k = floor(log(1 - f (1 - t_mul)) / log(t_mul)) and the fraction done in it is
    (f - (1 - t_mul^k) / (1 - t_mul)) / t_mul^k; then
    lr = lr_0 m_mul^k ((1 - alpha) (1 + cos(pi fraction)) / 2 + alpha).

    Parameters
    ----------
    initial_learning_rate : float
        lr_0, >= 0.
    first_decay_steps : int
        Length of the first period, > 0.
    t_mul : float
        Each period is this many times longer than the one before, > 0.
    m_mul : float
        Each restart begins at this fraction of the previous start, >= 0.
    alpha : float
        The floor, as a fraction of each period's start.
    name : str
        Keras's name for the schedule.

    Examples
    --------
    >>> schedule = CosineDecayRestarts(1.0, first_decay_steps=10, t_mul=1.0, m_mul=0.5)
    >>> schedule(5), schedule(10), schedule(15)
    (0.5, 0.5, 0.25)
    """

    def __init__(
        self,
        initial_learning_rate: float,
        first_decay_steps: int,
        t_mul: float = 2.0,
        m_mul: float = 1.0,
        alpha: float = 0.0,
        name: str = "SGDRDecay",
    ):
        self.initial_learning_rate = _number("initial_learning_rate", initial_learning_rate)
        self.first_decay_steps = _positive_int("first_decay_steps", first_decay_steps)
        self.t_mul = _number("t_mul", t_mul, strict=True)
        self.m_mul = _number("m_mul", m_mul)
        self.alpha = _number("alpha", alpha)
        self.name = _name(name)

    def learning_rate(self, step: float) -> float:
        done = step / self.first_decay_steps
        if self.t_mul == 1.0:
            restart = math.floor(done)
            done -= restart
        else:
            restart = math.floor(math.log(1.0 - done * (1.0 - self.t_mul)) / math.log(self.t_mul))
            before = (1.0 - self.t_mul**restart) / (1.0 - self.t_mul)
            done = (done - before) / self.t_mul**restart
        cosine = 0.5 * self.m_mul**restart * (1.0 + math.cos(math.pi * done))
        return self.initial_learning_rate * ((1.0 - self.alpha) * cosine + self.alpha)

    def get_config(self) -> dict:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "first_decay_steps": self.first_decay_steps,
            "t_mul": self.t_mul,
            "m_mul": self.m_mul,
            "alpha": self.alpha,
            "name": self.name,
        }


def values(schedule, steps) -> np.ndarray:
    """The schedule at each step: ``steps`` is a count (steps 0..steps-1) or an iterable of steps.

    Parameters
    ----------
    schedule : callable
        ``step -> float``.
    steps : int or iterable of int
        How many steps from 0, or the steps themselves.

    Returns
    -------
    numpy.ndarray
        float64 learning rates, e.g. for ``plt.plot(values(schedule, 1000))``.

    Examples
    --------
    >>> values(StepDecay(1.0, step_size=2), 5)
    array([1.  , 1.  , 0.5 , 0.5 , 0.25])
    """
    if isinstance(steps, (int, np.integer)) and not isinstance(steps, bool):
        steps = range(int(steps))
    return np.array([schedule(step) for step in steps], dtype=np.float64)


_REGISTRY = Registry("schedule", LearningRateSchedule)
for _cls in (
    ExponentialDecay,
    PiecewiseConstantDecay,
    StepDecay,
    CosineDecay,
    PolynomialDecay,
    InverseTimeDecay,
    CosineDecayRestarts,
):
    _REGISTRY.add(_cls, _cls.__name__.lower())  # names only for deserialize; get() refuses them


def get(identifier) -> LearningRateSchedule:
    """A schedule from an instance or a serialized dict (schedules have required arguments, so
    a bare name is not enough).

    Parameters
    ----------
    identifier : str, dict, type or LearningRateSchedule
        An instance or a ``serialize`` dict.

    Returns
    -------
    LearningRateSchedule
        A LearningRateSchedule ready to use.

    Examples
    --------
    >>> get({"class_name": "InverseTimeDecay",
    ...      "config": {"initial_learning_rate": 0.1, "decay_steps": 1, "decay_rate": 1.0}})(1)
    0.05
    """
    if isinstance(identifier, str):
        raise TypeError(
            f"schedule must be a LearningRateSchedule object or a serialized dict; "
            f"a name is not enough because schedules need arguments, e.g. "
            f"ExponentialDecay(0.01, decay_steps=1000, decay_rate=0.9). "
            f"Received: schedule={identifier!r}"
        )
    return _REGISTRY.get(identifier)


def serialize(schedule: LearningRateSchedule) -> dict:
    """``{"class_name": ..., "config": ...}``: JSON-ready.

    Parameters
    ----------
    schedule : LearningRateSchedule
        The object to describe.

    Returns
    -------
    dict
        ``{"class_name": ..., "config": {...}}``, JSON-ready.

    Examples
    --------
    >>> serialize(PolynomialDecay(0.1, 100))["config"]["end_learning_rate"]
    0.0001
    """
    return _REGISTRY.serialize(schedule)


def deserialize(config: dict, custom_objects: dict | None = None) -> LearningRateSchedule:
    """The schedule a ``serialize`` dict describes (``custom_objects`` for your own classes).

    Parameters
    ----------
    config : dict
        A ``serialize`` result.
    custom_objects : dict, optional
        Your own classes by class name.

    Returns
    -------
    LearningRateSchedule
        A fresh object built from ``config``.

    Examples
    --------
    >>> deserialize(serialize(CosineDecay(0.1, 10, name="warm"))).name
    'warm'
    """
    return _REGISTRY.deserialize(config, custom_objects)
