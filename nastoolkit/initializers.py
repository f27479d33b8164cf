"""Weight initializers with Keras 3's names, arguments and formulas; randomness only from an
explicit generator.

fan_in / fan_out of a shape: (d,) -> d, d; (d_in, d_out) -> d_in, d_out; for more axes the leading
axes are a receptive field r and fan_in = shape[-2] r, fan_out = shape[-1] r (as Keras computes),
unless ``input_axes``/``output_axes`` name the axes whose sizes multiply into each fan.

VarianceScaling(scale, mode, distribution) draws zero-mean values with Var = scale / n, where n is
fan_in, fan_out or (fan_in + fan_out) / 2 (``mode``), at least 1:

- ``"uniform"``:            U(-a, a), a = sqrt(3 Var)
- ``"truncated_normal"``:   a normal cut at two standard deviations; as Keras does, its stddev
                            before the cut is sqrt(Var) / 0.87962566103423978, so the samples'
                            variance is Var
- ``"untruncated_normal"``: N(0, Var)

and the named families are VarianceScaling with fixed arguments:

==============  =====  ========  ================
class           scale  mode      distribution
==============  =====  ========  ================
GlorotUniform   1      fan_avg   uniform
GlorotNormal    1      fan_avg   truncated_normal
HeUniform       2      fan_in    uniform
HeNormal        2      fan_in    truncated_normal
LecunUniform    1      fan_in    uniform
LecunNormal     1      fan_in    truncated_normal
==============  =====  ========  ================

RandomUniform(minval, maxval), RandomNormal(mean, stddev), TruncatedNormal(mean, stddev) (redrawn
beyond two stddevs), Orthogonal(gain) (Q of a QR factorisation of a normal matrix, signs fixed by
R's diagonal), Identity(gain), Constant(value), Zeros and Ones complete Keras's set.

Call ``init(shape, dtype="float32", rng=None)``: ``rng`` is a ``numpy.random.Generator`` or an int
seed; without it the initializer's own ``seed`` is used (the same draw on every call), and
without either a fresh OS-seeded generator.

>>> w = HeNormal()((64, 32), rng=0)
>>> w.shape, w.dtype
((64, 32), dtype('float32'))
"""

from __future__ import annotations

import math

import numpy as np

from . import _checks
from ._registry import Registry

__all__ = [
    "Constant",
    "GlorotNormal",
    "GlorotUniform",
    "HeNormal",
    "HeUniform",
    "Identity",
    "Initializer",
    "LecunNormal",
    "LecunUniform",
    "Ones",
    "Orthogonal",
    "RandomNormal",
    "RandomUniform",
    "TruncatedNormal",
    "VarianceScaling",
    "Zeros",
    "compute_fans",
    "deserialize",
    "get",
    "serialize",
]

TRUNCATED_NORMAL_STDDEV = 0.87962566103423978  # stddev of N(0, 1) truncated to [-2, 2]


# --- pure pieces -------------------------------------------------------------------------------


