"""Strategies run unchanged on the table, and compare_strategies' regret is what it claims."""

import numpy as np
import pytest

from nastoolkit.nas import HoldoutEvaluator, NSGA2Search, RegularizedEvolution
from nastoolkit.nas.bench import NASBenchMLP, TabularEvaluator, compare_strategies, load_dataset
from nastoolkit.nas.bench.compare import run_once


@pytest.mark.parametrize("kind", [RegularizedEvolution, NSGA2Search])
def test_strategy_makes_the_same_choices_on_the_table_as_on_the_real_evaluator(tiny_table, kind):
    data = load_dataset("digits")
    holdout = HoldoutEvaluator(
        *data["train"], validation_data=data["val"], epochs=4, patience=2, seed=1
    )
    tabular = TabularEvaluator(tiny_table, epochs=4, patience=2, seed=1)
    results = [
        kind(
            tiny_table.space, evaluator, population_size=6, generations=3, seed=5, progress=False
        ).run()
        for evaluator in (holdout, tabular)
    ]
    real, table = ([(c.key, np.float32(c.score), c.params) for c in r.evaluations] for r in results)
    assert real == table
    assert results[0].best_genome == results[1].best_genome
    assert [h["best"] for h in results[0].history] == pytest.approx(
        [h["best"] for h in results[1].history], rel=1e-6
    )


def test_regret_is_never_negative_and_reaches_the_floor_when_the_space_is_covered(tiny_table):
    report = compare_strategies(
        tiny_table,
        ["random", "evolution", "controller", "hyperband", "asha"],
        repetitions=6,
        budget_seconds=1e6,
        epochs=4,
        population_size=6,
        generations=12,
    )
    for name in report.strategies:
        for curves, final in (
            (report.regret[name], report.final_regret[name]),
            (report.validation_regret[name], report.final_validation_regret[name]),
        ):
            assert (curves[~np.isnan(curves)] >= 0).all(), name
            # the incumbent only improves in validation error, so the curve ends at final_regret
            np.testing.assert_array_equal(curves[:, -1], final)
    covered = report.evaluations["random"] == len(tiny_table)
    assert covered.any()
    seeds = np.array([tiny_table.seeds[r % 2] for r in range(6)])
    floors = np.array([report.floor[seed] for seed in seeds])
    # test regret: the validation-best entry's test gap; validation regret: exactly 0
    np.testing.assert_array_equal(report.final_regret["random"][covered], floors[covered])
    np.testing.assert_array_equal(report.final_validation_regret["random"][covered], 0.0)


def test_validation_regret_is_zero_exactly_once_the_validation_best_entry_is_seen(tiny_table):
    evaluator = TabularEvaluator(tiny_table, epochs=4, patience=5, seed=0)
    errors = [evaluator.lookup(genome)["val_error"] for genome in tiny_table.genomes()]
    log, _ = run_once(tiny_table, "random", seed=0, budget_seconds=1e6, population_size=8)
    report = compare_strategies(
        tiny_table, ["random"], repetitions=1, budget_seconds=1e6, population_size=8, points=400
    )
    curve, costs = report.validation_regret["random"][0], report.costs
    found = log[np.flatnonzero(log[:, 2] == min(errors))[0], 0]  # cost when it was looked up
    seen = ~np.isnan(curve)
    assert (curve[seen & (costs >= found)] == 0).all()
    assert (curve[seen & (costs < found)] > 0).all()


def test_regret_reaches_zero_when_validation_and_test_agree(tiny_table):
    arrays = dict(tiny_table.arrays)
    arrays["test_error"] = arrays["val_error"].copy()
    bench = NASBenchMLP(tiny_table.metadata, arrays)
    log, _ = run_once(
        bench, "random", seed=0, budget_seconds=1e6, population_size=8, generations=20
    )
    report = compare_strategies(
        bench, ["random"], repetitions=3, budget_seconds=1e6, population_size=8, generations=20
    )
    assert len(log) == len(bench)
    assert set(report.floor.values()) == {0.0}
    np.testing.assert_array_equal(report.final_regret["random"], 0.0)


def test_a_small_budget_stops_the_run_and_the_cost_is_the_recorded_time(tiny_table):
    recorded = tiny_table.arrays["seconds"][:, :, 1, -1]  # run seed 3 -> table seed 1
    budget = 2.5 * float(recorded.mean())
    log, _ = run_once(
        tiny_table,
        "random",
        seed=3,
        budget_seconds=budget,
        population_size=4,
        generations=10,
        patience=None,
    )
    # the budget is checked before each look-up: the run stops at the first one past it
    assert len(log) < len(tiny_table)
    assert (log[:-1, 0] < budget).all() and log[-1, 0] >= budget
    increments = np.diff(log[:, 0], prepend=0.0)
    assert all(np.isclose(recorded, step, rtol=1e-9, atol=0).any() for step in increments)


def test_report_plot_draws_a_median_and_band_per_strategy(tiny_table):
    report = compare_strategies(
        tiny_table,
        ["random", "ga"],
        repetitions=3,
        budget_seconds=5,
        population_size=4,
        generations=4,
    )
    figure = report.plot()
    ax = figure.axes[0]
    assert [line.get_label() for line in ax.lines] == ["random", "ga"]
    assert len(ax.collections) == 2
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), report.median("random"))


def test_bad_arguments_are_clear_errors(tiny_table):
    with pytest.raises(ValueError, match="strategies must be names from"):
        compare_strategies(tiny_table, ["hill-climbing"])
    with pytest.raises(ValueError, match="budget_seconds must be a finite number > 0"):
        compare_strategies(tiny_table, ["random"], budget_seconds=0)
    with pytest.raises(TypeError, match="bench must be a NASBenchMLP"):
        compare_strategies("digits", ["random"])
    report = compare_strategies(tiny_table, ["random"], repetitions=1, budget_seconds=1)
    with pytest.raises(ValueError, match="regret must be 'test' or 'validation'"):
        report.plot(regret="train")


def test_best_model_of_a_search_on_the_table_trains_the_chosen_genome(tiny_table):
    evaluator = TabularEvaluator(tiny_table, epochs=2, patience=None, seed=0)
    result = RegularizedEvolution(
        tiny_table.space, evaluator, population_size=6, generations=1, seed=0, progress=False
    ).run()
    model = result.best_model(epochs=1)
    assert model.count_params() == tiny_table.query(result.best_genome).params
