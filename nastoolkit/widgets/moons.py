"""Tutorial 4's real network: two-moons classified by a plain, an L2 and a dropout MLP.

``TwoMoonsModel`` trains the three variants with the library's ``Sequential`` (same data, same
seed, same epochs) and predicts P(class 1) on a grid; ``TwoMoonsApp`` draws the three decision
boundaries as heat maps beside the loss curves and retrains live when the L2 strength, the
dropout rate, the width or the learning rate moves. A retrain and redraw takes about half a
second of one core (``benchmarks/bench_two_moons.py``): 200 full-batch epochs at rate 0.002
tell the same story as 400 at 0.001 in half the steps, and the figure has a fixed layout
(matplotlib's constrained layout alone cost a third of each redraw).
"""

from __future__ import annotations

import time

import ipywidgets
import numpy as np
from matplotlib.figure import Figure

from .. import _checks, datasets
from ..layers import Dense, Dropout
from ..models import Sequential
from ..optimizers import Adam
from ..regularizers import L2
from ..viz import regularization as plots
from ._view import FigureView, WidgetApp, figure_style

__all__ = ["TwoMoonsApp", "TwoMoonsModel", "build_mlp"]


def build_mlp(
    l2=None,
    dropout_rate: float = 0.0,
    units: int = 128,
    learning_rate: float = 0.001,
    seed: int = 0,
) -> Sequential:
    """2 -> units (relu) -> units (relu) -> 1 (sigmoid), compiled for binary cross-entropy.

    ``l2`` (None or a positive number) puts ``L2(l2)`` on every hidden kernel; a non-zero
    ``dropout_rate`` adds ``Dropout`` after each hidden layer.

    Parameters
    ----------
    l2 : float, optional
        L2 strength on the hidden kernels (None: no penalty).
    dropout_rate : float, default 0.0
        Dropout after each hidden layer, in [0, 1).
    units : int, default 128
        Width of both hidden layers.
    learning_rate : float, default 0.001
        Adam's rate.
    seed : int, default 0
        Seed of the weights.

    Returns
    -------
    Sequential
        Compiled, for inputs of shape ``(batch, 2)`` and outputs ``(batch, 1)``.

    Examples
    --------
    >>> build_mlp(units=8).count_params()
    105
    """
    regularizer = L2(l2) if l2 else None
    layers = []
    for index in range(2):
        extra = {"input_shape": (2,)} if index == 0 else {}
        layers.append(Dense(units, activation="relu", kernel_regularizer=regularizer, **extra))
        if dropout_rate:
            layers.append(Dropout(dropout_rate))
    layers.append(Dense(1, activation="sigmoid"))
    model = Sequential(layers, seed=seed)
    model.compile(
        optimizer=Adam(learning_rate=learning_rate),
        loss="binary_crossentropy",
        metrics=["accuracy"],
    )
    return model


class TwoMoonsModel:
    """Three MLPs on 60 noisy two-moons points: "plain", "L2" and "dropout".

    ``fit()`` trains all three for ``num_epochs`` full-batch epochs and keeps ``histories``
    (name -> ``History.history``) and ``probabilities`` (name -> P(class 1) on ``grid_x`` x
    ``grid_y``); ``seconds`` is how long the last fit took.

    Examples
    --------
    >>> moons = TwoMoonsModel(units=16, num_epochs=5)
    >>> sorted(moons.fit().histories)
    ['L2', 'dropout', 'plain']
    """

    def __init__(
        self,
        l2: float = 1e-3,
        dropout_rate: float = 0.5,
        units: int = 128,
        learning_rate: float = 0.002,
        num_epochs: int = 200,
        grid_size: int = 60,
        seed: int = 0,
    ):
        self.l2 = _checks.positive("l2", l2)
        self.dropout_rate = _checks.number_in(
            "dropout_rate", dropout_rate, 0.0, 1.0, low_open=True, high_open=True
        )
        self.units = _checks.positive_int("units", units)
        self.learning_rate = _checks.positive("learning_rate", learning_rate)
        self.num_epochs = _checks.positive_int("num_epochs", num_epochs)
        self.seed = seed
        (self.X_train, self.y_train), (self.X_val, self.y_val) = datasets.make_moons(
            n_samples=240, noise=0.35, validation_split=0.75, seed=seed
        )
        low, high = self.X_train.min(axis=0) - 0.5, self.X_train.max(axis=0) + 0.5
        self.grid_x = np.linspace(low[0], high[0], grid_size)
        self.grid_y = np.linspace(low[1], high[1], grid_size)
        self.histories: dict = {}
        self.probabilities: dict = {}
        self.seconds = 0.0

    def __repr__(self) -> str:
        return (
            f"TwoMoonsModel(l2={self.l2:g}, dropout_rate={self.dropout_rate:g}, "
            f"units={self.units}, learning_rate={self.learning_rate:g}, "
            f"num_epochs={self.num_epochs})"
        )

    def variants(self) -> dict:
        """name -> keyword arguments of ``build_mlp`` for the three networks."""
        common = {"units": self.units, "learning_rate": self.learning_rate, "seed": self.seed}
        return {
            "plain": dict(common),
            "L2": {**common, "l2": self.l2},
            "dropout": {**common, "dropout_rate": self.dropout_rate},
        }

    def fit(self) -> TwoMoonsModel:
        """Train the three networks, record their histories and grid predictions; returns self."""
        started = time.perf_counter()
        X, Y = np.meshgrid(self.grid_x, self.grid_y)
        points = np.c_[X.ravel(), Y.ravel()].astype(np.float32)
        for name, options in self.variants().items():
            network = build_mlp(**options)
            history = network.fit(
                self.X_train,
                self.y_train,
                epochs=self.num_epochs,
                batch_size=len(self.X_train),
                validation_data=(self.X_val, self.y_val),
                verbose=0,
                seed=self.seed,
            )
            self.histories[name] = history.history
            self.probabilities[name] = network.predict(points, verbose=0).reshape(X.shape)
        self.seconds = time.perf_counter() - started
        return self

    def titles(self) -> dict:
        """name -> panel title with the setting and the final validation accuracy."""
        settings = {
            "plain": "plain",
            "L2": f"L2({self.l2:.0e})",
            "dropout": f"dropout {self.dropout_rate:g}",
        }
        return {
            name: f"{settings[name]}: val acc {self.histories[name]['val_accuracy'][-1]:.2f}"
            for name in self.histories
        }


