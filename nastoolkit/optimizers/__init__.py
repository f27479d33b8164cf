"""Optimizers with Keras 3 names, defaults and update rules, on NumPy or CuPy arrays.

An optimizer owns per-variable state and calls one in-place kernel update per variable
(``nastoolkit.kernels.<rule>_update``); it never sees layers, only arrays::

    opt = Adam(learning_rate=1e-3)
    opt.apply_gradients(zip(grads, variables))   # updates each variable in place

The base class :class:`Optimizer` owns the loop, the step counter and the learning rate (a float or
a schedule ``step -> float``); each subclass writes only ``_init_state`` (a NamedTuple of buffers,
created the first time a variable is seen) and ``_update`` (one kernel call). State is keyed by the
variable's identity, so pass the *same* array objects at every step (a model passes its one flat
parameter buffer); a fresh view each step would get fresh state.

Order within one ``apply_gradients`` call, as in Keras 3: ``lr = schedule(iterations)``; each
variable is decayed (``w -= w * weight_decay * lr``, decoupled, Loshchilov & Hutter 2019) and
updated; then ``iterations += 1``. Adam's bias correction uses the 1-based step ``iterations + 1``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

from .. import _checks, kernels
from .._registry import Registry
from ..backend import array_module, to_numpy
from . import schedules  # keras.optimizers.schedules's spelling of nastoolkit.schedules

__all__ = [
    "SGD",
    "Adagrad",
    "Adam",
    "AdamW",
    "Optimizer",
    "RMSprop",
    "deserialize",
    "get",
    "schedules",
    "serialize",
]


# --- hyper-parameter checks: the shared ones (name, value, limit) from _checks ------------------


def _check_learning_rate(learning_rate):
    if callable(learning_rate):
        return learning_rate
    return _checks.positive(
        "learning_rate",
        learning_rate,
        fix="Or pass a schedule (a callable step -> float, e.g. "
        "nastoolkit.schedules.ExponentialDecay).",
    )


def _check_fraction(name: str, value, include_one: bool) -> float:
    """value in [0, 1] (include_one) or [0, 1) - the range of a decay rate or momentum."""
    return _checks.number_in(name, value, 0.0, 1.0, high_open=not include_one)


def _check_weight_decay(weight_decay):
    if weight_decay is None:
        return None
    return _checks.non_negative("weight_decay", weight_decay)


def _pair_error(grad, variable, index: int) -> ValueError | None:
    """Why ``(grad, variable)``, pair ``index`` of grads_and_vars, cannot be applied, or None."""
    where = f"grads_and_vars[{index}]"
    if grad is None:
        return ValueError(
            f"{where} has gradient None: every variable needs a gradient array. Drop the pairs "
            "of variables that do not affect the loss before calling apply_gradients."
        )
    for role, array in (("gradient", grad), ("variable", variable)):
        dtype = getattr(array, "dtype", None)
        if dtype is None or not hasattr(array, "shape"):
            return ValueError(
                f"{where} must be a (gradient, variable) pair of NumPy or CuPy arrays. "
                f"Received: {role} of type {type(array).__name__}"
            )
        if dtype.kind != "f":
            return ValueError(
                f"{where}: the {role} must have a floating dtype (float32 or float64). "
                f"Received: {role}.dtype={dtype}"
            )
    if grad.shape != variable.shape:
        return ValueError(
            f"{where}: the gradient shape must equal the variable shape. "
            f"Received: gradient.shape={grad.shape}, variable.shape={variable.shape}"
        )
    flags = getattr(variable, "flags", None)
    if flags is not None and not flags.writeable:
        return ValueError(
            f"{where}: the variable is read-only and is updated in place; pass a writeable array "
            "(e.g. variable.copy())."
        )
    return None


# --- learning-rate schedules in configs --------------------------------------------------------


def _serialize_learning_rate(learning_rate):
    if not callable(learning_rate):
        return learning_rate
    if hasattr(learning_rate, "get_config"):
        return {"class_name": type(learning_rate).__name__, "config": learning_rate.get_config()}
    return learning_rate  # a bare callable: the config works in Python, not in JSON


def _deserialize_learning_rate(value, custom_objects: dict | None = None):
    if not isinstance(value, dict):
        return value
    try:
        return schedules.deserialize(value, custom_objects)
    except ValueError as error:
        raise ValueError(
            f"Unknown learning-rate schedule in learning_rate={value!r}: {error}"
        ) from None


# --- the base class: the loop, the step counter, the learning rate, the config ----------------


class _Slot(NamedTuple):
    """One variable's entry: the variable itself (keeps its id valid) and its named state."""

    variable: Any
    state: Any


