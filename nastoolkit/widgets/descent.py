"""Gradient descent, one step at a time, on a 2-D surface: theta <- theta - lr * grad J(theta).

``GradientDescent`` is the state and the update (no widgets: tests drive it directly); it steps the
library's own ``optimizers.SGD`` through ``apply_gradients``, so what the learner watches is the
code a model trains with. ``GradientDescentApp`` is the view: a contour plot with the path and the
gradient arrow, the loss on a log scale, a log-scale learning-rate slider, start-point sliders and
Step / Run / Reset buttons. A rate that is too large stops the run with a message, never a crash.
``ModelSlice`` turns two weights of a small real model into such a surface.
"""

from __future__ import annotations

import ipywidgets
import numpy as np

from .. import objectives, optimizers
from ..viz.surfaces import plot_descent
from ._view import WidgetApp, figure_style, make_view

__all__ = [
    "SURFACES",
    "GradientDescent",
    "GradientDescentApp",
    "ModelSlice",
    "model_slice",
    "stop_reason",
]

# Beyond this |loss| (or a non-finite value) a run is called diverged: float64 would soon overflow
# and the plot could show nothing useful anyway.
DIVERGENCE_LOSS = 1e10
# A path more than this many box widths outside the plotted box has diverged (on a surface with a
# minimum); on a surface without one, leaving the box downhill at all is an escape.
ESCAPE_FACTOR = 3.0
# Below this gradient norm the path has (numerically) stopped moving.
CONVERGED_GRADIENT = 1e-8


class GradientDescent:
    """Plain gradient descent on ``objective`` from ``start`` with a fixed ``learning_rate``.

    State: ``path`` (list of (2,) thetas, the start first), ``losses`` (J at each), ``status``
    ("ready", "running", "converged", "diverged" or "escaped") and ``message`` (one line for the
    learner). ``step`` does nothing once the run has stopped; ``reset`` starts again.

    Parameters
    ----------
    objective : str or Objective, default "ill_conditioned_quadratic"
        The surface (a name of ``nastoolkit.objectives`` or an objective object).
    learning_rate : float, default 0.1
        The fixed step size.
    start : array_like, optional
        theta at step 0, shape ``(2,)``; the surface's own start by default.

    Examples
    --------
    >>> run = GradientDescent(learning_rate=0.1)
    >>> run.status, len(run.path)
    ('ready', 1)
    >>> run.step()
    True
    >>> run.status, len(run.path), run.losses[0] > run.losses[1]
    ('running', 2, True)
    """

    def __init__(
        self, objective="ill_conditioned_quadratic", learning_rate: float = 0.1, start=None
    ):
        self.objective = _objective(objective)
        self.learning_rate = _check_learning_rate(learning_rate)
        self.reset(start)

    def __repr__(self) -> str:
        return (
            f"GradientDescent(objective={getattr(self.objective, 'name', '?')!r}, "
            f"learning_rate={self.learning_rate:.3g}, steps={self.num_steps}, "
            f"status={self.status!r})"
        )

    def reset(self, start=None, learning_rate: float | None = None) -> None:
        """Back to the start (``start``, else the last one, else the surface's) with fresh state."""
        if learning_rate is not None:
            self.learning_rate = _check_learning_rate(learning_rate)
        if start is not None:
            self.start = _check_start(start)
        elif not hasattr(self, "start"):
            self.start = np.array(self.objective.start, dtype=np.float64)
        self.theta = self.start.copy()  # the array the optimizer updates in place
        self.optimizer = optimizers.SGD(learning_rate=self.learning_rate)
        self.path = [self.theta.copy()]
        self.losses = [float(self.objective.value(self.theta))]
        self.gradient = np.asarray(self.objective.gradient(self.theta), dtype=np.float64)
        self.status = "ready"
        self.message = ""
        self.left_plot_at: int | None = None  # first step outside the plotted box, if any

    def set_start(self, point) -> None:
        """Start again from ``point`` (e.g. where the learner clicked), same rate."""
        self.reset(start=point)

    @property
    def num_steps(self) -> int:
        """Steps taken since the last reset."""
        return len(self.path) - 1

    @property
    def stopped(self) -> bool:
        """True once the run converged, diverged or escaped: further steps do nothing."""
        return self.status in ("converged", "diverged", "escaped")

    def step(self) -> bool:
        """One update theta <- theta - lr grad J(theta); False (and no step) once stopped."""
        if self.stopped:
            return False
        with np.errstate(over="ignore", invalid="ignore"):
            self.optimizer.apply_gradients([(self.gradient.copy(), self.theta)])
            loss = float(self.objective.value(self.theta))
            self.gradient = np.asarray(self.objective.gradient(self.theta), dtype=np.float64)
        self.path.append(self.theta.copy())
        self.losses.append(loss)
        self.status = "running"
        self._check_stop(loss)
        return True

    def run(self, num_steps: int) -> int:
        """Up to ``num_steps`` steps, fewer if the run stops; returns how many were taken."""
        taken = 0
        while taken < num_steps and self.step():
            taken += 1
        return taken

    def _check_stop(self, loss: float) -> None:
        lr = self.learning_rate
        verdict = stop_reason(self.objective, self.theta, loss, self.losses[0])
        if verdict == "escaped":
            self.status = "escaped"
            self.message = (
                f"Escaped after {self.num_steps} steps: theta left the plotted "
                f"region going downhill (J = {loss:.3g}); this surface has no "
                "minimum in that direction."
            )
        elif verdict == "diverged":
            self.status = "diverged"
            self.message = (
                f"Diverged after {self.num_steps} steps: the loss grew from "
                f"{self.losses[0]:.3g} to {loss:.3g}. lr = {lr:.3g} is too large "
                "for this surface: lower it and press Reset."
            )
        elif np.linalg.norm(self.gradient) < CONVERGED_GRADIENT:
            self.status = "converged"
            self.message = f"Converged after {self.num_steps} steps: the gradient is ~0."
        else:
            self._note_left_plot(loss)

    def _note_left_plot(self, loss: float) -> None:
        # Not a verdict: a bounded loss (a tanh model) can wander far without blowing up. But the
        # learner must be told why the path left the picture, and it stays said once it happened.
        outside = _outside(self.theta, self.objective.bounds, pad=0.0)
        if outside and self.left_plot_at is None:
            self.left_plot_at = self.num_steps
        if self.left_plot_at is None:
            self.message = ""
            return
        where = (
            f"theta = [{self.theta[0]:.3g}, {self.theta[1]:.3g}] is off the plot"
            if outside
            else "it is back on the plot now"
        )
        self.message = (
            f"The path left the plot at step {self.left_plot_at} ({where}, "
            f"J = {loss:.3g}): steps of lr = {self.learning_rate:.3g} overshoot, "
            "so this run does not converge to the star. Lower the rate."
        )


