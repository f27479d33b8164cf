"""Optimizer race: each racer is the library optimizer on the surface; the leaderboard ranks them."""

import math

import numpy as np
import pytest

pytest.importorskip("ipywidgets")

from widget_helpers import click

from nastoolkit import objectives, optimizers
from nastoolkit.widgets.race import RACERS, OptimizerRace, OptimizerRaceApp


def test_each_racer_follows_its_optimizer_exactly():
    race = OptimizerRace("ill_conditioned_quadratic")
    race.run(5)
    surface = objectives.get("ill_conditioned_quadratic")
    theta = np.array(surface.start, dtype=float)
    reference = optimizers.Adam(learning_rate=RACERS["Adam"][1])
    for _ in range(5):
        reference.apply_gradients([(surface.gradient(theta), theta)])
    np.testing.assert_allclose(race.racers["Adam"].path[-1], theta)
    assert len(race.racers["SGD"].path) == 6


def test_leaderboard_ranks_by_steps_to_tolerance_then_loss():
    race = OptimizerRace("ill_conditioned_quadratic", tolerance=1e-3)
    race.run(200)
    board = race.leaderboard()
    reached = [row["steps_to_tolerance"] for row in board]
    assert all(steps is not None for steps in reached)
    assert reached == sorted(reached)
    for row in board:  # the recorded step is the first one under the tolerance
        losses = race.racers[row["name"]].losses
        first = next(i for i, loss in enumerate(losses) if loss < 1e-3)
        assert row["steps_to_tolerance"] == first


def test_too_large_rates_are_marked_diverged_and_ranked_last():
    race = OptimizerRace("rosenbrock", learning_rate_scale=1.0)
    race.run(300)
    board = race.leaderboard()
    diverged = [row["diverged"] for row in board]
    assert any(diverged) and diverged == sorted(diverged)
    assert all(
        math.isfinite(loss) or row["diverged"] for row in board for loss in [row["final_loss"]]
    )


def test_terms_expose_the_optimizer_state():
    race = OptimizerRace("quadratic")
    race.step()
    assert race.terms("SGD") == {}
    assert set(race.terms("Adam")) == {"m", "v"}
    assert set(race.terms("momentum")) == {"velocity"}
    gradient = objectives.get("quadratic").gradient(np.asarray(race.start))
    np.testing.assert_allclose(race.terms("Adam")["m"], 0.1 * gradient)


def test_app_controls_reset_and_redraw():
    app = OptimizerRaceApp("quadratic", steps_per_run=10)
    draws = app.view.draw_count
    app.run_button.click()
    assert app.model.num_steps == 10 and app.view.draw_count == draws + 1
    assert "Adam" in app.leaderboard.value and "m = [" in app.leaderboard.value
    app.learning_rate_scale_slider.value = 0.1
    assert app.model.num_steps == 0
    assert app.model.learning_rate("SGD") == pytest.approx(0.1 * RACERS["SGD"][1])
    labels = [line.get_label() for line in app.view.last_figure.axes[1].get_lines()]
    assert set(RACERS) <= set(labels)


def test_bad_arguments_name_themselves():
    with pytest.raises(ValueError, match="learning_rate_scale"):
        OptimizerRace("quadratic", learning_rate_scale=0)
    with pytest.raises(ValueError, match="racers"):
        OptimizerRace("quadratic", racers=("LBFGS",))


def test_escaped_racers_finish_and_rank_by_escape_step():
    race = OptimizerRace("saddle")
    race.run(60)
    board = race.leaderboard()
    assert all(row["status"] == "escaped" for row in board)
    steps = [row["steps"] for row in board]
    assert steps == sorted(steps)
    for row in board:  # an escaped racer stops where it left the plot
        assert len(race.racers[row["name"]].path) == row["steps"] + 1


