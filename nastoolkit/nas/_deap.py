"""The only module that imports DEAP: creator classes, toolboxes and the generation steps.

DEAP's own ``varOr``/``varAnd``/``selTournament`` draw from the global ``random`` module; here the
same algorithms draw from the search's explicit ``random.Random``, whose state is checkpointed, so
a search is reproducible and resumable. DEAP still provides the toolbox (so operators are
swappable), the fitness and individual classes, and NSGA-II's non-dominated sorting and crowding
distance (``tools.selNSGA2``), which are deterministic.
"""

from __future__ import annotations

import random

from deap import base, creator, tools

from .genome import copy_genome
from .operators import crossover, mutate
from .space import SearchSpace

__all__ = [
    "ensure_creator",
    "make_toolbox",
    "select_nsga2",
    "select_tournament",
    "select_tournament_crowding",
    "vary_and",
    "vary_or",
]


def ensure_creator() -> None:
    """Create the DEAP classes once per process; re-running a notebook cell reuses them (DEAP
    warns and replaces classes when ``creator.create`` is called twice with one name)."""
    if not hasattr(creator, "NasFitnessMin"):
        creator.create("NasFitnessMin", base.Fitness, weights=(-1.0,))
    if not hasattr(creator, "NasFitnessPareto"):
        creator.create("NasFitnessPareto", base.Fitness, weights=(-1.0, -1.0))
    if not hasattr(creator, "NasIndividual"):
        creator.create("NasIndividual", dict, fitness=creator.NasFitnessMin)
    if not hasattr(creator, "NasParetoIndividual"):
        creator.create("NasParetoIndividual", dict, fitness=creator.NasFitnessPareto)


def individual_class(objectives: int):
    """The DEAP individual class for one objective (error) or two (error, parameters)."""
    ensure_creator()
    return creator.NasIndividual if objectives == 1 else creator.NasParetoIndividual


def select_tournament(individuals: list, k: int, tournament_size: int, rng: random.Random) -> list:
    """``k`` winners of tournaments among ``tournament_size`` individuals drawn with replacement
    (DEAP's selTournament, drawing from ``rng``); ties go to the first drawn."""
    chosen = []
    for _ in range(k):
        aspirants = [rng.choice(individuals) for _ in range(tournament_size)]
        chosen.append(max(aspirants, key=lambda individual: individual.fitness))
    return chosen


def select_tournament_crowding(individuals: list, k: int, rng: random.Random) -> list:
    """NSGA-II's binary tournament: the dominating individual wins, else the larger crowding
    distance, else a coin flip (DEAP's selTournamentDCD without its multiple-of-4 restriction).
    Needs ``crowding_dist``, which :func:`select_nsga2` assigns."""
    chosen = []
    for _ in range(k):
        first, second = rng.sample(individuals, 2)
        if first.fitness.dominates(second.fitness):
            chosen.append(first)
        elif second.fitness.dominates(first.fitness):
            chosen.append(second)
        elif first.fitness.crowding_dist != second.fitness.crowding_dist:
            chosen.append(max(first, second, key=lambda ind: ind.fitness.crowding_dist))
        else:
            chosen.append(first if rng.random() < 0.5 else second)
    return chosen


def select_nsga2(individuals: list, k: int) -> list:
    """DEAP's NSGA-II environmental selection: fronts by non-dominated sorting, the last front cut
    by crowding distance (sets ``fitness.crowding_dist`` on the individuals)."""
    return tools.selNSGA2(individuals, k)


def make_toolbox(
    space: SearchSpace, rng: random.Random, objectives: int = 1, tournament_size: int = 3
) -> base.Toolbox:
    """A DEAP toolbox whose ``mate``, ``mutate`` and ``select`` use the pure operators and
    ``rng``. ``mate`` returns two children and ``mutate`` one (in a tuple), as DEAP's do, but new
    objects: parents are never modified."""
    kind = individual_class(objectives)
    toolbox = base.Toolbox()
    toolbox.register("individual", lambda genome: kind(copy_genome(genome)))
    toolbox.register(
        "mate",
        lambda first, second: tuple(kind(child) for child in crossover(first, second, space, rng)),
    )
    toolbox.register("mutate", lambda individual: (kind(mutate(individual, space, rng)),))
    if objectives == 1:
        toolbox.register("select", select_tournament, tournament_size=tournament_size, rng=rng)
    else:
        toolbox.register("select", select_nsga2)
        toolbox.register("select_parents", select_tournament_crowding, rng=rng)
    return toolbox


def vary_or(
    population: list,
    toolbox,
    offspring_size: int,
    crossover_probability: float,
    mutation_probability: float,
    rng: random.Random,
) -> list:
    """The mu+lambda variation (DEAP's varOr): each child comes from crossover of two random
    parents, or mutation of one, or is a copy of one, with the given probabilities."""
    offspring = []
    for _ in range(offspring_size):
        draw = rng.random()
        if draw < crossover_probability:
            first, second = rng.sample(population, 2)
            offspring.append(toolbox.mate(first, second)[0])
        elif draw < crossover_probability + mutation_probability:
            offspring.append(toolbox.mutate(rng.choice(population))[0])
        else:
            offspring.append(toolbox.individual(rng.choice(population)))
    return offspring


def vary_and(
    parents: list,
    toolbox,
    crossover_probability: float,
    mutation_probability: float,
    rng: random.Random,
) -> list:
    """DEAP's varAnd: consecutive pairs cross over with one probability, then each child mutates
    with another."""
    offspring = [toolbox.individual(parent) for parent in parents]
    for index in range(1, len(offspring), 2):
        if rng.random() < crossover_probability:
            offspring[index - 1], offspring[index] = toolbox.mate(
                offspring[index - 1], offspring[index]
            )
    return [
        toolbox.mutate(child)[0] if rng.random() < mutation_probability else child
        for child in offspring
    ]
