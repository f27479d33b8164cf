"""Learning-rate schedules and what they do: lr curves beside noisy gradient descent with each.

With exact gradients a smaller rate only slows descent; schedules matter when gradients are
noisy, as with mini-batches. ``ScheduleExplorer`` runs SGD (the library's optimizer, with the
schedule as its ``learning_rate``) on a quadratic whose gradient gets Gaussian noise of size
``noise`` (seeded), once per schedule: a constant rate stalls at a noise floor, a decaying one
keeps going down. ``ScheduleApp`` puts the decay parameters on sliders.
"""

from __future__ import annotations

import ipywidgets
import numpy as np

from .. import objectives, optimizers, schedules
from ..viz.schedules import plot_schedules
from ._view import FigureView, WidgetApp, figure_style

__all__ = ["ScheduleApp", "ScheduleExplorer", "make_schedules"]


def make_schedules(
    initial_learning_rate: float,
    num_steps: int,
    decay_rate: float = 0.1,
    step_size: int | None = None,
) -> dict:
    """The schedules compared: constant, exponential, step and cosine, all from the same start.

    Exponential decays by ``decay_rate`` over ``num_steps``; step decay halves every
    ``step_size`` steps (default num_steps // 4); cosine reaches 0 at ``num_steps``.

    Parameters
    ----------
    initial_learning_rate : float
        The rate at step 0 of every schedule.
    num_steps : int
        The horizon of the plot, in steps.
    decay_rate : float, default 0.1
        The exponential schedule's factor over ``num_steps``.
    step_size : int, optional
        Steps between halvings of the step schedule.

    Returns
    -------
    dict
        Name -> ``LearningRateSchedule``.

    Examples
    --------
    >>> {name: round(float(s(100)), 5) for name, s in make_schedules(0.1, 100).items()}
    {'constant': 0.1, 'exponential': 0.01, 'step': 0.00625, 'cosine': 0.0}
    """
    step_size = step_size or max(1, num_steps // 4)
    return {
        "constant": lambda step: initial_learning_rate,
        "exponential": schedules.ExponentialDecay(initial_learning_rate, num_steps, decay_rate),
        "step": schedules.StepDecay(initial_learning_rate, step_size, factor=0.5),
        "cosine": schedules.CosineDecay(initial_learning_rate, num_steps),
    }


class ScheduleExplorer:
    """Per schedule: its lr at each step and the loss of noisy SGD driven by it (same noise).

    Parameters
    ----------
    initial_learning_rate : float, default 0.3
        The rate at step 0.
    num_steps : int, default 200
        SGD steps.
    decay_rate : float, default 0.05
        The exponential schedule's factor over ``num_steps``.
    noise : float, default 1.0
        Standard deviation of the gradient noise.
    seed : int, default 0
        Seed of the noise (the same for every schedule).

    Examples
    --------
    >>> explorer = ScheduleExplorer(num_steps=20)
    >>> sorted(explorer.schedules)
    ['constant', 'cosine', 'exponential', 'step']
    """

    def __init__(
        self,
        initial_learning_rate: float = 0.3,
        num_steps: int = 200,
        decay_rate: float = 0.05,
        noise: float = 1.0,
        seed: int = 0,
    ):
        self.objective = objectives.get("quadratic")
        self.update(initial_learning_rate, num_steps, decay_rate, noise, seed)

    def update(self, initial_learning_rate, num_steps, decay_rate, noise, seed=0) -> None:
        """Recompute every curve for new settings."""
        if not initial_learning_rate > 0:
            raise ValueError(
                "initial_learning_rate must be positive. "
                f"Received: initial_learning_rate={initial_learning_rate!r}"
            )
        self.settings = {
            "initial_learning_rate": initial_learning_rate,
            "num_steps": num_steps,
            "decay_rate": decay_rate,
            "noise": noise,
            "seed": seed,
        }
        self.schedules = make_schedules(initial_learning_rate, num_steps, decay_rate)
        self.learning_rates = {
            name: schedules.values(schedule, num_steps) for name, schedule in self.schedules.items()
        }
        self.losses = {name: self._train(schedule) for name, schedule in self.schedules.items()}

    def _train(self, schedule) -> np.ndarray:
        settings = self.settings
        rng = np.random.default_rng(settings["seed"])  # the same noise for every schedule
        theta = np.array(self.objective.start, dtype=np.float64)
        optimizer = optimizers.SGD(learning_rate=schedule)
        losses = [float(self.objective.value(theta))]
        for _ in range(settings["num_steps"]):
            noisy = self.objective.gradient(theta) + settings["noise"] * rng.standard_normal(2)
            optimizer.apply_gradients([(noisy, theta)])
            losses.append(float(self.objective.value(theta)))
        return np.asarray(losses)

    def final_losses(self, last: int = 20) -> dict:
        """Mean loss over the ``last`` steps per schedule (the level each one settles at)."""
        return {name: float(np.mean(values[-last:])) for name, values in self.losses.items()}


class ScheduleApp(WidgetApp):
    """Sliders for the initial rate, the exponential decay and the gradient noise; one plot.

    Parameters
    ----------
    initial_learning_rate : float, default 0.3
        The starting value of the rate slider.
    num_steps : int, default 200
        SGD steps.
    decay_rate : float, default 0.05
        The starting exponential decay.
    noise : float, default 1.0
        The starting gradient noise.

    Examples
    --------
    >>> import contextlib, io
    >>> with contextlib.redirect_stdout(io.StringIO()):  # outside Jupyter figures print as text
    ...     app = ScheduleApp(num_steps=20)
    >>> sorted(app.model.schedules)
    ['constant', 'cosine', 'exponential', 'step']
    """

    def __init__(
        self,
        initial_learning_rate: float = 0.3,
        num_steps: int = 200,
        decay_rate: float = 0.05,
        noise: float = 1.0,
    ):
        self.model = ScheduleExplorer(initial_learning_rate, num_steps, decay_rate, noise)
        self.view = FigureView()
        self.learning_rate_slider = ipywidgets.FloatLogSlider(
            value=initial_learning_rate,
            base=10,
            min=-3,
            max=0,
            step=0.05,
            description="initial lr",
            readout_format=".3g",
            continuous_update=False,
        )
        self.decay_rate_slider = ipywidgets.FloatLogSlider(
            value=decay_rate,
            base=10,
            min=-3,
            max=0,
            step=0.05,
            description="exp. decay",
            readout_format=".3g",
            continuous_update=False,
        )
        self.noise_slider = ipywidgets.FloatSlider(
            value=noise,
            min=0.0,
            max=3.0,
            step=0.1,
            description="grad noise",
            continuous_update=False,
        )
        self.summary = ipywidgets.HTML()
        for control in (self.learning_rate_slider, self.decay_rate_slider, self.noise_slider):
            control.observe(self._on_setting, names="value")
        self.widget = ipywidgets.VBox(
            [
                ipywidgets.HBox(
                    [self.learning_rate_slider, self.decay_rate_slider, self.noise_slider]
                ),
                self.view.output,
                self.summary,
            ]
        )
        self.redraw()

    def _on_setting(self, _change) -> None:
        self.model.update(
            self.learning_rate_slider.value,
            self.model.settings["num_steps"],
            self.decay_rate_slider.value,
            self.noise_slider.value,
        )
        self.redraw()

    def redraw(self) -> None:
        """Plot the curves and list where each schedule settles."""
        with figure_style():
            figure = plot_schedules(self.model.learning_rates, self.model.losses)
        self.view.show(figure)
        levels = ", ".join(
            f"{name}: {value:.3g}"
            for name, value in sorted(self.model.final_losses().items(), key=lambda item: item[1])
        )
        self.summary.value = f"loss over the last 20 steps (lower is better): {levels}"
