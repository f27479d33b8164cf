"""The table holds what the toolkit's own training produces: retraining reproduces entries, and
look-ups agree with HoldoutEvaluator run with the same settings."""

import numpy as np
import pytest

from nastoolkit.nas import HoldoutEvaluator
from nastoolkit.nas.bench import NASBenchMLP, TabularEvaluator, load_dataset
from nastoolkit.nas.bench.build import EntryTrainer, machine_id
from nastoolkit.nas.bench.table import CURVES, DTYPES


def _retrain(bench, genome, seed):
    outcome = EntryTrainer(bench.dataset["name"], bench.epochs).evaluate(
        {"genome": genome, "seed": seed}
    )
    return {name: np.asarray(outcome.metrics[name], DTYPES[name]) for name in CURVES}


def test_retraining_reproduces_the_tiny_table_exactly(tiny_table):
    for genome, seed in ((tiny_table.genomes()[1], 0), (tiny_table.genomes()[6], 1)):
        recorded = tiny_table.curves(genome, seed)
        retrained = _retrain(tiny_table, genome, seed)
        for name in ("train_loss", "val_loss", "val_error", "test_error"):
            np.testing.assert_array_equal(retrained[name], recorded[name], err_msg=name)


@pytest.mark.parametrize("name", ["digits", "regression"])
def test_retraining_a_sample_of_the_shipped_table(name):
    bench = NASBenchMLP.load(name)
    # a fixed sample: the two smallest one-layer networks at each learning rate, seed 1
    sample = [
        bench.space.genome([(bench.space.units[0], activation)], rate)
        for activation in bench.space.activations[:1]
        for rate in bench.space.learning_rates
    ]
    same_machine = bench.metadata["machine_id"] == machine_id()
    for genome in sample:
        recorded = bench.curves(genome, 1)
        retrained = _retrain(bench, genome, 1)
        if same_machine:
            for key in ("train_loss", "val_loss", "val_error", "test_error"):
                np.testing.assert_array_equal(retrained[key], recorded[key], err_msg=key)
        else:  # another CPU or BLAS: within the spread over the table's three seeds
            a, r = bench.index(genome)
            final = bench.arrays["test_error"][a, r, :, -1]
            spread = max(final.max() - final.min(), 1e-3)
            assert abs(retrained["test_error"][-1] - recorded["test_error"][-1]) <= 3 * spread


@pytest.mark.parametrize("patience", [None, 1])
def test_lookups_agree_with_holdout_evaluator(tiny_table, patience):
    data = load_dataset("digits")
    for seed in tiny_table.seeds:
        tabular = TabularEvaluator(tiny_table, epochs=4, patience=patience, seed=seed)
        holdout = HoldoutEvaluator(
            *data["train"],
            validation_data=data["val"],
            epochs=4,
            patience=4 if patience is None else patience,
            seed=seed,
        )
        for genome in tiny_table.genomes()[::3]:
            expected, found = holdout.evaluate(genome), tabular.evaluate(genome)
            assert np.float32(expected.score) == np.float32(found.score)
            assert expected.metrics["epochs"] == found.metrics["epochs"]
            assert expected.metrics["best_epoch"] == found.metrics["best_epoch"]
            assert found.seconds == found.metrics["cost"] > 0
