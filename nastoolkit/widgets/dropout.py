"""Widget app for tutorial 4: dropout made visible.

A tiny fixed network ``x -> Dense(units, relu) -> Dropout(rate) -> Dense(1, linear)`` with seeded
weights. In training mode each step draws a new mask with ``nastoolkit.kernels.dropout`` (the very
kernel ``layers.Dropout`` calls, so the same seed and step give the same mask); in inference mode
every unit is on and nothing is scaled. The view shows which units a step drops and where the
network output of this step falls among many training-mode masks.
"""

from __future__ import annotations

import ipywidgets
import numpy as np
from matplotlib.figure import Figure

from .. import kernels
from ..viz import regularization as plots
from ._view import FigureView, WidgetApp, figure_style

__all__ = ["DropoutApp", "DropoutModel"]

MODES = ("train", "inference")


class DropoutModel:
    """State of the dropout demonstration: ``rate``, ``seed``, ``step`` and ``mode``.

    ``hidden`` (units,) is relu(x W_1 + b_1) for one fixed input x; ``mask`` (units,) is
    keep_j / (1 - rate) in training mode (keep_j ~ Bernoulli(1 - rate), drawn from (seed, step))
    and all ones in inference mode; ``output`` = (hidden * mask) . w_2 + b_2.
    Because E[mask_j] = 1, the training-mode output equals the inference output on average.

    Parameters
    ----------
    rate : float, default 0.5
        The dropout rate, in [0, 1).
    units : int, default 32
        Hidden units.
    num_inputs : int, default 4
        Input features.
    num_masks : int, default 400
        Training-mode masks drawn for the output histogram.
    mode : str, default "train"
        One of ``MODES``.
    seed : int, default 0
        Seed of the weights and the masks.

    Examples
    --------
    >>> model = DropoutModel(rate=0.5, units=8)
    >>> model.hidden.shape, sorted(set(model.mask_at(0).tolist())) <= [0.0, 2.0]
    ((8,), True)
    """

    def __init__(
        self,
        rate: float = 0.5,
        units: int = 32,
        num_inputs: int = 4,
        num_masks: int = 400,
        mode: str = "train",
        seed: int = 0,
    ):
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units < 1:
            raise ValueError(f"units must be a positive integer. Received: units={units!r}")
        rng = np.random.default_rng(seed)
        self.x = rng.standard_normal((1, num_inputs))
        self.kernel_1 = rng.standard_normal((num_inputs, units)) / np.sqrt(num_inputs)
        self.bias_1 = np.full(units, 0.3)  # most units active, so a dropped one stands out
        self.kernel_2 = rng.standard_normal((units, 1)) / np.sqrt(units)
        self.bias_2 = np.zeros(1)
        self.hidden = kernels.dense_forward(self.x, self.kernel_1, self.bias_1, "relu")[0]
        self.units = int(units)
        self.num_masks = int(num_masks)
        self.seed = int(seed)
        self.step = 0
        self.set_rate(rate)
        self.set_mode(mode)

    def __repr__(self):
        return (
            f"DropoutModel(rate={self.rate}, mode={self.mode!r}, step={self.step}, "
            f"dropped={self.num_dropped}/{self.units}, output={self.output:.4f})"
        )

    def set_rate(self, rate: float):
        if not 0.0 <= rate < 1.0:
            raise ValueError(
                f"rate must be in [0, 1) (the fraction of units dropped). Received: rate={rate}"
            )
        self.rate = float(rate)
        self._train_outputs = None  # the histogram depends on the rate

    def set_mode(self, mode: str):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}. Received: mode={mode!r}")
        self.mode = mode

    def next_step(self):
        """One more training step: the next mask of the stream (seed, step)."""
        self.step += 1

    def mask_at(self, step: int):
        """The training-mode mask of ``step``, shape (units,): 0 or 1 / (1 - rate)."""
        _, mask = kernels.dropout(self.hidden[None, :], self.rate, self.seed, step)
        return mask[0]

    @property
    def mask(self):
        return self.mask_at(self.step) if self.mode == "train" else np.ones(self.units)

    def _output(self, mask):
        return float((self.hidden * mask) @ self.kernel_2[:, 0] + self.bias_2[0])

    @property
    def output(self) -> float:
        return self._output(self.mask)

    @property
    def inference_output(self) -> float:
        return self._output(np.ones(self.units))

    @property
    def num_dropped(self) -> int:
        return int(np.count_nonzero(self.mask == 0.0))

    @property
    def dropped_fraction(self) -> float:
        return self.num_dropped / self.units

    def mean_band(self, width: float = 3.0) -> tuple[float, float]:
        """(low, high): the train-mode mean +- ``width`` standard errors over ``num_masks``.

        The mean of a finite number of random masks only estimates E[output], which equals the
        inference output exactly here (the layer after dropout is linear); the band says how far
        the estimate may stray from it by chance (3 standard errors: 99.7 % of the time).
        """
        outputs = self.train_outputs()
        error = float(np.std(outputs, ddof=1) / np.sqrt(outputs.size)) if outputs.size > 1 else 0.0
        mean = float(np.mean(outputs))
        return mean - width * error, mean + width * error

    def train_outputs(self):
        """Training-mode outputs for steps 0 .. num_masks - 1, shape (num_masks,); cached."""
        if self._train_outputs is None:
            masks = np.stack([self.mask_at(step) for step in range(self.num_masks)])
            self._train_outputs = (self.hidden * masks) @ self.kernel_2[:, 0] + self.bias_2[0]
        return self._train_outputs


