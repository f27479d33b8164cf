"""SearchSpace: the choices a genome may take, and validation/repair of genomes against them."""

from __future__ import annotations

import importlib
import math
import random
from dataclasses import asdict, dataclass

import numpy as np

from .._checks import (
    int_at_least,
    non_negative,
    number_in,
    positive,
    positive_int,
)
from .genome import (
    GenomeError,
    _check_activation,
    _check_optimizer,
    _check_shape,
    copy_genome,
    round_learning_rate,
)

__all__ = ["SearchSpace"]

_TUPLE_FIELDS = (
    "units",
    "activations",
    "dropout",
    "learning_rate",
    "l2",
    "optimizers",
    "batch_size",
)
_EXAMPLES = {
    "units": "(32, 64)",
    "activations": "('relu', 'tanh')",
    "dropout": "(0.0, 0.25)",
    "learning_rate": "(1e-4, 1e-1)",
    "l2": "(0.0, 1e-4)",
    "optimizers": "('adam', 'sgd')",
    "batch_size": "(32, 64)",
}


def _as_tuple(name: str, value) -> tuple:
    """``value`` (a tuple, list or 1-D array) as a non-empty tuple of Python scalars. A bare
    string or number is refused: ``activations="relu"`` would otherwise be read letter by
    letter."""
    example = _EXAMPLES[name]
    if isinstance(value, str):
        raise TypeError(
            f"{name} must be a tuple, not a bare string. Received: {name}={value!r}. "
            f"Write {name}=({value!r},) for one choice, or e.g. {name}={example}."
        )
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, range):
        value = list(value)
    if not isinstance(value, (tuple, list)):
        raise TypeError(
            f"{name} must be a tuple of choices. Received: {name}={value!r} "
            f"({type(value).__name__}). Pass e.g. {name}={example}."
        )
    if not value:
        raise ValueError(
            f"{name} must not be empty. Received: {name}={value!r}. Pass e.g. {name}={example}."
        )
    return tuple(v.item() if isinstance(v, np.generic) else v for v in value)


def _nearest(value, choices, log=False):
    """The choice closest to ``value`` (in log space for scale-like genes such as units)."""
    if log:
        target = math.log(max(value, 1e-12))
        return min(choices, key=lambda c: (abs(math.log(max(c, 1e-12)) - target), c))
    return min(choices, key=lambda c: (abs(c - value), c))


