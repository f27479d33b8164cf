"""Why momentum works, as Distill shows it: heavy-ball momentum on the kappa-valley.

``HeavyBallModel`` runs the library's ``SGD(momentum=beta)`` on the ill-conditioned quadratic
J = (theta_1^2 + kappa theta_2^2) / 2, whose eigendirections are the axes, and keeps the error
along each of them. The math (the convergence map over (alpha, beta), the optimal pair, the 2/L
limit, the plain-descent rates (1 - alpha lambda)^k) lives in ``nastoolkit.objectives``.
``MomentumApp`` draws the map with the learner's point and beta*, the path, and the error per
eigendirection against its predicted rate; Play animates the steps.
"""

from __future__ import annotations

import ipywidgets
import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from .. import _checks, objectives, optimizers
from ..viz.surfaces import plot_surface
from ._view import WidgetApp, figure_style, make_view

__all__ = ["HeavyBallModel", "MomentumApp"]


class HeavyBallModel:
    """Heavy-ball momentum (rate ``learning_rate`` = alpha, ``momentum`` = beta) on the valley.

    ``path`` holds the thetas from ``start`` (the valley's own start by default); ``step`` and
    ``run`` advance it with ``optimizers.SGD(momentum=beta)``; ``set_start`` restarts from a new
    point (a click on the plot). ``rate`` is the predicted worst per-step factor.

    Examples
    --------
    >>> model = HeavyBallModel(learning_rate=0.2, momentum=0.5)
    >>> model.run(3)
    >>> len(model.path), round(model.rate, 3)
    (4, 0.707)
    """

    def __init__(
        self,
        learning_rate: float = 0.2,
        momentum: float = 0.5,
        condition_number: float = 10.0,
        start=None,
    ):
        self.surface = objectives.IllConditionedQuadratic(condition_number)
        self.eigenvalues = np.array([1.0, float(condition_number)])
        self.learning_rate = _checks.positive("learning_rate", learning_rate)
        self.momentum = _checks.number_in("momentum", momentum, 0.0, 1.0, high_open=True)
        self.set_start(self.surface.start if start is None else start)

    def __repr__(self) -> str:
        return (
            f"HeavyBallModel(learning_rate={self.learning_rate:.3g}, "
            f"momentum={self.momentum:.3g}, steps={self.num_steps}, rate={self.rate:.3g})"
        )

    def set_start(self, start) -> None:
        """Restart from ``start`` (two finite numbers) with zero velocity."""
        start = np.array(start, dtype=np.float64)
        if start.shape != (2,) or not np.all(np.isfinite(start)):
            raise ValueError(
                f"start must be two finite numbers [theta_1, theta_2]. Received: start={start!r}"
            )
        self.start = start
        self.theta = start.copy()
        self.optimizer = optimizers.SGD(learning_rate=self.learning_rate, momentum=self.momentum)
        self.path = [self.theta.copy()]

    @property
    def num_steps(self) -> int:
        """Steps since the last start."""
        return len(self.path) - 1

    @property
    def rate(self) -> float:
        """max over eigenvalues of the heavy-ball spectral radius at (alpha, beta)."""
        return float(
            np.max(objectives.heavy_ball_rate(self.learning_rate, self.momentum, self.eigenvalues))
        )

    def step(self) -> None:
        """One update of ``SGD(momentum)``; a blown-up theta stops moving (no overflow)."""
        if not np.all(np.abs(self.theta) < 1e12):
            self.path.append(self.theta.copy())
            return
        gradient = self.surface.gradient(self.theta)
        self.optimizer.apply_gradients([(gradient, self.theta)])
        self.path.append(self.theta.copy())

    def run(self, num_steps: int) -> None:
        """``num_steps`` steps."""
        for _ in range(_checks.non_negative_int("num_steps", num_steps)):
            self.step()

    def errors(self) -> np.ndarray:
        """|theta_i - 0| along each eigendirection (the axes), shape (steps + 1, 2)."""
        return np.abs(np.array(self.path))

    def plain_descent_errors(self) -> np.ndarray:
        """What plain descent at the same alpha would give: |(1 - alpha lambda_i)^k x_i|."""
        return np.abs(
            objectives.gradient_descent_errors(
                self.learning_rate, self.eigenvalues, self.start, self.num_steps
            )
        )