class Optimizer:
    """Base class: applies ``(gradient, variable)`` pairs in place with per-variable state.

    Subclasses define ``_hyper_parameters()`` (their config entries), ``_init_state(variable)``
    (a NamedTuple of zero buffers shaped like the variable, including one scratch ``work`` buffer
    so that a step allocates nothing) and ``_update(grad, variable, state, lr, wd)`` (one kernel).

    Parameters
    ----------
    learning_rate : float or callable
        A positive float, or a schedule ``step -> float`` (called with ``iterations``, 0 for the
        first update, as in Keras).
    weight_decay : float or None
        None (off) or ``lambda >= 0``; decoupled: ``w -= w * lambda * lr`` before each update
        (Loshchilov & Hutter 2019, "Decoupled Weight Decay Regularization").
    name : str or None
        A label for ``repr`` and configs.

    Examples
    --------
    >>> import numpy as np
    >>> w = np.array([1.0, -2.0])
    >>> opt = SGD(learning_rate=0.5)
    >>> opt.apply_gradients([(np.array([1.0, 1.0]), w)])
    1
    >>> w
    array([ 0.5, -2.5])
    """

    def __init__(self, learning_rate, weight_decay=None, name: str | None = None):
        self.learning_rate = learning_rate
        self.weight_decay = _check_weight_decay(weight_decay)
        self.name = type(self).__name__ if name is None else str(name)
        self.iterations = 0
        self._slots: dict[int, _Slot] = {}

    # learning rate ------------------------------------------------------------------------
    @property
    def learning_rate(self):
        """The learning rate as given: a float, or the schedule object."""
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value) -> None:
        # A setter so callbacks (e.g. reduce-on-plateau) can change it, validated as in __init__.
        self._learning_rate = _check_learning_rate(value)
        self._schedule = self._learning_rate if callable(self._learning_rate) else None

    @property
    def current_learning_rate(self) -> float:
        """The learning rate the next ``apply_gradients`` will use: ``schedule(iterations)``."""
        return self._learning_rate_at(self.iterations)

    def _learning_rate_at(self, step: int) -> float:
        if self._schedule is None:
            return self._learning_rate
        return float(self._schedule(step))

    # the loop -----------------------------------------------------------------------------
    def build(self, variables: Iterable) -> None:
        """Create the state of ``variables`` now (else it is created on first sight)."""
        for index, variable in enumerate(variables):
            if self._slot_of(variable) is None:
                self._create_slot(variable, variable, index)

    def apply_gradients(self, grads_and_vars: Iterable) -> int:
        """Update each variable in place from its gradient; returns the new ``iterations``.

        Parameters
        ----------
        grads_and_vars : iterable of (array, array)
            ``(gradient, variable)`` pairs of float NumPy or CuPy arrays of equal shape, e.g.
            ``zip(grads, variables)``.

        Returns
        -------
        int
            The optimizer's step count after this update.
        """
        lr = self._learning_rate_at(self.iterations)
        wd = self.weight_decay or 0.0
        slots = self._slots
        count = 0
        for grad, variable in grads_and_vars:
            slot = slots.get(id(variable))
            if slot is None or slot.variable is not variable:
                slot = self._create_slot(grad, variable, count)
            else:
                try:  # the cheap per-step checks; a full diagnosis only when they fail
                    ok = grad.shape == variable.shape and grad.dtype.kind == "f"
                except AttributeError:
                    ok = False
                if not ok:
                    raise _pair_error(grad, variable, count)
            self._update(grad, variable, slot.state, lr, wd)
            count += 1
        if count == 0:
            raise ValueError(
                "grads_and_vars must hold at least one (gradient, variable) pair. Received: an "
                "empty iterable (a zip over empty lists, or an exhausted generator?)"
            )
        self.iterations += 1
        return self.iterations

    def _slot_of(self, variable) -> _Slot | None:
        slot = self._slots.get(id(variable))
        return slot if slot is not None and slot.variable is variable else None

    def _create_slot(self, grad, variable, index: int) -> _Slot:
        error = _pair_error(grad, variable, index)
        if error is not None:
            raise error
        slot = _Slot(variable, self._init_state(variable))
        self._slots[id(variable)] = slot
        return slot

    def reset(self) -> None:
        """Forget all state and set ``iterations`` back to 0, as if freshly constructed."""
        self._slots.clear()
        self.iterations = 0

    @property
    def variables(self) -> list:
        """The variables this optimizer holds state for, in the order it first saw them."""
        return [slot.variable for slot in self._slots.values()]

    # per-subclass pieces ------------------------------------------------------------------
    def _hyper_parameters(self) -> dict:
        return {}

    def _init_state(self, variable) -> NamedTuple:
        raise NotImplementedError

    def _update(self, grad, variable, state, lr: float, wd: float) -> None:
        raise NotImplementedError

    # saving and restoring state ---------------------------------------------------------------
    def get_state(self) -> dict:
        """Plain dict of NumPy arrays: ``"iterations"`` and ``"<i>/<field>"`` for variable i.

        Variables are numbered in the order the optimizer first saw them (``variables``); the
        scratch ``work`` buffers are not state and are left out. Suits ``numpy.savez``.
        """
        state: dict = {"iterations": self.iterations}
        for index, slot in enumerate(self._slots.values()):
            for field, array in slot.state._asdict().items():
                if field != "work" and array is not None:
                    state[f"{index}/{field}"] = to_numpy(array).copy()
        return state

    def set_state(self, state: dict, variables: Iterable | None = None) -> None:
        """Restore ``get_state()`` output for ``variables`` (default: those seen), in order."""
        if variables is not None:
            self.build(variables)
        slots = list(self._slots.values())
        for key, value in state.items():
            if key == "iterations":
                continue
            index_text, _, field = key.partition("/")
            index = int(index_text)
            if index >= len(slots):
                raise ValueError(
                    f"state has an entry {key!r} for variable {index} but the optimizer knows "
                    f"{len(slots)} variables; pass variables=[...] in the order of get_state()."
                )
            target = getattr(slots[index].state, field)
            if target is None or target.shape != value.shape:
                raise ValueError(
                    f"state[{key!r}] does not fit variable {index}: expected shape "
                    f"{None if target is None else target.shape}, received {value.shape}."
                )
            target[...] = array_module(target).asarray(value)
        self.iterations = int(state.get("iterations", 0))

    # config -------------------------------------------------------------------------------
    def get_config(self) -> dict:
        """Constructor arguments (schedules as ``{"class_name", "config"}``) for ``from_config``."""
        return {
            "name": self.name,
            "learning_rate": _serialize_learning_rate(self._learning_rate),
            "weight_decay": self.weight_decay,
            **self._hyper_parameters(),
        }

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None) -> Optimizer:
        """A new optimizer (with fresh state) from ``get_config()`` output."""
        config = dict(config)
        if "learning_rate" in config:
            config["learning_rate"] = _deserialize_learning_rate(
                config["learning_rate"], custom_objects
            )
        return cls(**config)

    def __repr__(self) -> str:
        config = self.get_config()
        config.pop("name")
        if config["weight_decay"] is None:
            config.pop("weight_decay")
        config["learning_rate"] = self._learning_rate
        arguments = ", ".join(f"{key}={value!r}" for key, value in config.items())
        return f"{type(self).__name__}({arguments})"


