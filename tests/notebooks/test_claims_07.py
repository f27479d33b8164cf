"""Every claim notebook 07 (three more ways to search) makes about what the learner will see.

Each test quotes the notebook's sentence (``says``: it fails if the text changes, so text and
test move together), checks that the notebook still makes the library call with the settings
used here (``calls``), and then makes that call and asserts the claim. The searches train real
networks on the same 800 digits as the notebook.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from notebook_helpers import NOTEBOOK_DIR

pytest.importorskip("ipywidgets")

from nastoolkit import datasets
from nastoolkit import exercises as nb_exercises
from nastoolkit.nas import (
    ControllerSearch,
    DifferentiableSearch,
    HoldoutEvaluator,
    Hyperband,
    SearchSpace,
    compare_at_epoch_budget,
)
from nastoolkit.nas.hyperband import hyperband_brackets
from nastoolkit.viz.search_methods import bracket_bars
from nastoolkit.widgets.search_methods import (
    ControllerStepperModel,
    DartsStepperModel,
    HyperbandStepperModel,
)

NB07 = "07_three_more_ways_to_search.ipynb"


def _cells(kind: str) -> str:
    notebook = json.loads((NOTEBOOK_DIR / NB07).read_text(encoding="utf-8"))
    return " ".join(
        " ".join("".join(cell["source"]).split())
        for cell in notebook["cells"]
        if cell["cell_type"] == kind
    )


def says(*phrases: str) -> None:
    """The notebook's prose still makes the claim (whitespace-insensitive)."""
    text = _cells("markdown")
    for phrase in phrases:
        assert " ".join(phrase.split()) in text, f"{NB07} no longer says: {phrase!r}"


def calls(*snippets: str) -> None:
    """The notebook's code still makes the call with these settings (whitespace-insensitive)."""
    text = _cells("code")
    for snippet in snippets:
        assert " ".join(snippet.split()) in text, f"{NB07} no longer runs: {snippet!r}"


SPACE = SearchSpace(
    max_layers=2,
    units=(8, 16, 32),
    activations=("relu", "tanh", "sigmoid"),
    dropout=(0.0,),
    learning_rate=(1e-3, 1e-2),
    l2=(0.0,),
    optimizers=("adam",),
    batch_size=(32,),
)


def test_the_notebook_uses_the_settings_of_these_tests():
    calls(
        "X, y = X_train[:800], y_train[:800]",
        'space = SearchSpace(max_layers=2, units=(8, 16, 32), activations=("relu", "tanh", '
        '"sigmoid"), dropout=(0.0,), learning_rate=(1e-3, 1e-2), l2=(0.0,), '
        'optimizers=("adam",), batch_size=(32,))',
        "evaluator = HoldoutEvaluator(X, y, validation_split=0.25, epochs=3, patience=3, seed=0)",
    )
    says(
        "one or two layers of 8, 16 or 32 units with relu, tanh or sigmoid, and a learning "
        "rate between $10^{-3}$ and $10^{-2}$ (Adam, batch 32, no dropout or L2). Each "
        "candidate trains for 3 epochs and is scored on a quarter of the 800 images"
    )


@pytest.fixture(scope="module")
def data():
    (X_train, y_train), (X_test, y_test) = datasets.load_digits(seed=0)
    X, y = X_train[:800], y_train[:800]
    evaluator = HoldoutEvaluator(X, y, validation_split=0.25, epochs=3, patience=3, seed=0)
    return X, y, (X_test, y_test), evaluator


# --- 1. the controller --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def controller_run(data):
    calls(
        "controller = ControllerSearch(space, evaluator, controller_steps=15, "
        "architectures_per_step=4, seed=0, learning_rate=0.05, progress=False)"
    )
    search = ControllerSearch(
        SPACE,
        data[3],
        controller_steps=15,
        architectures_per_step=4,
        seed=0,
        learning_rate=0.05,
        progress=False,
    )
    return search, search.run()


def test_the_controller_starts_uniform(controller_run):
    says(
        "At step 0 the controller knows nothing: every probability is within 0.02 of uniform "
        "(one half for the depth, one third for units and activations, one fifth for the "
        "learning rate)."
    )
    _, result = controller_run
    first = result.history[0]["probabilities"]
    assert len(first["depth"]) == 2 and len(first["learning_rate"]) == 5
    assert len(first["layers[0].units"]) == len(first["layers[0].activation"]) == 3
    for name, probabilities in first.items():
        assert np.max(np.abs(np.array(probabilities) - 1 / len(probabilities))) < 0.02, name


