"""Weight penalties added to the loss, with Keras 3's names, defaults and numbers.

- ``L1(l1=0.01)``: ``P(w) = l1 sum abs(w)``, ``dP/dw = l1 sign(w)``
- ``L2(l2=0.01)``: ``P(w) = l2 sum w^2`` (no factor 1/2, as Keras), ``dP/dw = 2 l2 w``
- ``L1L2(l1=0.0, l2=0.0)``: ``P(w) = l1 sum abs(w) + l2 sum w^2``
- ``OrthogonalRegularizer(factor=0.01, mode="rows")``: ``factor`` times the mean absolute cosine
  between distinct rows (or columns) of a 2-D kernel

``regularizer(w)`` returns the penalty as a float; ``regularizer.add_gradient(w, grad)`` adds dP/dw
into a gradient buffer in place, which is how a layer's backward pass applies it (the flat
gradient buffer of a model is written once, with no temporary).
"""

from __future__ import annotations

from . import _checks
from ._registry import Registry
from .backend import array_module

__all__ = [
    "L1",
    "L1L2",
    "L2",
    "OrthogonalRegularizer",
    "Regularizer",
    "deserialize",
    "get",
    "serialize",
]

# Keras's backend.epsilon(): the smallest norm the orthogonal regularizer divides by.
_NORM_EPSILON = 1e-7


def _strength(name: str, value, default: float) -> float:
    """``value`` (None means ``default``, as Keras) as a float >= 0, else a ValueError."""
    if value is None:
        return default
    return _checks.non_negative(name, value, fix="It is the penalty's strength; 0 turns it off.")