class TwoMoonsApp(WidgetApp):
    """Sliders for L2 strength, dropout rate, width and learning rate over the decision
    boundaries of the three networks and their loss curves; every change retrains all three.

    Parameters
    ----------
    model : TwoMoonsModel, optional
        The three networks shown; built from ``model_arguments`` when None.
    **model_arguments
        Passed to ``TwoMoonsModel``.

    Examples
    --------
    >>> import contextlib, io
    >>> with contextlib.redirect_stdout(io.StringIO()):  # outside Jupyter figures print as text
    ...     app = TwoMoonsApp(units=8, num_epochs=3)
    >>> sorted(app.model.histories)
    ['L2', 'dropout', 'plain']
    """

    def __init__(self, model: TwoMoonsModel | None = None, **model_arguments):
        self.model = model or TwoMoonsModel(**model_arguments)
        style = {"description_width": "110px"}
        self.l2_slider = ipywidgets.FloatLogSlider(
            value=self.model.l2,
            base=10,
            min=-5,
            max=-1,
            step=0.25,
            description="L2 strength",
            readout_format=".0e",
            continuous_update=False,
            style=style,
        )
        self.dropout_slider = ipywidgets.FloatSlider(
            value=self.model.dropout_rate,
            min=0.05,
            max=0.9,
            step=0.05,
            description="dropout rate",
            continuous_update=False,
            style=style,
        )
        self.units_slider = ipywidgets.IntSlider(
            value=self.model.units,
            min=8,
            max=256,
            step=8,
            description="units per layer",
            continuous_update=False,
            style=style,
        )
        self.learning_rate_slider = ipywidgets.FloatLogSlider(
            value=self.model.learning_rate,
            base=10,
            min=-4,
            max=-1,
            step=0.1,  # 0.002 = 10^-2.7 (the default) lies on the grid
            description="learning rate",
            readout_format=".0e",
            continuous_update=False,
            style=style,
        )
        self.status = ipywidgets.HTML()
        self.view = FigureView()
        for slider in (
            self.l2_slider,
            self.dropout_slider,
            self.units_slider,
            self.learning_rate_slider,
        ):
            slider.observe(self._on_setting, names="value")
        self.widget = ipywidgets.VBox(
            [
                ipywidgets.HBox([self.l2_slider, self.dropout_slider]),
                ipywidgets.HBox([self.units_slider, self.learning_rate_slider]),
                self.status,
                self.view.output,
            ]
        )
        self.model.fit()
        self.redraw()

    def __repr__(self) -> str:
        return f"TwoMoonsApp({self.model!r})"

    def _on_setting(self, _change) -> None:
        self.model = TwoMoonsModel(
            l2=self.l2_slider.value,
            dropout_rate=self.dropout_slider.value,
            units=self.units_slider.value,
            learning_rate=self.learning_rate_slider.value,
            num_epochs=self.model.num_epochs,
            seed=self.model.seed,
        )
        self.model.fit()
        self.redraw()

    def redraw(self) -> None:
        """Decision boundaries (top) and loss curves (bottom) of the current three networks."""
        with figure_style():
            figure = self.draw()
        self.view.show(figure)
        self.status.value = (
            f"retrained 3 networks × {self.model.num_epochs} epochs in {self.model.seconds:.2f} s"
        )

    def draw(self) -> Figure:
        """The figure ``redraw`` shows: three boundary maps and a colour bar over the losses."""
        model = self.model
        # Fixed panel rectangles (inches, from the bottom left), not a layout engine: the panels
        # never change shape, and constrained layout cost a third of every live redraw.
        figure = Figure(figsize=FIGSIZE)
        maps = [figure.add_axes(_fractions(rect)) for rect in MAP_RECTS]
        plots.plot_decision_boundaries(
            model.grid_x,
            model.grid_y,
            model.probabilities,
            model.X_train,
            model.y_train,
            titles=model.titles(),
            axes=maps,
        )
        colorbar_ax = figure.axes[len(maps)]
        for ax, rect in zip([*maps, colorbar_ax], [*MAP_RECTS, COLORBAR_RECT], strict=True):
            ax.set_position(_fractions(rect))  # colorbar(ax=...) shrank the maps: undo it
        plots.plot_loss_curves(model.histories, ax=figure.add_axes(_fractions(LOSS_RECT)))
        return figure


# The two-moons figure, in inches: (left, bottom, width, height). Maps are 2.2 in wide and as
# tall as the data's aspect (5.6 x 4.1) needs; 0.45 in between them holds the y tick labels.
FIGSIZE = (9.5, 6.6)
MAP_RECTS = [(0.6 + index * 2.65, 4.5, 2.2, 1.65) for index in range(3)]
COLORBAR_RECT = (8.3, 4.5, 0.15, 1.65)
LOSS_RECT = (0.9, 0.6, 5.4, 3.0)  # room for long tick labels (e.g. 0.6925)


def _fractions(rect) -> list:
    left, bottom, width, height = rect
    return [left / FIGSIZE[0], bottom / FIGSIZE[1], width / FIGSIZE[0], height / FIGSIZE[1]]