def stop_reason(objective, theta, loss: float, start_loss: float) -> str | None:
    """Why a run on ``objective`` must stop at ``theta``: "diverged", "escaped" or None.

    Escaped: the surface has no minimum (a saddle) and theta left the plotted box with the loss
    below where it started, which is success. Diverged: the loss or theta is not finite, |loss|
    exceeds ``DIVERGENCE_LOSS``, or theta is more than ``ESCAPE_FACTOR`` box widths outside the
    box on a surface that has a minimum. Gradient descent and the race share this one rule, so
    both notebooks use the same three words (converged is decided by each caller's tolerance).

    Parameters
    ----------
    objective : Objective
        The surface of the run.
    theta : numpy.ndarray
        The current point, shape ``(2,)``.
    loss : float
        J(theta).
    start_loss : float
        J at the run's start.

    Returns
    -------
    str or None
        ``"diverged"``, ``"escaped"`` or None (keep going).

    Examples
    --------
    >>> from nastoolkit import objectives
    >>> saddle = objectives.get("saddle")
    >>> stop_reason(saddle, np.array([0.0, 5.0]), -25.0, 6.25)
    'escaped'
    >>> bowl = objectives.get("quadratic")
    >>> stop_reason(bowl, np.array([1e6, 0.0]), 5e11, 1.0)
    'diverged'
    """
    theta = np.asarray(theta, dtype=np.float64)
    blown_up = (
        not np.isfinite(loss) or abs(loss) > DIVERGENCE_LOSS or not np.all(np.isfinite(theta))
    )
    no_minimum = getattr(objective, "minimum", None) is None
    if (
        no_minimum
        and not blown_up
        and loss < start_loss
        and _outside(theta, objective.bounds, pad=0.0)
    ):
        return "escaped"
    if blown_up or _outside(theta, objective.bounds):
        falling = np.isfinite(loss) and loss < start_loss
        return "escaped" if no_minimum and falling else "diverged"
    return None


