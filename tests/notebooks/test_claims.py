"""Every claim a tutorial makes about what the learner will see, asserted against the library.

Each test quotes the notebook's sentence (``says``: the test fails if the text changes, so text
and test move together) and then makes the same library call with the notebook's own settings.
Notebook 05 (NAS) is not covered here yet.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from notebook_helpers import NOTEBOOK_DIR

pytest.importorskip("ipywidgets")

from nastoolkit import datasets, kernels, objectives, optimizers
from nastoolkit.widgets.descent import GradientDescent, GradientDescentApp, model_slice
from nastoolkit.widgets.dropout import DropoutModel
from nastoolkit.widgets.race import OptimizerRace, OptimizerRaceApp
from nastoolkit.widgets.regularization import (
    ConstraintRegionModel,
    PolynomialRegularizationModel,
    RegularizationPathModel,
)
from nastoolkit.widgets.schedules import ScheduleExplorer


def _text(name: str) -> str:
    notebook = json.loads((NOTEBOOK_DIR / name).read_text(encoding="utf-8"))
    return " ".join(" ".join("".join(cell["source"]).split()) for cell in notebook["cells"])


def says(name: str, *phrases: str) -> None:
    """The notebook still makes the claim this test checks (whitespace-insensitive)."""
    text = _text(name)
    for phrase in phrases:
        assert " ".join(phrase.split()) in text, f"{name} no longer says: {phrase!r}"


NB01, NB02 = "01_quickstart.ipynb", "02_gradient_descent.ipynb"
NB03, NB04 = "03_optimizers_and_schedules.ipynb", "04_l1_l2_and_dropout.ipynb"
NB06 = "06_kernels_as_a_library.ipynb"


def _steps_to(model: GradientDescent, tolerance: float = 1e-3, limit: int = 500):
    while model.losses[-1] >= tolerance and model.num_steps < limit:
        if not model.step():
            return None
    return model.num_steps if model.losses[-1] < tolerance else None


# --- 01 quickstart ------------------------------------------------------------------------------


def test_01_validation_below_training_because_training_loss_has_dropout_on():
    says(
        NB01,
        "the validation curve sits under the training curve for all 30 epochs",
        "Measure the training data the way validation is measured, with `evaluate` (dropout "
        "off), and the order flips back",
    )
    from nastoolkit.layers import Dense, Dropout
    from nastoolkit.losses import MeanSquaredError
    from nastoolkit.models import Sequential

    (X_train, y_train), (X_val, y_val) = datasets.load_synthetic_regression(n_samples=2000, seed=0)
    model = Sequential(
        [
            Dense(64, activation="relu", input_shape=(10,)),
            Dropout(0.5),
            Dense(32, activation="relu"),
            Dense(1, activation="linear"),
        ],
        seed=0,
    )
    model.compile(optimizer=optimizers.Adam(learning_rate=0.001), loss=MeanSquaredError())
    history = model.fit(
        X_train,
        y_train,
        epochs=30,
        batch_size=32,
        validation_data=(X_val, y_val),
        verbose=0,
        seed=0,
    ).history
    assert np.all(np.asarray(history["val_loss"]) < np.asarray(history["loss"]))
    train_inference = model.evaluate(X_train, y_train, verbose=0)
    assert train_inference < history["val_loss"][-1] < history["loss"][-1]


# --- 02 gradient descent ------------------------------------------------------------------------


def test_02_first_step_by_hand():
    says(NB02, r"$$\theta \leftarrow (2, 1) - 0.05\,(2, 10) = (1.9, 0.5).$$")
    surface = objectives.get("ill_conditioned_quadratic")
    theta = np.array([2.0, 1.0])
    optimizers.SGD(learning_rate=0.05).apply_gradients([(surface.gradient(theta), theta)])
    np.testing.assert_allclose(theta, [1.9, 0.5])


def test_02_default_rate_zigzags_and_two_over_L_is_the_limit():
    says(NB02, "At the default $\\alpha = 0.17$ the path zig-zags", "here $\\alpha < 0.2$")
    app = GradientDescentApp("ill_conditioned_quadratic")
    assert app.model.learning_rate == pytest.approx(0.17)
    app.run_button.click()
    path = np.array(app.model.path)
    np.testing.assert_allclose(path[1:, 1] / path[:-1, 1], -0.7)
    np.testing.assert_allclose(path[1:, 0] / path[:-1, 0], 0.83)
    assert objectives.largest_stable_rate([1.0, 10.0]) == pytest.approx(0.2)
    assert _steps_to(GradientDescent("ill_conditioned_quadratic", 0.19)) is not None
    below = GradientDescent("ill_conditioned_quadratic", 0.21)
    below.run(500)
    assert below.status == "diverged"


def test_02_rate_025_diverges_after_six_steps():
    says(NB02, "after 6 steps the run stops with a divergence message")
    model = GradientDescent("ill_conditioned_quadratic", 0.25)
    model.run(25)  # one Run
    assert model.status == "diverged" and model.num_steps == 6 and "too large" in model.message


def test_02_rate_01_has_no_zigzag_but_is_slower():
    says(NB02, "the loss needs 44 steps to fall below $10^{-3}$, against 25 at $\\alpha = 0.17$")
    model = GradientDescent("ill_conditioned_quadratic", 0.1)
    model.step()
    assert model.path[1][1] == pytest.approx(0.0, abs=1e-15)
    assert _steps_to(GradientDescent("ill_conditioned_quadratic", 0.1)) == 44
    assert _steps_to(GradientDescent("ill_conditioned_quadratic", 0.17)) == 25


def test_02_rosenbrock_reaches_the_floor_then_crawls():
    says(NB02, "the loss is still above 2 after 200 steps")
    model = GradientDescent("rosenbrock", 0.002)
    model.run(10)
    x, y = model.path[-1]
    assert 100 * (y - x * x) ** 2 < 1.0  # on the valley floor (it started at 19.4)
    model.run(190)
    assert model.status == "running" and model.losses[-1] > 2.0


def test_02_saddle_slows_then_escapes():
    says(NB02, "its size falls from 5 to below 0.4", "the verdict says **escaped**")
    model = GradientDescent("saddle", 0.05)
    model.run(200)
    assert model.status == "escaped" and model.message.startswith("Escaped")
    norms = [np.linalg.norm(model.objective.gradient(point)) for point in model.path]
    assert norms[0] == pytest.approx(5.0, rel=1e-3) and min(norms) < 0.4


def test_02_model_slice_is_not_convex_and_two_over_L_bounds_the_rate():
    says(
        NB02,
        "the path stops on a plateau far from the star, at a loss about six times higher",
        "its curvature is negative in most of the box",
    )
    surface = model_slice()
    X, Y, _ = surface.grid(21)
    negative = [
        np.linalg.eigvalsh(objectives.hessian(surface, [X[i, j], Y[i, j]])).min() < 0
        for i in range(0, 21, 2)
        for j in range(0, 21, 2)
    ]
    assert np.mean(negative) > 0.5
    stalled = GradientDescent(surface, 0.3, start=[-2.5, -3.0])
    stalled.run(400)
    star_loss = float(surface.value(surface.trained))
    assert 4 * star_loss < stalled.losses[-1] < 8 * star_loss
    assert np.linalg.norm(stalled.path[-1] - surface.trained) > 1.0
    rate = objectives.largest_stable_rate(
        np.linalg.eigvalsh(objectives.hessian(surface, surface.trained))
    )
    assert 0.4 < rate < 0.55
    inside, outside = GradientDescent(surface, 0.9 * rate), GradientDescent(surface, 1.1 * rate)
    inside.run(600)
    outside.run(600)
    assert inside.status == "converged"
    assert outside.status == "running" and np.linalg.norm(outside.gradient) > 0.1


def test_02_large_rates_on_the_slice_get_a_message():
    says(NB02, "Rates of 2 or 3 send the path off the plot (the status line says when)")
    for rate, steps in ((3.0, 25), (2.0, 100)):
        model = GradientDescent(model_slice(), rate)
        model.run(steps)
        assert "left the plot at step" in model.message


def test_02_pictures_one_verdict_equal_axes_symlog_and_a_visible_start():
    says(NB02, "Both axes of the map have the same scale", "linear between −1 and 1")
    app = GradientDescentApp("saddle")
    loss_ax = app.view.last_figure.axes[1]
    assert len(loss_ax.get_lines()[0].get_xdata()) == 1  # step 0: one visible marker
    assert loss_ax.get_lines()[0].get_marker() == "o"
    for _ in range(3):  # three Runs of 25: the path escapes at step 60, the loss turns negative
        app.run_button.click()
    assert app.model.status == "escaped"
    figure = app.view.last_figure
    assert figure.axes[0].get_aspect() == 1.0
    assert figure._suptitle is None  # the verdict is in the status line only
    assert (
        figure.axes[1].get_yscale() == "symlog"
        and "linear in [-1, 1]" in figure.axes[1].get_ylabel()
    )


# --- 03 optimizers ------------------------------------------------------------------------------


def test_03_momentum_beats_sgd_on_the_default_race():
    says(
        NB03,
        "Nesterov and momentum converge first (14 and 15 steps), plain SGD needs 29",
        "RMSprop and Adam converge later (61 and 65 steps)",
    )
    race = OptimizerRace("ill_conditioned_quadratic")
    race.run(100)
    steps = {row["name"]: row["steps"] for row in race.leaderboard()}
    assert [row["name"] for row in race.leaderboard()][:3] == ["Nesterov", "momentum", "SGD"]
    assert (steps["Nesterov"], steps["momentum"], steps["SGD"]) == (14, 15, 29)
    assert (steps["RMSprop"], steps["Adam"]) == (61, 65)
    assert all(row["status"] == "converged" for row in race.leaderboard())


def test_03_a_click_restarts_every_racer_there_and_reruns_the_race():
    says(
        NB03,
        "**Click** anywhere on the contour plot to move the common start (the white square) there: "
        "every optimizer restarts from that point and the race is rerun for as many steps as were "
        "shown.",
    )
    race = OptimizerRaceApp("ill_conditioned_quadratic", steps_per_run=100)  # the notebook's cell
    race.run_button.click()
    race.click(-2.5, -1.0)
    assert race.model.num_steps == 100
    starts = {tuple(racer.path[0]) for racer in race.model.racers.values()}
    assert starts == {(-2.5, -1.0)}
    square = next(
        line for line in race.view.last_figure.axes[0].get_lines() if line.get_marker() == "s"
    )
    np.testing.assert_allclose(square.get_xydata()[0], [-2.5, -1.0])
    fresh = OptimizerRace("ill_conditioned_quadratic", start=[-2.5, -1.0])
    fresh.run(100)
    for name, racer in race.model.racers.items():
        np.testing.assert_array_equal(racer.path[-1], fresh.racers[name].path[-1])


def test_03_momentum_factor_and_keras_default_is_slower_here():
    says(
        NB03,
        "shrink by about $\\sqrt{\\mu} \\approx 0.71$ per step",
        "$\\sqrt{0.9} \\approx 0.95$: slower than SGD here",
    )
    assert objectives.heavy_ball_rate(0.2, 0.5, np.array([1.0, 10.0])).max() == pytest.approx(
        np.sqrt(0.5)
    )
    slow = OptimizerRace("ill_conditioned_quadratic", hyperparameters={"momentum": 0.9})
    slow.run(100)
    rows = {row["name"]: row["steps"] for row in slow.leaderboard()}
    assert rows["momentum"] > rows["SGD"]


def test_03_adaptive_methods_hover_at_a_constant_rate():
    says(NB03, "RMSprop's falls below $10^{-19}$, then climbs back to about $10^{-2}$")
    race = OptimizerRace("ill_conditioned_quadratic")
    race.run(100)
    rmsprop = np.asarray(race.racers["RMSprop"].losses)
    assert rmsprop.min() < 1e-19 and 3e-3 < rmsprop[-1] < 3e-2
    adam = np.asarray(race.racers["Adam"].losses)
    assert adam[-1] > 2 * adam.min()


def test_03_banana_valley_divergences_and_the_rate_that_fixes_them():
    says(
        NB03,
        "make SGD, momentum and Nesterov diverge within two steps",
        "At **lr × scale** 0.05 the first three still diverge; at 0.01 all six keep going",
    )
    plain = {"SGD", "momentum", "Nesterov"}
    for scale, expected in ((1.0, plain), (0.05, plain), (0.01, set())):
        race = OptimizerRace("rosenbrock", learning_rate_scale=scale)
        race.run(100)
        diverged = {name for name, racer in race.racers.items() if racer.diverged}
        assert diverged == expected, scale
        if scale == 1.0:
            assert all(race.racers[name].stopped_at <= 2 for name in plain)


def test_03_saddle_everyone_escapes_adaptive_first():
    says(
        NB03,
        "all six escape, the adaptive ones first: Adagrad after 5 steps, Adam after 11, "
        "plain SGD last (22)",
    )
    race = OptimizerRace("saddle")
    race.run(100)
    board = race.leaderboard()
    assert all(row["status"] == "escaped" for row in board)
    steps = {row["name"]: row["steps"] for row in board}
    assert (steps["Adagrad"], steps["Adam"], steps["SGD"]) == (5, 11, 22)
    assert board[0]["name"] == "Adagrad" and board[-1]["name"] == "SGD"


def test_03_loss_axis_clips_after_a_divergence():
    says(NB03, "the loss axis stops a decade above the starting loss (a note says so)")
    app = OptimizerRaceApp("rosenbrock", steps_per_run=50)
    app.run_button.click()
    loss_ax = app.view.last_figure.axes[1]
    start_gap = max(racer.losses[0] for racer in app.model.racers.values()) - app.model.floor
    assert loss_ax.get_ylim()[1] == pytest.approx(10 * start_gap)
    assert any("clipped" in text.get_text() for text in loss_ax.texts)


def test_03_optimal_heavy_ball_numbers():
    says(
        NB03,
        "with rate $\\sqrt{\\beta^*} \\approx 0.52$ for $\\kappa = 10$, against $0.82$ "
        "for plain descent",
    )
    alpha, beta = objectives.optimal_heavy_ball([1.0, 10.0])
    assert np.sqrt(beta) == pytest.approx(0.52, abs=0.005)
    assert objectives.heavy_ball_rate(alpha, beta, np.array([1.0, 10.0])).max() == pytest.approx(
        np.sqrt(beta), rel=1e-6
    )
    best_plain = np.abs(1 - 2 / 11 * np.array([1.0, 10.0])).max()
    assert best_plain == pytest.approx(0.82, abs=0.005)


def test_03_schedules_claims():
    says(
        NB03,
        "with exact gradients the constant rate ends lowest",
        "it ends near $6 \\cdot 10^{-8}$ while the constant rate goes on to $10^{-56}$",
        "the same fast decay still ends more than ten times lower than the constant rate",
    )
    exact = ScheduleExplorer(0.3, 200, 0.05, noise=0.0).final_losses()
    assert min(exact, key=exact.get) == "constant"
    fast = ScheduleExplorer(0.3, 200, 0.001, noise=0.0).final_losses()
    assert 3e-8 < fast["exponential"] < 1e-7 and fast["constant"] < 1e-55
    noisy = ScheduleExplorer(0.3, 200, 0.001, noise=1.0).final_losses()
    assert noisy["exponential"] < noisy["constant"] / 10


# --- 04 regularization --------------------------------------------------------------------------


def test_04_polynomial_overfits_then_underfits():
    says(
        NB04,
        "the training error is almost 0 (about $5\\cdot10^{-4}$) but the validation "
        "error is huge (above 6)",
        "near $3\\cdot10^{-4}$",
        "its validation error is lowest at the smallest λ",
    )
    model = PolynomialRegularizationModel(degree=9, num_train=10, seed=0)
    assert model.train_error < 1e-3 and model.val_error > 6
    assert np.abs(model.theta[1:]).max() > 100
    best = int(np.argmin(model.val_errors))
    assert 1e-4 < model.lambdas[best] < 1e-3
    model.set_log_lambda(np.log10(model.lambdas[best]))
    assert np.abs(model.theta[1:]).max() < 10
    best_train, best_val = model.train_error, model.val_error
    model.set_log_lambda(2.0)
    assert model.train_error > best_train and model.val_error > best_val
    cubic = PolynomialRegularizationModel(degree=3, num_train=10, seed=0)
    assert int(np.argmin(cubic.val_errors)) == 0


def test_04_l1_selects_features_l2_never_zeroes():
    says(NB04, "at λ ≈ 13 only the three useful weights are left", "None is, at any λ")
    model = RegularizationPathModel(seed=0)
    useful = model.theta_true != 0
    first = next(k for k, row in enumerate(model.l1_path) if np.all(row[~useful] == 0))
    assert 10 < model.lambdas[first] < 16
    assert np.all(model.l1_path[first][useful] != 0)
    assert not np.any(model.l2_path == 0)


def test_04_diamond_corner_and_the_largest_lambda():
    says(
        NB04, "L1 sits at the origin, both weights exactly 0; L2 has shrunk both, but neither is 0."
    )
    model = ConstraintRegionModel(seed=0)
    corner = False
    for log_lambda in np.linspace(*model.log_lambda_range, 30):
        model.set_log_lambda(log_lambda)
        corner |= bool(model.theta_l1[1] == 0 and np.all(model.theta_l2 != 0))
    assert corner
    model.set_log_lambda(model.log_lambda_range[1])
    assert np.all(model.theta_l1 == 0) and np.all(model.theta_l2 != 0)


def test_04_dropout_mean_inside_its_sampling_band():
    says(
        NB04,
        "about 16, never exactly the same units",
        "the inference output lies inside it",
        "Raise the rate to 0.9: the outputs spread out widely",
    )
    model = DropoutModel(rate=0.5, units=32, seed=0)
    dropped = [int(np.count_nonzero(model.mask_at(step) == 0)) for step in range(50)]
    assert 14 <= np.mean(dropped) <= 18
    low, high = model.mean_band()
    assert low < model.inference_output < high
    assert abs(np.mean(model.train_outputs()) - model.inference_output) > 1e-3  # not equal
    wide = DropoutModel(rate=0.9, units=32, seed=0)
    assert np.std(wide.train_outputs()) > 2 * np.std(model.train_outputs())


def test_04_two_moons_plain_and_weak_l2_overfit_dropout_lowest():
    says(
        NB04,
        "(200 full-batch epochs of Adam at rate 0.002 each)",
        "moons = TwoMoonsApp(l2=1e-3, dropout_rate=0.5, units=128, learning_rate=0.002)",
        "its validation loss turns upward after about 80 epochs",
        "The L2 network at `1e-3` overfits too (its validation loss also turns up, after about "
        "90 epochs)",
        "its validation loss now stays flat",
        "Dropout 0.5 ends with the lowest validation loss of the three defaults",
    )
    from nastoolkit.widgets.moons import TwoMoonsModel

    moons = TwoMoonsModel(l2=1e-3, dropout_rate=0.5, units=128, learning_rate=0.002).fit()
    assert moons.num_epochs == 200 and len(moons.histories["plain"]["loss"]) == 200
    val = {name: np.asarray(history["val_loss"]) for name, history in moons.histories.items()}
    assert 70 <= val["plain"].argmin() <= 90 and val["plain"][-1] > 2 * val["plain"].min()
    assert 80 <= val["L2"].argmin() <= 100 and val["L2"][-1] > 1.3 * val["L2"].min()
    assert val["plain"].argmin() < val["L2"].argmin()
    assert min(val, key=lambda name: val[name][-1]) == "dropout"
    strong = TwoMoonsModel(l2=1e-2).fit()
    l2_val = np.asarray(strong.histories["L2"]["val_loss"])
    assert l2_val[-1] < 1.05 * l2_val.min()
    for probabilities in moons.probabilities.values():
        assert probabilities.shape == (moons.grid_y.size, moons.grid_x.size)


# --- 06 kernels ---------------------------------------------------------------------------------


def test_06_dropout_keeps_the_mean_of_non_negative_activations():
    says(
        NB06,
        "`X` above is centred on 0",
        "Dropout zeroes half of them, doubles the rest, and the mean stays put",
    )
    rng = np.random.default_rng(0)
    X = rng.standard_normal((256, 64)).astype(np.float32)
    W = rng.standard_normal((64, 32)).astype(np.float32) * 0.1
    b = rng.standard_normal(32).astype(np.float32)
    y = kernels.dense_forward(X, W, b, activation="relu")
    assert abs(X.mean()) < 0.02 and y.mean() > 0.3
    out, mask = kernels.dropout(y, rate=0.5, seed=42, counter=0)
    assert 0.47 < np.mean(mask > 0) < 0.53
    assert abs(out.mean() - y.mean()) < 0.05 * y.mean()
    assert set(np.unique(mask)) <= {0.0, 2.0}