def compute_fans(shape: tuple[int, ...], input_axes=None, output_axes=None) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight shape, as Keras computes them.

    Parameters
    ----------
    shape : tuple of int
        The weight's shape.
    input_axes, output_axes : list of int or None
        With both, each fan is the product of those axes' sizes.

    Returns
    -------
    tuple of int
        (fan_in, fan_out).

    Examples
    --------
    >>> compute_fans((3, 3, 16, 32))
    (144, 288)
    """
    shape = tuple(int(s) for s in shape)
    if input_axes is not None and output_axes is not None:
        return (
            math.prod(shape[axis] for axis in input_axes),
            math.prod(shape[axis] for axis in output_axes),
        )
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive_field = math.prod(shape[:-2])
    return shape[-2] * receptive_field, shape[-1] * receptive_field


def truncated_standard_normal(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    # (Keras's random.truncated_normal: draws beyond two standard deviations are redrawn)
    """N(0, 1) samples conditioned on |z| <= 2 (redrawing the rejected ones), float64."""
    z = rng.standard_normal(shape)
    rejected = np.abs(z) > 2.0
    while rejected.any():
        z[rejected] = rng.standard_normal(int(rejected.sum()))
        rejected = np.abs(z) > 2.0
    return z


def _as_generator(rng) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or (isinstance(rng, (int, np.integer)) and not isinstance(rng, bool)):
        return np.random.default_rng(rng)
    raise TypeError(
        f"rng must be a numpy.random.Generator, an int seed or None. "
        f"Received: rng={rng!r} (of type {type(rng).__name__})"
    )


def _check_shape(shape) -> tuple[int, ...]:
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    if not all(isinstance(s, (int, np.integer)) and s >= 0 for s in shape):
        raise ValueError(f"shape must be a tuple of non-negative integers. Received: shape={shape}")
    return tuple(int(s) for s in shape)


def _check_dtype(dtype) -> np.dtype:
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise ValueError(
            f"dtype must be a floating dtype such as 'float32'. Received: dtype={dtype}"
        )
    return dtype


# --- initializer objects -----------------------------------------------------------------------


class Initializer:
    """Base class: ``init(shape, dtype="float32", rng=None) -> numpy.ndarray``.

    Subclasses implement ``_sample(shape, rng) -> float64 array`` and ``get_config()``.

    Parameters
    ----------
    seed : int or None
        Used when no ``rng`` is passed to the call (the same draw every time).

    Examples
    --------
    >>> class Halves(Initializer):
    ...     def _sample(self, shape, rng):
    ...         return np.full(shape, 0.5)
    >>> Halves()((2,))
    array([0.5, 0.5], dtype=float32)
    """

    def __init__(self, seed: int | None = None):
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise ValueError(f"seed must be an int or None. Received: seed={seed!r}")
        self.seed = None if seed is None else int(seed)

    def __call__(self, shape, dtype="float32", rng=None) -> np.ndarray:
        shape, dtype = _check_shape(shape), _check_dtype(dtype)
        generator = _as_generator(self.seed if rng is None else rng)
        return self._sample(shape, generator).astype(dtype, copy=False)

    def _sample(self, shape, rng) -> np.ndarray:
        raise NotImplementedError

    def get_config(self) -> dict:
        return {"seed": self.seed}

    @classmethod
    def from_config(cls, config: dict) -> Initializer:
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class RandomUniform(Initializer):
    """U(minval, maxval).

    Parameters
    ----------
    minval, maxval : float
        The interval, minval <= maxval.
    seed : int or None
        Used when no ``rng`` is passed to the call.

    Examples
    --------
    >>> w = RandomUniform(-0.1, 0.1)((3, 2), rng=0)
    >>> bool(abs(w).max() <= 0.1)
    True
    """

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        super().__init__(seed)
        self.minval = _checks.finite_number("minval", minval)
        self.maxval = _checks.finite_number("maxval", maxval)
        if self.maxval < self.minval:
            raise ValueError(
                f"maxval must be >= minval. Received: minval={minval!r}, maxval={maxval!r}"
            )

    def _sample(self, shape, rng) -> np.ndarray:
        return rng.uniform(self.minval, self.maxval, size=shape)

    def get_config(self) -> dict:
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


class RandomNormal(Initializer):
    """N(mean, stddev^2).

    Parameters
    ----------
    mean : float
        The mean.
    stddev : float
        The standard deviation, >= 0.
    seed : int or None
        Used when no ``rng`` is passed to the call.

    Examples
    --------
    >>> RandomNormal(stddev=0.01)((2, 2), rng=0).shape
    (2, 2)
    """

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean = _checks.finite_number("mean", mean)
        self.stddev = _checks.non_negative("stddev", stddev)

    def _sample(self, shape, rng) -> np.ndarray:
        return self.mean + self.stddev * rng.standard_normal(shape)

    def get_config(self) -> dict:
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class TruncatedNormal(RandomNormal):
    """N(mean, stddev^2) with draws more than two stddevs from the mean redrawn (as Keras).

    The samples' standard deviation is about 0.88 stddev (the cut removes the tails).

    Parameters
    ----------
    mean : float
        The mean.
    stddev : float
        The standard deviation before the cut, >= 0.
    seed : int or None
        Used when no ``rng`` is passed to the call.

    Examples
    --------
    >>> w = TruncatedNormal(stddev=1.0)((1000,), rng=0)
    >>> bool(abs(w).max() <= 2.0)
    True
    """

    def _sample(self, shape, rng) -> np.ndarray:
        return self.mean + self.stddev * truncated_standard_normal(rng, shape)


_MODES = ("fan_in", "fan_out", "fan_avg")
_DISTRIBUTIONS = ("uniform", "truncated_normal", "untruncated_normal")


class VarianceScaling(Initializer):
    """Zero-mean draws with Var = scale / n, n = fan_in, fan_out or (fan_in + fan_out) / 2.

    Parameters
    ----------
    scale : float
        The variance's numerator, > 0.
    mode : {"fan_in", "fan_out", "fan_avg"}
        Which fan divides.
    distribution : {"truncated_normal", "untruncated_normal", "uniform"}
        The distribution (``"normal"`` means ``"truncated_normal"``, as in Keras).
    seed : int or None
        Used when no ``rng`` is passed to the call.
    input_axes, output_axes : list of int or None
        Axes whose sizes make fan_in and fan_out (both or neither).

    Examples
    --------
    >>> init = VarianceScaling(scale=2.0, mode="fan_in", distribution="uniform")
    >>> init.variance((50, 10))
    0.04
    """

    def __init__(
        self,
        scale=1.0,
        mode="fan_in",
        distribution="truncated_normal",
        seed=None,
        input_axes=None,
        output_axes=None,
    ):
        super().__init__(seed)
        self.scale = _checks.positive("scale", scale)
        self.mode = _checks.one_of("mode", mode, _MODES)
        distribution = distribution.lower() if isinstance(distribution, str) else distribution
        if distribution == "normal":
            distribution = "truncated_normal"
        self.distribution = _checks.one_of("distribution", distribution, _DISTRIBUTIONS)
        self.input_axes = None if input_axes is None else [int(a) for a in input_axes]
        self.output_axes = None if output_axes is None else [int(a) for a in output_axes]

    def variance(self, shape) -> float:
        """scale / max(1, n) for this shape's fans."""
        fan_in, fan_out = compute_fans(shape, self.input_axes, self.output_axes)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        return self.scale / max(1.0, n)

    def _sample(self, shape, rng) -> np.ndarray:
        variance = self.variance(shape)
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * variance)
            return rng.uniform(-limit, limit, size=shape)
        if self.distribution == "untruncated_normal":
            return math.sqrt(variance) * rng.standard_normal(shape)
        stddev = math.sqrt(variance) / TRUNCATED_NORMAL_STDDEV
        return stddev * truncated_standard_normal(rng, shape)

    def get_config(self) -> dict:
        return {
            "scale": self.scale,
            "mode": self.mode,
            "distribution": self.distribution,
            "seed": self.seed,
            "input_axes": self.input_axes,
            "output_axes": self.output_axes,
        }