def _outside(theta, bounds, pad: float = ESCAPE_FACTOR) -> bool:
    (x_min, x_max), (y_min, y_max) = bounds
    x_pad = pad * (x_max - x_min)
    y_pad = pad * (y_max - y_min)
    return not (
        x_min - x_pad <= theta[0] <= x_max + x_pad and y_min - y_pad <= theta[1] <= y_max + y_pad
    )


def _check_learning_rate(learning_rate) -> float:
    if (
        not isinstance(learning_rate, (int, float))
        or not np.isfinite(learning_rate)
        or learning_rate <= 0
    ):
        raise ValueError(
            "learning_rate must be a positive number (e.g. 0.1). "
            f"Received: learning_rate={learning_rate!r}"
        )
    return float(learning_rate)


def _check_start(start) -> np.ndarray:
    start = np.array(start, dtype=np.float64)
    if start.shape != (2,) or not np.all(np.isfinite(start)):
        raise ValueError(
            f"start must be two finite numbers [theta_1, theta_2]. Received: start={start!r}"
        )
    return start


# --- surfaces offered by the apps ------------------------------------------------------------


def _objective(objective):
    """An objective from a name in SURFACES, a ``nastoolkit.objectives`` name, or an object."""
    if isinstance(objective, str):
        if objective in SURFACES:
            return SURFACES[objective]()
        return objectives.get(objective)
    if not (
        hasattr(objective, "value")
        and hasattr(objective, "gradient")
        and hasattr(objective, "bounds")
    ):
        raise TypeError(
            "objective must be a surface name (one of "
            f"{sorted(SURFACES)}) or an object with value, gradient and bounds. "
            f"Received: objective={objective!r}"
        )
    return objective