class Regularizer:
    """Base class of weight penalties: ``P(w)`` and its gradient.

    A subclass sets the strengths ``l1`` and ``l2`` (P(w) = l1 sum abs(w) + l2 sum w^2), or
    overrides ``__call__`` and ``add_gradient`` for another penalty, and writes ``get_config``.
    The base class itself is the zero penalty, as Keras's.

    Examples
    --------
    >>> import numpy as np
    >>> class Quadratic(Regularizer):
    ...     l2 = 0.5
    ...     def get_config(self):
    ...         return {}
    >>> Quadratic()(np.array([1.0, -2.0]))
    2.5
    """

    l1 = 0.0
    l2 = 0.0

    def __call__(self, w) -> float:
        """The penalty P(w) as a float (added to the reported loss).

        Parameters
        ----------
        w : array_like
            A weight array of any shape (NumPy or CuPy).

        Returns
        -------
        float
            ``l1 * sum(abs(w)) + l2 * sum(w**2)``.
        """
        xp = array_module(w)
        penalty = 0.0
        if self.l1:
            penalty += self.l1 * float(xp.abs(w).sum())
        if self.l2:
            flat = xp.asarray(w).reshape(-1)
            penalty += self.l2 * float(xp.dot(flat, flat))
        return penalty

    def add_gradient(self, w, grad):
        """Add dP/dw to ``grad`` in place and return ``grad``.

        Parameters
        ----------
        w : array_like
            The weights the penalty is taken of.
        grad : array_like
            A gradient buffer of ``w``'s shape; ``l1 sign(w) + 2 l2 w`` is added to it.

        Returns
        -------
        array_like
            ``grad`` itself.
        """
        xp = array_module(w)
        if self.l1:
            grad += self.l1 * xp.sign(w)
        if self.l2:
            grad += (2.0 * self.l2) * w
        return grad

    def get_config(self) -> dict:
        """The constructor's arguments as a JSON-ready dict (subclasses write it)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement get_config()")

    @classmethod
    def from_config(cls, config: dict) -> Regularizer:
        """A new regularizer from ``get_config()``'s dict.

        Parameters
        ----------
        config : dict
            Keyword arguments of the constructor.

        Returns
        -------
        Regularizer
            ``cls(**config)``.
        """
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other) -> bool:
        return type(other) is type(self) and other.get_config() == self.get_config()

    def __hash__(self) -> int:
        return hash((type(self).__name__, tuple(sorted(self.get_config().items()))))


class L1(Regularizer):
    """The L1 penalty P(w) = l1 sum abs(w); its gradient is l1 sign(w) (0 where w is 0).

    Parameters
    ----------
    l1 : float, default 0.01
        Strength, a finite number >= 0 (None means the default, as in Keras).

    Examples
    --------
    >>> import numpy as np
    >>> L1(0.1)(np.array([[0.5, -2.0], [0.0, 3.0]]))
    0.55
    >>> L1(0.1).add_gradient(np.array([0.5, 0.0, -2.0]), np.zeros(3))
    array([ 0.1,  0. , -0.1])
    """

    def __init__(self, l1: float = 0.01):
        self.l1 = _strength("l1", l1, 0.01)

    def get_config(self) -> dict:
        """``{"l1": l1}``."""
        return {"l1": self.l1}


class L2(Regularizer):
    """The L2 penalty P(w) = l2 sum w^2 (Keras: no factor 1/2, so dP/dw = 2 l2 w).

    Parameters
    ----------
    l2 : float, default 0.01
        Strength, a finite number >= 0 (None means the default, as in Keras).

    Examples
    --------
    >>> import numpy as np
    >>> round(L2(0.1)(np.array([[0.5, -2.0], [0.0, 3.0]])), 6)
    1.325
    >>> L2(0.1).add_gradient(np.array([0.5, -2.0]), np.zeros(2))
    array([ 0.1, -0.4])
    """

    def __init__(self, l2: float = 0.01):
        self.l2 = _strength("l2", l2, 0.01)

    def get_config(self) -> dict:
        """``{"l2": l2}``."""
        return {"l2": self.l2}


class L1L2(Regularizer):
    """Both penalties: P(w) = l1 sum abs(w) + l2 sum w^2.

    Parameters
    ----------
    l1, l2 : float, default 0.0
        Strengths, finite numbers >= 0 (None means 0, as in Keras). With both at their
        default the penalty is zero: ``get("l1l2")`` is that zero penalty, as in Keras 3.

    Examples
    --------
    >>> import numpy as np
    >>> round(L1L2(l1=0.1, l2=0.2)(np.array([[0.5, -2.0], [0.0, 3.0]])), 6)
    3.2
    """

    def __init__(self, l1: float = 0.0, l2: float = 0.0):
        self.l1 = _strength("l1", l1, 0.0)
        self.l2 = _strength("l2", l2, 0.0)

    def get_config(self) -> dict:
        """``{"l1": l1, "l2": l2}``."""
        return {"l1": self.l1, "l2": self.l2}


class OrthogonalRegularizer(Regularizer):
    """Push the rows (or columns) of a 2-D kernel towards being orthogonal, as Keras 3 does.

    With u_i the rows (``mode="rows"``) or columns (``mode="columns"``) of ``w`` divided by their
    norms (a norm below 1e-7 counts as 1e-7, as Keras's), k of them, the penalty is the mean
    absolute cosine between distinct pairs::

        P(w) = factor * sum_{i != j} |u_i . u_j| / (k (k - 1))

    Its gradient, taken back through the normalisation of each vector v_i::

        dP/du_i = 2 c sum_{j != i} sign(u_i . u_j) u_j,     c = factor / (k (k - 1))
        dP/dv_i = (dP/du_i - u_i (u_i . dP/du_i)) / norm(v_i)

    Parameters
    ----------
    factor : float, default 0.01
        Strength, a finite number >= 0.
    mode : {"rows", "columns"}, default "rows"
        Which vectors of ``w`` should be orthogonal. For a ``Dense`` kernel of shape
        (input_dim, units), ``"columns"`` decorrelates the units.

    Examples
    --------
    >>> import numpy as np
    >>> OrthogonalRegularizer(factor=1.0)(np.eye(3))
    0.0
    >>> OrthogonalRegularizer(factor=1.0)(np.array([[1.0, 0.0], [1.0, 0.0]]))
    1.0
    """

    def __init__(self, factor: float = 0.01, mode: str = "rows"):
        self.factor = _strength("factor", factor, 0.01)
        self.mode = _checks.one_of("mode", mode, ("rows", "columns"))

    def _vectors(self, w):
        """The vectors to decorrelate as the rows of a (k, n) array (a view, never a copy)."""
        if getattr(w, "ndim", None) != 2:
            raise ValueError(
                f"OrthogonalRegularizer needs a 2-D weight array. "
                f"Received: w.shape={getattr(w, 'shape', None)}"
            )
        vectors = w if self.mode == "rows" else w.T
        if vectors.shape[0] < 2:
            raise ValueError(
                f"OrthogonalRegularizer(mode={self.mode!r}) needs at least 2 "
                f"{self.mode} to compare. Received: w.shape={w.shape}"
            )
        return vectors

    def _parts(self, w):
        xp = array_module(w)
        vectors = self._vectors(w)
        scale = 1.0 / xp.maximum(
            xp.sqrt((vectors * vectors).sum(axis=1, keepdims=True)), _NORM_EPSILON
        )
        units = vectors * scale
        cosines = units @ units.T
        xp.fill_diagonal(cosines, 0.0)
        k = vectors.shape[0]
        return xp, units, scale, cosines, self.factor / (k * (k - 1))

    def __call__(self, w) -> float:
        """The penalty P(w) as a float; ``w`` must be 2-D with at least 2 rows (columns)."""
        xp, _, _, cosines, c = self._parts(w)
        return c * float(xp.abs(cosines).sum())

    def add_gradient(self, w, grad):
        """Add dP/dw (see the class docstring) to ``grad`` in place and return ``grad``."""
        xp, units, scale, cosines, c = self._parts(w)
        grad_units = (2.0 * c) * (xp.sign(cosines) @ units)
        radial = (units * grad_units).sum(axis=1, keepdims=True)
        # Below the norm floor the scale is a constant, so no radial part is removed there.
        clamped = scale >= 1.0 / _NORM_EPSILON
        grad_vectors = (grad_units - xp.where(clamped, 0.0, radial) * units) * scale
        target = grad if self.mode == "rows" else grad.T
        target += grad_vectors.astype(grad.dtype, copy=False)
        return grad

    def get_config(self) -> dict:
        """``{"factor": factor, "mode": mode}``."""
        return {"factor": self.factor, "mode": self.mode}


_REGISTRY = Registry("regularizer", Regularizer)
_REGISTRY.add(L1, "l1")
_REGISTRY.add(L2, "l2")
_REGISTRY.add(L1L2, "l1l2")
_REGISTRY.add(OrthogonalRegularizer, "orthogonalregularizer", "orthogonal_regularizer")


def get(identifier) -> Regularizer | None:
    """A regularizer from a name, an instance, a class or a serialized dict, as Keras's ``get``.

    Parameters
    ----------
    identifier : str, Regularizer, type, dict or None
        ``"l1"``, ``"l2"`` (strength 0.01), ``"l1l2"`` (both 0, as Keras), ``"orthogonal_regularizer"``
        or a class name (any case); an instance (returned as is); a class (made with its defaults);
        ``{"class_name": ..., "config": ...}``; or None.

    Returns
    -------
    Regularizer or None
        None for None (no penalty), as Keras.

    Examples
    --------
    >>> get("l2")
    L2(l2=0.01)
    >>> get(None) is None
    True
    >>> get({"class_name": "L1L2", "config": {"l1": 0.5}})
    L1L2(l1=0.5, l2=0.0)
    """
    return None if identifier is None else _REGISTRY.get(identifier)


def serialize(regularizer: Regularizer | None) -> dict | None:
    """``{"class_name": ..., "config": ...}`` of a regularizer, or None for None.

    Parameters
    ----------
    regularizer : Regularizer, str or None
        Anything ``get`` accepts.

    Returns
    -------
    dict or None
        Plain, JSON-ready data that ``deserialize`` turns back into an equal regularizer.

    Examples
    --------
    >>> serialize(L2(0.5))
    {'class_name': 'L2', 'config': {'l2': 0.5}}
    """
    return None if regularizer is None else _REGISTRY.serialize(get(regularizer))


def deserialize(config: dict | None, custom_objects: dict | None = None) -> Regularizer | None:
    """The regularizer that ``serialize`` (or Keras's ``serialize``) described.

    Parameters
    ----------
    config : dict or None
        ``{"class_name": ..., "config": ...}``; other keys (Keras's ``module``,
        ``registered_name``) are ignored.
    custom_objects : dict, optional
        Maps class names of your own ``Regularizer`` subclasses to the classes.

    Returns
    -------
    Regularizer or None

    Examples
    --------
    >>> deserialize({"module": "keras.regularizers", "class_name": "L1", "config": {"l1": 0.2}})
    L1(l1=0.2)
    """
    return None if config is None else _REGISTRY.deserialize(config, custom_objects)