def plot_momentum(model: HeavyBallModel, alphas=None, betas=None) -> Figure:
    """Three panels: the (alpha, beta) convergence map | the path | error per eigendirection."""
    L = float(model.eigenvalues.max())
    alphas = np.linspace(0.005, 2.0 * 2.0 / L, 160) if alphas is None else alphas
    betas = np.linspace(0.0, 0.99, 100) if betas is None else betas
    rates = objectives.heavy_ball_convergence_map(alphas, betas, model.eigenvalues)
    best_alpha, best_beta = objectives.optimal_heavy_ball(model.eigenvalues)
    figure = Figure(figsize=(9.5, 3.9), layout="constrained")
    map_ax, path_ax, error_ax = figure.subplots(1, 3, width_ratios=[1.0, 1.15, 1.0])
    image = map_ax.pcolormesh(
        alphas,
        betas,
        np.minimum(rates, 1.0),
        cmap="magma_r",
        norm=LogNorm(0.3, 1.0),
        shading="auto",
    )
    figure.colorbar(image, ax=map_ax, label="rate per step (≥ 1: diverges)", shrink=0.9)
    map_ax.contour(alphas, betas, rates, levels=[1.0], colors="w", linewidths=1.5)
    map_ax.axvline(
        objectives.largest_stable_rate(model.eigenvalues), color="w", linestyle=":", linewidth=1.5
    )
    map_ax.text(2.0 / L, 0.02, " 2/L", color="w", fontsize=11, va="bottom")
    map_ax.plot(
        best_alpha,
        best_beta,
        "*",
        color="gold",
        markersize=13,
        markeredgecolor="k",
        label=f"optimal β* = {best_beta:.2f}",
    )
    map_ax.plot(
        model.learning_rate,
        model.momentum,
        "o",
        color="deepskyblue",
        markeredgecolor="k",
        markersize=8,
        label="you",
    )
    map_ax.set_xlabel("learning rate α")
    map_ax.set_ylabel("momentum β")
    map_ax.set_title("where heavy-ball converges", fontsize=12)
    map_ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), fontsize=11, ncol=2)
    plot_surface(path_ax, model.surface)
    path = np.array(model.path)
    shown = path[np.all(np.abs(path) < 1e3, axis=1)]
    path_ax.plot(
        shown[:, 0],
        shown[:, 1],
        "-o",
        color="deepskyblue",
        markersize=3,
        markeredgecolor="k",
        linewidth=1.2,
    )
    path_ax.plot(*path[0], "s", color="white", markeredgecolor="k", markersize=8)
    path_ax.set_title(
        f"{model.num_steps} steps, α = {model.learning_rate:.3g}, β = {model.momentum:.2f}",
        fontsize=11,
    )
    steps = np.arange(path.shape[0])
    errors = model.errors()
    plain = model.plain_descent_errors()
    colors = ("tab:blue", "tab:red")
    for index, lam in enumerate(model.eigenvalues):
        error_ax.semilogy(
            steps,
            np.maximum(errors[:, index], 1e-16),
            color=colors[index],
            label=f"momentum, λ = {lam:g}",
        )
        error_ax.semilogy(
            steps,
            np.maximum(plain[:, index], 1e-16),
            color=colors[index],
            linestyle="--",
            linewidth=1,
            label=f"(1 − αλ)^k, λ = {lam:g}",
        )
    bound = np.max(np.abs(model.start)) * model.rate**steps
    error_ax.semilogy(
        steps,
        np.maximum(bound, 1e-16),
        color="k",
        linestyle=":",
        label=f"rate^k, rate = {model.rate:.2f}",
    )
    top = max(10.0 * float(np.max(np.abs(model.start))), 1.0)
    error_ax.set_ylim(1e-8, top)
    error_ax.set_xlabel("step k")
    error_ax.set_ylabel("|error| along eigendirection")
    error_ax.set_title("error per eigendirection", fontsize=12)
    error_ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), fontsize=11, ncol=2)
    return figure