class ModelSlice:
    """The loss of a small real model as a function of two of its weights, the others frozen.

    The model is a ``Sequential`` 1 -> ``hidden_units`` (tanh) -> 1 fitted for ``num_epochs`` to
    y = sin(2 x) + noise (``num_samples`` points, seeded); the two free weights are the first
    layer's input weights to hidden units 0 and 1, so theta = (W[0, 0], W[0, 1]). ``value`` and
    ``gradient`` run the model's own forward and backward pass: the surface is what fit sees.
    Same interface as ``nastoolkit.objectives``: value, gradient, bounds, start, minimum (the
    trained weights), name, and ``grid(num)`` (cached: a grid costs num^2 passes).

    Parameters
    ----------
    hidden_units : int, default 8
        Width of the hidden tanh layer.
    num_samples : int, default 64
        Training points.
    num_epochs : int, default 150
        Epochs of the initial fit.
    span : float, default 3.0
        Half-width of the plotted box around the trained weights.
    seed : int, default 0
        Seed of the data and the weights.

    Examples
    --------
    >>> surface = ModelSlice(num_samples=16, num_epochs=5)
    >>> surface.trained.shape, surface.gradient(surface.trained).shape
    ((2,), (2,))
    >>> bool(surface.value(surface.trained) >= 0)
    True
    """

    name = "two weights of a small model"

    def __init__(
        self,
        hidden_units: int = 8,
        num_samples: int = 64,
        num_epochs: int = 150,
        span: float = 3.0,
        seed: int = 0,
    ):
        from .. import layers, models

        rng = np.random.default_rng(seed)
        self.X = rng.uniform(-2.0, 2.0, size=(num_samples, 1))
        self.y = np.sin(2.0 * self.X) + 0.1 * rng.standard_normal((num_samples, 1))
        self.model = models.Sequential(
            [layers.Dense(hidden_units, activation="tanh", input_shape=(1,)), layers.Dense(1)],
            seed=seed,
            dtype="float64",
        )
        self.model.compile(optimizer=optimizers.Adam(learning_rate=0.05), loss="mse")
        self.model.fit(
            self.X, self.y, epochs=num_epochs, batch_size=num_samples, verbose=0, seed=seed
        )
        self._kernel = self.model.layers[0].kernel  # a view into the model's flat parameters
        self._kernel_grad = self.model.layers[0].grads["kernel"]
        self.trained = self._kernel[0, :2].copy()
        self.bounds = (
            (self.trained[0] - span, self.trained[0] + span),
            (self.trained[1] - span, self.trained[1] + span),
        )
        self.start = np.array([self.trained[0] - 0.8 * span, self.trained[1] + 0.6 * span])
        # Training reached (nearly) a stationary point of the full loss, so also of this slice.
        self.minimum = self.trained
        self._grids = {}

    def __repr__(self) -> str:
        return f"ModelSlice(trained={np.round(self.trained, 3).tolist()}, model={self.model!r})"

    def _loss_and_gradient(self, point) -> tuple[float, np.ndarray]:
        self._kernel[0, :2] = point
        # The model's own loss-and-gradient pass (the one fit uses), on the whole data set.
        loss, _ = self.model.loss_and_gradients(self.X, self.y)
        return loss, self._kernel_grad[0, :2].copy()

    def _map(self, theta, pick):
        theta = np.asarray(theta, dtype=np.float64)
        if theta.shape[-1:] != (2,):
            raise ValueError(f"theta must have shape (2,) or (..., 2). Received: {theta.shape}")
        points = theta.reshape(-1, 2)
        results = [pick(self._loss_and_gradient(point)) for point in points]
        self._kernel[0, :2] = self.trained  # leave the model as it was trained
        return np.asarray(results).reshape(theta.shape[:-1] + np.shape(results[0]))

    def value(self, theta):
        """Mean squared error of the model with W[0, 0], W[0, 1] = theta; shape theta.shape[:-1]."""
        with np.errstate(over="ignore", invalid="ignore"):
            return self._map(theta, lambda pair: pair[0])

    def gradient(self, theta):
        """d loss / d theta from the model's backward pass; theta's shape."""
        with np.errstate(over="ignore", invalid="ignore"):
            return self._map(theta, lambda pair: pair[1])

    def grid(self, num: int = 101):
        """(X, Y, Z) over ``bounds``, computed once per ``num``."""
        if num not in self._grids:
            (x_min, x_max), (y_min, y_max) = self.bounds
            X, Y = np.meshgrid(np.linspace(x_min, x_max, num), np.linspace(y_min, y_max, num))
            self._grids[num] = (X, Y, self.value(np.stack([X, Y], axis=-1)))
        return self._grids[num]


def model_slice(**options) -> ModelSlice:
    """A 2-weight slice of a small model's loss (see ``ModelSlice`` for the options).

    Parameters
    ----------
    **options
        ``ModelSlice``'s arguments (``hidden_units``, ``num_samples``, ``num_epochs``, ``span``,
        ``seed``).

    Returns
    -------
    ModelSlice

    Examples
    --------
    >>> model_slice(num_samples=16, num_epochs=5).trained.shape
    (2,)
    """
    return ModelSlice(**options)


SURFACES = {
    "quadratic": lambda: objectives.get("quadratic"),
    "ill_conditioned_quadratic": lambda: objectives.get("ill_conditioned_quadratic"),
    "rosenbrock": lambda: objectives.get("rosenbrock"),
    "saddle": lambda: objectives.get("saddle"),
    "model_slice": lambda: model_slice(),
}

SURFACE_LABELS = {
    "quadratic": "round bowl (quadratic)",
    "ill_conditioned_quadratic": "narrow valley (ill-conditioned quadratic)",
    "rosenbrock": "banana valley (Rosenbrock)",
    "saddle": "saddle",
    "model_slice": "two weights of a small model",
}

# A rate that shows each surface's lesson on the first Run (the learner then moves the slider).
DEFAULT_LEARNING_RATES = {
    "quadratic": 0.1,
    "ill_conditioned_quadratic": 0.17,
    "rosenbrock": 0.002,
    "saddle": 0.05,
    "model_slice": 0.3,
}


