"""Genomes: an MLP architecture and its training genes as plain, JSON-serialisable data.

A genome is a ``dict``::

    {"layers": [{"units": 64, "activation": "relu", "dropout": 0.25}, ...],
     "learning_rate": 0.001, "l2": 0.0001, "optimizer": "adam", "batch_size": 32}

Plain data travels unchanged through JSON checkpoints, process pools and Dask workers, and two
genomes describing the same network have the same :func:`genome_key`, which keys the cache.
Validation and repair against a set of allowed choices live in :mod:`nastoolkit.nas.space`.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

from .._checks import non_negative, number_in, positive, positive_int

__all__ = [
    "GLOBAL_GENES",
    "LAYER_GENES",
    "GenomeError",
    "copy_genome",
    "describe_genome",
    "genome_key",
    "genome_seed",
    "make_genome",
]

LAYER_GENES = ("units", "activation", "dropout")
GLOBAL_GENES = ("learning_rate", "l2", "optimizer", "batch_size")

# Learning rates are kept to this many significant digits so a perturbed rate lands on a grid:
# keys stay short, JSON round-trips exactly, and near-identical rates share one cache entry.
LEARNING_RATE_DIGITS = 3


class GenomeError(ValueError):
    """A genome is malformed or outside its search space (the message lists every problem).

    Examples
    --------
    >>> try:
    ...     copy_genome({"layers": []})
    ... except GenomeError as error:
    ...     print(isinstance(error, ValueError))
    True
    """


def round_learning_rate(learning_rate: float) -> float:
    """Round ``learning_rate`` to :data:`LEARNING_RATE_DIGITS` significant digits."""
    return float(f"{float(learning_rate):.{LEARNING_RATE_DIGITS - 1}e}")


def make_genome(layers, learning_rate=1e-3, l2=0.0, optimizer="adam", batch_size=32) -> dict:
    """Build a genome from ``layers`` = [(units, activation, dropout), ...] and the global genes.

    Every gene is checked here (positive units, a known activation and optimizer, dropout in
    [0, 1), a finite learning rate > 0, l2 >= 0, a positive batch size), so a mistake is an error
    now rather than a failed candidate later.

    Parameters
    ----------
    layers : list of tuple
        ``(units, activation, dropout)`` per hidden layer, input side first.
    learning_rate : float, default 1e-3
        > 0; rounded to ``LEARNING_RATE_DIGITS`` significant digits.
    l2 : float, default 0.0
        L2 penalty of every kernel, >= 0.
    optimizer : str, default "adam"
        An optimizer name.
    batch_size : int, default 32
        Positive.

    Returns
    -------
    dict
        The genome (JSON-ready).

    Examples
    --------
    >>> make_genome([(64, "relu", 0.25)], learning_rate=3e-3)["layers"]
    [{'units': 64, 'activation': 'relu', 'dropout': 0.25}]
    """
    if isinstance(layers, (str, dict)) or not isinstance(layers, (list, tuple)):
        raise TypeError(
            f"layers must be a list of (units, activation, dropout) tuples. "
            f"Received: layers={layers!r:.80}. Pass e.g. [(64, 'relu', 0.0)]."
        )
    genes = []
    for index, layer in enumerate(layers):
        if (
            isinstance(layer, (str, dict))
            or not isinstance(layer, (list, tuple))
            or len(layer) != 3
        ):
            raise ValueError(
                f"layers[{index}] must be a (units, activation, dropout) tuple. "
                f"Received: {layer!r:.80}. Pass e.g. (64, 'relu', 0.0)."
            )
        units, activation, dropout = layer
        genes.append(
            {
                "units": positive_int(f"layers[{index}] units", units),
                "activation": _check_activation(f"layers[{index}] activation", activation),
                "dropout": number_in(f"layers[{index}] dropout", dropout, 0.0, 1.0, high_open=True),
            }
        )
    return {
        "layers": genes,
        "learning_rate": round_learning_rate(positive("learning_rate", learning_rate)),
        "l2": non_negative("l2", l2),
        "optimizer": _check_optimizer("optimizer", optimizer),
        "batch_size": positive_int("batch_size", batch_size),
    }


def _check_name(kind: str, getter, name: str, value) -> str:
    """``value`` if ``getter`` (``activations.get`` / ``optimizers.get``) knows the name."""
    if not isinstance(value, str) or not value:
        raise TypeError(
            f"{name} must be the name of {kind} (a string such as 'relu' or "
            f"'adam'). Received: {name}={value!r}"
        )
    try:
        getter(value)
    except (ValueError, KeyError) as error:
        raise ValueError(f"{name}={value!r} is not a known {kind.split()[-1]}: {error}") from None
    return value


def _check_activation(name: str, value) -> str:
    from .. import activations

    return _check_name("an activation", activations.get, name, value)


def _check_optimizer(name: str, value) -> str:
    from .. import optimizers

    return _check_name("an optimizer", optimizers.get, name, value)


def copy_genome(genome: dict) -> dict:
    """A deep copy holding only the genome's genes, as built-in Python types.

    Parameters
    ----------
    genome : dict
        A genome (see ``make_genome``).

    Returns
    -------
    dict
        A new genome equal to ``genome``.

    Examples
    --------
    >>> genome = make_genome([(8, "relu", 0.0)])
    >>> copy_genome(genome) == genome, copy_genome(genome) is genome
    (True, False)
    """
    _check_shape(genome)
    return {
        "layers": [
            {
                "units": int(layer["units"]),
                "activation": str(layer["activation"]),
                "dropout": float(layer["dropout"]),
            }
            for layer in genome["layers"]
        ],
        "learning_rate": float(genome["learning_rate"]),
        "l2": float(genome["l2"]),
        "optimizer": str(genome["optimizer"]),
        "batch_size": int(genome["batch_size"]),
    }


def genome_key(genome: dict) -> str:
    """Canonical text of a genome: equal keys mean the same network trained the same way.

    Sorted keys, no whitespace and floats in ``repr`` form, so the key is stable across processes,
    Python versions and JSON round-trips.

    Parameters
    ----------
    genome : dict
        A genome (see ``make_genome``).

    Returns
    -------
    str
        Canonical JSON text.

    Examples
    --------
    >>> key = genome_key(make_genome([(8, "relu", 0.0)]))
    >>> key[:63]
    '{"batch_size":32,"l2":0.0,"layers":[{"activation":"relu","dropo'
    >>> key == genome_key(make_genome([(8, "relu", 0.0)], learning_rate=0.0010001))
    True
    """
    return json.dumps(copy_genome(genome), sort_keys=True, separators=(",", ":"))


def genome_seed(key: str, seed: int) -> int:
    """A 31-bit training seed derived from a genome key and a search seed.

    Derived from the key, not from evaluation order, so a candidate trains identically whichever
    process evaluates it and whenever it is evaluated.

    Parameters
    ----------
    key : str
        A ``genome_key``.
    seed : int
        The search's seed.

    Returns
    -------
    int
        In [0, 2**31).

    Examples
    --------
    >>> key = genome_key(make_genome([(8, "relu", 0.0)]))
    >>> genome_seed(key, 0) == genome_seed(key, 0) != genome_seed(key, 1)
    True
    """
    digest = hashlib.sha256(f"{int(seed)}:{key}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def describe_genome(genome: dict) -> str:
    """One line for tables: ``64relu/0.25 > 32tanh | adam lr=1e-3 l2=0 bs=32``.

    Parameters
    ----------
    genome : dict
        A genome (see ``make_genome``).

    Returns
    -------
    str
        Layers as ``units activation / dropout`` joined by ``>``, then the global genes.

    Examples
    --------
    >>> describe_genome(make_genome([(64, "relu", 0.25), (8, "tanh", 0.0)]))
    '64relu/0.25 > 8tanh | adam lr=0.001 l2=0 bs=32'
    """
    layers = " > ".join(
        f"{layer['units']}{layer['activation']}"
        + (f"/{layer['dropout']:g}" if layer["dropout"] else "")
        for layer in genome["layers"]
    )
    return (
        f"{layers} | {genome['optimizer']} lr={genome['learning_rate']:.3g} "
        f"l2={genome['l2']:g} bs={genome['batch_size']}"
    )


def _check_shape(genome: Any) -> None:
    """Raise GenomeError unless ``genome`` has the genome's keys with numbers where numbers go."""
    if not isinstance(genome, dict):
        raise GenomeError(
            f"expected a genome dict with 'layers' and {GLOBAL_GENES}. "
            f"Received: {type(genome).__name__} {genome!r:.80}"
        )
    missing = [name for name in ("layers", *GLOBAL_GENES) if name not in genome]
    if missing:
        raise GenomeError(
            f"genome is missing {missing}; expected keys 'layers' and "
            f"{GLOBAL_GENES}. Received keys: {sorted(genome)}"
        )
    if not isinstance(genome["layers"], (list, tuple)):
        raise GenomeError(
            f"genome['layers'] must be a list of layer dicts. "
            f"Received: {type(genome['layers']).__name__}"
        )
    for index, layer in enumerate(genome["layers"]):
        if not isinstance(layer, dict) or any(name not in layer for name in LAYER_GENES):
            raise GenomeError(
                f"genome['layers'][{index}] must be a dict with {LAYER_GENES}. "
                f"Received: {layer!r:.80}"
            )
    for name in ("learning_rate", "l2"):
        value = genome[name]
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not number or not math.isfinite(value):
            raise GenomeError(f"genome[{name!r}] must be a finite number. Received: {value!r}")
