"""BenchSpace: a search space whose every genome has a row in a tabular benchmark.

It is a :class:`~nastoolkit.nas.SearchSpace` with a fixed training recipe (one optimizer, batch
size, no dropout or L2) and a *discrete* set of learning rates, so the strategies, operators and
repairs of :mod:`nastoolkit.nas` run on it unchanged and never leave the table.
"""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass

from .. import space as _space
from ..genome import GenomeError, round_learning_rate
from ..space import SearchSpace

__all__ = ["FULL_SPACE", "SMALL_SPACE", "BenchSpace"]


@dataclass(frozen=True)
class BenchSpace(SearchSpace):
    """The choices of a tabular benchmark: 1..``max_layers`` hidden layers, each a width from
    ``units`` and an activation from ``activations``, trained with one of ``learning_rates``.

    ``learning_rate`` (the range of the base class) is set from ``learning_rates``; sampling,
    mutation and repair pick from the discrete rates only (the nearest in log space on repair).

    Examples
    --------
    >>> space = BenchSpace(max_layers=1, units=(16,), learning_rates=(1e-3, 1e-2))
    >>> space.architectures()
    [((16, 'relu'),), ((16, 'tanh'),)]
    >>> space.sample(random.Random(0))["learning_rate"] in space.learning_rates
    True
    """

    max_layers: int = 3
    units: tuple = (16, 32, 64, 128)
    activations: tuple = ("relu", "tanh")
    dropout: tuple = (0.0,)
    l2: tuple = (0.0,)
    optimizers: tuple = ("adam",)
    batch_size: tuple = (64,)
    learning_rates: tuple = (1e-3, 1e-2)
    learning_rate: tuple = (1e-3, 1e-2)

    def __post_init__(self):
        rates = _space._as_tuple("learning_rate", self.learning_rates)
        rates = tuple(
            sorted(
                round_learning_rate(
                    _space.positive(f"learning_rates[{index}]", value, "Pass e.g. (1e-3, 1e-2).")
                )
                for index, value in enumerate(rates)
            )
        )
        if len(set(rates)) != len(rates):
            raise ValueError(
                f"learning_rates must be distinct. Received: learning_rates={self.learning_rates!r}"
            )
        object.__setattr__(self, "learning_rates", rates)
        object.__setattr__(self, "learning_rate", (rates[0], rates[-1]))
        super().__post_init__()

    def sample_learning_rate(self, rng: random.Random) -> float:
        """One of :attr:`learning_rates`, uniformly."""
        return rng.choice(self.learning_rates)

    def clamp_learning_rate(self, learning_rate: float) -> float:
        """The table's learning rate nearest ``learning_rate`` in log space."""
        target = math.log(max(float(learning_rate), 1e-300))
        return min(self.learning_rates, key=lambda rate: abs(math.log(rate) - target))

    def problems(self, genome) -> list[str]:
        """Every way ``genome`` falls outside the table (each problem names its gene)."""
        found = super().problems(genome)
        if found and found[0].startswith(("expected a genome", "genome")):
            return found
        found = [problem for problem in found if not problem.startswith("learning_rate=")]
        if genome["learning_rate"] not in self.learning_rates:
            found.append(f"learning_rate={genome['learning_rate']!r} not in {self.learning_rates}")
        return found

    def architectures(self) -> list[tuple]:
        """Every architecture as a tuple of ``(units, activation)`` per layer, in table order:
        by layer count, then lexicographically in the order of the choices."""
        layer_choices = list(itertools.product(self.units, self.activations))
        return [
            architecture
            for count in range(self.min_layers, self.max_layers + 1)
            for architecture in itertools.product(layer_choices, repeat=count)
        ]

    def genome(self, architecture, learning_rate: float) -> dict:
        """The genome of ``architecture`` (``((units, activation), ...)``) at ``learning_rate``."""
        return {
            "layers": [
                {
                    "units": int(units),
                    "activation": str(activation),
                    "dropout": float(self.dropout[0]),
                }
                for units, activation in architecture
            ],
            "learning_rate": float(learning_rate),
            "l2": float(self.l2[0]),
            "optimizer": self.optimizers[0],
            "batch_size": int(self.batch_size[0]),
        }

    def index_of(self, genome) -> tuple[int, int]:
        """``(architecture index, learning-rate index)`` of ``genome``, or a GenomeError naming
        every gene outside this space."""
        found = self.problems(genome)
        if found:
            raise GenomeError(
                "genome is outside the benchmark's space: "
                + "; ".join(found)
                + ". Use bench.space.repair(genome) for the nearest one in it."
            )
        key = tuple((layer["units"], layer["activation"]) for layer in genome["layers"])
        return self._index()[key], self.learning_rates.index(genome["learning_rate"])

    def _index(self) -> dict:
        cached = self.__dict__.get("_architecture_index")
        if cached is None:
            cached = {
                architecture: index for index, architecture in enumerate(self.architectures())
            }
            object.__setattr__(self, "_architecture_index", cached)
        return cached

    def size(self) -> int:
        """Number of (architecture, learning rate) configurations."""
        return len(self.architectures()) * len(self.learning_rates)

    def get_config(self) -> dict:
        config = super().get_config()
        config.pop("learning_rate")
        return config


# The space: 584 architectures x 2 learning rates (x 3 seeds = 3,504 trainings).
FULL_SPACE = BenchSpace()
# What a shared 2-core machine builds in minutes: widths 16 and 64 only (84 architectures).
SMALL_SPACE = BenchSpace(units=(16, 64))
