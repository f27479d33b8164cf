"""Hyperband, ASHA and the controller run unchanged on the table: rungs are look-ups at the rung's
epoch, a promotion is charged only the epochs it adds, and the choices follow the formulas."""

import numpy as np
import pytest

from nastoolkit.nas import ControllerSearch, HoldoutEvaluator, Hyperband
from nastoolkit.nas.bench import TabularEvaluator, load_dataset
from nastoolkit.nas.bench.compare import run_once
from nastoolkit.nas.hyperband import hyperband_brackets

OPTIONS = {"max_epochs": 4, "reduction_factor": 2, "seed": 3, "progress": False}


def _val_error(bench, genome, epochs, seed):
    return bench.query(genome, epochs=epochs, seed=seed).val_error


def test_hyperband_rungs_are_lookups_and_promote_as_the_formulas_say(tiny_table):
    seed = 1
    result = Hyperband(tiny_table.space, TabularEvaluator(tiny_table, seed=seed), **OPTIONS).run()
    records = {f"t{c.index}": c for c in result.evaluations}
    expected = [
        (bracket["s"], rung, n_i, r_i)
        for bracket in hyperband_brackets(4, 2)
        for rung, (n_i, r_i) in enumerate(bracket["rungs"])
    ]
    assert [(row["bracket"], row["rung"], len(row["trials"]), row["epochs"]) for row in
            result.history] == expected  # fmt: skip
    for row, following in zip(result.history, [*result.history[1:], None]):
        looked_up = [
            _val_error(tiny_table, records[t].genome, row["epochs"], seed) for t in row["trials"]
        ]
        assert row["scores"] == looked_up  # each rung is the table at that rung's epoch
        # the best 1/eta by the table's numbers (ties by trial order), none at a bracket's top
        ranked = sorted(zip(looked_up, (records[t].index for t in row["trials"]), row["trials"]))
        top = [t for _, _, t in ranked[: len(row["trials"]) // 2]]
        assert row["promoted"] == (top if row["rung"] < row["bracket"] else [])
        if following is not None and following["rung"] > 0:
            assert following["trials"] == row["promoted"]


def test_a_promotion_is_charged_only_the_epochs_it_adds(tiny_table):
    log, searches = run_once(tiny_table, "hyperband", seed=2, budget_seconds=1e9, epochs=4)
    # with budget left, Hyperband starts over with a new seed, for as many passes as sample five
    # times the space's size in first rungs (R=4, eta=3: 3 + 2 trials a pass, 8 entries)
    assert [search.seed for search in searches] == [2 + k * 100_003 for k in range(8)]
    records = [r for search in searches for r in search.state.evaluations.values()]
    seed = tiny_table.seeds[2 % len(tiny_table.seeds)]
    # costs telescope: a trial promoted to epoch e cost what training it to e took, once
    reached = sum(tiny_table.query(r.genome, r.metrics["epochs"], seed).seconds for r in records)
    assert log[-1, 0] == pytest.approx(reached, rel=1e-9)
    restarted = sum(  # what re-training every rung from scratch would have been charged
        tiny_table.query(search.state.evaluations[t].genome, row["epochs"], seed).seconds
        for search in searches
        for row in search.state.history
        for t in row["trials"]
    )
    assert log[-1, 0] < restarted
    rows = [row for search in searches for row in search.state.history]
    assert len(log) == sum(len(row["trials"]) for row in rows)


def test_asha_on_the_table_scores_each_job_at_its_rung(tiny_table):
    log, searches = run_once(tiny_table, "asha", seed=0, budget_seconds=1e9, generations=1)
    (search,) = searches
    assert search.asynchronous
    seed = tiny_table.seeds[0]
    records = {f"t{c.index}": c for c in search.result().evaluations}
    for row in search.state.history:
        for trial, epochs, score in zip(row["trials"], row["epochs"], row["scores"]):
            assert score == _val_error(tiny_table, records[trial].genome, epochs, seed)
    # ASHA stops once it has trained the epochs synchronous Hyperband would
    assert search._spent <= search.budget
    reached = sum(
        tiny_table.query(r.genome, r.metrics["epochs"], seed).seconds for r in records.values()
    )
    assert log[-1, 0] == pytest.approx(reached, rel=1e-9)


def test_max_epochs_beyond_the_table_is_a_clear_error(tiny_table):
    evaluator = TabularEvaluator(tiny_table)
    with pytest.raises(ValueError, match="max_epochs must be at most the 4 epochs the table"):
        Hyperband(tiny_table.space, evaluator, max_epochs=5)
    Hyperband(tiny_table.space, evaluator, max_epochs=4)  # the table's epochs are fine


def test_hyperband_resumes_on_the_table(tiny_table, tmp_path):
    evaluator = TabularEvaluator(tiny_table, seed=1)
    reference = Hyperband(tiny_table.space, evaluator, **OPTIONS).run()
    path = tmp_path / "hb.json"
    search = Hyperband(tiny_table.space, evaluator, checkpoint=path, **OPTIONS)
    original, calls = search._segments.evaluate, []

    def evaluate(job):
        calls.append(job)
        if len(calls) > 7:
            raise KeyboardInterrupt
        return original(job)

    search._segments.evaluate = evaluate
    with pytest.raises(KeyboardInterrupt):
        search.run()
    resumed = Hyperband.resume(path, evaluator=evaluator, progress=False)
    assert type(resumed.space) is type(tiny_table.space)
    assert resumed.state.generation < len(reference.history) - 1
    assert resumed.run().to_dict() == reference.to_dict()


def test_controller_makes_the_same_choices_on_the_table_as_on_the_real_evaluator(tiny_table):
    data = load_dataset("digits")
    holdout = HoldoutEvaluator(
        *data["train"], validation_data=data["val"], epochs=4, patience=2, seed=1
    )
    tabular = TabularEvaluator(tiny_table, epochs=4, patience=2, seed=1)
    results = [
        ControllerSearch(
            tiny_table.space,
            evaluator,
            controller_steps=3,
            architectures_per_step=4,
            seed=5,
            progress=False,
        ).run()
        for evaluator in (holdout, tabular)
    ]
    real, table = ([(c.key, np.float32(c.score), c.params) for c in r.evaluations] for r in results)
    assert real == table
    rewards = [np.concatenate([row["rewards"] for row in r.history]) for r in results]
    np.testing.assert_allclose(rewards[0], rewards[1], rtol=1e-6)
