"""Genetic operators on genomes: sampling, mutation and crossover.

Pure functions: the inputs are never modified, all randomness comes from the explicit
``random.Random`` passed in, and every result is repaired into the search space, so whatever
sequence of operators runs, the population stays valid.
"""

from __future__ import annotations

import math
import random

from .genome import copy_genome
from .space import SearchSpace

__all__ = ["MUTATIONS", "crossover", "mutate", "sample_genome"]

MUTATIONS = ("layer_gene", "add_layer", "remove_layer", "learning_rate", "global_gene")

# Standard deviation of the learning-rate perturbation in natural-log units: one step moves the
# rate by a factor of about 1.6, so a few mutations walk across a decade.
LEARNING_RATE_SIGMA = 0.5


def sample_genome(space: SearchSpace, rng: random.Random) -> dict:
    """A genome drawn uniformly from ``space``.

    Parameters
    ----------
    space : SearchSpace
        The allowed genes.
    rng : random.Random
        The source of randomness (seed it for repeatable draws).

    Returns
    -------
    dict
        A new genome inside ``space``.

    Examples
    --------
    >>> space = SearchSpace(max_layers=2)
    >>> genome = sample_genome(space, random.Random(0))
    >>> 1 <= len(genome["layers"]) <= 2
    True
    """
    return space.sample(rng)


def _other_choice(current, choices, rng: random.Random):
    """A choice different from ``current`` when there is one (a mutation should change things)."""
    others = [choice for choice in choices if choice != current]
    return rng.choice(others) if others else current


def mutation_kinds(genome: dict, space: SearchSpace) -> tuple:
    """The mutations that can apply to ``genome`` (no adding past max_layers, nor removing below
    min_layers)."""
    count = len(genome["layers"])
    return tuple(
        kind
        for kind in MUTATIONS
        if not (kind == "add_layer" and count >= space.max_layers)
        and not (kind == "remove_layer" and count <= space.min_layers)
    )


def mutate(genome: dict, space: SearchSpace, rng: random.Random) -> dict:
    """One random mutation of ``genome``, chosen uniformly among those that apply:

    - ``layer_gene``: one layer's units, activation or dropout takes another allowed value;
    - ``add_layer`` / ``remove_layer``: a sampled layer is inserted / a layer is deleted;
    - ``learning_rate``: ``lr * exp(N(0, 0.5))``, a perturbation on the log scale;
    - ``global_gene``: L2, optimizer or batch size takes another allowed value.

    Parameters
    ----------
    genome : dict
        The parent (left unchanged).
    space : SearchSpace
        The allowed genes.
    rng : random.Random
        The source of randomness (seed it for repeatable draws).

    Returns
    -------
    dict
        A new genome inside ``space``.

    Examples
    --------
    >>> space, rng = SearchSpace(max_layers=2), random.Random(0)
    >>> parent = sample_genome(space, rng)
    >>> child = mutate(parent, space, rng)
    >>> child is not parent and 1 <= len(child["layers"]) <= 2
    True
    """
    child = copy_genome(genome)
    kind = rng.choice(mutation_kinds(child, space))
    layers = child["layers"]
    if kind == "layer_gene":
        layer = layers[rng.randrange(len(layers))]
        gene, choices = rng.choice(
            (("units", space.units), ("activation", space.activations), ("dropout", space.dropout))
        )
        layer[gene] = _other_choice(layer[gene], choices, rng)
    elif kind == "add_layer":
        layers.insert(rng.randint(0, len(layers)), space.sample_layer(rng))
    elif kind == "remove_layer":
        del layers[rng.randrange(len(layers))]
    elif kind == "learning_rate":
        child["learning_rate"] *= math.exp(rng.normalvariate(0.0, LEARNING_RATE_SIGMA))
    else:
        gene, choices = rng.choice(
            (("l2", space.l2), ("optimizer", space.optimizers), ("batch_size", space.batch_size))
        )
        child[gene] = _other_choice(child[gene], choices, rng)
    return space.repair(child)


def crossover(first: dict, second: dict, space: SearchSpace, rng: random.Random) -> tuple:
    """Two children from one-point crossover of the parents' layer lists.

    Each parent is cut at its own point, so children can be shallower or deeper than either
    parent (cuts keep at least ``min_layers``; children deeper than ``max_layers`` lose their
    last layers in repair); each global gene is swapped with probability 1/2.

    Parameters
    ----------
    first, second : dict
        The parents (left unchanged).
    space : SearchSpace
        The allowed genes.
    rng : random.Random
        The source of randomness (seed it for repeatable draws).

    Returns
    -------
    tuple of dict
        Two children inside ``space``.

    Examples
    --------
    >>> space, rng = SearchSpace(), random.Random(0)
    >>> children = crossover(sample_genome(space, rng), sample_genome(space, rng), space, rng)
    >>> len(children)
    2
    """
    first, second = copy_genome(first), copy_genome(second)
    count_first, count_second, least = len(first["layers"]), len(second["layers"]), space.min_layers
    cut_first = rng.randint(0, count_first)
    # Cut the second parent so that both children keep at least min_layers parent layers.
    # (Always a non-empty range for valid parents; the clamps only guard unrepaired ones.)
    low = min(max(0, least - count_first + cut_first), count_second)
    cut_second = rng.randint(low, max(low, min(count_second, count_second - least + cut_first)))
    head_first, tail_first = first["layers"][:cut_first], first["layers"][cut_first:]
    head_second, tail_second = second["layers"][:cut_second], second["layers"][cut_second:]
    first["layers"] = head_first + tail_second
    second["layers"] = head_second + tail_first
    for gene in ("learning_rate", "l2", "optimizer", "batch_size"):
        if rng.random() < 0.5:
            first[gene], second[gene] = second[gene], first[gene]
    return space.repair(first), space.repair(second)
