"""A search on a BenchSpace checkpoints its space's class and resumes on that same space."""

import json

import pytest

from nastoolkit.nas import GeneticSearch, SearchSpace, load_search
from nastoolkit.nas.bench import BenchSpace, TabularEvaluator
from nastoolkit.nas.checkpoint import CheckpointError

OPTIONS = {"population_size": 4, "seed": 7, "progress": False}


def test_a_ga_on_the_table_resumed_equals_an_uninterrupted_run(tiny_table, tmp_path):
    evaluator = TabularEvaluator(tiny_table, epochs=4, patience=2, seed=1)
    reference = GeneticSearch(tiny_table.space, evaluator, generations=5, **OPTIONS).run()
    path = tmp_path / "ga.json"
    GeneticSearch(tiny_table.space, evaluator, generations=2, checkpoint=path, **OPTIONS).run()
    assert json.loads(path.read_text())["config"]["space"]["kind"] == "BenchSpace"
    resumed = load_search(path, evaluator=evaluator, generations=5, progress=False)
    assert resumed.space == tiny_table.space and isinstance(resumed.space, BenchSpace)
    assert resumed.run().to_dict() == reference.to_dict()


def _checkpoint(tmp_path, space_config):
    space = SearchSpace(max_layers=1, units=(4, 8))

    class Size:
        input_dim, output_dim = 4, 2

        def fingerprint(self):
            return "size"

        def evaluate(self, genome):
            return {"status": "ok", "score": genome["layers"][0]["units"] / 100}

    path = tmp_path / "search.json"
    GeneticSearch(space, Size(), generations=1, checkpoint=path, **OPTIONS).run()
    document = json.loads(path.read_text())
    document["config"]["space"] = space_config(document["config"]["space"])
    path.write_text(json.dumps(document))
    return path, Size()


def test_a_checkpoint_without_kind_still_loads_as_a_search_space(tmp_path):
    def without_kind(config):
        return {key: value for key, value in config.items() if key != "kind"}

    path, evaluator = _checkpoint(tmp_path, without_kind)
    search = load_search(path, evaluator=evaluator, generations=2, progress=False)
    assert type(search.space) is SearchSpace
    assert len(search.run().history) == 3


def test_an_unknown_kind_is_a_clear_error(tmp_path):
    path, evaluator = _checkpoint(tmp_path, lambda config: {**config, "kind": "os.system"})
    with pytest.raises(CheckpointError, match=r"field config\.space\.kind must name a search"):
        load_search(path, evaluator=evaluator)