@dataclass(frozen=True)
class SearchSpace:
    """The choices of an MLP search: layer count, per-layer genes and global training genes.

    ``learning_rate`` is a ``(low, high)`` range sampled log-uniformly; every other gene is a tuple
    of allowed values. Genomes are validated with :meth:`validate` and brought back inside the
    space with :meth:`repair`, so every operator can end with ``space.repair(child)``.

    Every choice is checked at construction: activation and optimizer names must be known to
    ``nastoolkit.activations`` / ``nastoolkit.optimizers``, a bare string where a tuple is meant
    is refused, ranges must be finite with ``low <= high``, units and batch sizes positive.

    Examples
    --------
    >>> space = SearchSpace(max_layers=2, units=(16, 32), activations=("relu", "tanh"))
    >>> space.contains(space.sample(random.Random(0)))
    True
    >>> SearchSpace(activations="relu")
    Traceback (most recent call last):
    ...
    TypeError: activations must be a tuple, not a bare string. Received: activations='relu'. Write activations=('relu',) for one choice, or e.g. activations=('relu', 'tanh').
    """

    max_layers: int = 4
    min_layers: int = 1
    units: tuple = (8, 16, 32, 64, 128, 256)
    activations: tuple = ("relu", "tanh", "sigmoid")
    dropout: tuple = (0.0, 0.25, 0.5)
    learning_rate: tuple = (1e-4, 1e-1)
    l2: tuple = (0.0, 1e-5, 1e-4, 1e-3)
    optimizers: tuple = ("adam", "sgd", "rmsprop")
    batch_size: tuple = (32, 64, 128)

    def __post_init__(self):
        for name in _TUPLE_FIELDS:
            object.__setattr__(self, name, _as_tuple(name, getattr(self, name)))
        self._check_arguments()

    def _check_arguments(self) -> None:
        object.__setattr__(
            self,
            "min_layers",
            int_at_least("min_layers", self.min_layers, 1, "Pass e.g. min_layers=1."),
        )
        object.__setattr__(
            self,
            "max_layers",
            int_at_least(
                "max_layers",
                self.max_layers,
                self.min_layers,
                f"It must be at least min_layers={self.min_layers}; pass e.g. max_layers=4.",
            ),
        )
        for name, example in (("units", "(32, 64)"), ("batch_size", "(32, 64)")):
            values = tuple(
                positive_int(f"{name}[{index}]", value, f"Pass e.g. {name}={example}.")
                for index, value in enumerate(getattr(self, name))
            )
            object.__setattr__(self, name, values)
        for name, check in (("activations", _check_activation), ("optimizers", _check_optimizer)):
            for index, value in enumerate(getattr(self, name)):
                check(f"{name}[{index}]", value)
        object.__setattr__(
            self,
            "dropout",
            tuple(
                number_in(
                    f"dropout[{index}]",
                    value,
                    0.0,
                    1.0,
                    high_open=True,
                    fix="Pass e.g. dropout=(0.0, 0.25).",
                )
                for index, value in enumerate(self.dropout)
            ),
        )
        object.__setattr__(
            self,
            "l2",
            tuple(
                non_negative(f"l2[{index}]", value, "Pass e.g. l2=(0.0, 1e-4).")
                for index, value in enumerate(self.l2)
            ),
        )
        lr = self.learning_rate
        fix = "Pass e.g. learning_rate=(1e-4, 1e-1)."
        if len(lr) != 2:
            raise ValueError(
                f"learning_rate must be a (low, high) range of 2 numbers. Received: "
                f"learning_rate={lr!r}. {fix}"
            )
        low = positive("learning_rate[0]", lr[0], fix)
        high = positive("learning_rate[1]", lr[1], fix)
        if low > high:
            raise ValueError(
                f"learning_rate must be a (low, high) range with low <= high. "
                f"Received: learning_rate={lr!r}. Swap them: "
                f"learning_rate=({lr[1]!r}, {lr[0]!r})."
            )
        object.__setattr__(self, "learning_rate", (low, high))

    # -- sampling ------------------------------------------------------------------------------
    def sample_layer(self, rng: random.Random) -> dict:
        """One layer gene drawn uniformly from the choices."""
        return {
            "units": rng.choice(self.units),
            "activation": rng.choice(self.activations),
            "dropout": float(rng.choice(self.dropout)),
        }

    def sample_learning_rate(self, rng: random.Random) -> float:
        """A learning rate drawn log-uniformly from the range, rounded onto the key grid."""
        low, high = (math.log(float(v)) for v in self.learning_rate)
        return self.clamp_learning_rate(math.exp(rng.uniform(low, high)))

    def clamp_learning_rate(self, learning_rate: float) -> float:
        """Round to the key grid, then clip into ``[low, high]``."""
        low, high = (float(v) for v in self.learning_rate)
        return min(max(round_learning_rate(learning_rate), low), high)

    def sample(self, rng: random.Random) -> dict:
        """A genome drawn uniformly: layer count, each layer gene, then the global genes."""
        count = rng.randint(self.min_layers, self.max_layers)
        return {
            "layers": [self.sample_layer(rng) for _ in range(count)],
            "learning_rate": self.sample_learning_rate(rng),
            "l2": float(rng.choice(self.l2)),
            "optimizer": rng.choice(self.optimizers),
            "batch_size": rng.choice(self.batch_size),
        }

    # -- validation and repair -----------------------------------------------------------------
    def problems(self, genome) -> list[str]:
        """Every way ``genome`` falls outside this space (empty when it is valid)."""
        try:
            _check_shape(genome)
        except GenomeError as error:
            return [str(error)]
        found = []
        count = len(genome["layers"])
        if not self.min_layers <= count <= self.max_layers:
            found.append(f"{count} layers, expected {self.min_layers}..{self.max_layers}")
        for index, layer in enumerate(genome["layers"]):
            for gene, choices in (
                ("units", self.units),
                ("activation", self.activations),
                ("dropout", self.dropout),
            ):
                if layer[gene] not in choices:
                    found.append(f"layers[{index}].{gene}={layer[gene]!r} not in {choices}")
        low, high = (float(v) for v in self.learning_rate)
        rate = genome["learning_rate"]
        if not (low <= rate <= high) or rate != round_learning_rate(rate):
            found.append(
                f"learning_rate={rate!r} outside [{low:g}, {high:g}] or not rounded to "
                f"the 3-digit grid"
            )
        for gene, choices in (
            ("l2", self.l2),
            ("optimizer", self.optimizers),
            ("batch_size", self.batch_size),
        ):
            if genome[gene] not in choices:
                found.append(f"{gene}={genome[gene]!r} not in {choices}")
        return found

    def contains(self, genome) -> bool:
        """True when ``genome`` is valid in this space."""
        return not self.problems(genome)

    def validate(self, genome) -> dict:
        """Return ``genome`` unchanged, or raise GenomeError listing every problem."""
        found = self.problems(genome)
        if found:
            raise GenomeError(
                "genome is outside the search space: "
                + "; ".join(found)
                + ". Use SearchSpace.repair(genome) to snap it to the nearest "
                "valid genome."
            )
        return genome

    def repair(self, genome: dict) -> dict:
        """The nearest valid genome: numbers snap to the closest choice, unknown names to the
        first choice, extra layers are dropped from the end, missing ones copy the last layer.

        Deterministic (no generator), so operators stay reproducible.
        """
        genome = copy_genome(genome)
        layers = [
            {
                "units": _nearest(layer["units"], self.units, log=True),
                "activation": layer["activation"]
                if layer["activation"] in self.activations
                else self.activations[0],
                "dropout": float(_nearest(layer["dropout"], self.dropout)),
            }
            for layer in genome["layers"][: self.max_layers]
        ]
        default = {
            "units": self.units[len(self.units) // 2],
            "activation": self.activations[0],
            "dropout": float(self.dropout[0]),
        }
        while len(layers) < self.min_layers:
            layers.append(dict(layers[-1] if layers else default))
        return {
            "layers": layers,
            "learning_rate": self.clamp_learning_rate(genome["learning_rate"]),
            "l2": float(_nearest(genome["l2"], self.l2)),
            "optimizer": genome["optimizer"]
            if genome["optimizer"] in self.optimizers
            else self.optimizers[0],
            "batch_size": _nearest(genome["batch_size"], self.batch_size, log=True),
        }

    # -- serialisation -------------------------------------------------------------------------
    def get_config(self) -> dict:
        """JSON-ready dict of the constructor arguments, with ``kind``: the class's name (one of
        ``SPACE_KINDS``), so :meth:`from_config` rebuilds a subclass such as
        ``BenchSpace`` as itself."""
        return {
            "kind": type(self).__name__,
            **{
                name: list(value) if isinstance(value, tuple) else value
                for name, value in asdict(self).items()
            },
        }

    @classmethod
    def from_config(cls, config: dict) -> SearchSpace:
        """Rebuild a space from :meth:`get_config`: of the class its ``kind`` names (a config
        without ``kind``, as older checkpoints hold, is ``cls`` itself).

        Examples
        --------
        >>> config = SearchSpace(max_layers=2).get_config()
        >>> SearchSpace.from_config(config) == SearchSpace(max_layers=2)
        True
        >>> type(SearchSpace.from_config({**config, "kind": "BenchSpace"})).__name__
        'BenchSpace'
        """
        config = dict(config)
        kind = _space_class(config.pop("kind", cls.__name__))
        if not issubclass(kind, cls):
            raise ValueError(  # noqa: TRY004  (a config value names the wrong class)
                f"kind must name {cls.__name__} or a subclass of it. Received: "
                f"kind={kind.__name__!r}. Rebuild it with SearchSpace.from_config(config)."
            )
        return kind(**config)


# kind -> the module that defines it. A config names its class only from this list, so a
# checkpoint can never make from_config import arbitrary code.
SPACE_KINDS = {"SearchSpace": __name__, "BenchSpace": "nastoolkit.nas.bench.space"}


def _space_class(kind: str) -> type:
    """The space class a config's ``kind`` names (ValueError naming the known kinds otherwise)."""
    if not isinstance(kind, str) or kind not in SPACE_KINDS:
        raise ValueError(f"kind must be one of {sorted(SPACE_KINDS)}. Received: kind={kind!r:.60}")
    return getattr(importlib.import_module(SPACE_KINDS[kind]), kind)
