"""The table: look-ups, validation of genomes, and clear errors for damaged files."""

import json
import shutil
import time

import numpy as np
import pytest

from nastoolkit.nas.bench import NASBenchMLP, TableError
from nastoolkit.nas.genome import GenomeError


def test_shipped_tables_load_fast_and_cover_the_declared_space():
    for name in ("digits", "regression"):
        started = time.perf_counter()
        bench = NASBenchMLP.load(name)
        assert time.perf_counter() - started < 1.0
        assert bench.task == {"digits": "classification", "regression": "regression"}[name]
        assert len(bench.genomes()) == len(bench) == bench.space.size()
        assert bench.seeds == (0, 1, 2)
        shape = (len(bench.space.architectures()), 2, 3, bench.epochs)
        assert bench.arrays["val_error"].shape == shape
        assert np.isfinite(bench.arrays["test_error"]).all()
        # cumulative seconds grow epoch by epoch
        assert (np.diff(bench.arrays["seconds"], axis=-1) > 0).all()


def test_query_is_the_recorded_entry(tiny_table):
    genome = tiny_table.space.genome([(16, "tanh")], 3e-2)
    a, r = tiny_table.index(genome)
    query = tiny_table.query(genome, epochs=3, seed=1)
    assert query.test_error == float(tiny_table.arrays["test_error"][a, r, 1, 2])
    assert query.val_error == float(tiny_table.arrays["val_error"][a, r, 1, 2])
    assert query.params == 64 * 16 + 16 + 16 * 10 + 10
    assert query.seconds == float(tiny_table.arrays["seconds"][a, r, 1, 2])


def test_a_genome_outside_the_space_names_the_gene(tiny_table):
    genome = tiny_table.space.genome([(48, "relu")], 1e-3)
    with pytest.raises(GenomeError, match=r"layers\[0\]\.units=48"):
        tiny_table.query(genome)
    genome = tiny_table.space.genome([(8, "sigmoid")], 1e-3)
    with pytest.raises(GenomeError, match=r"layers\[0\]\.activation='sigmoid'"):
        tiny_table.query(genome)
    genome = tiny_table.space.genome([(8, "relu")], 2e-3)
    with pytest.raises(GenomeError, match="learning_rate=0.002"):
        tiny_table.query(genome)
    genome = tiny_table.space.genome([(8, "relu"), (8, "relu")], 1e-3)
    with pytest.raises(GenomeError, match="2 layers, expected 1..1"):
        tiny_table.query(genome)
    with pytest.raises(ValueError, match="seed must be one of"):
        tiny_table.query(tiny_table.genomes()[0], seed=7)
    with pytest.raises(ValueError, match="epochs must be at most the table's 4"):
        tiny_table.query(tiny_table.genomes()[0], epochs=5)


def test_space_operators_stay_inside_the_table(tiny_table):
    import random

    from nastoolkit.nas import mutate

    rng = random.Random(0)
    genome = tiny_table.genomes()[0]
    for _ in range(200):
        genome = mutate(genome, tiny_table.space, rng)
        tiny_table.index(genome)  # raises if a mutation left the table


def _copy(table, folder):
    base = folder / "copy"
    for suffix in (".json", ".npz"):
        shutil.copy(table.path.replace(".npz", suffix), base.with_suffix(suffix))
    return base


def test_corrupt_npz_is_an_error_naming_the_file(tiny_table, tmp_path):
    base = _copy(tiny_table, tmp_path)
    data = base.with_suffix(".npz").read_bytes()
    base.with_suffix(".npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(TableError, match=r"copy\.npz: not a readable npz"):
        NASBenchMLP.load(base.with_suffix(".json"))


def test_edited_numbers_fail_the_content_hash(tiny_table, tmp_path):
    base = _copy(tiny_table, tmp_path)
    arrays = dict(np.load(base.with_suffix(".npz")))
    arrays["test_error"] = arrays["test_error"].copy()
    arrays["test_error"][0, 0, 0, -1] -= 0.01
    np.savez_compressed(base.with_suffix(".npz"), **arrays)
    with pytest.raises(TableError, match=r"copy\.npz: content hash .* does not match"):
        NASBenchMLP.load(base)


def test_mismatched_metadata_and_arrays_are_errors(tiny_table, tmp_path):
    base = _copy(tiny_table, tmp_path)
    metadata = json.loads(base.with_suffix(".json").read_text())
    metadata["epochs"] = 5
    base.with_suffix(".json").write_text(json.dumps(metadata))
    with pytest.raises(TableError, match=r"copy\.npz: array 'train_loss' has shape"):
        NASBenchMLP.load(base)
    base.with_suffix(".json").write_text("{not json")
    with pytest.raises(TableError, match=r"copy\.json: not readable JSON"):
        NASBenchMLP.load(base)
    base.with_suffix(".npz").unlink()
    with pytest.raises(TableError, match=r"copy\.npz: table file not found"):
        NASBenchMLP.load(base)
    with pytest.raises(TableError, match="no shipped table named 'mnist'"):
        NASBenchMLP.load("mnist")