def test_the_controller_ends_sure_of_tanh_and_the_largest_learning_rate(controller_run):
    says(
        "By the last step it is almost sure of tanh in both layers, of 32 units in the second "
        "and of the largest learning rate, 0.01, each above 0.9; it still hesitates over the "
        "depth and the first layer's width."
    )
    search, result = controller_run
    assert len(result.history) == 15
    last = result.history[-1]["probabilities"]
    activations = list(SPACE.activations)
    for layer in (0, 1):
        assert last[f"layers[{layer}].activation"][activations.index("tanh")] > 0.9
    assert last["layers[1].units"][list(SPACE.units).index(32)] > 0.9
    choices = {d.name: d.choices for d in search.decisions}
    rates = dict(zip(choices["learning_rate"], last["learning_rate"]))
    assert max(rates) == pytest.approx(0.01) and rates[max(rates)] > 0.9
    assert max(last["depth"]) < 0.9 and max(last["layers[0].units"]) < 0.9


def test_repeated_samples_come_from_the_cache(controller_run):
    says(
        "As it grows sure it samples the same architectures again: the 60 samples hold only "
        "about half as many distinct networks, and the cache trains each of them once."
    )
    _, result = controller_run
    assert sum(len(row["rewards"]) for row in result.history) == 60
    distinct = len(result.evaluations)
    assert 20 <= distinct <= 40
    assert sum(row["trained"] for row in result.history) == distinct


def test_exercise_reinforce_gradient_is_graded_by_the_controller():
    calls('check("reinforce_gradient", [0.1 * (0.5 - 1), 0.1 * 0.3, 0.1 * 0.2])')
    assert nb_exercises.check("reinforce_gradient", [0.1 * (0.5 - 1), 0.1 * 0.3, 0.1 * 0.2])
    assert not nb_exercises.check("reinforce_gradient", [0.0, 0.0, 0.0])
    assert not nb_exercises.check("reinforce_gradient", [-0.5, 0.3, 0.2])  # without (R - b)


def test_a_controller_click_is_one_step_of_four_architectures(data):
    says(
        "Each click of **Step** samples 4 architectures, trains them (or finds them in the "
        "cache) and takes one Adam step on $L$."
    )
    calls(
        "ControllerStepperApp( ControllerSearch(space, evaluator, controller_steps=1, "
        "architectures_per_step=4, seed=0, learning_rate=0.05))"
    )
    search = ControllerSearch(
        SPACE, data[3], controller_steps=1, architectures_per_step=4, seed=0, learning_rate=0.05
    )
    model = ControllerStepperModel(search)
    before = [w.copy() for w in search.controller.weights]
    model.step()
    assert model.steps == 1 and len(model.history[0]["rewards"]) == 4
    assert search.optimizer.iterations == 1  # one Adam step
    assert any(not np.array_equal(a, b) for a, b in zip(before, search.controller.weights))


# --- 2. DARTS -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def darts_result(data):
    calls(
        "darts_result = DifferentiableSearch(space, X, y, epochs=15, seed=0, "
        "validation_split=0.25, evaluator_epochs=10).run()"
    )
    X, y = data[0], data[1]
    return DifferentiableSearch(
        SPACE, X, y, epochs=15, seed=0, validation_split=0.25, evaluator_epochs=10
    ).run()


def _alpha(result, layer: int, name: str) -> np.ndarray:
    operations = result.history[-1]["operations"][layer]
    index = operations.index(name)
    return np.array([row["alpha"][layer][index] for row in result.history])


def test_tanh_takes_over_layer_1_and_zero_falls_fast(darts_result):
    says(
        "In layer 1 tanh takes over: it holds more than 0.9 of the mixture from epoch 10 on. "
        "The zero operation falls below 0.05 within three epochs."
    )
    tanh = _alpha(darts_result, 0, "tanh")
    assert np.all(tanh[9:] > 0.9)  # epochs 10..15 (the plot counts epochs from 1)
    zero = _alpha(darts_result, 1, "zero")  # layer 1 has no zero: a genome needs a layer
    assert "zero" not in darts_result.history[-1]["operations"][0]
    assert np.all(zero[2:] < 0.05)