class _NamedScaling(VarianceScaling):
    """A VarianceScaling family with fixed (scale, mode, distribution): only seed and axes vary."""

    fixed = (1.0, "fan_avg", "uniform")

    def __init__(self, seed=None, input_axes=None, output_axes=None):
        scale, mode, distribution = self.fixed
        super().__init__(scale, mode, distribution, seed, input_axes, output_axes)

    def get_config(self) -> dict:
        return {"seed": self.seed, "input_axes": self.input_axes, "output_axes": self.output_axes}


class GlorotUniform(_NamedScaling):
    """U(-a, a), a = sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio 2010).

    Examples
    --------
    >>> round(GlorotUniform().variance((30, 70)), 4)
    0.02
    """

    fixed = (1.0, "fan_avg", "uniform")


class GlorotNormal(_NamedScaling):
    """Truncated normal, Var = 2 / (fan_in + fan_out) (Glorot & Bengio 2010).

    Examples
    --------
    >>> round(GlorotNormal().variance((30, 70)), 4)
    0.02
    """

    fixed = (1.0, "fan_avg", "truncated_normal")


class HeUniform(_NamedScaling):
    """U(-a, a), a = sqrt(6 / fan_in) (He et al. 2015).

    Examples
    --------
    >>> HeUniform().variance((50, 10))
    0.04
    """

    fixed = (2.0, "fan_in", "uniform")


