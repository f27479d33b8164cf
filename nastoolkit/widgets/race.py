"""A race of optimizers on one 2-D surface: SGD, momentum, Nesterov, Adagrad, RMSprop, Adam.

``OptimizerRace`` holds one theta per racer and steps each with the library's own optimizer class
through ``apply_gradients``; its ``leaderboard`` ranks them by the step at which the loss first
came within ``tolerance`` of the minimum, then by final loss. ``OptimizerRaceApp`` shows the paths,
the losses, and a table of each update rule with its current state terms (velocity, moments); a
click on the contour plot (ipympl) moves the common start point there and reruns the race.
"""

from __future__ import annotations

import html
import math

import ipywidgets
import numpy as np

from .. import _checks, optimizers
from ..viz.surfaces import plot_race
from ._view import WidgetApp, figure_style, make_view
from .descent import SURFACE_LABELS, _check_start, _objective, stop_reason

__all__ = ["HYPERPARAMETERS", "RACERS", "UPDATE_RULES", "OptimizerRace", "OptimizerRaceApp"]

# The hyperparameters a learner can move beside the rate (sliders in the app), with their
# defaults. Momentum's 0.5 is near the best heavy-ball choice for the kappa = 10 valley,
# ((sqrt(10) - 1) / (sqrt(10) + 1))^2 = 0.27 (see ``objectives.optimal_heavy_ball``); Keras's
# usual 0.9 makes every direction shrink only by sqrt(0.9) = 0.95 per step there, slower than SGD.
HYPERPARAMETERS = {"momentum": 0.5, "beta_1": 0.9, "beta_2": 0.999, "rho": 0.9}

# name -> (factory(learning_rate, hyperparameters), base learning rate). Each base rate is about
# the best for the ill-conditioned quadratic with the default hyperparameters: the race compares
# rules at their own good rate, which is what a practitioner tunes; a common slider then scales
# all rates together.
RACERS = {
    "SGD": (lambda lr, h: optimizers.SGD(learning_rate=lr), 0.15),
    "momentum": (lambda lr, h: optimizers.SGD(learning_rate=lr, momentum=h["momentum"]), 0.2),
    "Nesterov": (
        lambda lr, h: optimizers.SGD(learning_rate=lr, momentum=h["momentum"], nesterov=True),
        0.12,
    ),
    "Adagrad": (lambda lr, h: optimizers.Adagrad(learning_rate=lr), 1.0),
    "RMSprop": (lambda lr, h: optimizers.RMSprop(learning_rate=lr, rho=h["rho"]), 0.1),
    "Adam": (
        lambda lr, h: optimizers.Adam(learning_rate=lr, beta_1=h["beta_1"], beta_2=h["beta_2"]),
        0.3,
    ),
}

UPDATE_RULES = {
    "SGD": "θ ← θ − α g",
    "momentum": "m ← μ m − α g;  θ ← θ + m",
    "Nesterov": "m ← μ m − α g;  θ ← θ + μ m − α g",
    "Adagrad": "G ← G + g²;  θ ← θ − α g / √(G + ε)",
    "RMSprop": "v ← ρ v + (1 − ρ) g²;  θ ← θ − α g / √(v + ε)",
    "Adam": "m ← β₁ m + (1 − β₁) g;  v ← β₂ v + (1 − β₂) g²;  θ ← θ − α m̂ / (√v̂ + ε)",
}


class _Racer:
    """One optimizer's run: its theta (updated in place), path, losses and stop state."""

    def __init__(self, name: str, optimizer, start: np.ndarray, objective):
        self.name = name
        self.optimizer = optimizer
        self.theta = start.copy()
        self.path = [self.theta.copy()]
        self.losses = [float(objective.value(self.theta))]
        self.reached_at: int | None = None  # first step within tolerance of the minimum
        self.stopped_at: int | None = None  # step at which it escaped or diverged
        self.status = "running"  # then "converged", "escaped" or "diverged"

    @property
    def diverged(self) -> bool:
        """True once the racer diverged (it then stays where it stopped)."""
        return self.status == "diverged"


