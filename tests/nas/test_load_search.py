"""load_search and STRATEGIES reach the controller, DARTS and Hyperband: a checkpoint of each
loads into its own class, resumes, and ends as an uninterrupted run does."""

from __future__ import annotations

import pytest
from nas_fakes import FormulaEvaluator, blobs

from nastoolkit.nas import (
    CheckpointError,
    ControllerSearch,
    DifferentiableSearch,
    GeneticSearch,
    HoldoutEvaluator,
    Hyperband,
    RandomSearch,
    SearchSpace,
    load_search,
)
from nastoolkit.nas.strategies import STRATEGIES

SPACE = SearchSpace(
    max_layers=2,
    units=(4, 8),
    activations=("relu", "tanh"),
    dropout=(0.0,),
    learning_rate=(1e-3, 1e-2),
    l2=(0.0,),
    optimizers=("adam",),
    batch_size=(32,),
)


@pytest.fixture(scope="module")
def evaluator():
    X, y = blobs()
    return HoldoutEvaluator(X, y, epochs=2, seed=0)


def _stop_at(search, method: str, when) -> None:
    """Make ``search.<method>`` raise KeyboardInterrupt when ``when(first argument)`` holds."""
    original = getattr(search, method)

    def stopping(first, *rest):
        if when(first):
            raise KeyboardInterrupt
        return original(first, *rest)

    setattr(search, method, stopping)


def test_strategies_names_every_search_class():
    expected = {
        GeneticSearch,
        RandomSearch,
        ControllerSearch,
        DifferentiableSearch,
        Hyperband,
    }
    assert expected <= set(STRATEGIES.values())
    assert all(STRATEGIES[cls.__name__] is cls for cls in STRATEGIES.values())


def test_a_controller_checkpoint_loads_as_a_controller_search_and_resumes_exactly(tmp_path):
    options = {"controller_steps": 6, "architectures_per_step": 3, "seed": 1, "progress": False}
    reference = ControllerSearch(SPACE, FormulaEvaluator(), **options).run()
    path = tmp_path / "ctrl.json"
    search = ControllerSearch(SPACE, FormulaEvaluator(), checkpoint=path, **options)
    _stop_at(search, "_finish_generation", lambda generation: generation == 3)
    with pytest.raises(KeyboardInterrupt):
        search.run()
    resumed = load_search(path, evaluator=FormulaEvaluator(), progress=False)
    assert type(resumed) is ControllerSearch and resumed.state.generation == 2
    assert resumed.run().to_dict() == reference.to_dict()


def test_a_hyperband_checkpoint_loads_as_hyperband_and_resumes_exactly(evaluator, tmp_path):
    options = {"max_epochs": 9, "reduction_factor": 3, "seed": 0, "progress": False}
    reference = Hyperband(SPACE, evaluator, **options).run()
    path = tmp_path / "hb.json"
    search = Hyperband(SPACE, evaluator, checkpoint=path, **options)
    _stop_at(search, "_rung", lambda position: position == 4)
    with pytest.raises(KeyboardInterrupt):
        search.run()
    resumed = load_search(path, progress=False)  # the evaluator rebuilt from the checkpoint
    assert type(resumed) is Hyperband and resumed.state.generation == 3
    assert resumed.run().to_dict() == reference.to_dict()


def test_a_darts_checkpoint_loads_as_differentiable_search_and_resumes_exactly(tmp_path):
    X, y = blobs()
    options = {"epochs": 5, "seed": 2, "evaluator_epochs": 2}
    reference = DifferentiableSearch(SPACE, X, y, **options).run()
    path = tmp_path / "darts.json"
    search = DifferentiableSearch(SPACE, X, y, checkpoint=path, **options)
    _stop_at(search, "_epoch", lambda epoch: epoch == 3)
    with pytest.raises(KeyboardInterrupt):
        search.run()
    resumed = load_search(path)
    assert type(resumed) is DifferentiableSearch and len(resumed.history) == 3
    assert resumed.run().to_dict() == reference.to_dict()
    # The same data may be passed as an evaluator; other data is refused.
    assert load_search(path, evaluator=resumed.evaluator).epochs == 5
    other = HoldoutEvaluator(X[:60], y[:60], validation_split=0.3, epochs=2, seed=2)
    with pytest.raises(CheckpointError, match="another evaluator setup"):
        load_search(path, evaluator=other)


def test_options_that_do_not_apply_are_clear_errors(tmp_path, evaluator):
    path = tmp_path / "hb.json"
    Hyperband(SPACE, evaluator, max_epochs=3, checkpoint=path, progress=False).run()
    with pytest.raises(TypeError, match="generations= extends population searches only"):
        load_search(path, generations=9)
    # The population strategies' own resume names the right door.
    with pytest.raises(CheckpointError, match="written by Hyperband.*load_search"):
        GeneticSearch.resume(path, evaluator=evaluator)
    X, y = blobs()
    darts = tmp_path / "darts.json"
    DifferentiableSearch(SPACE, X, y, epochs=1, evaluator_epochs=1, checkpoint=darts).run()
    with pytest.raises(TypeError, match=r"checkpoint=, progress= and overwrite= only.*workers"):
        load_search(darts, workers=2)


def test_an_unknown_strategy_name_is_a_clear_error(tmp_path):
    path = tmp_path / "search.json"
    RandomSearch(
        SPACE, FormulaEvaluator(), population_size=2, generations=0, checkpoint=path, progress=False
    ).run()
    path.write_text(path.read_text().replace('"RandomSearch"', '"AnnealingSearch"'))
    with pytest.raises(CheckpointError, match="field strategy must name a known strategy"):
        load_search(path, evaluator=FormulaEvaluator())
