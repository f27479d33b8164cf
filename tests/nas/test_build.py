"""genome_to_model builds exactly the network the genome describes."""

import numpy as np
import pytest

from nastoolkit import layers, optimizers, regularizers
from nastoolkit.nas.build import count_parameters, genome_to_model
from nastoolkit.nas.genome import make_genome


def test_layers_activations_dropout_and_regulariser_follow_the_genome():
    genome = make_genome(
        [(16, "tanh", 0.25), (8, "relu", 0.0)],
        learning_rate=0.02,
        l2=1e-4,
        optimizer="sgd",
        batch_size=32,
    )
    model = genome_to_model(genome, input_dim=5, output_dim=3, task="classification")
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["Dense", "Dropout", "Dense", "Dense"]
    dense = [layer for layer in model.layers if isinstance(layer, layers.Dense)]
    assert [layer.units for layer in dense] == [16, 8, 3]
    assert [layer.get_config()["activation"] for layer in dense] == ["tanh", "relu", "softmax"]
    assert model.layers[1].rate == 0.25
    assert isinstance(dense[0].kernel_regularizer, regularizers.L2)
    assert dense[0].kernel_regularizer.l2 == pytest.approx(1e-4)
    assert isinstance(model.optimizer, optimizers.SGD)
    assert float(model.optimizer.get_config()["learning_rate"]) == pytest.approx(0.02)


def test_regression_head_is_linear_and_l2_zero_means_no_regulariser():
    genome = make_genome([(8, "relu", 0.0)], l2=0.0, optimizer="adam")
    model = genome_to_model(genome, input_dim=4, output_dim=2, task="regression")
    assert model.layers[-1].get_config()["activation"] == "linear"
    assert model.layers[0].kernel_regularizer is None
    assert isinstance(model.optimizer, optimizers.Adam)


def test_count_parameters_matches_the_built_model():
    genome = make_genome([(16, "tanh", 0.5), (8, "relu", 0.0), (32, "sigmoid", 0.0)])
    model = genome_to_model(genome, input_dim=5, output_dim=3)
    rng = np.random.default_rng(0)
    model.fit(
        rng.normal(size=(8, 5)).astype(np.float32),
        rng.integers(0, 3, 8),
        epochs=1,
        verbose=0,
        seed=0,
    )
    assert (
        count_parameters(genome, 5, 3)
        == model.count_params()
        == (5 * 16 + 16) + (16 * 8 + 8) + (8 * 32 + 32) + (32 * 3 + 3)
    )


def test_unknown_task_is_a_clear_error():
    with pytest.raises(ValueError, match="task must be one of"):
        genome_to_model(make_genome([(8, "relu", 0.0)]), 4, 2, task="ranking")