def test_layer_2_is_contested(darts_result):
    says(
        "Layer 2 is contested: relu leads from epoch 5 on but never holds two thirds of the "
        "mixture, and skip (drop the layer) gains again over the last five epochs."
    )
    operations = darts_result.history[-1]["operations"][1]
    weights = np.array([row["alpha"][1] for row in darts_result.history])
    leader = [operations[i] for i in weights.argmax(axis=1)]
    assert all(name == "relu" for name in leader[4:])
    assert leader[3] != "relu"
    assert _alpha(darts_result, 1, "relu").max() < 2 / 3
    skip = _alpha(darts_result, 1, "skip")
    assert skip[-1] > skip[-6] and np.all(np.diff(skip[-5:]) > 0)


def test_darts_derives_32_tanh_then_32_relu(darts_result):
    says(
        "Both layers take the widest choice, 32 units, and the derived architecture is "
        "32 tanh > 32 relu."
    )
    widths = darts_result.history[-1]["width"]
    assert all(int(np.argmax(w)) == len(SPACE.units) - 1 for w in widths)
    layers = darts_result.best_genome["layers"]
    assert [(layer["units"], layer["activation"]) for layer in layers] == [
        (32, "tanh"),
        (32, "relu"),
    ]
    says("the derived genome trains with Adam at $10^{-3}$.")
    assert darts_result.best_genome["learning_rate"] == pytest.approx(1e-3)
    assert darts_result.best_genome["optimizer"] == "adam"


def test_exercise_darts_derived_is_graded_by_derive():
    calls('check("darts_derived", "tanh")')
    assert nb_exercises.check("darts_derived", "tanh")
    assert not nb_exercises.check("darts_derived", "zero")
    assert not nb_exercises.check("darts_derived", "relu")


def test_a_darts_click_is_one_epoch_then_derive_and_retrain(data):
    says("Each click of **Step** trains the supernet one epoch, then derives and retrains.")
    calls(
        "DartsStepperApp( DifferentiableSearch(space, X, y, epochs=1, seed=0, "
        "validation_split=0.25, evaluator_epochs=10))"
    )
    search = DifferentiableSearch(
        SPACE, data[0], data[1], epochs=1, seed=0, validation_split=0.25, evaluator_epochs=10
    )
    model = DartsStepperModel(search)
    model.step()
    model.step()
    assert model.epochs == 2 and len(search.history) == 2
    record = model.result.evaluations[0]
    assert record.genome == search.history[-1]["genome"] and record.ok
    assert record.metrics["epochs"] == 10  # retrained from scratch for evaluator_epochs


# --- 3. Hyperband -------------------------------------------------------------------------------


def test_brackets_and_budget_of_r9_eta3():
    calls("for bracket in hyperband_brackets(9, 3):")
    says(
        "Bracket $s = 2$ starts 9 candidates at 1 epoch, promotes 3 to 3 epochs and 1 to 9; "
        "bracket $s = 0$ is plain random search: 3 candidates, 9 epochs each. Hyperband looks "
        "at 17 candidates with 69 epochs in all, where training 17 candidates for 9 epochs each "
        "would cost 153."
    )
    brackets = hyperband_brackets(9, 3)
    assert brackets[0] == {"s": 2, "rungs": [(9, 1), (3, 3), (1, 9)]}
    assert brackets[-1] == {"s": 0, "rungs": [(3, 9)]}
    starts = sum(bracket["rungs"][0][0] for bracket in brackets)
    budget = Hyperband(SPACE, HoldoutEvaluator(np.zeros((8, 2)), np.arange(8) % 2), 9).budget
    assert (starts, budget, starts * 9) == (17, 69, 153)


@pytest.fixture(scope="module")
def hyperband_result(data):
    calls(
        "hyperband_result = Hyperband(space, evaluator, max_epochs=9, reduction_factor=3, "
        "seed=0, progress=False).run()"
    )
    return Hyperband(SPACE, data[3], max_epochs=9, reduction_factor=3, seed=0, progress=False).run()


