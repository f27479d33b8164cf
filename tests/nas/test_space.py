"""SearchSpace: argument checks, sampling, validation and repair."""

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nastoolkit.nas.genome import GenomeError
from nastoolkit.nas.space import SearchSpace

SPACE = SearchSpace(
    max_layers=4,
    units=(8, 16, 32, 64, 128, 256),
    activations=("relu", "tanh", "sigmoid"),
    dropout=(0.0, 0.25, 0.5),
    learning_rate=(1e-4, 1e-1),
    l2=(0.0, 1e-5, 1e-4, 1e-3),
    optimizers=("adam", "sgd", "rmsprop"),
)


def test_samples_are_valid_and_cover_the_choices():
    rng = random.Random(0)
    genomes = [SPACE.sample(rng) for _ in range(300)]
    assert all(SPACE.contains(genome) for genome in genomes)
    assert {len(g["layers"]) for g in genomes} == {1, 2, 3, 4}
    assert {layer["units"] for g in genomes for layer in g["layers"]} == set(SPACE.units)
    assert {g["optimizer"] for g in genomes} == set(SPACE.optimizers)
    rates = [g["learning_rate"] for g in genomes]
    # log-uniform: about a third of the rates in each decade
    assert 60 < sum(r < 1e-3 for r in rates) < 140 and 60 < sum(r >= 1e-2 for r in rates) < 140


def test_same_generator_state_same_sample():
    assert SPACE.sample(random.Random(3)) == SPACE.sample(random.Random(3))
    assert SPACE.sample(random.Random(3)) != SPACE.sample(random.Random(4))


def test_validate_lists_every_problem():
    genome = SPACE.sample(random.Random(0))
    genome["layers"][0]["units"] = 7
    genome["optimizer"] = "adamax"
    genome["learning_rate"] = 0.5
    with pytest.raises(GenomeError) as error:
        SPACE.validate(genome)
    message = str(error.value)
    assert "units=7" in message and "adamax" in message and "learning_rate" in message
    assert "repair" in message


def test_repair_snaps_to_nearest_choices():
    genome = {
        "layers": [{"units": 100, "activation": "gelu", "dropout": 0.3}] * 6,
        "learning_rate": 3.0,
        "l2": 2e-5,
        "optimizer": "nadam",
        "batch_size": 50,
    }
    fixed = SPACE.repair(genome)
    assert SPACE.contains(fixed)
    assert len(fixed["layers"]) == 4
    assert fixed["layers"][0] == {"units": 128, "activation": "relu", "dropout": 0.25}
    assert fixed["learning_rate"] == 0.1 and fixed["l2"] == 1e-5
    assert fixed["optimizer"] == "adam" and fixed["batch_size"] == 64


def test_repair_pads_too_shallow_genomes():
    space = SearchSpace(min_layers=2, max_layers=3)
    genome = {
        "layers": [{"units": 16, "activation": "tanh", "dropout": 0.0}],
        "learning_rate": 1e-3,
        "l2": 0.0,
        "optimizer": "adam",
        "batch_size": 32,
    }
    fixed = space.repair(genome)
    assert space.contains(fixed) and fixed["layers"] == [genome["layers"][0]] * 2


def test_repair_leaves_valid_genomes_unchanged():
    genome = SPACE.sample(random.Random(1))
    assert SPACE.repair(genome) == genome


@settings(max_examples=60, deadline=None)
@given(
    units=st.lists(st.integers(1, 5000), min_size=0, max_size=8),
    rate=st.floats(1e-9, 1e3),
    l2=st.floats(0, 1),
    batch=st.integers(1, 4096),
    activation=st.text(max_size=6),
    dropout=st.floats(0, 0.99),
)
def test_repair_always_returns_a_valid_genome(units, rate, l2, batch, activation, dropout):
    genome = {
        "layers": [{"units": u, "activation": activation, "dropout": dropout} for u in units],
        "learning_rate": rate,
        "l2": l2,
        "optimizer": activation,
        "batch_size": batch,
    }
    assert SPACE.contains(SPACE.repair(genome))


@pytest.mark.parametrize(
    "arguments, fragment",
    [
        ({"max_layers": 0}, "max_layers"),
        ({"units": (0, 8)}, "units"),
        ({"dropout": (1.0,)}, "dropout"),
        ({"learning_rate": (1e-1, 1e-4)}, "learning_rate"),
        ({"activations": ()}, "activations"),
        ({"l2": (-1.0,)}, "l2"),
    ],
)
def test_bad_arguments_name_the_argument(arguments, fragment):
    with pytest.raises(ValueError, match=fragment):
        SearchSpace(**arguments)


def test_config_round_trip():
    assert SearchSpace.from_config(SPACE.get_config()) == SPACE