class OptimizerRace:
    """Every racer starts at ``start`` on ``objective``; ``step`` advances all of them once.

    ``learning_rate_scale`` multiplies each racer's base rate (``RACERS``); ``tolerance`` is the
    loss gap to the minimum's value that counts as converged (surfaces with no minimum: none);
    ``hyperparameters`` overrides entries of ``HYPERPARAMETERS`` (momentum, beta_1, beta_2, rho).
    Each racer ends as "converged" (and keeps stepping, so hovering stays visible), "escaped" or
    "diverged" (both stop it), by the same rule as ``GradientDescent`` (``stop_reason``).

    Examples
    --------
    >>> race = OptimizerRace("ill_conditioned_quadratic")
    >>> race.run(40)
    >>> [row["name"] for row in race.leaderboard()][:2]
    ['Nesterov', 'momentum']
    """

    def __init__(
        self,
        objective="ill_conditioned_quadratic",
        learning_rate_scale: float = 1.0,
        tolerance: float = 1e-3,
        start=None,
        racers=tuple(RACERS),
        hyperparameters=None,
    ):
        if not learning_rate_scale > 0:
            raise ValueError(
                "learning_rate_scale must be a positive number (1 = each racer's "
                f"base rate). Received: learning_rate_scale={learning_rate_scale!r}"
            )
        unknown = [name for name in racers if name not in RACERS]
        if unknown:
            raise ValueError(f"racers must be names from {list(RACERS)}. Received: {unknown}")
        self.objective = _objective(objective)
        self.learning_rate_scale = float(learning_rate_scale)
        self.tolerance = float(tolerance)
        self.start = _check_start(self.objective.start if start is None else start)
        minimum = getattr(self.objective, "minimum", None)
        self.floor = None if minimum is None else float(self.objective.value(np.asarray(minimum)))
        self.racer_names = tuple(racers)
        self.hyperparameters = _check_hyperparameters(hyperparameters)
        self.reset()

    def __repr__(self) -> str:
        return (
            f"OptimizerRace(objective={getattr(self.objective, 'name', '?')!r}, "
            f"steps={self.num_steps}, racers={list(self.racer_names)})"
        )

    def reset(self) -> None:
        """All racers back to the start with fresh optimizer state."""
        self.racers = {}
        for name in self.racer_names:
            factory, base_rate = RACERS[name]
            optimizer = factory(base_rate * self.learning_rate_scale, self.hyperparameters)
            self.racers[name] = _Racer(name, optimizer, self.start, self.objective)
        self.num_steps = 0

    def set_start(self, point) -> None:
        """Every racer starts again from ``point`` (e.g. where the learner clicked), fresh state.

        Parameters
        ----------
        point : array_like, shape (2,)
            The new common start (theta_1, theta_2).

        Examples
        --------
        >>> race = OptimizerRace("quadratic")
        >>> race.run(3)
        >>> race.set_start([1.0, -1.0])
        >>> race.num_steps, race.racers["Adam"].path[0].tolist()
        (0, [1.0, -1.0])
        """
        self.start = _check_start(point)
        self.reset()

    def learning_rate(self, name: str) -> float:
        """The rate racer ``name`` uses: its base rate times ``learning_rate_scale``."""
        return RACERS[name][1] * self.learning_rate_scale

    def step(self) -> None:
        """One update of every racer still running (escaped and diverged racers stay put)."""
        self.num_steps += 1
        for racer in self.racers.values():
            if racer.status in ("escaped", "diverged"):
                continue
            with np.errstate(over="ignore", invalid="ignore"):
                gradient = np.asarray(self.objective.gradient(racer.theta), dtype=np.float64)
                racer.optimizer.apply_gradients([(gradient, racer.theta)])
                loss = float(self.objective.value(racer.theta))
            racer.path.append(racer.theta.copy())
            racer.losses.append(loss)
            verdict = stop_reason(self.objective, racer.theta, loss, racer.losses[0])
            if verdict is not None:
                racer.status, racer.stopped_at = verdict, self.num_steps
            elif (
                racer.reached_at is None
                and self.floor is not None
                and loss - self.floor < self.tolerance
            ):
                racer.reached_at = self.num_steps
                racer.status = "converged"

    def run(self, num_steps: int) -> None:
        """``num_steps`` steps of every racer."""
        for _ in range(num_steps):
            self.step()

    def terms(self, name: str) -> dict[str, np.ndarray]:
        """The optimizer's current state for racer ``name``: velocity, m, v or accumulator."""
        state = self.racers[name].optimizer.get_state()
        return {key.split("/", 1)[1]: value for key, value in state.items() if "/" in key}

    def leaderboard(self) -> list[dict]:
        """Rows, best first: finished racers by the step they finished at, then running ones by
        loss, then diverged ones. Finished means converged (within ``tolerance`` of the minimum)
        or, on a surface with no minimum, escaped (left the plot downhill): both are the goal.

        Each row: name, learning_rate, status, steps (when it converged or escaped, else None),
        steps_to_tolerance, final_loss, diverged.
        """
        rows = []
        for name, racer in self.racers.items():
            finished_at = (
                racer.reached_at
                if racer.status == "converged"
                else (racer.stopped_at if racer.status == "escaped" else None)
            )
            rows.append(
                {
                    "name": name,
                    "learning_rate": self.learning_rate(name),
                    "status": racer.status,
                    "steps": finished_at,
                    "steps_to_tolerance": racer.reached_at,
                    "final_loss": racer.losses[-1],
                    "diverged": racer.diverged,
                }
            )

        def rank(row):
            loss = row["final_loss"]
            group = 2 if row["diverged"] else (0 if row["steps"] is not None else 1)
            return (group, row["steps"] or 0, loss if math.isfinite(loss) else math.inf)

        return sorted(rows, key=rank)