class MomentumApp(WidgetApp):
    """α and β sliders, Step / Play / Reset, and the three panels of ``plot_momentum``.

    ``play`` is an ``ipywidgets.Play``: each frame it advances ``steps_per_frame`` steps (the
    test sets ``play.value`` as the browser would). With ipympl, a click on the map picks
    (alpha, beta) and a click on the contour plot picks the start point.

    Parameters
    ----------
    learning_rate : float, default 0.05
        alpha, the starting step size.
    momentum : float, default 0.9
        beta, the starting momentum.
    steps_per_frame : int, default 2
        Steps per frame of ``play``.
    max_frames : int, default 40
        Frames of ``play``.

    Examples
    --------
    >>> import contextlib, io
    >>> with contextlib.redirect_stdout(io.StringIO()):  # outside Jupyter figures print as text
    ...     app = MomentumApp(learning_rate=0.05, momentum=0.5)
    ...     app.momentum_slider.value = 0.8
    >>> app.model.momentum
    0.8
    """

    def __init__(
        self,
        learning_rate: float = 0.05,
        momentum: float = 0.9,
        steps_per_frame: int = 2,
        max_frames: int = 40,
    ):
        self.model = HeavyBallModel(learning_rate, momentum)
        self.model.run(steps_per_frame * max_frames // 2)
        self.steps_per_frame = steps_per_frame
        style = {"description_width": "110px"}
        self.learning_rate_slider = ipywidgets.FloatSlider(
            value=learning_rate,
            min=0.005,
            max=0.4,
            step=0.005,
            readout_format=".3f",
            description="learning rate α",
            continuous_update=False,
            style=style,
        )
        self.momentum_slider = ipywidgets.FloatSlider(
            value=momentum,
            min=0.0,
            max=0.99,
            step=0.01,
            description="momentum β",
            continuous_update=False,
            style=style,
        )
        self.play = ipywidgets.Play(
            value=0, min=0, max=max_frames, interval=250, description="Play"
        )
        self.step_button = ipywidgets.Button(
            description="Step", icon="step-forward", layout=ipywidgets.Layout(width="auto")
        )
        self.reset_button = ipywidgets.Button(
            description="Reset", icon="undo", layout=ipywidgets.Layout(width="auto")
        )
        self.view = make_view(clickable=True, figsize=(9.5, 3.9))
        if hasattr(self.view, "on_click"):
            self.view.on_click(self._on_plot_click)
        self.learning_rate_slider.observe(self._on_setting, names="value")
        self.momentum_slider.observe(self._on_setting, names="value")
        self.play.observe(self._on_play, names="value")
        self.step_button.on_click(lambda _: self._advance(1))
        self.reset_button.on_click(lambda _: self._on_setting(None))
        self.widget = ipywidgets.VBox(
            [
                ipywidgets.HBox([self.learning_rate_slider, self.momentum_slider]),
                ipywidgets.HBox([self.play, self.step_button, self.reset_button]),
                self.view.output,
            ]
        )
        self.redraw()

    def __repr__(self) -> str:
        return f"MomentumApp({self.model!r})"

    def _on_setting(self, _change) -> None:
        self.model = HeavyBallModel(
            self.learning_rate_slider.value, self.momentum_slider.value, start=self.model.start
        )
        self.play.value = 0
        self.redraw()

    def _on_plot_click(self, axes_index: int, x: float, y: float) -> None:
        if axes_index == 0:  # the (alpha, beta) map: the click picks the settings
            self.learning_rate_slider.value = float(
                np.clip(x, self.learning_rate_slider.min, self.learning_rate_slider.max)
            )
            self.momentum_slider.value = float(np.clip(y, 0.0, self.momentum_slider.max))
        elif axes_index == 1:  # the contour map (the colour bar comes last)
            self.model.set_start([x, y])
            self.play.value = 0
            self.redraw()

    def _on_play(self, change) -> None:
        frames = change["new"] - change["old"]
        if frames > 0:  # Play rewinding to 0 at the end is not a step back
            self._advance(frames * self.steps_per_frame)

    def _advance(self, num_steps: int) -> None:
        self.model.run(num_steps)
        self.redraw()

    def redraw(self) -> None:
        """Draw the current model."""
        with figure_style():
            figure = plot_momentum(self.model)
        self.view.show(figure)