def _zeros(variable, fill: float = 0.0):
    xp = array_module(variable)
    buffer = xp.empty_like(variable)
    buffer.fill(fill)
    return buffer


# --- the optimizers: state initialisation and one kernel call each ----------------------------


class SGDState(NamedTuple):
    velocity: Any  # None without momentum
    work: Any


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with (Nesterov) momentum; Keras 3 form.

    Without momentum: ``w <- w - lr g``. With momentum ``mu`` (Polyak 1964; Nesterov form as in
    Sutskever et al. 2013): ``m <- mu m - lr g``, then ``w <- w + m`` or, Nesterov,
    ``w <- w + mu m - lr g``. State per variable: ``velocity`` m (zeros).

    Parameters
    ----------
    learning_rate : float or callable
        lr, or a schedule.
    momentum : float
        mu in [0, 1].
    nesterov : bool
        Nesterov's form.
    weight_decay : float or None
        Decoupled weight decay ``w -= w * weight_decay * lr`` before each update; None is off.
    name : str or None
        A label for ``repr`` and configs (the class name when None).

    Examples
    --------
    >>> SGD(learning_rate=0.1, momentum=0.9).get_config()["momentum"]
    0.9
    """

    def __init__(
        self,
        learning_rate=0.01,
        momentum=0.0,
        nesterov=False,
        weight_decay=None,
        name: str | None = None,
    ):
        super().__init__(learning_rate, weight_decay, name)
        self.momentum = _check_fraction("momentum", momentum, include_one=True)
        if not isinstance(nesterov, bool):
            raise TypeError(f"nesterov must be True or False. Received: nesterov={nesterov!r}")
        self.nesterov = nesterov

    def _hyper_parameters(self) -> dict:
        return {"momentum": self.momentum, "nesterov": self.nesterov}

    def _init_state(self, variable) -> SGDState:
        return SGDState(_zeros(variable) if self.momentum > 0 else None, _zeros(variable))

    def _update(self, grad, variable, state, lr, wd):
        if state.velocity is None:
            kernels.sgd_update(variable, grad, lr, wd, work=state.work)
        else:
            kernels.momentum_update(
                variable,
                grad,
                state.velocity,
                lr,
                self.momentum,
                self.nesterov,
                wd,
                work=state.work,
            )


class AdamState(NamedTuple):
    m: Any  # first-moment estimate (zeros)
    v: Any  # second-moment estimate (zeros)
    work: Any


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015, "Adam: A Method for Stochastic Optimization"), Keras 3 form.

    ``m <- b1 m + (1 - b1) g``;  ``v <- b2 v + (1 - b2) g^2``;
    ``w <- w - lr sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)`` with t = iterations + 1.
    (eps is added to sqrt(v) *before* the bias correction of v, so it differs slightly from
    PyTorch's ``sqrt(v / (1 - b2^t)) + eps``.) With ``weight_decay`` it is AdamW.

    Parameters
    ----------
    learning_rate : float or callable
        lr, or a schedule.
    beta_1, beta_2 : float
        b1, b2 in [0, 1).
    epsilon : float
        eps >= 0.
    weight_decay : float or None
        Decoupled weight decay ``w -= w * weight_decay * lr`` before each update; None is off.
    name : str or None
        A label for ``repr`` and configs (the class name when None).

    Examples
    --------
    >>> import numpy as np
    >>> w = np.array([1.0])
    >>> Adam(learning_rate=0.1).apply_gradients([(np.array([3.0]), w)])
    1
    >>> w.round(6)  # the first Adam step moves by about lr, whatever the gradient's size
    array([0.9])
    """

    def __init__(
        self,
        learning_rate=0.001,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-7,
        weight_decay=None,
        name: str | None = None,
    ):
        super().__init__(learning_rate, weight_decay, name)
        self.beta_1 = _check_fraction("beta_1", beta_1, include_one=False)
        self.beta_2 = _check_fraction("beta_2", beta_2, include_one=False)
        self.epsilon = _checks.non_negative("epsilon", epsilon)

    def _hyper_parameters(self) -> dict:
        return {"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}

    def _init_state(self, variable) -> AdamState:
        return AdamState(_zeros(variable), _zeros(variable), _zeros(variable))

    def _update(self, grad, variable, state, lr, wd):
        kernels.adam_update(
            variable,
            grad,
            state.m,
            state.v,
            self.iterations + 1,
            lr,
            self.beta_1,
            self.beta_2,
            self.epsilon,
            wd,
            work=state.work,
        )


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter 2019), on by default (0.004).

    Parameters
    ----------
    learning_rate : float or callable
        lr, or a schedule.
    weight_decay : float
        The decoupled decay, >= 0.
    beta_1, beta_2 : float
        b1, b2 in [0, 1).
    epsilon : float
        eps >= 0.
    name : str or None
        A label for ``repr`` and configs.

    Examples
    --------
    >>> AdamW().weight_decay
    0.004
    """

    def __init__(
        self,
        learning_rate=0.001,
        weight_decay=0.004,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-7,
        name: str | None = None,
    ):
        if weight_decay is None:
            raise ValueError(
                "AdamW needs a weight_decay (a number >= 0). Received: weight_decay=None. "
                "Use Adam for no weight decay."
            )
        super().__init__(learning_rate, beta_1, beta_2, epsilon, weight_decay, name)


class RMSpropState(NamedTuple):
    v: Any  # running mean of g^2 (zeros)
    velocity: Any  # momentum buffer, None without momentum
    work: Any


class RMSprop(Optimizer):
    """RMSprop (Hinton, Neural Networks for ML lecture 6e, 2012), Keras 3 form (not centered).

    ``v <- rho v + (1 - rho) g^2``;  ``step = lr g / sqrt(v + eps)`` (eps inside the root);
    ``w <- w - step``, or with momentum ``mu``: ``velocity <- mu velocity + step; w -= velocity``.

    Parameters
    ----------
    learning_rate : float or callable
        lr, or a schedule.
    rho : float
        The decay of the running mean of g^2, in [0, 1).
    momentum : float
        mu in [0, 1].
    epsilon : float
        eps >= 0.
    weight_decay : float or None
        Decoupled weight decay ``w -= w * weight_decay * lr`` before each update; None is off.
    name : str or None
        A label for ``repr`` and configs (the class name when None).

    Examples
    --------
    >>> RMSprop().get_config()["rho"]
    0.9
    """

    def __init__(
        self,
        learning_rate=0.001,
        rho=0.9,
        momentum=0.0,
        epsilon=1e-7,
        weight_decay=None,
        name: str | None = None,
    ):
        super().__init__(learning_rate, weight_decay, name)
        self.rho = _check_fraction("rho", rho, include_one=False)
        self.momentum = _check_fraction("momentum", momentum, include_one=True)
        self.epsilon = _checks.non_negative("epsilon", epsilon)

    def _hyper_parameters(self) -> dict:
        return {"rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon}

    def _init_state(self, variable) -> RMSpropState:
        velocity = _zeros(variable) if self.momentum > 0 else None
        return RMSpropState(_zeros(variable), velocity, _zeros(variable))

    def _update(self, grad, variable, state, lr, wd):
        kernels.rmsprop_update(
            variable,
            grad,
            state.v,
            lr,
            self.rho,
            self.epsilon,
            self.momentum,
            state.velocity,
            wd,
            work=state.work,
        )


class AdagradState(NamedTuple):
    accumulator: Any  # sum of g^2, starting at initial_accumulator_value
    work: Any


class Adagrad(Optimizer):
    """Adagrad (Duchi, Hazan & Singer 2011), Keras 3 form.

    ``acc <- acc + g^2`` (acc starts at ``initial_accumulator_value``);
    ``w <- w - lr g / sqrt(acc + eps)`` (eps inside the root).

    Parameters
    ----------
    learning_rate : float or callable
        lr, or a schedule.
    initial_accumulator_value : float
        acc's start, >= 0.
    epsilon : float
        eps >= 0.
    weight_decay : float or None
        Decoupled weight decay ``w -= w * weight_decay * lr`` before each update; None is off.
    name : str or None
        A label for ``repr`` and configs (the class name when None).

    Examples
    --------
    >>> Adagrad(learning_rate=0.01).learning_rate
    0.01
    """

    def __init__(
        self,
        learning_rate=0.001,
        initial_accumulator_value=0.1,
        epsilon=1e-7,
        weight_decay=None,
        name: str | None = None,
    ):
        super().__init__(learning_rate, weight_decay, name)
        self.initial_accumulator_value = _checks.non_negative(
            "initial_accumulator_value", initial_accumulator_value
        )
        self.epsilon = _checks.non_negative("epsilon", epsilon)

    def _hyper_parameters(self) -> dict:
        return {
            "initial_accumulator_value": self.initial_accumulator_value,
            "epsilon": self.epsilon,
        }

    def _init_state(self, variable) -> AdagradState:
        return AdagradState(_zeros(variable, self.initial_accumulator_value), _zeros(variable))

    def _update(self, grad, variable, state, lr, wd):
        kernels.adagrad_update(
            variable, grad, state.accumulator, lr, self.epsilon, wd, work=state.work
        )


# --- lookup by name and (de)serialisation ------------------------------------------------------

_REGISTRY = Registry("optimizer", Optimizer)
for _cls in (SGD, Adam, AdamW, RMSprop, Adagrad):
    _REGISTRY.add(_cls, _cls.__name__.lower())


def serialize(optimizer: Optimizer) -> dict:
    """``{"class_name": "Adam", "config": {...}}``, the form ``deserialize`` and ``get`` accept.

    Parameters
    ----------
    optimizer : Optimizer
        The object to describe.

    Returns
    -------
    dict
        ``{"class_name": ..., "config": {...}}``, JSON-ready.

    Examples
    --------
    >>> serialize(SGD(0.1))["class_name"]
    'SGD'
    """
    return _REGISTRY.serialize(optimizer)


def deserialize(config: dict, custom_objects: dict | None = None) -> Optimizer:
    """The optimizer that ``serialize`` described, with fresh state.

    Parameters
    ----------
    config : dict
        A ``serialize`` result.
    custom_objects : dict, optional
        Your own classes by class name.

    Returns
    -------
    Optimizer
        A fresh object built from ``config``.

    Examples
    --------
    >>> deserialize(serialize(Adam(learning_rate=0.02))).learning_rate
    0.02
    """
    return _REGISTRY.deserialize(config, custom_objects)


def get(identifier) -> Optimizer:
    """An optimizer from a name ("adam", case-insensitive, with Keras defaults), a class, an
    instance (returned as it is, state shared, as Keras does) or a ``serialize`` dict.

    Parameters
    ----------
    identifier : str, dict, type or Optimizer
        A name (any case), a class, an instance or a ``serialize`` dict.

    Returns
    -------
    Optimizer
        An Optimizer ready to use.

    Examples
    --------
    >>> get("rmsprop")
    RMSprop(learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-07)
    """
    return _REGISTRY.get(identifier)
