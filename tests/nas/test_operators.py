"""Operators: always valid, pure, reproducible, and able to make every kind of change."""

import copy
import math
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from nastoolkit.nas.operators import crossover, mutate, sample_genome
from nastoolkit.nas.space import SearchSpace

spaces = st.builds(
    SearchSpace,
    max_layers=st.integers(1, 5),
    units=st.lists(st.integers(1, 512), min_size=1, max_size=5, unique=True).map(tuple),
    activations=st.sampled_from([("relu",), ("relu", "tanh"), ("tanh", "sigmoid", "relu")]),
    dropout=st.lists(
        st.sampled_from([0.0, 0.1, 0.25, 0.5]), min_size=1, max_size=3, unique=True
    ).map(tuple),
    learning_rate=st.sampled_from([(1e-4, 1e-1), (1e-3, 1e-3), (0.01, 0.5)]),
    l2=st.sampled_from([(0.0,), (0.0, 1e-4)]),
    optimizers=st.sampled_from([("adam",), ("adam", "sgd", "rmsprop")]),
    batch_size=st.sampled_from([(32,), (16, 64)]),
)


@settings(max_examples=80, deadline=None)
@given(space=spaces, seed=st.integers(0, 2**32 - 1), steps=st.integers(1, 25))
def test_any_sequence_of_operators_stays_in_the_space(space, seed, steps):
    rng = random.Random(seed)
    population = [sample_genome(space, rng) for _ in range(3)]
    for _ in range(steps):
        if rng.random() < 0.5:
            population.append(mutate(rng.choice(population), space, rng))
        else:
            population.extend(crossover(*rng.sample(population, 2), space, rng))
    problems = [space.problems(genome) for genome in population]
    assert not any(problems), problems


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_operators_never_modify_their_inputs_and_are_reproducible(seed):
    space = SearchSpace()
    rng = random.Random(seed)
    first, second = sample_genome(space, rng), sample_genome(space, rng)
    before = copy.deepcopy((first, second))
    state = rng.getstate()
    results = (mutate(first, space, rng), crossover(first, second, space, rng))
    assert (first, second) == before
    rng.setstate(state)
    assert (mutate(first, space, rng), crossover(first, second, space, rng)) == results


def test_mutation_reaches_every_kind_of_change():
    space = SearchSpace(max_layers=4)
    rng = random.Random(0)
    genome = {
        "layers": [{"units": 32, "activation": "relu", "dropout": 0.0}] * 2,
        "learning_rate": 1e-3,
        "l2": 0.0,
        "optimizer": "adam",
        "batch_size": 32,
    }
    seen = set()
    ratios = []
    for _ in range(400):
        child = mutate(genome, space, rng)
        if len(child["layers"]) == 3:
            seen.add("add_layer")
        elif len(child["layers"]) == 1:
            seen.add("remove_layer")
        elif child["layers"] != genome["layers"]:
            seen.add("layer_gene")
        elif child["learning_rate"] != genome["learning_rate"]:
            seen.add("learning_rate")
            ratios.append(math.log(child["learning_rate"] / genome["learning_rate"]))
        elif child != genome:
            seen.add("global_gene")
    assert seen == {"add_layer", "remove_layer", "layer_gene", "learning_rate", "global_gene"}
    # log-scale perturbation: multiplicative steps, both directions, around a factor e^0.5
    assert any(r > 0 for r in ratios) and any(r < 0 for r in ratios)
    assert 0.2 < sum(abs(r) for r in ratios) / len(ratios) < 0.8


def test_mutation_never_adds_past_max_or_removes_below_min():
    space = SearchSpace(min_layers=2, max_layers=2)
    rng = random.Random(1)
    genome = sample_genome(space, rng)
    assert all(len(mutate(genome, space, rng)["layers"]) == 2 for _ in range(100))


def test_crossover_children_are_made_of_parent_layers():
    space = SearchSpace(max_layers=6)
    rng = random.Random(2)
    first = {
        "layers": [{"units": 8, "activation": "relu", "dropout": 0.0}] * 3,
        "learning_rate": 1e-3,
        "l2": 0.0,
        "optimizer": "adam",
        "batch_size": 32,
    }
    second = {
        "layers": [{"units": 256, "activation": "tanh", "dropout": 0.5}] * 3,
        "learning_rate": 1e-2,
        "l2": 1e-4,
        "optimizer": "sgd",
        "batch_size": 128,
    }
    mixed = 0
    for _ in range(50):
        for child in crossover(first, second, space, rng):
            units = [layer["units"] for layer in child["layers"]]
            assert set(units) <= {8, 256}
            if len(set(units)) == 2:
                # a single cut: the head from one parent, the tail from the other
                assert units == sorted(units) or units == sorted(units, reverse=True)
                mixed += 1
            assert child["learning_rate"] in (1e-3, 1e-2)
    assert mixed > 20