def _set_range(slider, low: float, high: float, value: float) -> None:
    # ipywidgets checks min <= value <= max on every assignment: widen, set the value, narrow.
    slider.max = max(high, slider.max)
    slider.min = min(low, slider.min)
    slider.value = min(max(value, low), high)
    slider.min, slider.max = low, high


class GradientDescentApp(WidgetApp):
    """Watch gradient descent step by step: contour + path + gradient arrow, and loss vs step.

    Controls (attributes, so tests can drive them): ``surface_dropdown``, ``learning_rate_slider``
    (log scale), ``start_x_slider``, ``start_y_slider``, ``steps_per_run_slider``, ``step_button``,
    ``run_button``, ``reset_button``; ``status`` shows the numbers and any divergence message.
    Changing the surface, the rate or the start resets the run, so each picture shows one rate.

    Parameters
    ----------
    surface : str, default "ill_conditioned_quadratic"
        A key of ``SURFACES``.
    learning_rate : float, optional
        The starting rate (the surface's ``DEFAULT_LEARNING_RATES`` entry by default).
    start : array_like, optional
        The start point, shape ``(2,)``.
    steps_per_run : int, default 25
        Steps per click of Run.

    Examples
    --------
    >>> import contextlib, io
    >>> with contextlib.redirect_stdout(io.StringIO()):  # outside Jupyter figures print as text
    ...     app = GradientDescentApp(surface="quadratic")
    ...     app.step_button.click()
    >>> len(app.model.path)
    2
    """

    def __init__(
        self,
        surface: str = "ill_conditioned_quadratic",
        learning_rate=None,
        start=None,
        steps_per_run: int = 25,
    ):
        if surface not in SURFACES:
            raise ValueError(
                f"surface must be one of {sorted(SURFACES)}. Received: surface={surface!r}"
            )
        learning_rate = DEFAULT_LEARNING_RATES[surface] if learning_rate is None else learning_rate
        self.model = GradientDescent(_objective(surface), learning_rate, start)
        self._objectives = {surface: self.model.objective}  # a model slice is built only once
        self._quiet = False
        # A live canvas (ipympl), so a click on the contour plot picks the start point.
        self.view = make_view(clickable=True)
        if hasattr(self.view, "on_click"):
            self.view.on_click(self._on_plot_click)
        (x_min, x_max), (y_min, y_max) = self.model.objective.bounds
        self.surface_dropdown = ipywidgets.Dropdown(
            options=[(label, name) for name, label in SURFACE_LABELS.items()],
            value=surface,
            description="surface",
            layout=ipywidgets.Layout(width="360px"),
        )
        self.learning_rate_slider = ipywidgets.FloatLogSlider(
            value=self.model.learning_rate,
            base=10,
            min=-4,
            max=0.5,
            step=0.05,
            description="lr (α)",
            readout_format=".3g",
            continuous_update=False,
        )
        self.start_x_slider = ipywidgets.FloatSlider(
            value=self.model.start[0],
            min=x_min,
            max=x_max,
            step=0.05,
            description="start θ₁",
            continuous_update=False,
        )
        self.start_y_slider = ipywidgets.FloatSlider(
            value=self.model.start[1],
            min=y_min,
            max=y_max,
            step=0.05,
            description="start θ₂",
            continuous_update=False,
        )
        self.steps_per_run_slider = ipywidgets.IntSlider(
            value=steps_per_run, min=1, max=200, description="steps/Run", continuous_update=False
        )
        self.step_button = ipywidgets.Button(
            description="Step", icon="step-forward", tooltip="one gradient step"
        )
        self.run_button = ipywidgets.Button(
            description="Run", icon="play", tooltip="take steps/Run steps", button_style="success"
        )
        self.reset_button = ipywidgets.Button(
            description="Reset", icon="undo", tooltip="back to the start point"
        )
        # Play animates: each frame advances steps_per_frame steps (Pause is the same button).
        self.play = ipywidgets.Play(
            value=0,
            min=0,
            max=200,
            interval=300,
            description="Play",
            tooltip="animate: one step per frame",
        )
        self.status = ipywidgets.HTML()
        self.surface_dropdown.observe(self._on_surface, names="value")
        for control in (self.learning_rate_slider, self.start_x_slider, self.start_y_slider):
            control.observe(self._on_setting, names="value")
        self.step_button.on_click(lambda _: self._advance(1))
        self.run_button.on_click(lambda _: self._advance(self.steps_per_run_slider.value))
        self.reset_button.on_click(lambda _: self._on_setting(None))
        self.play.observe(self._on_play, names="value")
        self.widget = ipywidgets.VBox(
            [
                ipywidgets.HBox([self.surface_dropdown, self.learning_rate_slider]),
                ipywidgets.HBox([self.start_x_slider, self.start_y_slider]),
                ipywidgets.HBox(
                    [
                        self.play,
                        self.step_button,
                        self.run_button,
                        self.reset_button,
                        self.steps_per_run_slider,
                    ]
                ),
                self.status,
                self.view.output,
            ]
        )
        self.redraw()

    def __repr__(self) -> str:
        return f"GradientDescentApp({self.model!r})"

    # callbacks --------------------------------------------------------------------------------
    def _on_plot_click(self, axes_index: int, x: float, y: float) -> None:
        if axes_index == 0:  # the contour map; clicks on the loss panel mean nothing
            self.click(x, y)

    def click(self, x: float, y: float) -> None:
        """A click on the contour plot at data point (x, y): the new start (sliders follow)."""
        self._quiet = True
        try:
            self.start_x_slider.value = float(
                np.clip(x, self.start_x_slider.min, self.start_x_slider.max)
            )
            self.start_y_slider.value = float(
                np.clip(y, self.start_y_slider.min, self.start_y_slider.max)
            )
        finally:
            self._quiet = False
        self.model.set_start([self.start_x_slider.value, self.start_y_slider.value])
        self.play.value = 0
        self.redraw()

    def _on_surface(self, change) -> None:
        name = change["new"]
        if name not in self._objectives:
            self._objectives[name] = _objective(name)
        objective = self._objectives[name]
        self._quiet = True  # one reset and one redraw for the whole change, not one per slider
        try:
            (x_min, x_max), (y_min, y_max) = objective.bounds
            _set_range(self.start_x_slider, x_min, x_max, float(objective.start[0]))
            _set_range(self.start_y_slider, y_min, y_max, float(objective.start[1]))
            self.learning_rate_slider.value = DEFAULT_LEARNING_RATES.get(name, 0.1)
        finally:
            self._quiet = False
        self.model = GradientDescent(
            objective,
            self.learning_rate_slider.value,
            [self.start_x_slider.value, self.start_y_slider.value],
        )
        self.redraw()

    def _on_setting(self, _change) -> None:
        if self._quiet:
            return
        self.model.reset(
            start=[self.start_x_slider.value, self.start_y_slider.value],
            learning_rate=self.learning_rate_slider.value,
        )
        self.redraw()

    def _on_play(self, change) -> None:
        frames = change["new"] - change["old"]
        if frames > 0:  # the Play widget rewinding to 0 is not a step back
            self._advance(frames)

    def _advance(self, num_steps: int) -> None:
        self.model.run(num_steps)
        self.redraw()

    # drawing ----------------------------------------------------------------------------------
    def redraw(self) -> None:
        """Draw the model's current state and update the status line."""
        model = self.model
        # The verdict is shown once, in the status line below the controls, not in the figure.
        with figure_style():
            figure = plot_descent(
                model.objective,
                model.path,
                model.losses,
                gradient=model.gradient,
                learning_rate=model.learning_rate,
            )
        self.view.show(figure)
        theta, loss = model.path[-1], model.losses[-1]
        line = (
            f"step {model.num_steps}: θ = [{theta[0]:.4g}, {theta[1]:.4g}], "
            f"J(θ) = {loss:.4g}, |∇J| = {np.linalg.norm(model.gradient):.3g}"
        )
        minimum = getattr(model.objective, "minimum", None)
        if minimum is not None:
            line += f", distance to ★ = {np.linalg.norm(theta - np.asarray(minimum)):.3g}"
        color = {"diverged": "darkred", "escaped": "darkgreen", "converged": "darkgreen"}.get(
            model.status, "darkorange"
        )
        extra = f"<br><b style='color:{color}'>{model.message}</b>" if model.message else ""
        self.status.value = f"<span style='font-family:monospace'>{line}</span>{extra}"