def _check_hyperparameters(hyperparameters) -> dict:
    values = dict(HYPERPARAMETERS)
    if hyperparameters is None:
        return values
    if not isinstance(hyperparameters, dict):
        raise TypeError(
            "hyperparameters must be a dict such as {'momentum': 0.9}. "
            f"Received: hyperparameters={hyperparameters!r}"
        )
    for key, value in hyperparameters.items():
        if key not in HYPERPARAMETERS:
            raise ValueError(
                f"hyperparameters keys must be among {list(HYPERPARAMETERS)}. Received: {key!r}"
            )
        values[key] = _checks.number_in(key, value, 0.0, 1.0, high_open=True)
    return values


def _format_terms(terms: dict) -> str:
    return (
        ", ".join(
            f"{key} = [{value.ravel()[0]:.3g}, {value.ravel()[1]:.3g}]"
            for key, value in terms.items()
        )
        or "(no state)"
    )


class OptimizerRaceApp(WidgetApp):
    """The race, drawn: paths on the contour, losses vs step, and a leaderboard with each rule.

    Controls: ``surface_dropdown``, ``learning_rate_scale_slider`` (log), ``steps_per_run_slider``,
    ``step_button``, ``run_button``, ``reset_button``, ``play``; ``leaderboard`` is an HTML table.
    With ipympl the figure is a live canvas: a click on the contour plot is ``click(x, y)``, the
    new common start point. The rate and hyperparameter sliders and Reset keep that start; a new
    surface starts from its own default point.

    Parameters
    ----------
    surface : str, default "ill_conditioned_quadratic"
        A surface name (as in ``GradientDescentApp``).
    steps_per_run : int, default 50
        Steps per click of Run.
    tolerance : float, default 0.001
        The loss gap to the minimum that counts as converged.

    Examples
    --------
    >>> import contextlib, io
    >>> with contextlib.redirect_stdout(io.StringIO()):  # outside Jupyter figures print as text
    ...     app = OptimizerRaceApp(surface="quadratic")
    ...     app.step_button.click()
    >>> "<table" in app.leaderboard.value
    True
    """

    def __init__(
        self,
        surface: str = "ill_conditioned_quadratic",
        steps_per_run: int = 50,
        tolerance: float = 1e-3,
    ):
        self.model = OptimizerRace(surface, tolerance=tolerance)
        # A live canvas (ipympl), so a click on the contour plot picks the common start point.
        self.view = make_view(clickable=True, figsize=(9.5, 4.2))
        if hasattr(self.view, "on_click"):
            self.view.on_click(self._on_plot_click)
        choices = [(label, name) for name, label in SURFACE_LABELS.items() if name != "model_slice"]
        self.surface_dropdown = ipywidgets.Dropdown(
            options=choices,
            value=surface,
            description="surface",
            layout=ipywidgets.Layout(width="360px"),
        )
        self.learning_rate_scale_slider = ipywidgets.FloatLogSlider(
            value=1.0,
            base=10,
            min=-2,
            max=1,
            step=0.05,
            description="lr × scale",
            readout_format=".3g",
            continuous_update=False,
        )
        self.steps_per_run_slider = ipywidgets.IntSlider(
            value=steps_per_run, min=1, max=500, description="steps/Run", continuous_update=False
        )
        self.step_button = ipywidgets.Button(description="Step", icon="step-forward")
        self.run_button = ipywidgets.Button(description="Run", icon="play", button_style="success")
        self.reset_button = ipywidgets.Button(description="Reset", icon="undo")
        # Play animates the race: each frame advances every racer one step.
        self.play = ipywidgets.Play(value=0, min=0, max=300, interval=200, description="Play")
        self.leaderboard = ipywidgets.HTML()
        # Sliders beside the rate for each rule's own constants (Distill's "Why momentum works").
        self.hyperparameter_sliders = {
            "momentum": ipywidgets.FloatSlider(
                value=HYPERPARAMETERS["momentum"],
                min=0.0,
                max=0.99,
                step=0.01,
                description="μ momentum",
            ),
            "beta_1": ipywidgets.FloatSlider(
                value=HYPERPARAMETERS["beta_1"], min=0.0, max=0.99, step=0.01, description="β₁ Adam"
            ),
            "beta_2": ipywidgets.FloatSlider(
                value=HYPERPARAMETERS["beta_2"],
                min=0.5,
                max=0.9999,
                step=0.0001,
                readout_format=".4f",
                description="β₂ Adam",
            ),
            "rho": ipywidgets.FloatSlider(
                value=HYPERPARAMETERS["rho"],
                min=0.0,
                max=0.999,
                step=0.001,
                readout_format=".3f",
                description="ρ RMSprop",
            ),
        }
        self.surface_dropdown.observe(self._on_setting, names="value")
        self.learning_rate_scale_slider.observe(self._on_setting, names="value")
        for slider in self.hyperparameter_sliders.values():
            slider.continuous_update = False
            slider.style = {"description_width": "90px"}
            slider.observe(self._on_setting, names="value")
        self.step_button.on_click(lambda _: self._advance(1))
        self.run_button.on_click(lambda _: self._advance(self.steps_per_run_slider.value))
        self.reset_button.on_click(lambda _: self._on_setting(None))
        self.play.observe(self._on_play, names="value")
        self.widget = ipywidgets.VBox(
            [
                ipywidgets.HBox([self.surface_dropdown, self.learning_rate_scale_slider]),
                ipywidgets.HBox(list(self.hyperparameter_sliders.values())[:2]),
                ipywidgets.HBox(list(self.hyperparameter_sliders.values())[2:]),
                ipywidgets.HBox(
                    [
                        self.play,
                        self.step_button,
                        self.run_button,
                        self.reset_button,
                        self.steps_per_run_slider,
                    ]
                ),
                self.view.output,
                self.leaderboard,
            ]
        )
        self.redraw()

    def __repr__(self) -> str:
        return f"OptimizerRaceApp({self.model!r})"

    def _on_setting(self, _change) -> None:
        hyperparameters = {key: slider.value for key, slider in self.hyperparameter_sliders.items()}
        surface = self.surface_dropdown.value
        same_surface = surface == getattr(self.model.objective, "name", None)
        self.model = OptimizerRace(
            surface,
            learning_rate_scale=self.learning_rate_scale_slider.value,
            tolerance=self.model.tolerance,
            start=self.model.start if same_surface else None,
            hyperparameters=hyperparameters,
        )
        self.redraw()

    def _on_plot_click(self, axes_index: int, x: float, y: float) -> None:
        if axes_index == 0:  # the contour map; clicks on the loss panel mean nothing
            self.click(x, y)

    def click(self, x: float, y: float) -> None:
        """A click on the contour plot at data point (x, y): every racer restarts there, and the
        race is rerun for as many steps as were shown (a race not yet started stays at step 0).

        Parameters
        ----------
        x, y : float
            The point in data coordinates (theta_1, theta_2), clipped to the plotted box.

        Examples
        --------
        >>> import contextlib, io
        >>> with contextlib.redirect_stdout(io.StringIO()):  # outside Jupyter figures print as text
        ...     app = OptimizerRaceApp(surface="quadratic")
        ...     app.click(1.0, -2.0)
        >>> app.model.racers["SGD"].path[0].tolist()
        [1.0, -2.0]
        """
        (x_min, x_max), (y_min, y_max) = self.model.objective.bounds
        shown = self.model.num_steps
        self.model.set_start([float(np.clip(x, x_min, x_max)), float(np.clip(y, y_min, y_max))])
        self.model.run(shown)
        self.play.value = 0  # Play counts frames from here (rewinding is not a step back)
        self.redraw()

    def _on_play(self, change) -> None:
        frames = change["new"] - change["old"]
        if frames > 0:  # the Play widget rewinding to 0 is not a step back
            self._advance(frames)

    def _advance(self, num_steps: int) -> None:
        self.model.run(num_steps)
        self.redraw()

    def redraw(self) -> None:
        """Draw paths and losses; rebuild the leaderboard table."""
        model = self.model
        paths = {name: racer.path for name, racer in model.racers.items()}
        losses = {name: racer.losses for name, racer in model.racers.items()}
        if model.floor is not None:  # plot the gap to the minimum, so the log scale means "digits"
            losses = {name: np.asarray(values) - model.floor for name, values in losses.items()}
        plural = "" if model.num_steps == 1 else "s"
        with figure_style():
            figure = plot_race(
                model.objective,
                paths,
                losses,
                tolerance=model.tolerance if model.floor is not None else None,
                title=f"{model.objective.name.replace('_', ' ')}: {model.num_steps} step{plural}",
            )
        self.view.show(figure)
        rows = []
        for place, row in enumerate(model.leaderboard(), start=1):
            name = row["name"]
            reached = (
                f"{row['status']} at {row['steps']}" if row["steps"] is not None else row["status"]
            )
            rows.append(
                f"<tr><td>{place}</td><td><b>{name}</b></td><td>{row['learning_rate']:.3g}</td>"
                f"<td>{reached}</td><td>{row['final_loss']:.3g}</td>"
                f"<td><code>{html.escape(UPDATE_RULES[name])}</code></td>"
                f"<td><code>{html.escape(_format_terms(model.terms(name)))}</code></td></tr>"
            )
        header = (
            "<tr><th>#</th><th>optimizer</th><th>lr α</th>"
            f"<th>status (converged: J − J* &lt; {model.tolerance:g})</th><th>loss now</th>"
            "<th>update rule (g = ∇J)</th><th>state terms now</th></tr>"
        )
        self.leaderboard.value = (
            "<table style='font-size:12px'>" + header + "".join(rows) + "</table>"
        )