def test_hyperparameters_reach_the_optimizers():
    race = OptimizerRace(
        "quadratic", hyperparameters={"momentum": 0.3, "rho": 0.5, "beta_1": 0.8, "beta_2": 0.99}
    )
    assert race.racers["momentum"].optimizer.momentum == pytest.approx(0.3)
    assert race.racers["RMSprop"].optimizer.rho == pytest.approx(0.5)
    assert race.racers["Adam"].optimizer.beta_1 == pytest.approx(0.8)
    with pytest.raises(ValueError, match="momentum"):
        OptimizerRace("quadratic", hyperparameters={"momentum": 1.5})
    with pytest.raises(ValueError, match="keys"):
        OptimizerRace("quadratic", hyperparameters={"mu": 0.5})


def test_app_sliders_and_play():
    app = OptimizerRaceApp("ill_conditioned_quadratic")
    app.hyperparameter_sliders["momentum"].value = 0.9
    assert app.model.hyperparameters["momentum"] == pytest.approx(0.9)
    app.play.value = 5
    assert app.model.num_steps == 5
    assert "converged" in app.leaderboard.value or "running" in app.leaderboard.value


def test_set_start_moves_every_racer_and_the_next_step_starts_there():
    race = OptimizerRace("ill_conditioned_quadratic")
    race.run(7)
    race.set_start([-1.5, 2.0])
    assert race.num_steps == 0
    race.step()
    surface = objectives.get("ill_conditioned_quadratic")
    for name, racer in race.racers.items():
        np.testing.assert_array_equal(racer.path[0], [-1.5, 2.0])
        theta = np.array([-1.5, 2.0])
        factory, base_rate = RACERS[name]
        factory(base_rate, race.hyperparameters).apply_gradients([(surface.gradient(theta), theta)])
        np.testing.assert_allclose(racer.path[1], theta)
    with pytest.raises(ValueError, match="start"):
        race.set_start([np.nan, 0.0])


def test_a_click_on_the_race_contour_restarts_every_racer_there_and_reruns():
    pytest.importorskip("ipympl")
    app = OptimizerRaceApp("ill_conditioned_quadratic", steps_per_run=30)
    app.run_button.click()
    click(app, (-2.0, 1.5))
    assert app.model.num_steps == 30  # the race was rerun from the new start, as far as before
    for racer in app.model.racers.values():
        np.testing.assert_allclose(racer.path[0], [-2.0, 1.5], atol=1e-9)
        assert len(racer.path) == 31 or racer.status in ("escaped", "diverged")
    paths = app.view.last_figure.axes[0].get_lines()
    assert any(np.allclose(line.get_xydata()[0], [-2.0, 1.5]) for line in paths)
    click(app, (5.0, 1.0), axes=1)  # loss panel: ignored
    np.testing.assert_allclose(app.model.start, [-2.0, 1.5], atol=1e-9)
    app.step_button.click()  # the next step continues from the clicked race
    assert app.model.num_steps == 31
    app.reset_button.click()
    assert app.model.num_steps == 0
    np.testing.assert_allclose(app.model.start, [-2.0, 1.5], atol=1e-9)
    app.play.value = 3  # Play advances the race from the clicked start
    assert app.model.num_steps == 3
    np.testing.assert_allclose(app.model.racers["SGD"].path[0], [-2.0, 1.5], atol=1e-9)


def test_click_clips_to_the_plot_and_sliders_keep_the_start_until_the_surface_changes():
    app = OptimizerRaceApp("quadratic")
    app.click(100.0, -100.0)
    (_, x_max), (y_min, _) = app.model.objective.bounds
    np.testing.assert_allclose(app.model.start, [x_max, y_min])
    app.click(1.0, -1.0)
    app.learning_rate_scale_slider.value = 0.5
    np.testing.assert_allclose(app.model.start, [1.0, -1.0])
    app.hyperparameter_sliders["rho"].value = 0.5
    np.testing.assert_allclose(app.model.racers["RMSprop"].path[0], [1.0, -1.0])
    app.surface_dropdown.value = "saddle"
    np.testing.assert_allclose(app.model.start, objectives.get("saddle").start)
