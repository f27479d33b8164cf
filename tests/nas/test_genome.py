"""Genomes: canonical keys, copies and seeds."""

import json

import pytest

from nastoolkit.nas.genome import (
    GenomeError,
    copy_genome,
    describe_genome,
    genome_key,
    genome_seed,
    make_genome,
)


def _genome():
    return make_genome(
        [(64, "relu", 0.25), (32, "tanh", 0.0)],
        learning_rate=0.00123,
        l2=1e-4,
        optimizer="adam",
        batch_size=32,
    )


def test_key_ignores_dict_order_and_number_spelling():
    genome = _genome()
    shuffled = {
        "batch_size": 32.0,
        "optimizer": "adam",
        "l2": 0.0001,
        "learning_rate": 0.00123,
        "layers": [
            {"dropout": 0.25, "activation": "relu", "units": 64.0},
            {"activation": "tanh", "units": 32, "dropout": 0},
        ],
    }
    assert genome_key(shuffled) == genome_key(genome)


def test_key_distinguishes_every_gene():
    base = genome_key(_genome())
    changes = [("learning_rate", 0.00124), ("l2", 1e-5), ("optimizer", "sgd"), ("batch_size", 64)]
    for gene, value in changes:
        assert genome_key({**_genome(), gene: value}) != base, gene
    deeper = _genome()
    deeper["layers"].append({"units": 8, "activation": "relu", "dropout": 0.0})
    assert genome_key(deeper) != base
    swapped = _genome()
    swapped["layers"].reverse()
    assert genome_key(swapped) != base


def test_genome_survives_a_json_round_trip_with_the_same_key():
    genome = _genome()
    again = json.loads(json.dumps(genome))
    assert again == genome and genome_key(again) == genome_key(genome)


def test_copy_is_deep():
    genome = _genome()
    duplicate = copy_genome(genome)
    duplicate["layers"][0]["units"] = 8
    assert genome["layers"][0]["units"] == 64


def test_make_genome_rounds_the_learning_rate_to_three_digits():
    assert make_genome([(8, "relu", 0.0)], learning_rate=0.0012345)["learning_rate"] == 0.00123


def test_seed_depends_on_key_and_search_seed_only():
    key = genome_key(_genome())
    assert genome_seed(key, 0) == genome_seed(key, 0)
    assert genome_seed(key, 0) != genome_seed(key, 1)
    assert genome_seed(key, 0) != genome_seed(genome_key(make_genome([(8, "relu", 0.0)])), 0)
    assert 0 <= genome_seed(key, 0) < 2**31


@pytest.mark.parametrize(
    "bad, fragment",
    [
        ([1, 2], "expected a genome dict"),
        ({"layers": []}, "missing"),
        ({**make_genome([(8, "relu", 0.0)]), "layers": [{"units": 8}]}, "layers'][0]"),
        ({**make_genome([(8, "relu", 0.0)]), "learning_rate": float("nan")}, "finite number"),
    ],
)
def test_malformed_genomes_are_named_errors(bad, fragment):
    with pytest.raises(GenomeError, match=fragment.replace("[", r"\[").replace("]", r"\]")):
        genome_key(bad)


def test_describe_lists_layers_and_globals():
    text = describe_genome(_genome())
    assert text.startswith("64relu/0.25 > 32tanh |") and "adam" in text and "bs=32" in text