class HeNormal(_NamedScaling):
    """Truncated normal, Var = 2 / fan_in (He et al. 2015).

    Examples
    --------
    >>> HeNormal().variance((50, 10))
    0.04
    """

    fixed = (2.0, "fan_in", "truncated_normal")


class LecunUniform(_NamedScaling):
    """U(-a, a), a = sqrt(3 / fan_in) (LeCun et al. 1998), for SELU networks.

    Examples
    --------
    >>> LecunUniform().variance((50, 10))
    0.02
    """

    fixed = (1.0, "fan_in", "uniform")


class LecunNormal(_NamedScaling):
    """Truncated normal, Var = 1 / fan_in (LeCun et al. 1998), for SELU networks.

    Examples
    --------
    >>> LecunNormal().variance((50, 10))
    0.02
    """

    fixed = (1.0, "fan_in", "truncated_normal")


class Orthogonal(Initializer):
    """``gain`` times a random orthogonal matrix (Saxe et al. 2014), as Keras draws it.

    The shape is flattened to (rows, cols) = (prod(shape[:-1]), shape[-1]); Q of the QR
    factorisation of a (max, min) standard normal matrix, its columns' signs fixed by R's
    diagonal so Q is uniform (Haar), transposed when rows < cols. Rows (or columns, whichever
    are fewer) are orthonormal before the gain.

    Parameters
    ----------
    gain : float
        The multiplier.
    seed : int or None
        Used when no ``rng`` is passed to the call.

    Examples
    --------
    >>> q = Orthogonal()((4, 3), dtype="float64", rng=0)
    >>> bool(np.allclose(q.T @ q, np.eye(3)))
    True
    """

    def __init__(self, gain=1.0, seed=None):
        super().__init__(seed)
        self.gain = _checks.finite_number("gain", gain)

    def _sample(self, shape, rng) -> np.ndarray:
        if len(shape) < 2:
            raise ValueError(
                "The tensor to initialize must be at least two-dimensional. "
                f"Received: shape={shape} of rank {len(shape)}."
            )
        rows, cols = math.prod(shape[:-1]), shape[-1]
        q, r = np.linalg.qr(rng.standard_normal((max(rows, cols), min(rows, cols))))
        q = q * np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        return self.gain * q.reshape(shape)

    def get_config(self) -> dict:
        return {"gain": self.gain, "seed": self.seed}


class Zeros(Initializer):
    """All zeros (the default bias initializer).

    Examples
    --------
    >>> Zeros()((2,))
    array([0., 0.], dtype=float32)
    """

    def __init__(self):
        super().__init__(None)

    def _sample(self, shape, rng) -> np.ndarray:
        return np.zeros(shape)

    def get_config(self) -> dict:
        return {}


class Ones(Zeros):
    """All ones.

    Examples
    --------
    >>> Ones()((2,))
    array([1., 1.], dtype=float32)
    """

    def _sample(self, shape, rng) -> np.ndarray:
        return np.ones(shape)