class DropoutApp(WidgetApp):
    """Rate slider, train/inference toggle and a "next training step" button over two panels:
    the hidden units (dropped ones crossed out) and the output of this step among many masks.

    Parameters
    ----------
    model : DropoutModel, optional
        The state shown; built from ``model_arguments`` when None.
    **model_arguments
        Passed to ``DropoutModel``.

    Examples
    --------
    >>> import contextlib, io
    >>> with contextlib.redirect_stdout(io.StringIO()):  # outside Jupyter figures print as text
    ...     app = DropoutApp(units=8)
    ...     app.step_button.click()
    >>> app.model.step
    1
    """

    def __init__(self, model: DropoutModel | None = None, **model_arguments):
        self.model = model or DropoutModel(**model_arguments)
        self.rate_slider = ipywidgets.FloatSlider(
            value=self.model.rate,
            min=0.0,
            max=0.9,
            step=0.05,
            description="dropout rate",
            continuous_update=False,
            style={"description_width": "initial"},
        )
        self.mode_buttons = ipywidgets.ToggleButtons(
            options=list(MODES), value=self.model.mode, description="mode"
        )
        self.step_button = ipywidgets.Button(
            description="next training step",
            icon="step-forward",
            layout=ipywidgets.Layout(width="auto"),
        )
        self.view = FigureView()
        self.rate_slider.observe(self._on_rate, names="value")
        self.mode_buttons.observe(self._on_mode, names="value")
        self.step_button.on_click(self._on_step)
        self.widget = ipywidgets.VBox(
            [
                ipywidgets.HBox([self.rate_slider, self.step_button]),
                self.mode_buttons,
                self.view.output,
            ]
        )
        self.redraw()

    def _on_rate(self, change):
        self.model.set_rate(change["new"])
        self.redraw()

    def _on_mode(self, change):
        self.model.set_mode(change["new"])
        self.redraw()

    def _on_step(self, _button):
        # A step only means something in training mode: switch to it so the click shows a mask.
        if self.model.mode != "train":
            self.mode_buttons.value = "train"  # redraws through _on_mode
        self.model.next_step()
        self.redraw()

    def redraw(self):
        with figure_style():
            figure = self.draw()
        self.view.show(figure)

    def draw(self) -> Figure:
        model = self.model
        figure = Figure(figsize=(9.5, 3.8), layout="constrained")
        ax_units, ax_outputs = figure.subplots(1, 2, width_ratios=[1.1, 1])
        if model.mode == "train":
            title = (
                f"step {model.step}: {model.num_dropped} of {model.units} dropped,\n"
                f"kept ones × 1/(1 − {model.rate:g}) = {1 / (1 - model.rate):.2f}"
            )
        else:
            title = f"inference mode: all {model.units}\nunits on, no scaling"
        plots.plot_dropout_units(model.hidden, model.mask, title=title, ax=ax_units)
        plots.plot_dropout_outputs(
            model.train_outputs(),
            model.inference_output,
            current_output=model.output if model.mode == "train" else None,
            band=model.mean_band(),
            ax=ax_outputs,
        )
        return figure