def test_the_winner_comes_from_the_most_aggressive_bracket(hyperband_result):
    says(
        "Here the winner of the whole run comes from the most aggressive bracket, and after "
        "one epoch it was already the best of its nine. None of the three candidates that "
        "bracket $s = 0$ trains for the full 9 epochs, without any competition, beats it."
    )
    result = hyperband_result
    assert result.history[-1]["total_epochs"] == 69 and len(result.evaluations) == 17
    brackets = bracket_bars(result.history)
    winner = f"t{result.best_record.index}"
    aggressive = brackets[0]
    assert aggressive["bracket"] == 2 and winner in aggressive["candidates"]
    first_rung = {trial: pairs[0][1] for trial, pairs in aggressive["candidates"].items()}
    assert len(first_rung) == 9 and min(first_rung, key=first_rung.get) == winner
    plain = brackets[-1]
    assert plain["bracket"] == 0 and len(plain["candidates"]) == 3
    assert all(pairs == [(9, pairs[0][1])] for pairs in plain["candidates"].values())
    assert min(pairs[0][1] for pairs in plain["candidates"].values()) > result.best_score


def test_a_hyperband_click_is_one_rung(data):
    says("Each click of **Step** trains one rung.")
    calls(
        "HyperbandStepperApp(Hyperband(space, evaluator, max_epochs=9, reduction_factor=3, seed=0))"
    )
    model = HyperbandStepperModel(
        Hyperband(SPACE, data[3], max_epochs=9, reduction_factor=3, seed=0)
    )
    model.step()
    row = model.search.state.history[-1]
    assert (row["bracket"], row["rung"], row["epochs"], len(row["trials"])) == (2, 0, 1, 9)
    assert len(row["promoted"]) == 3
    model.step()
    row = model.search.state.history[-1]
    assert (row["bracket"], row["rung"], row["epochs"], len(row["trials"])) == (2, 1, 3, 3)
    assert model.rungs_done == 2 and model.rungs_total == 6


def test_exercise_hyperband_epochs_is_graded_by_the_brackets():
    calls('check("hyperband_epochs", 9 * 1 + 3 * (3 - 1) + 1 * (9 - 3))')
    assert nb_exercises.check("hyperband_epochs", 9 * 1 + 3 * (3 - 1) + 1 * (9 - 3))
    assert not nb_exercises.check("hyperband_epochs", 9 * 1 + 3 * 3 + 1 * 9)  # restarted


# --- 4. the comparison --------------------------------------------------------------------------


@pytest.mark.slow
def test_every_strategy_stays_within_the_budget_and_hyperband_scores_the_most(data):
    says(
        "Hyperband's $B = 69$.",
        "(a population of 3 for two generations: 6 candidates, 54 epochs)",
        "Every strategy stays within $B = 69$ epochs (a cache hit trains nothing, so some spend "
        "less). With them Hyperband scores 17 distinct networks, the population strategies and "
        "the controller at most 7, and DARTS a single derived one.",
    )
    calls(
        "comparison = compare_at_epoch_budget(space, X, y, (X_test, y_test), max_epochs=9, "
        "reduction_factor=3, seeds=(0,), validation_split=0.25)"
    )
    X, y, test_data, _ = data
    comparison = compare_at_epoch_budget(
        SPACE, X, y, test_data, max_epochs=9, reduction_factor=3, seeds=(0,), validation_split=0.25
    )
    rows = {row["strategy"]: row for row in comparison.rows()}
    assert comparison.budget == 69 and len(rows) == 7
    assert all(row["epochs"] <= 69 for row in rows.values())
    assert rows["RandomSearch"]["epochs"] == 54 and rows["RandomSearch"]["candidates"] == 6
    assert any(row["epochs"] < 54 for row in rows.values())  # cache hits
    assert rows["Hyperband"]["candidates"] == 17
    assert rows["DifferentiableSearch"]["candidates"] == 1
    others = [
        row for name, row in rows.items() if name not in ("Hyperband", "DifferentiableSearch")
    ]
    assert all(row["candidates"] <= 7 for row in others)
    says("DARTS $B - R = 60$ supernet epochs plus the 9-epoch retraining of its genome")
    assert rows["DifferentiableSearch"]["epochs"] == 60 + 9