class Constant(Zeros):
    """Every entry ``value``.

    Examples
    --------
    >>> Constant(0.5)((2,), dtype="float64")
    array([0.5, 0.5])
    """

    def __init__(self, value=0.0):
        super().__init__()
        self.value = _checks.finite_number("value", value)

    def _sample(self, shape, rng) -> np.ndarray:
        return np.full(shape, self.value)

    def get_config(self) -> dict:
        return {"value": self.value}


class Identity(Zeros):
    """``gain`` times the identity matrix (2-D shapes only; non-square shapes get ones on the
    main diagonal, as ``numpy.eye``).

    Examples
    --------
    >>> Identity(gain=2.0)((2, 3), dtype="float64")
    array([[2., 0., 0.],
           [0., 2., 0.]])
    """

    def __init__(self, gain=1.0):
        super().__init__()
        self.gain = _checks.finite_number("gain", gain)

    def _sample(self, shape, rng) -> np.ndarray:
        if len(shape) != 2:
            raise ValueError(
                "Identity initializer requires a 2D shape. "
                f"Received: shape={shape} of rank {len(shape)}."
            )
        return self.gain * np.eye(*shape)

    def get_config(self) -> dict:
        return {"gain": self.gain}


_REGISTRY = Registry("initializer", Initializer)
for _cls in (
    GlorotUniform,
    GlorotNormal,
    HeUniform,
    HeNormal,
    LecunUniform,
    LecunNormal,
    RandomUniform,
    RandomNormal,
    TruncatedNormal,
    VarianceScaling,
    Orthogonal,
    Zeros,
    Ones,
    Constant,
    Identity,
):
    # Keras accepts the class name and its snake_case (matched case-insensitively here)
    _snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in _cls.__name__).lstrip("_")
    _REGISTRY.add(_cls, _snake, _cls.__name__.lower())
# Keras's aliases
_REGISTRY.add(RandomNormal, "normal")
_REGISTRY.add(RandomUniform, "uniform")
_REGISTRY.add(Ones, "one")
_REGISTRY.add(Zeros, "zero")
_REGISTRY.add(Orthogonal, "orthogonalinitializer")
_REGISTRY.add(Identity, "identityinitializer")


def get(identifier) -> Initializer:
    """An initializer from a name (``"glorot_uniform"``, ``"he_normal"``, ``"orthogonal"``,
    ``"zeros"``, ... or the class name), an instance, a class or a serialized dict. Unknown names
    raise ValueError listing the valid ones.

    Parameters
    ----------
    identifier : str, dict, type or Initializer
        A name (any case), an instance, a class or a ``serialize`` dict.

    Returns
    -------
    Initializer
        An Initializer ready to use.

    Examples
    --------
    >>> type(get("lecun_normal")).__name__, type(get("TruncatedNormal")).__name__
    ('LecunNormal', 'TruncatedNormal')
    """
    return _REGISTRY.get(identifier)


def serialize(initializer: Initializer) -> dict:
    """``{"class_name": ..., "config": ...}``: JSON-ready.

    Parameters
    ----------
    initializer : Initializer
        The object to describe.

    Returns
    -------
    dict
        ``{"class_name": ..., "config": {...}}``, JSON-ready.

    Examples
    --------
    >>> serialize(Orthogonal(gain=2.0))
    {'class_name': 'Orthogonal', 'config': {'gain': 2.0, 'seed': None}}
    """
    return _REGISTRY.serialize(get(initializer))


def deserialize(config: dict, custom_objects: dict | None = None) -> Initializer:
    """The inverse of ``serialize``.

    Parameters
    ----------
    config : dict
        A ``serialize`` result.
    custom_objects : dict, optional
        Your own classes by class name.

    Returns
    -------
    Initializer
        A fresh object built from ``config``.

    Examples
    --------
    >>> deserialize({"class_name": "Constant", "config": {"value": 3.0}})((2,))
    array([3., 3.], dtype=float32)
    """
    return _REGISTRY.deserialize(config, custom_objects)
